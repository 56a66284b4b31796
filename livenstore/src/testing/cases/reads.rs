//! Cases of reading: paging, by type, by time, stream information, unknown ids.

use super::support::{append_ok, numbered, ok};
use crate::testing::fixtures::event;
use crate::{EventId, EventStore, ExpectedVersion, RecordedEvent, StoreError, Timestamp};

fn versions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(RecordedEvent::version).collect()
}

fn positions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(RecordedEvent::position).collect()
}

/// `read_stream` pages by `from_version` (inclusive; 0 reads from the start) and `max_count`.
pub fn read_stream_paging<S: EventStore + ?Sized>(store: &S) {
    append_ok(
        store,
        "p-1",
        ExpectedVersion::NoStream,
        numbered("Tick", 10),
    );
    append_ok(store, "q-1", ExpectedVersion::NoStream, numbered("Tick", 2));
    let read = |from, max| versions(&ok(store.read_stream("p-1", from, max), "read_stream"));
    assert_eq!(read(1, 3), [1, 2, 3]);
    assert_eq!(read(4, 3), [4, 5, 6]);
    assert_eq!(read(9, 5), [9, 10]);
    assert_eq!(read(0, 2), [1, 2]);
    assert!(read(11, 5).is_empty());
    assert!(read(1, 0).is_empty());
    assert_eq!(read(1, usize::MAX).len(), 10);
    assert!(ok(store.read_stream("none-1", 1, usize::MAX), "unknown").is_empty());
}

/// `read_all` pages by `from_position` (inclusive; 0 reads from the start) and `max_count`.
pub fn read_all_paging<S: EventStore + ?Sized>(store: &S) {
    for i in 0..7 {
        append_ok(
            store,
            ["p-1", "q-1"][i % 2],
            ExpectedVersion::Any,
            numbered("Tick", 1),
        );
    }
    let read = |from, max| positions(&ok(store.read_all(from, max), "read_all"));
    assert_eq!(read(1, 3), [1, 2, 3]);
    assert_eq!(read(4, 3), [4, 5, 6]);
    assert_eq!(read(7, 3), [7]);
    assert_eq!(read(0, 1), [1]);
    assert!(read(8, 3).is_empty());
    assert!(read(1, 0).is_empty());
    let mut paged = Vec::new();
    let mut from = 1;
    loop {
        let page = ok(store.read_all(from, 2), "read_all");
        let Some(last) = page.last() else { break };
        from = last.position() + 1;
        paged.extend(page);
    }
    assert_eq!(positions(&paged), (1..=7).collect::<Vec<_>>());
}

/// `read_by_type` returns one type's events in global order, paged.
pub fn read_by_type<S: EventStore + ?Sized>(store: &S) {
    for i in 0..9 {
        let ty = if i % 3 == 0 { "Opened" } else { "Deposited" };
        append_ok(
            store,
            ["a-1", "b-1"][i % 2],
            ExpectedVersion::Any,
            vec![event(ty, "{}")],
        );
    }
    let opened = ok(store.read_by_type("Opened", 1, usize::MAX), "read_by_type");
    assert_eq!(positions(&opened), [1, 4, 7]);
    assert!(opened.iter().all(|e| e.event_type() == "Opened"));
    let deposited = ok(store.read_by_type("Deposited", 3, 3), "read_by_type");
    assert_eq!(positions(&deposited), [3, 5, 6]);
    assert!(ok(store.read_by_type("Closed", 1, usize::MAX), "unknown type").is_empty());
    assert!(ok(store.read_by_type("Opened", 8, usize::MAX), "past the end").is_empty());
}

/// `read_time_range` returns the events recorded in `[from, to)`, in global order.
pub fn read_time_range<S: EventStore + ?Sized>(store: &S) {
    for i in 0..6 {
        append_ok(
            store,
            "t-1",
            ExpectedVersion::Any,
            numbered("Tick", 1 + i % 2),
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let all = ok(store.read_all(1, usize::MAX), "read_all");
    let whole = ok(
        store.read_time_range(Timestamp::UNIX_EPOCH, Timestamp::MAX),
        "range",
    );
    assert_eq!(whole, all);
    let (from, to) = (all[2].recorded_at(), all[6].recorded_at());
    assert!(from < to, "the sleeps separate the appends");
    let expected: Vec<RecordedEvent> = all
        .iter()
        .filter(|e| from <= e.recorded_at() && e.recorded_at() < to)
        .cloned()
        .collect();
    let range = ok(store.read_time_range(from, to), "range");
    assert_eq!(range, expected);
    assert!(range.iter().any(|e| e.position() == 3), "from is inclusive");
    assert!(
        range.iter().all(|e| e.recorded_at() < to),
        "to is exclusive"
    );
    assert!(ok(store.read_time_range(to, from), "reversed").is_empty());
}

/// `stream_info`, `stream_version` and `streams` describe what is stored.
pub fn stream_info_and_streams<S: EventStore + ?Sized>(store: &S) {
    assert!(ok(store.stream_info("c-1"), "stream_info").is_none());
    assert_eq!(ok(store.stream_version("c-1"), "stream_version"), 0);
    assert!(ok(store.streams(), "streams").is_empty());
    append_ok(store, "c-1", ExpectedVersion::Any, numbered("Tick", 3));
    append_ok(store, "a-1", ExpectedVersion::Any, numbered("Tick", 1));
    append_ok(store, "b-1", ExpectedVersion::Any, numbered("Tick", 2));
    append_ok(store, "c-1", ExpectedVersion::Any, numbered("Tick", 1));
    let events = ok(store.read_stream("c-1", 1, usize::MAX), "read_stream");
    let info = ok(store.stream_info("c-1"), "stream_info").expect("c-1 exists");
    assert_eq!(info.stream, "c-1");
    assert_eq!(
        (info.event_count, info.first_version, info.last_version),
        (4, 1, 4)
    );
    assert_eq!(info.first_recorded_at, events[0].recorded_at());
    assert_eq!(info.last_recorded_at, events[3].recorded_at());
    assert_eq!(ok(store.stream_version("c-1"), "stream_version"), 4);
    let streams = ok(store.streams(), "streams");
    let names: Vec<&str> = streams.iter().map(|s| s.stream.as_str()).collect();
    assert_eq!(names, ["a-1", "b-1", "c-1"], "sorted by name");
    assert_eq!(streams[2], info);
    assert_eq!(streams[1].event_count, 2);
}

/// Reading an unknown id is `EventNotFound` carrying the id.
pub fn read_unknown_id<S: EventStore + ?Sized>(store: &S) {
    let missing = EventId::new();
    assert!(matches!(store.read(missing), Err(StoreError::EventNotFound(id)) if id == missing));
    append_ok(store, "r-1", ExpectedVersion::Any, numbered("Tick", 3));
    assert!(matches!(store.read(missing), Err(StoreError::EventNotFound(id)) if id == missing));
    let later = EventId::new();
    assert!(matches!(store.read(later), Err(StoreError::EventNotFound(id)) if id == later));
}
