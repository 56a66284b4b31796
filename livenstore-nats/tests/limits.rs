//! Retention limits: a store opens after the server's limits removed messages, refuses to
//! reuse positions when they removed every message, keeps ids unique while the server still
//! remembers them, and accepts a max_age shorter than the default duplicate window (skipped
//! when `LIVENSTORE_NATS_URL` is unset).

use std::time::Duration;

use livenstore::{EventStore, ExpectedVersion, NewEvent, StoreError};
use livenstore_nats::testing::TestStream;
use livenstore_nats::JetStreamStore;

fn ev(i: usize) -> NewEvent {
    NewEvent::from_json("E", format!(r#"{{"i":{i}}}"#)).unwrap()
}

/// A retention shorter than the default duplicate window (two minutes): does connect work?
#[test]
fn max_age_under_two_minutes_with_the_default_duplicate_window() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let config = test.config().max_age(Duration::from_secs(60));
    let r = JetStreamStore::connect_with(test.url(), config);
    assert!(r.is_ok(), "{:?}", r.err());
}

/// With `max_messages` (any removal), a stream whose first kept record is not in the first
/// kept message cannot be folded: a new store fails to open with `Corrupted`
/// (replica.rs check_append: `after_removal` holds for the first folded message only).
#[test]
fn a_store_opens_after_the_limits_removed_a_message() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let config = test.config().max_messages(2);
    let old = JetStreamStore::connect_with(test.url(), config.clone()).unwrap();
    old.append("a", ExpectedVersion::Any, vec![ev(1), ev(2)])
        .unwrap(); // message 1 (removed)
    old.append("b", ExpectedVersion::Any, vec![ev(3)]).unwrap(); // message 2
    old.append("a", ExpectedVersion::Any, vec![ev(4)]).unwrap(); // message 3: a at version 3
    let new = JetStreamStore::connect_with(test.url(), config);
    assert!(new.is_ok(), "{:?}", new.err());
}

/// When the server's limits removed *every* message (max_age on an idle store), the positions
/// and versions given out are unknown: a new store refuses to open rather than give them out
/// again, and a store that was open all along goes on from where it was.
#[test]
fn a_stream_whose_messages_all_expired_is_refused_not_reused() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let config = test
        .config()
        .max_age(Duration::from_secs(1))
        .duplicate_window(Duration::from_secs(1));
    let old = JetStreamStore::connect_with(test.url(), config.clone()).unwrap();
    let r = old
        .append("acct", ExpectedVersion::Any, vec![ev(1), ev(2), ev(3)])
        .unwrap();
    assert_eq!(r.last_position, 3);
    std::thread::sleep(Duration::from_millis(3500)); // the server removes the message
    match JetStreamStore::connect_with(test.url(), config.clone()) {
        Err(StoreError::InvalidArgument(reason)) => {
            assert!(reason.contains("removed by its limits"), "{reason}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let r = old
        .append("acct", ExpectedVersion::Exact(3), vec![ev(4)])
        .unwrap();
    assert_eq!((r.first_position, r.stream_version), (4, 4));
    // With a message kept again, a new store opens and goes on from there.
    let new = JetStreamStore::connect_with(test.url(), config).unwrap();
    assert_eq!(new.last_position().unwrap(), 4);
    let r = new
        .append("acct", ExpectedVersion::Any, vec![ev(5)])
        .unwrap();
    assert_eq!((r.first_position, r.stream_version), (5, 5));
}

/// An id whose message the limits removed is refused while the server's duplicate window
/// remembers it (beyond the window it is not known: see the crate documentation), and the
/// refusal is quick (the writer once republished it for the whole window).
#[test]
fn an_id_in_a_removed_message_is_refused_while_the_server_remembers_it() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let config = test.config().max_messages(1);
    let old = JetStreamStore::connect_with(test.url(), config.clone()).unwrap();
    let x = livenstore::EventId::new();
    old.append("a", ExpectedVersion::Any, vec![ev(1).with_id(x)])
        .unwrap();
    old.append("a", ExpectedVersion::Any, vec![ev(2)]).unwrap(); // removes message 1
    let new = JetStreamStore::connect_with(test.url(), config).unwrap();
    let again = new.append("b", ExpectedVersion::Any, vec![ev(3).with_id(x)]);
    assert!(
        matches!(again, Err(StoreError::DuplicateEventId { .. })),
        "id {x} stored a second time: {again:?}"
    );
}
