//! `append STREAM TYPE JSON`: appends one event, for scripts.
//!
//! A directory: takes the writer's lock for the duration of the call (a store another process
//! has open is [`CliError::Locked`]) and appends with the default durability (synced before it
//! returns). PostgreSQL: the schema is created when missing; the append is committed before it
//! returns.
//! The event gets a new id unless `--id` gives one; appending the same id and content again is
//! a no-op that reports the stored version and position (the store's idempotency rule).

use livenstore::{EventId, Metadata, NewEvent, Payload};
use serde::Serialize;

use crate::args::AppendArgs;
use crate::error::CliError;
use crate::output::Output;
use crate::store::Target;

#[derive(Serialize)]
struct Appended<'a> {
    id: EventId,
    stream: &'a str,
    version: u64,
    position: u64,
}

/// `append`.
pub fn run(
    target: &Target,
    append: AppendArgs,
    json: bool,
    out: &mut Output,
) -> Result<(), CliError> {
    let payload = Payload::from_json(append.payload).map_err(CliError::InvalidPayload)?;
    let id = append.id.unwrap_or_default(); // a new id
    let metadata = append
        .meta
        .into_iter()
        .fold(Metadata::new(), |m, (k, v)| m.with(k, v));
    let event = NewEvent::new(append.event_type, payload)
        .with_id(id)
        .with_metadata(metadata);
    let store = target.for_writing()?;
    let result = store
        .events()
        .append(&append.stream, append.expect, vec![event])?;
    let appended = Appended {
        id,
        stream: &append.stream,
        version: result.stream_version,
        position: result.last_position,
    };
    if json {
        out.json(&appended)
    } else {
        out.line(&format!(
            "appended {id} to {} at version {} (position {})",
            appended.stream, appended.version, appended.position
        ))
    }
}
