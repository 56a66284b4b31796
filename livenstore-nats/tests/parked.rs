//! `JetStreamParkedStore`: a consumer parks a poison event in the stream's bucket and goes on; a
//! replay asked from another store re-delivers it once the handler is fixed (the shared scenario
//! of `livenstore::testing::scenarios`). And the store's own rules: one record per (consumer,
//! event id), position order, replay flags.

mod support;

use livenstore::pubsub::{CheckpointError, ParkedEvent, ParkedEventStore};
use livenstore::testing::scenarios;
use livenstore::{EventId, Timestamp};
use livenstore_nats::testing::TestStream;

fn parked(consumer: &str, position: u64, id: EventId, error: &str) -> ParkedEvent {
    ParkedEvent {
        consumer: consumer.to_owned(),
        position,
        event_id: id,
        stream: "account-1".to_owned(),
        event_type: "Opened".to_owned(),
        error: error.to_owned(),
        attempts: 3,
        parked_at: Timestamp::from_unix_nanos(1_700_000_000_000_000_001),
    }
}

#[test]
fn records_are_kept_per_consumer_and_event_in_position_order() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let store = test.connect().parked();
    let (a, b, c) = (EventId::new(), EventId::new(), EventId::new());
    store.park(&parked("mailer", 9, a, "first")).unwrap();
    store.park(&parked("mailer", 4, b, "second")).unwrap();
    store.park(&parked("read.model", 1, c, "third")).unwrap();
    store.park(&parked("read..model", 2, c, "fourth")).unwrap();
    // Parking again replaces the record.
    store.park(&parked("mailer", 9, a, "again")).unwrap();

    let mailer = store.list(Some("mailer")).unwrap();
    let seen: Vec<(u64, &str)> = mailer.iter().map(|p| (p.position, &p.error[..])).collect();
    assert_eq!(seen, [(4, "second"), (9, "again")]);
    assert_eq!(mailer[1], parked("mailer", 9, a, "again"), "as parked");
    let all: Vec<String> = store
        .list(None)
        .unwrap()
        .into_iter()
        .map(|p| p.consumer)
        .collect();
    assert_eq!(all, ["mailer", "mailer", "read..model", "read.model"]);

    // Replay flags: per consumer, seen by another store on the stream.
    let other = test.connect().parked();
    assert!(!store.replay_requested("mailer").unwrap());
    other.request_replay("mailer").unwrap();
    assert!(store.replay_requested("mailer").unwrap());
    assert!(!store.replay_requested("read.model").unwrap());
    store.replay_done("mailer").unwrap();
    store.replay_done("mailer").unwrap();
    assert!(!other.replay_requested("mailer").unwrap());
    // A replay request is not a parked event.
    other.request_replay("read.model").unwrap();
    assert_eq!(store.list(None).unwrap().len(), 4);

    assert_eq!(store.remove("mailer", Some(b)).unwrap(), 1);
    assert_eq!(store.remove("mailer", Some(b)).unwrap(), 0);
    assert_eq!(store.remove("read.model", None).unwrap(), 1);
    assert_eq!(store.remove("read.model", None).unwrap(), 0);
    assert_eq!(store.list(None).unwrap().len(), 2);

    for bad in ["", "a/b", ".x"] {
        assert!(matches!(
            store.park(&parked(bad, 1, a, "x")),
            Err(CheckpointError::InvalidName { .. })
        ));
        assert!(matches!(
            store.list(Some(bad)),
            Err(CheckpointError::InvalidName { .. })
        ));
        assert!(matches!(
            store.request_replay(bad),
            Err(CheckpointError::InvalidName { .. })
        ));
    }
}

#[test]
fn a_damaged_record_is_a_corrupted_error_naming_its_key() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let store = test.connect().parked();
    let id = EventId::new();
    store.park(&parked("mailer", 1, id, "x")).unwrap();
    let key = format!("event.mailer.{id}");
    support::put_raw(&test, "parked", &key, b"[]".to_vec());
    match store.list(Some("mailer")) {
        Err(CheckpointError::Corrupted { path, .. }) => {
            let path = path.to_string_lossy().into_owned();
            assert!(path.ends_with(&format!("_parked/{key}")), "{path}");
        }
        other => panic!("expected a corrupted record, got {other:?}"),
    }
    // A record under another event's key is damage too.
    let other = EventId::new();
    store.park(&parked("mailer", 1, other, "x")).unwrap();
    let value = serde_json::to_vec(&parked("mailer", 1, other, "x")).unwrap();
    support::put_raw(&test, "parked", &key, value);
    assert!(matches!(
        store.list(None),
        Err(CheckpointError::Corrupted { .. })
    ));
    assert_eq!(
        store.remove("mailer", None).unwrap(),
        2,
        "removal still works"
    );
}

#[test]
fn a_poison_event_is_parked_in_the_bucket_and_replayed_on_request() {
    let Some(test) = TestStream::new() else {
        return;
    };
    scenarios::a_poison_event_is_parked_and_replayed_on_request(
        || test.connect(),
        |store| store.checkpoints(),
        |store| store.parked(),
    );
}
