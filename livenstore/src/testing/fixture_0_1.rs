//! [`check_written_by_0_1`]: what a store written by livenstore 0.1 (before event versions) holds,
//! for backends' upgrade tests against their checked-in fixtures.

use crate::testing::cases::support::{append_ok, ok};
use crate::testing::fixtures::event;
use crate::{EventStore, ExpectedVersion, RecordedEvent};

/// Asserts that `store` holds exactly what the 0.1 fixtures hold, every event at event version 1,
/// then appends an event at version 2 and reads it back.
///
/// The fixtures (a `JsonStore` directory in `livenstore/tests/fixtures/json-store-0.1`, a
/// PostgreSQL schema dump in `livenstore-postgres/tests/fixtures/schema-0.1.sql`) were written by
/// livenstore 0.1 with: stream `account-1` ← `account.opened` `{"owner":"ada"}` (metadata
/// `correlation_id` = `c-1`), then one batch of `MoneyDeposited` `{"amount":30}`,
/// `MoneyDeposited` `{"amount":12}` and `account.withdrawn` `{"amount":2}`; stream `account-2`
/// ← `account.opened` `{"owner":"bob"}`; and the first event linked into stream `owners`.
///
/// # Panics
///
/// When the store holds anything else (the assertion says what), or the append fails.
///
/// # Examples
///
/// ```no_run
/// # fn open_the_fixture_copy() -> livenstore::JsonStore { unimplemented!() }
/// let store = open_the_fixture_copy();
/// livenstore::testing::check_written_by_0_1(&store);
/// ```
pub fn check_written_by_0_1<S: EventStore + ?Sized>(store: &S) {
    let summary = |events: &[RecordedEvent]| -> Vec<(String, u64, String, String, u32)> {
        events
            .iter()
            .map(|e| {
                (
                    e.stream().to_owned(),
                    e.version(),
                    e.event_type().to_owned(),
                    e.payload().as_str().to_owned(),
                    e.event_version(),
                )
            })
            .collect()
    };
    let row = |stream: &str, version: u64, event_type: &str, payload: &str| {
        (
            stream.to_owned(),
            version,
            event_type.to_owned(),
            payload.to_owned(),
            1,
        )
    };
    let all = ok(store.read_all(1, usize::MAX), "read_all");
    assert_eq!(
        summary(&all),
        [
            row("account-1", 1, "account.opened", r#"{"owner":"ada"}"#),
            row("account-1", 2, "MoneyDeposited", r#"{"amount":30}"#),
            row("account-1", 3, "MoneyDeposited", r#"{"amount":12}"#),
            row("account-1", 4, "account.withdrawn", r#"{"amount":2}"#),
            row("account-2", 1, "account.opened", r#"{"owner":"bob"}"#),
        ],
        "the events of the 0.1 fixture, each at event version 1"
    );
    let positions: Vec<u64> = all.iter().map(RecordedEvent::position).collect();
    assert_eq!(positions, [1, 2, 3, 4, 5]);
    assert_eq!(all[0].metadata().get("correlation_id"), Some("c-1"));
    let conversation = ok(store.read_correlated("c-1"), "read_correlated");
    assert_eq!(
        summary(&conversation),
        summary(&all[..1]),
        "read_correlated finds the event stored before the lookup existed"
    );
    let stream = ok(store.read_stream("account-1", 1, usize::MAX), "read_stream");
    assert_eq!(summary(&stream), summary(&all[..4]), "read_stream");
    let deposits = ok(
        store.read_by_type("MoneyDeposited", 1, usize::MAX),
        "read_by_type",
    );
    assert_eq!(summary(&deposits), summary(&all[1..3]), "read_by_type");
    let owners = ok(
        store.read_stream("owners", 1, usize::MAX),
        "read_stream owners",
    );
    assert_eq!(owners.len(), 1, "the link of the fixture");
    assert_eq!(
        (owners[0].id(), owners[0].event_version()),
        (all[0].id(), 1)
    );
    assert_eq!(ok(store.stream_version("account-1"), "stream_version"), 4);

    let result = append_ok(
        store,
        "account-1",
        ExpectedVersion::Exact(4),
        vec![event("account.credited", r#"{"cents":500}"#).with_event_version(2)],
    );
    assert_eq!((result.first_position, result.stream_version), (6, 5));
    let new = ok(store.read_stream("account-1", 5, 1), "read the new event");
    assert_eq!(
        (new[0].event_type(), new[0].event_version()),
        ("account.credited", 2),
        "an event written after the upgrade keeps its version"
    );
}
