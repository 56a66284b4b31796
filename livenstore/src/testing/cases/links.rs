//! Cases of linking an event into other streams.

use super::support::{append_ok, ok};
use crate::testing::fixtures::event;
use crate::{EventId, EventStore, ExpectedVersion, StoreError};

/// A link takes the target stream's next version, reads back with its `LinkInfo`, and leaves the
/// original envelope, `read` and `read_all` unchanged.
pub fn link_to_stream<S: EventStore + ?Sized>(store: &S) {
    let original = append_ok(
        store,
        "orders-1",
        ExpectedVersion::Any,
        vec![event("OrderPlaced", r#"{"n":1}"#)],
    );
    append_ok(
        store,
        "audit",
        ExpectedVersion::Any,
        vec![event("AuditStarted", "{}")],
    );
    let stored = ok(store.read_all(original.first_position, 1), "read_all").remove(0);
    let id = stored.id();

    let version = ok(store.link_to_stream(id, "audit"), "link");
    assert_eq!(version, 2, "the link is the target stream's next version");
    let audit = ok(store.read_stream("audit", 1, usize::MAX), "read_stream");
    assert_eq!(audit.len(), 2);
    let linked = &audit[1];
    let link = linked.link().expect("a linked read carries LinkInfo");
    assert_eq!((link.stream.as_str(), link.version), ("audit", 2));
    assert!(link.linked_at >= stored.recorded_at());
    assert_eq!(linked.id(), id);
    assert_eq!(
        (linked.stream(), linked.version(), linked.position()),
        ("orders-1", 1, 1)
    );
    assert_eq!(linked.payload().as_str(), r#"{"n":1}"#);
    assert_eq!(linked.recorded_at(), stored.recorded_at());

    let read = ok(store.read(id), "read");
    assert!(read.link().is_none(), "read returns the event as appended");
    assert_eq!(read, stored);
    assert_eq!(
        ok(store.read_stream("orders-1", 1, usize::MAX), "own stream"),
        std::slice::from_ref(&stored)
    );
    assert_eq!(
        ok(store.read_all(1, usize::MAX), "read_all").len(),
        2,
        "links are not repeated"
    );
    assert_eq!(ok(store.last_position(), "last_position"), 2);

    let info = ok(store.stream_info("audit"), "stream_info").expect("audit exists");
    assert_eq!((info.event_count, info.last_version), (2, 2));
    assert_eq!(
        ok(store.link_to_stream(id, "fresh-1"), "link to a new stream"),
        1
    );
    assert_eq!(ok(store.stream_version("fresh-1"), "stream_version"), 1);
    let appended = append_ok(
        store,
        "audit",
        ExpectedVersion::Exact(2),
        vec![event("AuditEnded", "{}")],
    );
    assert_eq!(
        appended.stream_version, 3,
        "appends continue after the link"
    );
}

/// Linking an unknown id, into the event's own stream, twice, or into an invalid name fails.
pub fn link_errors<S: EventStore + ?Sized>(store: &S) {
    let missing = EventId::new();
    assert!(
        matches!(store.link_to_stream(missing, "audit"), Err(StoreError::EventNotFound(id)) if id == missing)
    );
    append_ok(
        store,
        "orders-1",
        ExpectedVersion::Any,
        vec![event("OrderPlaced", "{}")],
    );
    let id = ok(store.read_all(1, 1), "read_all")[0].id();
    let own = store.link_to_stream(id, "orders-1");
    assert!(
        matches!(own, Err(StoreError::InvalidArgument(_))),
        "own stream: {own:?}"
    );
    ok(store.link_to_stream(id, "audit"), "first link");
    let twice = store.link_to_stream(id, "audit");
    assert!(
        matches!(twice, Err(StoreError::InvalidArgument(_))),
        "double link: {twice:?}"
    );
    let bad = store.link_to_stream(id, "a/b");
    assert!(
        matches!(bad, Err(StoreError::InvalidStreamName { .. })),
        "bad name: {bad:?}"
    );
    assert_eq!(ok(store.stream_version("audit"), "stream_version"), 1);
    assert_eq!(
        ok(store.read_stream("audit", 1, usize::MAX), "read").len(),
        1
    );
}
