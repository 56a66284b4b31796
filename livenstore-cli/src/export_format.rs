//! The line format `export` writes and `import` reads (`--format jsonl`).
//!
//! - One JSON object per line.
//! - An event line is the event as `all --json` prints it: id, event_type, stream, version,
//!   position, recorded_at, metadata, payload (inline JSON).
//! - A link line is `{"link":{"id":..,"stream":..,"version":..,"linked_at":..}}`: the event `id`
//!   also appears in `stream` at `version`, linked at `linked_at`.
//! - Order: events by position; each link after its target event and after every entry before
//!   it in its stream. Replaying the lines in order rebuilds the same store (see
//!   `livenstore::store::json::JsonImporter`).
//! - Blank lines are skipped on import.

use livenstore::{EventId, LinkInfo, RecordedEvent, Timestamp};
use serde::{Deserialize, Serialize};

/// One line of an export.
#[derive(Debug)]
pub enum ExportRecord {
    /// An event, as appended.
    Event(RecordedEvent),
    /// A link of event `id` into another stream.
    Link {
        /// The linked event.
        id: EventId,
        /// Where it is linked.
        link: LinkInfo,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkLine {
    link: LinkBody,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    id: EventId,
    stream: String,
    version: u64,
    linked_at: Timestamp,
}

/// Only whether the line has a `link` key, to tell the two kinds apart.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default)]
    link: Option<&'a serde_json::value::RawValue>,
}

impl ExportRecord {
    /// The JSON line (without newline).
    pub fn to_line(&self) -> Result<String, serde_json::Error> {
        match self {
            ExportRecord::Event(event) => serde_json::to_string(&event.without_link()),
            ExportRecord::Link { id, link } => serde_json::to_string(&LinkLine {
                link: LinkBody {
                    id: *id,
                    stream: link.stream.clone(),
                    version: link.version,
                    linked_at: link.linked_at,
                },
            }),
        }
    }

    /// Parses one line.
    ///
    /// # Errors
    ///
    /// What is wrong with the line.
    pub fn parse(line: &str) -> Result<Self, String> {
        let probe: Probe<'_> =
            serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
        if probe.link.is_some() {
            let LinkLine { link } = serde_json::from_str(line)
                .map_err(|e| format!("not a link record ({{\"link\":{{..}}}}): {e}"))?;
            return Ok(ExportRecord::Link {
                id: link.id,
                link: LinkInfo {
                    stream: link.stream,
                    version: link.version,
                    linked_at: link.linked_at,
                },
            });
        }
        serde_json::from_str(line)
            .map(ExportRecord::Event)
            .map_err(|e| format!("not an event record: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_kinds_round_trip_and_junk_is_refused() {
        let event = r#"{"id":"01JD0000000000000000000000","event_type":"A","stream":"s","version":1,"position":1,"recorded_at":"2026-11-23T09:00:00.000000000Z","metadata":{"k":"v"},"payload":{"n":[1,2]}}"#;
        let parsed = ExportRecord::parse(event).expect("event");
        assert!(matches!(&parsed, ExportRecord::Event(e) if e.metadata().get("k") == Some("v")));
        assert_eq!(parsed.to_line().expect("line"), event);

        let link = r#"{"link":{"id":"01JD0000000000000000000000","stream":"t","version":2,"linked_at":"2026-11-23T09:00:00.000000000Z"}}"#;
        let parsed = ExportRecord::parse(link).expect("link");
        assert!(matches!(&parsed, ExportRecord::Link { link, .. } if link.version == 2));
        assert_eq!(parsed.to_line().expect("line"), link);

        for junk in [
            "",
            "[]",
            "{",
            r#"{"link":{"id":"01JD0000000000000000000000"}}"#,
            r#"{"link":{"id":"x","stream":"t","version":2,"linked_at":"2026-11-23T09:00:00Z"}}"#,
            r#"{"id":"01JD0000000000000000000000","event_type":"A"}"#,
        ] {
            assert!(ExportRecord::parse(junk).is_err(), "{junk}");
        }
    }
}
