//! Entry points of the fuzz targets (`fuzz/` at the repository's top), compiled only when
//! fuzzing (`--cfg fuzzing`, which `cargo fuzz` sets). Each one panics when an invariant breaks;
//! returning means the input was handled: decoded, or refused with an error.

use std::path::PathBuf;

use super::crc::crc32;
use super::encode::{encode_event, json_string, BatchHeader, EventLine};
use super::format::{decode_line, Record, PREFIX_LEN};
use super::recovery::segment_name;
use super::salvage::salvage;
use super::{repair, verify, JsonStore, JsonStoreOptions};
use crate::{EventStore, StoreError};

/// `data` with the checksum prefix of each line (newline-separated) set to the line's own
/// checksum, so that a fuzzer explores what lies behind the checksum check too (it could not
/// find matching checksums by mutation alone).
pub fn with_checksums(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 32);
    for line in data.split_inclusive(|&b| b == b'\n') {
        let (body, newline) = match line.strip_suffix(b"\n") {
            Some(body) => (body, true),
            None => (line, false),
        };
        let body = body.get(PREFIX_LEN..).unwrap_or(body);
        out.extend_from_slice(format!("{{\"crc\":\"{:08x}\",", crc32(body)).as_bytes());
        out.extend_from_slice(body);
        if newline {
            out.push(b'\n');
        }
    }
    out
}

/// One segment line of any bytes, as it is and with its checksum set right: decoded or
/// refused, and salvaged, never a panic. A line that decodes as an event is written again from
/// its fields and must decode to the same fields.
pub fn segment_line(data: &[u8]) {
    check_line(data);
    check_line(&with_checksums(data));
}

fn check_line(data: &[u8]) {
    let _ = salvage(data);
    let Ok(Record::Event { header, payload }) = decode_line(data) else {
        return;
    };
    let (i, n) = (header.batch[0], header.batch[1]);
    let batch = BatchHeader::new(&header.stream, header.recorded_at, n).expect("a batch header");
    let type_json = json_string(&header.event_type).expect("a type");
    let line = EventLine {
        position: header.position,
        id: header.id,
        version: header.version,
        event_type_json: &type_json,
        event_version: header.event_version,
        metadata: &header.metadata,
        index: i,
        payload,
    };
    let mut out = Vec::new();
    encode_event(&mut out, &batch, &line).expect("an encodable event");
    let again = &out[..out.len() - 1];
    match decode_line(again) {
        Ok(Record::Event {
            header: h,
            payload: p,
        }) => {
            assert_eq!(
                (h.position, h.id, h.version),
                (header.position, header.id, header.version)
            );
            assert_eq!(
                (&h.stream, &h.event_type),
                (&header.stream, &header.event_type)
            );
            assert_eq!(
                (h.recorded_at, &h.metadata, h.batch),
                (header.recorded_at, &header.metadata, header.batch)
            );
            assert_eq!(h.event_version, header.event_version);
            assert_eq!(p, payload);
        }
        _ => panic!("a line written from a decoded event does not decode"),
    }
}

/// The directory a fuzzing process works in (one per process, emptied for each input).
fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("livenstore-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// A whole segment of any bytes (as it is when its first byte is even, with every line's
/// checksum set right when it is odd), through everything that reads one: the read-only open
/// (scan, or survey when damaged) and its reads, `verify`, `repair`, and a writable open after
/// it. Invariants: nothing panics; when `repair` succeeds the store opens for writing, verifies
/// healthy, and still holds every event the lenient read-only open could read, unchanged.
pub fn segment_scan(data: &[u8]) {
    match data.split_first() {
        Some((first, rest)) if first % 2 == 1 => scan(&with_checksums(rest)),
        _ => scan(data),
    }
}

fn scan(data: &[u8]) {
    let dir = scratch();
    std::fs::write(dir.join(segment_name(1)), data).expect("write the segment");
    let lenient = JsonStoreOptions::new().skip_damaged(true);
    let before = match JsonStore::open_read_only_with(&dir, lenient) {
        Ok(store) => {
            let all = store
                .read_all(1, usize::MAX)
                .expect("lenient reads do not fail");
            for info in store.streams().expect("streams") {
                let _ = store.read_stream(&info.stream, 1, usize::MAX);
            }
            for event in &all {
                let _ = serde_json::to_string(event);
                assert_eq!(store.read(event.id()).ok().as_ref(), Some(event));
            }
            let strict = JsonStore::open_read_only(&dir).expect("the strict open too");
            let _ = strict.read_all(1, usize::MAX);
            Some(all)
        }
        Err(StoreError::Corrupted { .. }) => None,
        Err(e) => panic!("a read-only open failed with {e}"),
    };
    let _ = verify(&dir).expect("verify reads what it can");
    match repair(&dir) {
        Ok(_) => {
            let store = JsonStore::open(&dir).expect("a repaired store opens");
            assert!(store.recovery().is_empty(), "{:?}", store.recovery());
            let after = store
                .read_all(1, usize::MAX)
                .expect("reads of a repaired store");
            if let Some(before) = before {
                assert_eq!(after, before, "repair kept every intact event");
            }
            drop(store);
            let report = verify(&dir).expect("verify");
            assert!(report.problems.is_empty(), "{:?}", report.problems);
        }
        Err(StoreError::Corrupted { .. }) => {}
        Err(e) => panic!("repair failed with {e}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
