//! The line format of segment files: encoding and decoding one record.
//!
//! Invariants:
//! - Every record is one line ending in `\n`, a JSON object whose first 18 bytes are
//!   `{"crc":"XXXXXXXX",` (8 lowercase hex digits). The CRC-32 (IEEE) covers every byte after that
//!   prefix up to, not including, the newline.
//! - An event line is `{"crc":..,"event":{header},"payload":<payload>}`: the payload comes last,
//!   so a scan reads the header and skips the payload without parsing it. The header holds
//!   `"event_version":n` after `event_type` only when the event's version is not 1, so lines
//!   written before versions existed read as version 1, unchanged.
//! - A link line is `{"crc":..,"link":{"id":..,"stream":..,"version":..,"linked_at":..}}`.
//! - A hole line is `{"crc":..,"hole":{..}}` ([`HoleRecord`]): only `repair` writes them, where a
//!   damaged line was moved to a quarantine file, so that the positions and versions of what
//!   follows stay as they were and the loss stays on record.
//! - `batch` is `[i, n]`: the record is the i-th of the n records one append wrote. A batch
//!   counts only once its n-th record is read (atomic appends across a crash). Hole lines stand
//!   outside batches (see `batch.rs`).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::crc::crc32;
use crate::{EventId, Metadata, Timestamp};

/// Length of the `{"crc":"XXXXXXXX",` prefix.
pub(crate) const PREFIX_LEN: usize = 18;

/// The header of an event line, as read (borrowing from the line where it can).
#[derive(Deserialize)]
pub(crate) struct EventHeader<'a> {
    pub position: u64,
    pub id: EventId,
    #[serde(borrow)]
    pub stream: Cow<'a, str>,
    pub version: u64,
    #[serde(borrow)]
    pub event_type: Cow<'a, str>,
    /// The version of the type's payload (absent: 1, lines written before versions existed);
    /// a line with a version out of range does not decode.
    #[serde(default = "first_version", deserialize_with = "event_version_in_range")]
    pub event_version: u32,
    pub recorded_at: Timestamp,
    #[serde(default)]
    pub metadata: Metadata,
    pub batch: [u32; 2],
}

fn first_version() -> u32 {
    1
}

fn event_version_in_range<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let version = u32::deserialize(d)?;
    crate::backend::validate_event_version(version)
        .map(|()| version)
        .map_err(serde::de::Error::custom)
}

/// A link record: event `id` also appears in `stream` at `version`.
#[derive(Serialize, Deserialize)]
pub(crate) struct LinkRecord<'a> {
    pub id: EventId,
    #[serde(borrow)]
    pub stream: Cow<'a, str>,
    pub version: u64,
    pub linked_at: Timestamp,
}

/// Where the bytes of a quarantined line went: `bytes` bytes at `offset` of `file` (a file name in
/// the store's directory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct QuarantineRef {
    pub file: String,
    pub offset: u64,
    pub bytes: u64,
}

/// A hole: what `repair` leaves in the log where a record was lost. It holds the global
/// `position` and the stream `version` the lost record had (each when known), so nothing after
/// it is renumbered and neither is given out again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HoleRecord {
    /// The lost record's global position (`None`: a link, or unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// The stream the lost record was in (`None`: unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// Its version in `stream`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// The lost event's id, when it could be read from the damaged line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<EventId>,
    /// Where the damaged line's bytes went (`None`: no line held this record at all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<QuarantineRef>,
    /// The 1-based line the damaged record had in its segment before the repair.
    pub line: u64,
    /// Why the record was lost.
    pub reason: String,
    /// When `repair` wrote this hole.
    pub repaired_at: Timestamp,
}

/// One decoded line.
pub(crate) enum Record<'a> {
    /// An event: its header and the byte range of its payload inside the line.
    Event {
        header: EventHeader<'a>,
        payload: &'a str,
    },
    /// A link (always a batch of one).
    Link(LinkRecord<'a>),
    /// A hole left by `repair` (outside any batch).
    Hole(Box<HoleRecord>),
}

impl Record<'_> {
    /// `Some((i, n))`: this record is the i-th of a batch of n; `None` for a hole.
    pub fn batch(&self) -> Option<(u32, u32)> {
        match self {
            Record::Event { header, .. } => Some((header.batch[0], header.batch[1])),
            Record::Link(_) => Some((1, 1)),
            Record::Hole(_) => None,
        }
    }
}

fn parse_hex(bytes: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(bytes).ok()?;
    u32::from_str_radix(text, 16).ok()
}

/// Parses one JSON value of type `T` at the start of `text`, returning it and the bytes it used.
pub(crate) fn parse_prefix_value<'a, T: Deserialize<'a>>(
    text: &'a str,
) -> Result<(T, usize), String> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<T>();
    match stream.next() {
        Some(Ok(value)) => Ok((value, stream.byte_offset())),
        Some(Err(e)) => Err(format!("bad record header: {e}")),
        None => Err("missing record header".into()),
    }
}

/// The text after the `{"crc":"XXXXXXXX",` prefix of a line (without its newline), once the
/// CRC is checked: what every kind of line (a segment's, a snapshot file's) starts with.
///
/// # Errors
///
/// A human-readable reason when there is no prefix, the CRC does not match, or the line is not
/// UTF-8.
pub(crate) fn checked_body(line: &[u8]) -> Result<&str, String> {
    if line.len() < PREFIX_LEN + 2 || !line.starts_with(b"{\"crc\":\"") || &line[16..18] != b"\"," {
        return Err("not a record line (no crc prefix)".into());
    }
    let expected = parse_hex(&line[8..16]).ok_or("the crc is not hexadecimal")?;
    let body = &line[PREFIX_LEN..];
    let actual = crc32(body);
    if expected != actual {
        return Err(format!(
            "checksum mismatch (stored {expected:08x}, computed {actual:08x})"
        ));
    }
    std::str::from_utf8(body).map_err(|_| "the line is not UTF-8".to_string())
}

/// Decodes one line (without its newline). Checks the CRC before anything else; the payload is
/// not parsed (the CRC vouches for it being the text that was written, which was valid JSON).
///
/// # Errors
///
/// A human-readable reason when the line is not a well-formed record.
pub(crate) fn decode_line(line: &[u8]) -> Result<Record<'_>, String> {
    let body = checked_body(line)?;
    if let Some(rest) = body.strip_prefix("\"event\":") {
        let (header, used) = parse_prefix_value::<EventHeader<'_>>(rest)?;
        let payload = rest[used..]
            .strip_prefix(",\"payload\":")
            .and_then(|p| p.strip_suffix('}'))
            .ok_or("no payload after the event header")?;
        let (i, n) = (header.batch[0], header.batch[1]);
        if i == 0 || i > n {
            return Err(format!("bad batch marker [{i},{n}]"));
        }
        Ok(Record::Event { header, payload })
    } else if let Some(rest) = body.strip_prefix("\"link\":") {
        let (link, used) = parse_prefix_value::<LinkRecord<'_>>(rest)?;
        if &rest[used..] != "}" {
            return Err("unexpected text after the link record".into());
        }
        Ok(Record::Link(link))
    } else if let Some(rest) = body.strip_prefix("\"hole\":") {
        let (hole, used) = parse_prefix_value::<HoleRecord>(rest)?;
        if &rest[used..] != "}" {
            return Err("unexpected text after the hole record".into());
        }
        Ok(Record::Hole(Box::new(hole)))
    } else {
        Err("unknown record kind".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::json::encode::{
        encode_event, encode_hole, encode_link, BatchHeader, EventLine,
    };

    #[test]
    fn event_line_round_trips_and_detects_damage() {
        let mut out = Vec::new();
        let metadata = Metadata::new().with("k", "v");
        let batch = BatchHeader::new("user-\"1\"", Timestamp::from_unix_nanos(5), 2).unwrap();
        let line = EventLine {
            position: 3,
            id: EventId::new(),
            version: 2,
            event_type_json: br#""UserCreated""#,
            event_version: 3,
            metadata: &metadata,
            index: 1,
            payload: r#"{"name":"ada"}"#,
        };
        encode_event(&mut out, &batch, &line).unwrap();
        assert_eq!(out.last(), Some(&b'\n'));
        let line = &out[..out.len() - 1];
        serde_json::from_slice::<serde_json::Value>(line).expect("a line is plain JSON");
        match decode_line(line).unwrap() {
            Record::Event { header: h, payload } => {
                assert_eq!(payload, r#"{"name":"ada"}"#);
                assert_eq!(h.stream, "user-\"1\"");
                assert_eq!((h.position, h.version, h.batch), (3, 2, [1, 2]));
                assert_eq!(h.event_version, 3);
                assert_eq!(h.metadata.get("k"), Some("v"));
                assert_eq!(h.recorded_at, Timestamp::from_unix_nanos(5));
            }
            Record::Link(_) | Record::Hole(_) => panic!("expected an event"),
        }
        let mut damaged = line.to_vec();
        damaged[40] ^= 1;
        assert!(matches!(decode_line(&damaged), Err(e) if e.contains("checksum")));
        assert!(decode_line(&line[..line.len() - 3]).is_err());
        assert!(decode_line(b"garbage").is_err());
    }

    #[test]
    fn link_line_round_trips() {
        let mut out = Vec::new();
        let link = LinkRecord {
            id: EventId::new(),
            stream: "all-users".into(),
            version: 7,
            linked_at: Timestamp::from_unix_nanos(9),
        };
        encode_link(&mut out, &link).unwrap();
        match decode_line(&out[..out.len() - 1]).unwrap() {
            Record::Link(l) => assert_eq!((l.stream.as_ref(), l.version), ("all-users", 7)),
            Record::Event { .. } | Record::Hole(_) => panic!("expected a link"),
        }
    }

    #[test]
    fn hole_line_round_trips() {
        let mut out = Vec::new();
        let hole = HoleRecord {
            position: Some(5),
            stream: Some("acc-1".into()),
            version: Some(5),
            id: None,
            quarantine: Some(QuarantineRef {
                file: "segment-00000001.jsonl.damaged-1".into(),
                offset: 0,
                bytes: 321,
            }),
            line: 5,
            reason: "checksum mismatch".into(),
            repaired_at: Timestamp::from_unix_nanos(7),
        };
        encode_hole(&mut out, &hole).unwrap();
        match decode_line(&out[..out.len() - 1]).unwrap() {
            Record::Hole(h) => assert_eq!(*h, hole),
            _ => panic!("expected a hole"),
        }
        let mut damaged = out.clone();
        damaged[30] ^= 4;
        assert!(decode_line(&damaged[..damaged.len() - 1]).is_err());
    }
}
