//! Writing records as segment lines (the format is described in `format.rs`).
//!
//! This is the append hot path, so the event header is written by hand rather than through
//! serde or `core::fmt`: numbers by a two-digits-at-a-time decimal routine, what the lines of one
//! append share (stream, time, batch size) prepared once per append in a [`BatchHeader`], and
//! the payload text, validated when its [`Payload`](crate::Payload) was made, copied verbatim.
//!
//! Invariant: the bytes are exactly what `serde_json` writes for the header fields in this
//! order (the tests compare against serde's output), so a line is plain JSON, and the stored
//! format is the same whether a line was written by this code or by serde.

use super::crc::crc32;
use super::format::{HoleRecord, LinkRecord, PREFIX_LEN};
use crate::{EventId, Metadata, Timestamp};

/// The decimal digits of 0..=99, two bytes each.
const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends `n` in decimal.
fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        digits[at] = b'0' + n as u8;
    }
    // Byte by byte: a copy of a few bytes of unknown length would be a `memmove` call.
    out.reserve(digits.len() - at);
    for &d in &digits[at..] {
        out.push(d);
    }
}

/// Appends `text` as a JSON string: copied between quotes when nothing in it needs escaping
/// (the usual case for stream names and event types), else escaped by serde_json.
fn push_json_str(out: &mut Vec<u8>, text: &str) -> Result<(), serde_json::Error> {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_json::to_writer(&mut *out, text)
    }
}

/// `text` as a JSON string (quoted and escaped), for copying into many lines.
///
/// # Errors
///
/// serde_json's (it does not fail for strings).
pub(crate) fn json_string(text: &str) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(text.len() + 2);
    push_json_str(&mut out, text)?;
    Ok(out)
}

/// What every line of one append shares, written once per append.
pub(crate) struct BatchHeader {
    /// `","stream":<stream>,"version":`
    after_id: Vec<u8>,
    /// `,"recorded_at":"<time>","metadata":`
    after_type: Vec<u8>,
    /// `,<n>]},"payload":`
    after_index: Vec<u8>,
}

impl BatchHeader {
    /// The shared parts of the lines of an append of `total` events to `stream` at `recorded_at`.
    ///
    /// # Errors
    ///
    /// serde_json's (it does not fail for strings).
    pub fn new(
        stream: &str,
        recorded_at: Timestamp,
        total: u32,
    ) -> Result<Self, serde_json::Error> {
        let mut after_id = b"\",\"stream\":".to_vec();
        push_json_str(&mut after_id, stream)?;
        after_id.extend_from_slice(b",\"version\":");
        let after_type = format!(",\"recorded_at\":\"{recorded_at}\",\"metadata\":").into_bytes();
        let mut after_index = vec![b','];
        push_u64(&mut after_index, u64::from(total));
        after_index.extend_from_slice(b"]},\"payload\":");
        Ok(BatchHeader {
            after_id,
            after_type,
            after_index,
        })
    }
}

/// What differs between the event lines of one append.
pub(crate) struct EventLine<'a> {
    pub position: u64,
    pub id: EventId,
    pub version: u64,
    /// The event type as a JSON string ([`json_string`]).
    pub event_type_json: &'a [u8],
    /// The version of the type's payload; written only when it is not 1.
    pub event_version: u32,
    pub metadata: &'a Metadata,
    /// 1-based index of the event in its append.
    pub index: u32,
    /// The payload's JSON text.
    pub payload: &'a str,
}

/// Appends one event line (with its newline) to `out`.
///
/// # Errors
///
/// serde_json's, for metadata it cannot write (it does not fail for string maps); `out` is left
/// as it was.
pub(crate) fn encode_event(
    out: &mut Vec<u8>,
    batch: &BatchHeader,
    line: &EventLine<'_>,
) -> Result<(), serde_json::Error> {
    let start = out.len();
    out.reserve(
        PREFIX_LEN
            + 120
            + batch.after_id.len()
            + line.event_type_json.len()
            + batch.after_type.len()
            + batch.after_index.len()
            + line.payload.len(),
    );
    out.extend_from_slice(&[b' '; PREFIX_LEN]);
    out.extend_from_slice(b"\"event\":{\"position\":");
    push_u64(out, line.position);
    out.extend_from_slice(b",\"id\":\"");
    let mut id = [0u8; ulid::ULID_LEN];
    out.extend_from_slice(line.id.ulid().array_to_str(&mut id).as_bytes());
    out.extend_from_slice(&batch.after_id);
    push_u64(out, line.version);
    out.extend_from_slice(b",\"event_type\":");
    out.extend_from_slice(line.event_type_json);
    if line.event_version != 1 {
        out.extend_from_slice(b",\"event_version\":");
        push_u64(out, u64::from(line.event_version));
    }
    out.extend_from_slice(&batch.after_type);
    if line.metadata.is_empty() {
        out.extend_from_slice(b"{}");
    } else if let Err(e) = serde_json::to_writer(&mut *out, line.metadata) {
        out.truncate(start);
        return Err(e);
    }
    out.extend_from_slice(b",\"batch\":[");
    push_u64(out, u64::from(line.index));
    out.extend_from_slice(&batch.after_index);
    out.extend_from_slice(line.payload.as_bytes());
    out.push(b'}');
    push_prefix(out, start + PREFIX_LEN);
    Ok(())
}

/// Appends one link line (with its newline) to `out`.
///
/// # Errors
///
/// serde_json's (it does not fail for a link); `out` is left as it was.
pub(crate) fn encode_link(
    out: &mut Vec<u8>,
    link: &LinkRecord<'_>,
) -> Result<(), serde_json::Error> {
    let start = out.len();
    out.extend_from_slice(&[b' '; PREFIX_LEN]);
    out.extend_from_slice(b"\"link\":");
    if let Err(e) = serde_json::to_writer(&mut *out, link) {
        out.truncate(start);
        return Err(e);
    }
    out.push(b'}');
    push_prefix(out, start + PREFIX_LEN);
    Ok(())
}

/// Appends one hole line (with its newline) to `out`.
///
/// # Errors
///
/// serde_json's (it does not fail for a hole); `out` is left as it was.
pub(crate) fn encode_hole(out: &mut Vec<u8>, hole: &HoleRecord) -> Result<(), serde_json::Error> {
    let start = out.len();
    out.extend_from_slice(&[b' '; PREFIX_LEN]);
    out.extend_from_slice(b"\"hole\":");
    if let Err(e) = serde_json::to_writer(&mut *out, hole) {
        out.truncate(start);
        return Err(e);
    }
    out.push(b'}');
    push_prefix(out, start + PREFIX_LEN);
    Ok(())
}

/// Fills in the `{"crc":"XXXXXXXX",` placeholder before `body_start` and ends the line.
pub(crate) fn push_prefix(out: &mut Vec<u8>, body_start: usize) {
    let crc = crc32(&out[body_start..]);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut prefix = *b"{\"crc\":\"00000000\",";
    for k in 0..8 {
        prefix[8 + k] = HEX[((crc >> (28 - 4 * k)) & 0xF) as usize];
    }
    out[body_start - PREFIX_LEN..body_start].copy_from_slice(&prefix);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_strings_are_written_as_serde_would() {
        let mut numbers = vec![0u64, u64::from(u32::MAX), u64::MAX - 1, u64::MAX];
        for p in 0..20 {
            let t = 10u64.pow(p);
            numbers.extend([t - 1, t, t + 1, t.wrapping_mul(3).wrapping_add(7)]);
        }
        for n in numbers {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
        for text in [
            "plain",
            "",
            "quote\"",
            "back\\slash",
            "tab\t",
            "\u{1}",
            "été ☃",
        ] {
            assert_eq!(
                json_string(text).unwrap(),
                serde_json::to_vec(text).unwrap(),
                "{text:?}"
            );
        }
    }

    /// The header as serde writes it: the fields in the order of the line format.
    #[derive(serde::Serialize)]
    struct SerdeHeader<'a> {
        position: u64,
        id: EventId,
        stream: &'a str,
        version: u64,
        event_type: &'a str,
        #[serde(skip_serializing_if = "is_one")]
        event_version: u32,
        recorded_at: String,
        metadata: &'a Metadata,
        batch: [u32; 2],
    }

    fn is_one(version: &u32) -> bool {
        *version == 1
    }

    #[test]
    fn event_lines_are_the_bytes_serde_writes() {
        let empty = Metadata::new();
        let some = Metadata::new().with("k", "v\"w");
        let cases = [
            ("s", "T", 1, 1, &empty, 1, 1, 1),
            ("user-\"1\"\n", "Ty\\pe", 12_345, 99, &some, 7, 100, 2),
            (
                "été",
                "x",
                u64::MAX,
                u64::MAX,
                &empty,
                u32::MAX,
                u32::MAX,
                u32::MAX,
            ),
        ];
        for (stream, event_type, position, version, metadata, index, total, event_version) in cases
        {
            let at = Timestamp::from_unix_nanos(1_700_000_000_123_456_789);
            let id = EventId::new();
            let payload = r#"{"name":"ada","n":[1,2]}"#;
            let mut out = Vec::new();
            let batch = BatchHeader::new(stream, at, total).unwrap();
            let type_json = json_string(event_type).unwrap();
            let line = EventLine {
                position,
                id,
                version,
                event_type_json: &type_json,
                event_version,
                metadata,
                index,
                payload,
            };
            encode_event(&mut out, &batch, &line).unwrap();
            let header = SerdeHeader {
                position,
                id,
                stream,
                version,
                event_type,
                event_version,
                recorded_at: at.to_string(),
                metadata,
                batch: [index, total],
            };
            let body = format!(
                "\"event\":{},\"payload\":{payload}}}",
                serde_json::to_string(&header).unwrap()
            );
            let expected = format!("{{\"crc\":\"{:08x}\",{body}\n", crc32(body.as_bytes()));
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }
}
