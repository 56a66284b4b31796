//! Cases of appending: round trip, versions, positions, expected versions, atomic batches.

use super::support::{append_ok, assert_conflict, numbered, ok};
use crate::backend::MAX_PAYLOAD_BYTES;
use crate::testing::fixtures::{event, oversized_payload};
use crate::{EventId, EventStore, ExpectedVersion, Metadata, NewEvent, StoreError, Timestamp};

/// Every field of an appended event reads back as appended or assigned.
pub fn append_read_round_trip<S: EventStore + ?Sized>(store: &S) {
    let id = EventId::new();
    let metadata = Metadata::new()
        .with_correlation_id("corr-1")
        .with("user", "ada");
    let first = event("OrderPlaced", r#"{"amount":42,"item":"book"}"#)
        .with_id(id)
        .with_metadata(metadata.clone());
    let second = event("OrderShipped", r#"{"carrier":"post"}"#);
    let before = Timestamp::now();
    let result = append_ok(
        store,
        "order-1",
        ExpectedVersion::NoStream,
        vec![first, second],
    );
    let after = Timestamp::now();
    assert_eq!(result.stream_version, 2);
    assert_eq!((result.first_position, result.last_position), (1, 2));

    let read = ok(store.read(id), "read by id");
    assert_eq!(read.id(), id, "a caller id is kept");
    assert_eq!(read.event_type(), "OrderPlaced");
    assert_eq!(read.stream(), "order-1");
    assert_eq!((read.version(), read.position()), (1, 1));
    assert_eq!(read.metadata(), &metadata);
    assert_eq!(read.payload().as_str(), r#"{"amount":42,"item":"book"}"#);
    assert!(before <= read.recorded_at() && read.recorded_at() <= after);
    assert!(read.link().is_none());

    let stream = ok(store.read_stream("order-1", 1, usize::MAX), "read_stream");
    assert_eq!(stream.len(), 2);
    assert_eq!(stream[0], read, "read_stream and read agree");
    let shipped = &stream[1];
    assert_eq!(shipped.event_type(), "OrderShipped");
    assert_eq!((shipped.version(), shipped.position()), (2, 2));
    assert_eq!(shipped.payload().as_str(), r#"{"carrier":"post"}"#);
    assert!(shipped.metadata().is_empty());
    assert_ne!(shipped.id(), id, "the store assigns a fresh id");
    assert_eq!(ok(store.read(shipped.id()), "read assigned id"), *shipped);
    assert_eq!(ok(store.read_all(1, usize::MAX), "read_all"), stream);
}

/// Versions are 1..=n in each stream, whatever the batch sizes and interleaving.
pub fn versions_are_contiguous_per_stream<S: EventStore + ?Sized>(store: &S) {
    for (i, size) in [1usize, 3, 2, 5, 1].into_iter().enumerate() {
        let stream = if i % 2 == 0 { "a-1" } else { "b-1" };
        append_ok(store, stream, ExpectedVersion::Any, numbered("Tick", size));
    }
    for (stream, expected) in [("a-1", 4u64), ("b-1", 8)] {
        let events = ok(store.read_stream(stream, 1, usize::MAX), "read_stream");
        let versions: Vec<u64> = events.iter().map(|e| e.version()).collect();
        assert_eq!(
            versions,
            (1..=expected).collect::<Vec<_>>(),
            "stream {stream}"
        );
        assert!(events.iter().all(|e| e.stream() == stream));
        assert_eq!(ok(store.stream_version(stream), "stream_version"), expected);
    }
}

/// Positions are 1..=n across all streams, and each append reports its own range.
pub fn positions_are_gap_free_across_streams<S: EventStore + ?Sized>(store: &S) {
    let mut next = 1;
    for (i, size) in [2usize, 1, 4, 3].into_iter().enumerate() {
        let stream = ["x-1", "y-1", "z-1"][i % 3];
        let result = append_ok(store, stream, ExpectedVersion::Any, numbered("Tick", size));
        assert_eq!(result.first_position, next);
        assert_eq!(result.last_position, next + size as u64 - 1);
        next += size as u64;
    }
    let all = ok(store.read_all(1, usize::MAX), "read_all");
    let positions: Vec<u64> = all.iter().map(|e| e.position()).collect();
    assert_eq!(positions, (1..next).collect::<Vec<_>>());
    assert_eq!(ok(store.last_position(), "last_position"), next - 1);
}

/// Each [`ExpectedVersion`] variant succeeds when it holds and conflicts (storing nothing) when not.
pub fn expected_version_variants<S: EventStore + ?Sized>(store: &S) {
    let one = || vec![event("Tick", "{}")];
    assert_conflict(
        store.append("s-1", ExpectedVersion::StreamExists, one()),
        "s-1",
        ExpectedVersion::StreamExists,
        0,
    );
    assert_conflict(
        store.append("s-1", ExpectedVersion::Exact(1), one()),
        "s-1",
        ExpectedVersion::Exact(1),
        0,
    );
    assert_eq!(
        ok(store.last_position(), "last_position"),
        0,
        "conflicts store nothing"
    );
    append_ok(store, "s-1", ExpectedVersion::NoStream, one());
    assert_conflict(
        store.append("s-1", ExpectedVersion::NoStream, one()),
        "s-1",
        ExpectedVersion::NoStream,
        1,
    );
    append_ok(store, "s-1", ExpectedVersion::StreamExists, one());
    append_ok(store, "s-1", ExpectedVersion::Exact(2), one());
    assert_conflict(
        store.append("s-1", ExpectedVersion::Exact(2), one()),
        "s-1",
        ExpectedVersion::Exact(2),
        3,
    );
    assert_conflict(
        store.append("s-1", ExpectedVersion::Exact(0), one()),
        "s-1",
        ExpectedVersion::Exact(0),
        3,
    );
    append_ok(store, "s-1", ExpectedVersion::Any, one());
    append_ok(store, "s-2", ExpectedVersion::Exact(0), one());
    append_ok(store, "s-3", ExpectedVersion::Any, one());
    assert_eq!(ok(store.stream_version("s-1"), "stream_version"), 4);
    assert_eq!(ok(store.last_position(), "last_position"), 6);
}

fn assert_nothing_stored<S: EventStore + ?Sized>(store: &S, stream: &str, version: u64, last: u64) {
    assert_eq!(ok(store.stream_version(stream), "stream_version"), version);
    assert_eq!(ok(store.last_position(), "last_position"), last);
    let events = ok(store.read_stream(stream, 1, usize::MAX), "read_stream");
    assert_eq!(
        events.len() as u64,
        version,
        "the failed batch left no event"
    );
}

/// A batch whose third event has an empty type stores none of its events.
pub fn batch_with_invalid_event_type_stores_nothing<S: EventStore + ?Sized>(store: &S) {
    for (stream, version, last) in [("new-1", 0, 0), ("old-1", 1, 1)] {
        if version == 1 {
            append_ok(
                store,
                stream,
                ExpectedVersion::NoStream,
                numbered("Tick", 1),
            );
        }
        let mut batch = numbered("Tick", 2);
        batch.push(NewEvent::new("", event("Tick", "{}").payload().clone()));
        batch.push(event("Tick", "{}"));
        let result = store.append(stream, ExpectedVersion::Any, batch);
        assert!(
            matches!(result, Err(StoreError::InvalidEventType { .. })),
            "empty type refused, got {result:?}"
        );
        assert_nothing_stored(store, stream, version, last);
    }
}

/// A batch whose third event's payload is too large stores none of its events.
pub fn batch_with_oversized_payload_stores_nothing<S: EventStore + ?Sized>(store: &S) {
    append_ok(
        store,
        "big-1",
        ExpectedVersion::NoStream,
        numbered("Tick", 1),
    );
    let mut batch = numbered("Tick", 2);
    batch.push(NewEvent::new("Tick", oversized_payload(MAX_PAYLOAD_BYTES)));
    let result = store.append("big-1", ExpectedVersion::Exact(1), batch);
    assert!(
        matches!(result, Err(StoreError::PayloadTooLarge { .. })),
        "oversized payload refused, got {:?}",
        result.map_err(|e| e.to_string())
    );
    assert_nothing_stored(store, "big-1", 1, 1);
}

/// An empty batch checks the expectation, stores nothing and creates no stream.
pub fn empty_batch<S: EventStore + ?Sized>(store: &S) {
    let result = append_ok(store, "e-1", ExpectedVersion::Any, Vec::new());
    assert_eq!(
        (
            result.stream_version,
            result.first_position,
            result.last_position
        ),
        (0, 0, 0)
    );
    append_ok(store, "e-1", ExpectedVersion::NoStream, Vec::new());
    assert!(
        ok(store.stream_info("e-1"), "stream_info").is_none(),
        "no stream made"
    );
    assert_conflict(
        store.append("e-1", ExpectedVersion::StreamExists, Vec::new()),
        "e-1",
        ExpectedVersion::StreamExists,
        0,
    );
    append_ok(store, "e-1", ExpectedVersion::NoStream, numbered("Tick", 2));
    let result = append_ok(store, "e-1", ExpectedVersion::Exact(2), Vec::new());
    assert_eq!(
        (
            result.stream_version,
            result.first_position,
            result.last_position
        ),
        (2, 0, 0)
    );
    assert_conflict(
        store.append("e-1", ExpectedVersion::Exact(5), Vec::new()),
        "e-1",
        ExpectedVersion::Exact(5),
        2,
    );
    assert_eq!(ok(store.last_position(), "last_position"), 2);
}

/// `recorded_at` never decreases along global positions, nor along a stream.
pub fn recorded_at_never_decreases<S: EventStore + ?Sized>(store: &S) {
    for i in 0..60 {
        let stream = ["t-1", "t-2", "t-3"][i % 3];
        append_ok(
            store,
            stream,
            ExpectedVersion::Any,
            numbered("Tick", 1 + i % 2),
        );
    }
    let all = ok(store.read_all(1, usize::MAX), "read_all");
    assert_eq!(all.len(), 90);
    assert!(all
        .windows(2)
        .all(|w| w[0].recorded_at() <= w[1].recorded_at()));
    let stream = ok(store.read_stream("t-2", 1, usize::MAX), "read_stream");
    assert!(stream
        .windows(2)
        .all(|w| w[0].recorded_at() <= w[1].recorded_at()));
}
