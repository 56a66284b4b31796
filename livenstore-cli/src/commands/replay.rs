//! `--nats URL import FILE`: fills a new or empty NATS store from an export by replaying it
//! through the [`EventStore`] trait: each event appended with its id, type, event version,
//! metadata and payload at the version its stream had, each link made again.
//!
//! Rules:
//! - The store must hold nothing (no event, no stream) when the import starts.
//! - Every event must land at the position and version the export gives it, and every link at
//!   its version; an import that another writer races, or a file that is not in an order a store
//!   can replay, stops at the first record that does not (naming the line; the records before
//!   it, and a misplaced event itself, stay in the store).
//! - What the trait cannot reproduce is refused or said: a hole (a record the exported store
//!   lost) stops the import (the store cannot keep its position taken: import such a file into a
//!   directory); recorded and link times are the import's (the store stamps its own), which the
//!   summary says.
//! - One append per event (an append is one JetStream message, and the server bounds a
//!   message's size), one link per link.

use std::path::Path;

use livenstore::store::json::Hole;
use livenstore::{EventId, EventStore, ExpectedVersion, LinkInfo, NewEvent, RecordedEvent};

use super::import::{self, Destination, Summary};
use crate::error::CliError;
use crate::output::Output;
use crate::store::Target;

/// The store an import replays into, and what it replayed.
struct Replay<'a> {
    store: &'a dyn EventStore,
    events: u64,
    links: u64,
}

impl Destination for Replay<'_> {
    fn event(&mut self, event: &RecordedEvent) -> Result<(), String> {
        let expected = match event.version() {
            0 => return Err("an event at version 0".to_owned()),
            1 => ExpectedVersion::NoStream,
            v => ExpectedVersion::Exact(v - 1),
        };
        let new = NewEvent::new(event.event_type().to_owned(), event.payload().clone())
            .with_id(event.id())
            .with_event_version(event.event_version())
            .with_metadata(event.metadata().clone());
        let done = self
            .store
            .append(event.stream(), expected, vec![new])
            .map_err(|e| format!("event {}: {e}", event.id()))?;
        self.events += 1;
        if done.first_position != event.position() {
            return Err(format!(
                "event {} was stored at position {}, not {} as exported (was the store written \
                 to during the import?)",
                event.id(),
                done.first_position,
                event.position()
            ));
        }
        Ok(())
    }

    fn link(&mut self, id: EventId, link: &LinkInfo) -> Result<(), String> {
        let version = self
            .store
            .link_to_stream(id, &link.stream)
            .map_err(|e| format!("link of event {id} into `{}`: {e}", link.stream))?;
        self.links += 1;
        if version != link.version {
            return Err(format!(
                "the link of event {id} into `{}` was stored at version {version}, not {} as \
                 exported (was the store written to during the import?)",
                link.stream, link.version
            ));
        }
        Ok(())
    }

    fn hole(&mut self, _: &Hole) -> Result<(), String> {
        Err(
            "a hole (a record the exported store lost) cannot be imported with --nats: the store \
             cannot keep its position taken; import the file into a directory"
                .to_owned(),
        )
    }

    fn summary(&self) -> Summary {
        Summary {
            events: self.events,
            links: self.links,
            holes: 0,
        }
    }
}

/// `import FILE` (`-` for standard input) into the store of `target`, created when missing.
pub fn run(target: &Target, file: &Path, json: bool, out: &mut Output) -> Result<(), CliError> {
    let (name, mut input) = import::open_input(file)?;
    let opened = target.for_writing(None)?;
    let store = opened.events();
    if store.last_position()? > 0 || !store.streams()?.is_empty() {
        return Err(CliError::Store(livenstore::StoreError::InvalidArgument(
            format!(
                "{} holds records; an import needs an empty store",
                opened.place()
            ),
        )));
    }
    let mut replay = Replay {
        store,
        events: 0,
        links: 0,
    };
    import::feed(&mut input, &name, &mut replay)?;
    let summary = replay.summary();
    if json {
        out.json(&summary)
    } else {
        out.line(&format!(
            "imported {} event(s) and {} link(s) into {} (recorded and link times are the \
             import's)",
            summary.events,
            summary.links,
            opened.place()
        ))
    }
}
