//! Cases of idempotent appends: the id check comes before the version check.

use super::support::{append_ok, ok};
use crate::testing::fixtures::event;
use crate::{EventId, EventStore, ExpectedVersion, StoreError};

fn assert_duplicate<T: std::fmt::Debug>(result: Result<T, StoreError>, id: EventId) {
    match result {
        Err(StoreError::DuplicateEventId { id: got, .. }) => assert_eq!(got, id, "names the id"),
        other => panic!("expected DuplicateEventId for {id}, got {other:?}"),
    }
}

/// Appending the same ids with the same content again succeeds, stores nothing, and reports the
/// stored versions and positions, even when the expected version no longer holds.
pub fn idempotent_retry_is_a_no_op<S: EventStore + ?Sized>(store: &S) {
    append_ok(
        store,
        "other-1",
        ExpectedVersion::Any,
        vec![event("Tick", "{}")],
    );
    let (a, b) = (EventId::new(), EventId::new());
    let batch = || {
        vec![
            event("Deposited", r#"{"amount":1}"#).with_id(a),
            event("Deposited", r#"{"amount":2}"#).with_id(b),
        ]
    };
    let first = append_ok(store, "acc-1", ExpectedVersion::NoStream, batch());
    assert_eq!(
        (
            first.stream_version,
            first.first_position,
            first.last_position
        ),
        (2, 2, 3)
    );
    let again = append_ok(store, "acc-1", ExpectedVersion::NoStream, batch());
    assert_eq!(again, first, "the retry reports what is stored");
    let again = append_ok(store, "acc-1", ExpectedVersion::Exact(2), batch());
    assert_eq!(again, first);
    assert_eq!(
        ok(store.last_position(), "last_position"),
        3,
        "nothing new stored"
    );
    assert_eq!(
        ok(store.read_stream("acc-1", 1, usize::MAX), "read").len(),
        2
    );
    // The later event alone is also an idempotent retry.
    let single = append_ok(
        store,
        "acc-1",
        ExpectedVersion::Any,
        vec![event("Deposited", r#"{"amount":2}"#).with_id(b)],
    );
    assert_eq!(
        (
            single.stream_version,
            single.first_position,
            single.last_position
        ),
        (2, 3, 3)
    );
}

/// The same id with another payload or type is refused.
pub fn same_id_other_payload_is_refused<S: EventStore + ?Sized>(store: &S) {
    let id = EventId::new();
    append_ok(
        store,
        "acc-1",
        ExpectedVersion::Any,
        vec![event("Deposited", r#"{"amount":1}"#).with_id(id)],
    );
    assert_duplicate(
        store.append(
            "acc-1",
            ExpectedVersion::Any,
            vec![event("Deposited", r#"{"amount":9}"#).with_id(id)],
        ),
        id,
    );
    assert_duplicate(
        store.append(
            "acc-1",
            ExpectedVersion::Any,
            vec![event("Withdrawn", r#"{"amount":1}"#).with_id(id)],
        ),
        id,
    );
    assert_eq!(ok(store.last_position(), "last_position"), 1);
}

/// The same id appended to another stream is refused.
pub fn same_id_other_stream_is_refused<S: EventStore + ?Sized>(store: &S) {
    let id = EventId::new();
    append_ok(
        store,
        "acc-1",
        ExpectedVersion::Any,
        vec![event("Deposited", "{}").with_id(id)],
    );
    assert_duplicate(
        store.append(
            "acc-2",
            ExpectedVersion::Any,
            vec![event("Deposited", "{}").with_id(id)],
        ),
        id,
    );
    assert!(ok(store.stream_info("acc-2"), "stream_info").is_none());
    assert_eq!(ok(store.last_position(), "last_position"), 1);
}

/// A batch of which only some events are stored already is refused and stores nothing.
pub fn partly_stored_batch_is_refused<S: EventStore + ?Sized>(store: &S) {
    let (a, b) = (EventId::new(), EventId::new());
    append_ok(
        store,
        "acc-1",
        ExpectedVersion::Any,
        vec![event("Deposited", "{}").with_id(a)],
    );
    let mixed = vec![
        event("Deposited", "{}").with_id(a),
        event("Deposited", r#"{"amount":2}"#).with_id(b),
    ];
    assert_duplicate(store.append("acc-1", ExpectedVersion::Any, mixed), a);
    let without_id = vec![
        event("Deposited", "{}").with_id(a),
        event("Deposited", r#"{"amount":3}"#),
    ];
    assert_duplicate(store.append("acc-1", ExpectedVersion::Any, without_id), a);
    assert_eq!(ok(store.last_position(), "last_position"), 1);
    assert!(matches!(store.read(b), Err(StoreError::EventNotFound(x)) if x == b));
}

/// One id twice in one call is refused and nothing is stored.
pub fn same_id_twice_in_one_call_is_refused<S: EventStore + ?Sized>(store: &S) {
    let id = EventId::new();
    let batch = vec![
        event("Deposited", "{}").with_id(id),
        event("Deposited", "{}").with_id(id),
    ];
    assert_duplicate(store.append("acc-1", ExpectedVersion::Any, batch), id);
    assert_eq!(ok(store.last_position(), "last_position"), 0);
}
