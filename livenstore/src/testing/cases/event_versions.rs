//! Cases of event versions: every store keeps the version of each event's type with it and hands
//! it back on every read; a version out of range is refused before anything is stored.

use super::support::{append_ok, ok};
use crate::backend::MAX_EVENT_VERSION;
use crate::testing::fixtures::event;
use crate::{EventStore, ExpectedVersion, RecordedEvent, StoreError, Timestamp};

/// `(event_type, event_version)` of each event, for comparisons.
fn versions(events: &[RecordedEvent]) -> Vec<(String, u32)> {
    events
        .iter()
        .map(|e| (e.event_type().to_owned(), e.event_version()))
        .collect()
}

/// The version of each event (1 by default, 2, [`MAX_EVENT_VERSION`]) comes back from
/// `read_stream`, `read_all`, `read_by_type`, `read`, `read_time_range` and through a
/// link, with two versions of one type side by side.
pub fn event_versions_round_trip<S: EventStore + ?Sized>(store: &S) {
    append_ok(
        store,
        "versions-1",
        ExpectedVersion::NoStream,
        vec![
            event("Deposited", r#"{"amount":1}"#),
            event("Deposited", r#"{"cents":200}"#).with_event_version(2),
            event("Closed", "{}").with_event_version(MAX_EVENT_VERSION),
        ],
    );
    append_ok(
        store,
        "versions-2",
        ExpectedVersion::NoStream,
        vec![event("Deposited", r#"{"cents":300}"#).with_event_version(2)],
    );
    let expected = vec![
        ("Deposited".to_owned(), 1),
        ("Deposited".to_owned(), 2),
        ("Closed".to_owned(), MAX_EVENT_VERSION),
    ];
    let stream = ok(
        store.read_stream("versions-1", 1, usize::MAX),
        "read_stream",
    );
    assert_eq!(versions(&stream), expected, "read_stream");
    let all = ok(store.read_all(1, usize::MAX), "read_all");
    assert_eq!(versions(&all[..3]), expected, "read_all");
    assert_eq!(all[3].event_version(), 2, "read_all, second stream");
    let by_type = ok(
        store.read_by_type("Deposited", 1, usize::MAX),
        "read_by_type",
    );
    assert_eq!(
        by_type
            .iter()
            .map(|e| e.event_version())
            .collect::<Vec<_>>(),
        [1, 2, 2],
        "read_by_type keeps both versions of the type, in position order"
    );
    for recorded in &all {
        let read = ok(store.read(recorded.id()), "read");
        assert_eq!(read.event_version(), recorded.event_version(), "read by id");
    }
    let range = ok(
        store.read_time_range(Timestamp::UNIX_EPOCH, Timestamp::MAX),
        "read_time_range",
    );
    assert_eq!(versions(&range), versions(&all), "read_time_range");
    ok(
        store.link_to_stream(all[1].id(), "versions-linked"),
        "link_to_stream",
    );
    let linked = ok(
        store.read_stream("versions-linked", 1, 1),
        "read_stream of a link",
    );
    assert_eq!(
        linked[0].event_version(),
        2,
        "a link reads the event's version"
    );
}

/// Version 0 and versions above [`MAX_EVENT_VERSION`] are refused as invalid arguments, and
/// nothing of the batch is stored.
pub fn event_versions_out_of_range_are_refused<S: EventStore + ?Sized>(store: &S) {
    for version in [0, MAX_EVENT_VERSION + 1, u32::MAX] {
        let result = store.append(
            "versions-bad",
            ExpectedVersion::Any,
            vec![
                event("Deposited", "{}"),
                event("Deposited", "{}").with_event_version(version),
            ],
        );
        assert!(
            matches!(result, Err(StoreError::InvalidArgument(_))),
            "event version {version}: expected InvalidArgument, got {result:?}"
        );
    }
    assert_eq!(
        ok(store.last_position(), "last_position"),
        0,
        "nothing stored"
    );
}
