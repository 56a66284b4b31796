//! What can still be read of a damaged line: its kind, position, id, stream, version and type,
//! each on its own, so that one flipped bit loses one field rather than the whole record.
//!
//! Invariant: nothing here is trusted as it is. The survey (`survey.rs`, `resolve.rs`) takes a
//! salvaged value only where it fits the intact records around the line: a position inside the
//! gap of positions the line sits in, a version that continues its stream.

use super::format::{decode_line, Record, PREFIX_LEN};
use crate::EventId;

/// Which kind of record a damaged line seems to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SalvagedKind {
    Event,
    Link,
    Hole,
    Unknown,
}

/// What could be read of a damaged line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Salvage {
    pub kind: SalvagedKind,
    pub position: Option<u64>,
    pub id: Option<EventId>,
    pub stream: Option<String>,
    pub version: Option<u64>,
    /// The batch marker `[i, n]`.
    pub batch: Option<(u32, u32)>,
}

impl Salvage {
    /// Whether the line may have held an event (a position): not a link, and not a hole that
    /// held none.
    pub fn may_hold_position(&self) -> bool {
        match self.kind {
            SalvagedKind::Event | SalvagedKind::Unknown => true,
            SalvagedKind::Hole => self.position.is_some(),
            SalvagedKind::Link => false,
        }
    }
}

/// Reads what it can of `line` (without its newline). A line that decodes (a record that broke a
/// log rule) gives all of its fields.
pub(crate) fn salvage(line: &[u8]) -> Salvage {
    if let Ok(record) = decode_line(line) {
        return from_record(&record);
    }
    let body = line.get(PREFIX_LEN.min(line.len())..).unwrap_or_default();
    let start = &body[..body.len().min(16)];
    let kind = if contains(start, b"\"event\"") {
        SalvagedKind::Event
    } else if contains(start, b"\"link\"") {
        SalvagedKind::Link
    } else if contains(start, b"\"hole\"") {
        SalvagedKind::Hole
    } else {
        SalvagedKind::Unknown
    };
    // The event header comes before the payload: fields of the payload must not be taken for
    // the header's.
    let header = match find(line, b",\"payload\":") {
        Some(end) => &line[..end],
        None => line,
    };
    Salvage {
        kind,
        position: number_after(header, b"\"position\":"),
        id: string_after(header, b"\"id\":").and_then(|s| s.parse().ok()),
        stream: string_after(header, b"\"stream\":"),
        version: number_after(header, b"\"version\":"),
        batch: batch_after(header),
    }
}

/// The `"batch":[i,n]` marker.
fn batch_after(text: &[u8]) -> Option<(u32, u32)> {
    let key = b"\"batch\":";
    let at = find(text, key)? + key.len();
    let mut values = serde_json::Deserializer::from_slice(&text[at..]).into_iter::<[u32; 2]>();
    let [i, n] = values.next()?.ok()?;
    Some((i, n))
}

/// The fields of a record that decodes.
pub(crate) fn from_record(record: &Record<'_>) -> Salvage {
    match record {
        Record::Event { header, .. } => Salvage {
            kind: SalvagedKind::Event,
            position: Some(header.position),
            id: Some(header.id),
            stream: Some(header.stream.to_string()),
            version: Some(header.version),
            batch: Some((header.batch[0], header.batch[1])),
        },
        Record::Link(link) => Salvage {
            kind: SalvagedKind::Link,
            position: None,
            id: Some(link.id),
            stream: Some(link.stream.to_string()),
            version: Some(link.version),
            batch: Some((1, 1)),
        },
        Record::Hole(hole) => Salvage {
            kind: SalvagedKind::Hole,
            position: hole.position,
            id: hole.id,
            stream: hole.stream.clone(),
            version: hole.version,
            batch: None,
        },
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

/// The decimal number right after the first `key` (at most 20 digits).
fn number_after(text: &[u8], key: &[u8]) -> Option<u64> {
    let at = find(text, key)? + key.len();
    let digits: Vec<u8> = text[at..]
        .iter()
        .take(21)
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// The JSON string right after the first `key`.
fn string_after(text: &[u8], key: &[u8]) -> Option<String> {
    let at = find(text, key)? + key.len();
    let mut values = serde_json::Deserializer::from_slice(&text[at..]).into_iter::<String>();
    values.next()?.ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::json::encode::{encode_event, BatchHeader, EventLine};
    use crate::{Metadata, Timestamp};

    fn line(payload: &str) -> (Vec<u8>, EventId) {
        let mut out = Vec::new();
        let id = EventId::new();
        let batch = BatchHeader::new("acc-1", Timestamp::from_unix_nanos(5), 1).unwrap();
        let event = EventLine {
            position: 42,
            id,
            version: 7,
            event_type_json: br#""Deposited""#,
            event_version: 1,
            metadata: &Metadata::new(),
            index: 1,
            payload,
        };
        encode_event(&mut out, &batch, &event).unwrap();
        out.pop();
        (out, id)
    }

    #[test]
    fn a_flipped_payload_bit_keeps_the_whole_header() {
        let (mut bytes, id) = line(r#"{"position":1,"stream":"other","amount":5}"#);
        let last = bytes.len() - 3;
        bytes[last] ^= 1;
        assert!(decode_line(&bytes).is_err());
        let got = salvage(&bytes);
        assert_eq!(got.kind, SalvagedKind::Event);
        assert_eq!(got.position, Some(42), "not the payload's field");
        assert_eq!(got.stream.as_deref(), Some("acc-1"));
        assert_eq!((got.version, got.id), (Some(7), Some(id)));
        assert_eq!(got.batch, Some((1, 1)));
    }

    #[test]
    fn a_flipped_header_bit_loses_only_that_field() {
        let (bytes, _) = line("{}");
        let text = String::from_utf8(bytes).unwrap();
        let broken = text.replacen("\"stream\":\"acc-1\"", "\"stream\":\"acc-1", 1);
        let got = salvage(broken.as_bytes());
        assert_eq!((got.position, got.version), (Some(42), Some(7)));
        let broken = text.replacen("\"position\":42", "\"posit\u{1}on\":42", 1);
        let got = salvage(broken.as_bytes());
        assert_eq!(got.position, None);
        assert_eq!(got.stream.as_deref(), Some("acc-1"));
    }

    #[test]
    fn garbage_gives_nothing_and_never_panics() {
        for text in [
            &b""[..],
            b"\x00\x00",
            b"{\"crc\":\"",
            b"\"position\":",
            b"\"id\":\"zz",
        ] {
            let got = salvage(text);
            assert_eq!(got.kind, SalvagedKind::Unknown);
            assert_eq!((got.position, got.id, got.version), (None, None, None));
            assert!(got.may_hold_position());
        }
    }
}
