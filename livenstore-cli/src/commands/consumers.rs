//! `consumers [reset NAME [--to N] | delete NAME]` and `parked [--consumer NAME] [replay NAME |
//! drop NAME [--id ID]]`: the consumers of a store, their checkpoints and parked events.
//!
//! A directory keeps them in `<dir>/checkpoints/` and `<dir>/parked/`; a PostgreSQL schema in
//! its `checkpoints` and `parked_events` tables; a NATS store in its key-value buckets
//! `<stream>_checkpoints` and `<stream>_parked`. None of these commands takes the store's
//! writer lock: a checkpoint belongs to its consumer, and a running consumer saves its own
//! position over a reset (stop it first).

use livenstore::pubsub::{
    consumer_statuses, CheckpointStore, ConsumerStatus, FileCheckpointStore, FileParkedStore,
    InMemoryCheckpointStore, InMemoryParkedStore, ParkedEvent, ParkedEventStore,
};
use serde::Serialize;

use crate::args::{ConsumersAction, ParkedAction};
use crate::error::CliError;
use crate::output::{shorten, Align, Output, Table};
use crate::store::{Store, Target};

/// A store's consumer bookkeeping: its checkpoints and its parked events.
type Bookkeeping = (Box<dyn CheckpointStore>, Box<dyn ParkedEventStore>);

/// The checkpoint and parked stores of `store` (opened from `target`). A directory's
/// `checkpoints/` and `parked/` are created only when `write` says
/// the command writes there; a command that reads finds a missing one empty, and leaves the
/// store as it was.
fn bookkeeping(store: &Store, write: bool) -> Result<Bookkeeping, CliError> {
    Ok(match store {
        Store::Json { dir, .. } => {
            let (checkpoints, parked) = (dir.join("checkpoints"), dir.join("parked"));
            let checkpoints: Box<dyn CheckpointStore> = if write || checkpoints.is_dir() {
                Box::new(FileCheckpointStore::open(checkpoints)?)
            } else {
                Box::new(InMemoryCheckpointStore::new())
            };
            let parked: Box<dyn ParkedEventStore> = if write || parked.is_dir() {
                Box::new(FileParkedStore::open(parked)?)
            } else {
                Box::new(InMemoryParkedStore::new())
            };
            (checkpoints, parked)
        }
        Store::Postgres { store, .. } => (Box::new(store.checkpoints()), Box::new(store.parked())),
        // The store creates a bucket only to write to it; a missing one reads as empty.
        Store::Nats { store, .. } => (Box::new(store.checkpoints()), Box::new(store.parked())),
    })
}

/// What `consumers reset|delete` prints with `--json`.
#[derive(Serialize)]
struct Changed<'a> {
    consumer: &'a str,
    action: &'static str,
    position: Option<u64>,
}

/// `consumers [...]`.
pub fn consumers(
    target: &Target,
    action: Option<ConsumersAction>,
    json: bool,
    out: &mut Output,
) -> Result<(), CliError> {
    let store = target.for_reading()?;
    let write = matches!(action, Some(ConsumersAction::Reset { .. }));
    let (checkpoints, parked) = bookkeeping(&store, write)?;
    match action {
        None => list(&store, &*checkpoints, &*parked, json, out),
        Some(ConsumersAction::Reset { name, to }) => {
            let head = store.events().last_position()?;
            if to > head {
                return Err(CliError::Store(livenstore::StoreError::InvalidArgument(
                    format!("position {to} is past the store's last position, {head}"),
                )));
            }
            checkpoints.save(&name, to)?;
            if json {
                return out.json(&Changed {
                    consumer: &name,
                    action: "reset",
                    position: Some(to),
                });
            }
            out.line(&format!(
                "consumer `{name}` reset to position {to}: it handles the events after it when it \
                 next starts"
            ))
        }
        Some(ConsumersAction::Delete { name }) => {
            let existed = checkpoints.delete(&name)?;
            if json {
                return out.json(&Changed {
                    consumer: &name,
                    action: if existed { "deleted" } else { "none" },
                    position: None,
                });
            }
            match existed {
                true => out.line(&format!("deleted the checkpoint of `{name}`")),
                false => out.line(&format!("`{name}` has no checkpoint")),
            }
        }
    }
}

fn list(
    store: &Store,
    checkpoints: &dyn CheckpointStore,
    parked: &dyn ParkedEventStore,
    json: bool,
    out: &mut Output,
) -> Result<(), CliError> {
    let statuses: Vec<ConsumerStatus> =
        consumer_statuses(store.events(), checkpoints, Some(parked))?;
    if json {
        for status in &statuses {
            out.json(status)?;
        }
        return Ok(());
    }
    let mut table = Table::new(&[
        ("CONSUMER", Align::Left),
        ("POSITION", Align::Right),
        ("LAG", Align::Right),
        ("PARKED", Align::Right),
    ]);
    for s in statuses {
        table.row(vec![
            s.name,
            s.position.to_string(),
            s.lag.to_string(),
            s.parked.to_string(),
        ]);
    }
    table.write(out)
}

/// What `parked replay|drop` prints with `--json`.
#[derive(Serialize)]
struct ParkedChange<'a> {
    consumer: &'a str,
    action: &'static str,
    events: usize,
}

/// `parked [...]`.
pub fn parked(
    target: &Target,
    consumer: Option<&str>,
    action: Option<ParkedAction>,
    json: bool,
    out: &mut Output,
) -> Result<(), CliError> {
    let store = target.for_reading()?;
    let write = matches!(action, Some(ParkedAction::Replay { .. }));
    let (_, parked) = bookkeeping(&store, write)?;
    match action {
        None => list_parked(&parked.list(consumer)?, json, out),
        Some(ParkedAction::Replay { name }) => {
            let events = parked.list(Some(&name))?.len();
            parked.request_replay(&name)?;
            if json {
                return out.json(&ParkedChange {
                    consumer: &name,
                    action: "replay requested",
                    events,
                });
            }
            out.line(&format!(
                "asked `{name}` to re-deliver its {events} parked event(s): it does once it has \
                 caught up with the store"
            ))
        }
        Some(ParkedAction::Drop { name, id }) => {
            let events = parked.remove(&name, id)?;
            if json {
                return out.json(&ParkedChange {
                    consumer: &name,
                    action: "dropped",
                    events,
                });
            }
            out.line(&format!("dropped {events} parked event(s) of `{name}`"))
        }
    }
}

fn list_parked(events: &[ParkedEvent], json: bool, out: &mut Output) -> Result<(), CliError> {
    if json {
        for event in events {
            out.json(event)?;
        }
        return Ok(());
    }
    let mut table = Table::new(&[
        ("CONSUMER", Align::Left),
        ("POSITION", Align::Right),
        ("STREAM", Align::Left),
        ("TYPE", Align::Left),
        ("ID", Align::Left),
        ("ATTEMPTS", Align::Right),
        ("PARKED AT", Align::Left),
        ("ERROR", Align::Left),
    ]);
    for e in events {
        table.row(vec![
            e.consumer.clone(),
            e.position.to_string(),
            e.stream.clone(),
            e.event_type.clone(),
            e.event_id.to_string(),
            e.attempts.to_string(),
            e.parked_at.to_string(),
            shorten(&e.error, 80),
        ]);
    }
    table.write(out)
}
