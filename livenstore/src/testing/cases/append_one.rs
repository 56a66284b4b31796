//! Cases of [`EventStore::append_one`]: it behaves exactly as `append` of a one-event call.

use super::support::{append_ok, assert_conflict, numbered, ok};
use crate::backend::MAX_PAYLOAD_BYTES;
use crate::testing::fixtures::{event, oversized_payload};
use crate::{EventId, EventStore, ExpectedVersion, NewEvent, StoreError};

/// `append_one` gives versions and positions, checks expected versions and input, and retries
/// idempotently, exactly as `append` with a one-event call; failed calls store nothing.
pub fn append_one_is_an_append_of_one<S: EventStore + ?Sized>(store: &S) {
    let one = |json: &str| event("Tick", json);
    let first = ok(
        store.append_one("one-1", ExpectedVersion::NoStream, one(r#"{"n":1}"#)),
        "append_one to a new stream",
    );
    assert_eq!(
        (
            first.stream_version,
            first.first_position,
            first.last_position
        ),
        (1, 1, 1)
    );
    append_ok(store, "one-2", ExpectedVersion::Any, numbered("Tick", 2));
    let second = ok(
        store.append_one("one-1", ExpectedVersion::Exact(1), one(r#"{"n":2}"#)),
        "append_one with the right version",
    );
    assert_eq!(
        (
            second.stream_version,
            second.first_position,
            second.last_position
        ),
        (2, 4, 4)
    );

    // Refusals store nothing.
    assert_conflict(
        store.append_one("one-1", ExpectedVersion::Exact(1), one("{}")),
        "one-1",
        ExpectedVersion::Exact(1),
        2,
    );
    assert_conflict(
        store.append_one("one-3", ExpectedVersion::StreamExists, one("{}")),
        "one-3",
        ExpectedVersion::StreamExists,
        0,
    );
    let bad_name = store.append_one("", ExpectedVersion::Any, one("{}"));
    assert!(
        matches!(bad_name, Err(StoreError::InvalidStreamName { .. })),
        "{bad_name:?}"
    );
    let bad_type = store.append_one(
        "one-1",
        ExpectedVersion::Any,
        NewEvent::new("", one("{}").payload().clone()),
    );
    assert!(
        matches!(bad_type, Err(StoreError::InvalidEventType { .. })),
        "{bad_type:?}"
    );
    let too_large = store.append_one(
        "one-1",
        ExpectedVersion::Any,
        NewEvent::new("Tick", oversized_payload(MAX_PAYLOAD_BYTES)),
    );
    assert!(
        matches!(too_large, Err(StoreError::PayloadTooLarge { .. })),
        "payload too large, got {:?}",
        too_large.map_err(|e| e.to_string())
    );
    assert_eq!(ok(store.last_position(), "last_position"), 4);
    assert!(ok(store.stream_info("one-3"), "stream_info").is_none());

    // An id makes the call idempotent; the same id elsewhere is refused.
    let id = EventId::new();
    let with_id = one(r#"{"n":3}"#).with_id(id);
    let stored = ok(
        store.append_one("one-1", ExpectedVersion::Exact(2), with_id.clone()),
        "append_one with an id",
    );
    let retried = ok(
        store.append_one("one-1", ExpectedVersion::Exact(2), with_id.clone()),
        "retry of append_one",
    );
    assert_eq!(retried, stored, "a retry reports where the event is");
    let elsewhere = store.append_one("one-2", ExpectedVersion::Any, with_id);
    assert!(
        matches!(elsewhere, Err(StoreError::DuplicateEventId { id: d, .. }) if d == id),
        "{elsewhere:?}"
    );

    let events = ok(store.read_stream("one-1", 1, usize::MAX), "read_stream");
    let seen: Vec<(u64, u64, &str)> = events
        .iter()
        .map(|e| (e.version(), e.position(), e.payload().as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (1, 1, r#"{"n":1}"#),
            (2, 4, r#"{"n":2}"#),
            (3, 5, r#"{"n":3}"#)
        ]
    );
    assert_eq!(ok(store.read(id), "read by id").version(), 3);
    assert_eq!(ok(store.last_position(), "last_position"), 5);
}
