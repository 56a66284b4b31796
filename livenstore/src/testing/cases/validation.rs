//! Cases of input validation: stream names and payload sizes.

use super::support::{append_ok, ok};
use crate::store::{MAX_PAYLOAD_BYTES, MAX_STREAM_NAME_BYTES};
use crate::testing::fixtures::{event, oversized_payload};
use crate::{EventStore, ExpectedVersion, NewEvent, StoreError};

fn assert_invalid_name<T: std::fmt::Debug>(result: Result<T, StoreError>, name: &str, call: &str) {
    assert!(
        matches!(result, Err(StoreError::InvalidStreamName { .. })),
        "{call} with {name:?}: expected InvalidStreamName, got {result:?}"
    );
}

/// Empty names, separators, control characters, `.`/`..` and names over 256 bytes are refused by
/// `append`, `read_stream`, `stream_info` and `link_to_stream`.
pub fn invalid_stream_names<S: EventStore + ?Sized>(store: &S) {
    append_ok(
        store,
        "ok-1",
        ExpectedVersion::Any,
        vec![event("Tick", "{}")],
    );
    let id = ok(store.read_all(1, 1), "read_all")[0].id();
    let long = "x".repeat(MAX_STREAM_NAME_BYTES + 1);
    let names = [
        "",
        "a/b",
        "a\\b",
        "a\0b",
        "line\nbreak",
        "tab\there",
        "..",
        ".",
        long.as_str(),
    ];
    for name in names {
        assert_invalid_name(
            store.append(name, ExpectedVersion::Any, vec![event("Tick", "{}")]),
            name,
            "append",
        );
        assert_invalid_name(store.read_stream(name, 1, usize::MAX), name, "read_stream");
        assert_invalid_name(store.stream_info(name), name, "stream_info");
        assert_invalid_name(store.link_to_stream(id, name), name, "link_to_stream");
    }
    assert_eq!(ok(store.last_position(), "last_position"), 1);
    let longest = "y".repeat(MAX_STREAM_NAME_BYTES);
    append_ok(
        store,
        &longest,
        ExpectedVersion::NoStream,
        vec![event("Tick", "{}")],
    );
    append_ok(
        store,
        "ünïcödé.name-1",
        ExpectedVersion::NoStream,
        vec![event("Tick", "{}")],
    );
    assert_eq!(
        ok(store.read_stream(&longest, 1, usize::MAX), "read").len(),
        1
    );
}

/// A payload over [`MAX_PAYLOAD_BYTES`] is `PayloadTooLarge` with its size and the limit.
pub fn payload_too_large<S: EventStore + ?Sized>(store: &S) {
    let payload = oversized_payload(MAX_PAYLOAD_BYTES);
    let result = store.append(
        "big-1",
        ExpectedVersion::Any,
        vec![NewEvent::new("Blob", payload)],
    );
    match result {
        Err(StoreError::PayloadTooLarge { size, limit }) => {
            assert_eq!((size, limit), (MAX_PAYLOAD_BYTES + 1, MAX_PAYLOAD_BYTES));
        }
        other => panic!(
            "expected PayloadTooLarge, got {:?}",
            other.map_err(|e| e.to_string())
        ),
    }
    assert_eq!(ok(store.last_position(), "last_position"), 0);
    assert!(ok(store.stream_info("big-1"), "stream_info").is_none());
}
