//! `trace EVENT_ID`: the causal tree of the conversation an event belongs to, built by
//! [`livenstore::trace::trace`] (the same call the `trace` bench measures).
//!
//! Which events: every event with the asked event's correlation id; for an event without one,
//! the event and the events whose causation id is its id (found by a scan of the events stored
//! after it). How they are arranged: an event whose causation id is the id of another event of
//! the set is its child; the others are roots, in position order; children in position order.
//!
//! Output: one line per event, indented two spaces per level (`POSITION  STREAM@VERSION  TYPE
//! ID`, and `  <- asked` on the event asked about); with `--json`, one object per event, as
//! `all --json` prints it with `depth`, `parent` (the parent's id, `null` for a root) and
//! `asked` in front. An unknown id fails like `event ID` does.

use livenstore::trace::{trace, TracedEvent};
use livenstore::{EventId, RecordedEvent};
use serde::Serialize;

use super::events::type_label;
use crate::error::CliError;
use crate::output::Output;
use crate::store::Target;

/// What marks the event asked about in the text output.
pub const ASKED_MARKER: &str = "  <- asked";

/// One `--json` line: the event with its place in the tree.
#[derive(Serialize)]
struct TraceLine<'a> {
    depth: usize,
    parent: Option<EventId>,
    asked: bool,
    #[serde(flatten)]
    event: &'a RecordedEvent,
}

/// `trace EVENT_ID`.
pub fn run(target: &Target, id: EventId, json: bool, out: &mut Output) -> Result<(), CliError> {
    let tree = trace(target.for_reading()?.events(), id)?;
    for traced in tree.events() {
        let asked = traced.event().id() == id;
        if json {
            out.json(&TraceLine {
                depth: traced.depth(),
                parent: traced.parent(),
                asked,
                event: traced.event(),
            })?;
        } else {
            out.line(&text_line(traced, asked))?;
        }
    }
    Ok(())
}

/// `POSITION  STREAM@VERSION  TYPE  ID`, indented two spaces per level, marked when asked.
fn text_line(traced: &TracedEvent, asked: bool) -> String {
    let event = traced.event();
    format!(
        "{indent}{}  {}@{}  {}  {}{marker}",
        event.position(),
        event.stream(),
        event.version(),
        type_label(event),
        event.id(),
        indent = "  ".repeat(traced.depth()),
        marker = if asked { ASKED_MARKER } else { "" },
    )
}
