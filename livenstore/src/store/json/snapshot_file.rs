//! The format of one snapshot file: a single line in the segments' line format.
//!
//! ```text
//! {"crc":"XXXXXXXX","snapshot":{"aggregate_type":"account","aggregate_id":"42","version":100,"fingerprint":"00c3...","snapshot_version":1,"taken_at":"..."},"state":{...}}
//! ```
//!
//! Invariants:
//! - The CRC-32 covers every byte after the `{"crc":"XXXXXXXX",` prefix up to the newline, as in
//!   a segment line; a file without its newline, or whose CRC does not match, is damaged.
//! - The state comes last and is kept as the exact text that was saved.

use serde::{Deserialize, Serialize};

use super::encode::push_prefix;
use super::format::{checked_body, parse_prefix_value, PREFIX_LEN};
use crate::store::Snapshot;
use crate::{Payload, Timestamp};

/// The header of a snapshot file.
#[derive(Serialize, Deserialize)]
struct Header {
    aggregate_type: String,
    aggregate_id: String,
    version: u64,
    /// 16 lowercase hex digits.
    fingerprint: String,
    snapshot_version: u32,
    taken_at: Timestamp,
}

/// The file's bytes for `snapshot`.
///
/// # Errors
///
/// serde_json's (it does not fail for these fields).
pub(crate) fn encode(snapshot: &Snapshot) -> Result<Vec<u8>, serde_json::Error> {
    let header = Header {
        aggregate_type: snapshot.aggregate_type().to_owned(),
        aggregate_id: snapshot.aggregate_id().to_owned(),
        version: snapshot.version(),
        fingerprint: format!("{:016x}", snapshot.fingerprint()),
        snapshot_version: snapshot.snapshot_version(),
        taken_at: snapshot.taken_at(),
    };
    let state = snapshot.state().as_str();
    let mut out = Vec::with_capacity(PREFIX_LEN + 200 + state.len());
    out.extend_from_slice(&[b' '; PREFIX_LEN]);
    out.extend_from_slice(b"\"snapshot\":");
    serde_json::to_writer(&mut out, &header)?;
    out.extend_from_slice(b",\"state\":");
    out.extend_from_slice(state.as_bytes());
    out.push(b'}');
    push_prefix(&mut out, PREFIX_LEN);
    Ok(out)
}

/// The snapshot in a file's bytes.
///
/// # Errors
///
/// A human-readable reason when the bytes are not one whole, intact snapshot line.
pub(crate) fn decode(bytes: &[u8]) -> Result<Snapshot, String> {
    let line = bytes
        .strip_suffix(b"\n")
        .ok_or("the file does not end with a newline (an unfinished write)")?;
    let body = checked_body(line)?;
    let rest = body
        .strip_prefix("\"snapshot\":")
        .ok_or("not a snapshot record")?;
    let (header, used) = parse_prefix_value::<Header>(rest)?;
    let state = rest[used..]
        .strip_prefix(",\"state\":")
        .and_then(|s| s.strip_suffix('}'))
        .ok_or("no state after the snapshot header")?;
    // The CRC vouches for the text being what was saved; checking it is JSON costs a parse but
    // keeps the promise of `Payload` even for a file written by hand.
    let state = Payload::from_json(state).map_err(|e| format!("the state is not JSON: {e}"))?;
    let fingerprint = u64::from_str_radix(&header.fingerprint, 16)
        .map_err(|_| format!("bad fingerprint {:?}", header.fingerprint))?;
    Ok(Snapshot::new(
        header.aggregate_type,
        header.aggregate_id,
        header.version,
        state,
    )
    .with_fingerprint(fingerprint)
    .with_snapshot_version(header.snapshot_version)
    .with_taken_at(header.taken_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snapshot {
        Snapshot::new(
            "account",
            "ünï \"42\"",
            100,
            Payload::from_json(r#"{"balance": 5, "tags":["a"]}"#).unwrap(),
        )
        .with_fingerprint(u64::MAX - 7)
        .with_snapshot_version(3)
        .with_taken_at(Timestamp::from_unix_nanos(1_700_000_000_123_456_789))
    }

    #[test]
    fn a_snapshot_round_trips_and_is_one_checked_line() {
        let bytes = encode(&sample()).unwrap();
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 1);
        assert!(bytes.ends_with(b"\n"));
        assert_eq!(decode(&bytes).unwrap(), sample());
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["snapshot"]["version"], 100);
        assert_eq!(value["state"]["balance"], 5);
    }

    #[test]
    fn every_damage_is_refused() {
        let bytes = encode(&sample()).unwrap();
        assert!(decode(&bytes[..bytes.len() - 1])
            .unwrap_err()
            .contains("newline"));
        for at in [0, 5, 20, 60, bytes.len() - 3] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x01;
            assert!(decode(&damaged).is_err(), "a flipped bit at {at}");
        }
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "cut at {len}");
        }
        assert!(decode(b"").is_err());
        assert!(decode(b"\n").is_err());
    }
}
