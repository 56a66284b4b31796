//! The line format `export` writes and `import` reads (`--format jsonl`).
//!
//! - One JSON object per line.
//! - An event line is the event as `all --json` prints it: id, event_type, stream, version,
//!   position, recorded_at, metadata, payload (inline JSON).
//! - A link line is `{"link":{"id":..,"stream":..,"version":..,"linked_at":..}}`: the event `id`
//!   also appears in `stream` at `version`, linked at `linked_at`.
//! - A hole line is `{"hole":{"position":..,"stream":..,"version":..}}` (each field optional,
//!   at least one of position or stream and version): a record the exported store lost (a hole
//!   `repair` left, or a damaged record `export --skip-damaged` skipped). Its position and
//!   version stay taken in the copy, so the records after it keep theirs.
//! - Order: events and holes by position; each link and hole after every entry before it in its
//!   stream, each link after its target event. Replaying the lines in order rebuilds the same
//!   store (see `livenstore::store::json::JsonImporter`).
//! - Blank lines are skipped on import.

use livenstore::store::json::Hole;
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
    /// A record the exported store lost.
    Hole(Hole),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HoleLine {
    hole: HoleBody,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HoleBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    position: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stream: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<u64>,
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

/// Only whether the line has a `link` or `hole` key, to tell the kinds apart.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default)]
    link: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, default)]
    hole: Option<&'a serde_json::value::RawValue>,
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
            ExportRecord::Hole(hole) => serde_json::to_string(&HoleLine {
                hole: HoleBody {
                    position: hole.position,
                    stream: hole.stream.clone(),
                    version: hole.version,
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
        if probe.hole.is_some() {
            let HoleLine { hole } = serde_json::from_str(line)
                .map_err(|e| format!("not a hole record ({{\"hole\":{{..}}}}): {e}"))?;
            return Ok(ExportRecord::Hole(Hole {
                position: hole.position,
                stream: hole.stream,
                version: hole.version,
                damaged: false,
            }));
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

        let hole = r#"{"hole":{"position":3,"stream":"s","version":2}}"#;
        let parsed = ExportRecord::parse(hole).expect("hole");
        assert!(matches!(&parsed, ExportRecord::Hole(h) if h.position == Some(3)));
        assert_eq!(parsed.to_line().expect("line"), hole);
        let only_position = r#"{"hole":{"position":3}}"#;
        assert!(ExportRecord::parse(only_position).is_ok());

        for junk in [
            r#"{"hole":{"position":"x"}}"#,
            r#"{"hole":{"position":1,"extra":2}}"#,
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
