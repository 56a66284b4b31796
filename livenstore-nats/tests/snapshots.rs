//! `JetStreamSnapshotStore` beyond the conformance suite: snapshots are shared by every store on
//! the stream, any valid name round-trips through the key encoding, concurrent saves keep the
//! newest, a damaged value is an error naming its key, and a `Repository` uses them.

mod support;

use std::sync::Arc;

use livenstore::store::Snapshot;
use livenstore::testing::scenarios;
use livenstore::{EventStore, Payload, StoreError, Timestamp};
use livenstore_nats::testing::TestStream;

fn snapshot(aggregate_type: &str, id: &str, version: u64) -> Snapshot {
    let state = Payload::from_json(format!(r#"{{"v":{version}}}"#)).unwrap();
    Snapshot::new(aggregate_type, id, version, state)
        .with_taken_at(Timestamp::from_unix_nanos(1_700_000_000_123_456_789))
}

#[test]
fn a_second_store_on_the_stream_sees_the_snapshot() {
    let (Some(test), Some(elsewhere)) = (TestStream::new(), TestStream::new()) else {
        return;
    };
    let saved = snapshot("account", "42", 7).with_fingerprint(u64::MAX);
    let first = test.connect();
    assert!(first.snapshots().unwrap().save_snapshot(&saved).unwrap());
    let second = test.connect();
    let snapshots = second.snapshots().unwrap();
    assert_eq!(
        snapshots.load_snapshot("account", "42").unwrap(),
        Some(saved),
        "to the nanosecond"
    );
    // The second store's older snapshot does not replace the first's.
    assert!(!snapshots
        .save_snapshot(&snapshot("account", "42", 6))
        .unwrap());
    let other = elsewhere.connect();
    assert_eq!(
        other
            .snapshots()
            .unwrap()
            .load_snapshot("account", "42")
            .unwrap(),
        None,
        "another stream has its own"
    );
}

#[test]
fn names_that_need_escaping_round_trip() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let store = test.connect();
    let snapshots = store.snapshots().unwrap();
    let names = [
        ("a.b", "1"),
        ("a", "b.1"),
        ("a=2Eb", "1"),
        ("type with spaces", "=41"),
        ("ünïcödé", "id*>"),
        ("A", "..."),
    ];
    for (version, (t, id)) in (1..).zip(names) {
        assert!(snapshots.save_snapshot(&snapshot(t, id, version)).unwrap());
    }
    for (version, (t, id)) in (1..).zip(names) {
        let loaded = snapshots.load_snapshot(t, id).unwrap();
        assert_eq!(loaded.map(|s| s.version()), Some(version), "{t:?} {id:?}");
    }
    assert_eq!(snapshots.load_snapshot("a", "b").unwrap(), None);
    let listed: Vec<(String, String)> = snapshots
        .list_snapshots(None)
        .unwrap()
        .into_iter()
        .map(|i| (i.aggregate_type, i.aggregate_id))
        .collect();
    let mut expected: Vec<(String, String)> = names
        .iter()
        .map(|(t, id)| (t.to_string(), id.to_string()))
        .collect();
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(snapshots.list_snapshots(Some("a.b")).unwrap().len(), 1);
    assert_eq!(snapshots.delete_snapshots("a").unwrap(), 1, "not a.b's");
    assert_eq!(
        snapshots.list_snapshots(None).unwrap().len(),
        names.len() - 1
    );
}

#[test]
fn concurrent_saves_from_two_stores_keep_the_newest_snapshot() {
    let Some(test) = TestStream::new() else {
        return;
    };
    scenarios::concurrent_saves_keep_the_newest_snapshot(&[
        Arc::new(test.connect()),
        Arc::new(test.connect()),
    ]);
}

#[test]
fn a_damaged_snapshot_is_an_error_naming_its_key_and_a_save_replaces_it() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let store = test.connect();
    let snapshots = store.snapshots().unwrap();
    snapshots
        .save_snapshot(&snapshot("account", "x.1", 5))
        .unwrap();
    support::put_raw(
        &test,
        "snapshots",
        "account.x=2E1",
        b"{\"version\":".to_vec(),
    );
    match snapshots.load_snapshot("account", "x.1") {
        Err(StoreError::Corrupted { path, line, reason }) => {
            let path = path.to_string_lossy().into_owned();
            assert!(path.ends_with("_snapshots/account.x=2E1"), "{path}");
            assert!(line > 0, "the entry's revision");
            assert!(reason.contains("not a snapshot"), "{reason}");
        }
        other => panic!("expected a corrupted snapshot, got {other:?}"),
    }
    assert!(matches!(
        snapshots.list_snapshots(None),
        Err(StoreError::Corrupted { .. })
    ));
    // A snapshot is a cache: a save of any version replaces the damaged one.
    assert!(snapshots
        .save_snapshot(&snapshot("account", "x.1", 1))
        .unwrap());
    assert_eq!(
        snapshots
            .load_snapshot("account", "x.1")
            .unwrap()
            .map(|s| s.version()),
        Some(1)
    );
    // A state that is not JSON is damage too.
    support::put_raw(
        &test,
        "snapshots",
        "account.x=2E1",
        br#"{"version":1,"fingerprint":0,"snapshot_version":1,"taken_at":"2026-01-01T00:00:00Z","state":"{"}"#.to_vec(),
    );
    assert!(matches!(
        snapshots.load_snapshot("account", "x.1"),
        Err(StoreError::Corrupted { .. })
    ));
}

#[test]
fn a_repository_writes_snapshots_that_the_next_store_uses() {
    let Some(test) = TestStream::new() else {
        return;
    };
    scenarios::snapshots_written_by_one_handle_are_used_by_the_next(|| test.connect());
}

/// With `sync_reads`, a cached repository sees at once what another store appended (without
/// it, reads are as fresh as the replica, which follows the stream live but may be a moment
/// behind another process: the scenario then failed about one run in thirteen).
#[test]
fn a_cached_repository_with_synced_reads_sees_what_another_store_appended() {
    for _ in 0..5 {
        let Some(test) = TestStream::new() else {
            return;
        };
        let connect = || {
            let config = test.config().sync_reads(true);
            livenstore_nats::JetStreamStore::connect_with(test.url(), config).unwrap()
        };
        scenarios::a_cached_repository_sees_what_another_handle_appended(connect);
    }
}
