//! `append STREAM TYPE JSON`: appends one event, for scripts.
//!
//! The payload is the argument, or with `-` standard input, or with `@FILE` the file's content
//! (neither is a JSON text on its own, so nothing is ambiguous); any size up to the store's
//! payload limit.
//!
//! A directory: takes the writer's lock for the duration of the call (a store another process
//! has open is [`CliError::Locked`], at once or after `--wait SECS`) and appends with the default
//! durability (synced before it returns). PostgreSQL: the schema is created when missing; the
//! append is committed before it returns; a connection lost during the commit leaves the
//! outcome unknown (exit status 3). NATS: the JetStream stream is created when missing; the
//! append is acknowledged by the server before it returns (exit status 3 too when its outcome
//! cannot be found out).
//! The event gets a new id unless `--id` gives one; appending the same id and content again is
//! a no-op that reports the stored version and position (the store's idempotency rule).

use std::io::Read;
use std::path::PathBuf;

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
    let text = payload_text(append.payload)?;
    let payload = Payload::from_json(text).map_err(CliError::InvalidPayload)?;
    let id = append.id.unwrap_or_default(); // a new id
    let metadata = append
        .meta
        .into_iter()
        .fold(Metadata::new(), |m, (k, v)| m.with(k, v));
    let event = NewEvent::new(append.event_type, payload)
        .with_id(id)
        .with_event_version(append.event_version)
        .with_metadata(metadata);
    let store = target.for_writing(append.wait)?;
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

/// The payload's text: the argument itself, standard input for `-`, a file for `@FILE`.
fn payload_text(argument: String) -> Result<String, CliError> {
    if argument == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|source| CliError::File {
                action: "cannot read the payload from",
                path: PathBuf::from("standard input"),
                source,
            })?;
        return Ok(text);
    }
    match argument.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file).map_err(|source| CliError::File {
            action: "cannot read the payload from",
            path: PathBuf::from(file),
            source,
        }),
        None => Ok(argument),
    }
}
