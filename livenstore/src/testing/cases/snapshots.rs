//! Cases of snapshots ([`SnapshotStore`], reached through [`EventStore::snapshots`]): every
//! built-in backend keeps them, the latest wins, an older one never replaces a newer one, and
//! the store never interprets a state.

use super::support::ok;
use crate::store::{Snapshot, SnapshotStore};
use crate::{EventStore, Payload, StoreError, Timestamp};

/// The store's snapshots; a store without them fails the case.
fn snapshots<S: EventStore + ?Sized>(store: &S) -> &dyn SnapshotStore {
    match store.snapshots() {
        Some(snapshots) => snapshots,
        None => panic!("the store keeps no snapshots: `EventStore::snapshots` returned None"),
    }
}

fn snapshot(aggregate_type: &str, id: &str, version: u64, state: &str) -> Snapshot {
    let state = match Payload::from_json(state.to_owned()) {
        Ok(state) => state,
        Err(err) => panic!("test state {state:?} is not JSON: {err}"),
    };
    Snapshot::new(aggregate_type, id, version, state)
}

/// A saved snapshot comes back exactly (state text, fingerprint, snapshot version, time to the
/// microsecond); an
/// unknown id, or the same id of another type, has none.
pub fn snapshot_round_trip<S: EventStore + ?Sized>(store: &S) {
    let snapshots = snapshots(store);
    let saved = snapshot(
        "account",
        "42",
        100,
        r#"{"balance": 120, "owners": ["ada"]}"#,
    )
    .with_fingerprint(0xfeed_face_dead_beef)
    .with_snapshot_version(3)
    .with_taken_at(Timestamp::from_unix_nanos(1_700_000_000_123_456_000));
    assert!(ok(snapshots.save_snapshot(&saved), "save_snapshot"));
    let loaded = ok(snapshots.load_snapshot("account", "42"), "load_snapshot");
    assert_eq!(
        loaded.as_ref(),
        Some(&saved),
        "the snapshot comes back as saved"
    );
    assert!(ok(snapshots.load_snapshot("account", "43"), "load unknown id").is_none());
    assert!(ok(snapshots.load_snapshot("order", "42"), "load other type").is_none());
    let odd = snapshot("account", "ünïcödé id.with dots", 1, "{}")
        .with_taken_at(Timestamp::from_unix_nanos(1_000));
    assert!(ok(snapshots.save_snapshot(&odd), "save with an unusual id"));
    assert_eq!(
        ok(
            snapshots.load_snapshot("account", "ünïcödé id.with dots"),
            "load unusual id"
        ),
        Some(odd)
    );
}

/// The latest snapshot wins; one of a lower version never replaces a higher one; one of the
/// same version replaces it.
pub fn latest_snapshot_wins<S: EventStore + ?Sized>(store: &S) {
    let snapshots = snapshots(store);
    let version_of =
        || ok(snapshots.load_snapshot("account", "7"), "load_snapshot").map(|s| s.version());
    assert!(ok(
        snapshots.save_snapshot(&snapshot("account", "7", 10, "1")),
        "save 10"
    ));
    assert!(ok(
        snapshots.save_snapshot(&snapshot("account", "7", 20, "2")),
        "save 20"
    ));
    assert_eq!(version_of(), Some(20));
    assert!(
        !ok(
            snapshots.save_snapshot(&snapshot("account", "7", 15, "3")),
            "save 15"
        ),
        "an older snapshot is not stored"
    );
    assert_eq!(version_of(), Some(20));
    assert!(ok(
        snapshots.save_snapshot(&snapshot("account", "7", 20, "4")),
        "save 20 again"
    ));
    let loaded = ok(snapshots.load_snapshot("account", "7"), "load_snapshot");
    assert_eq!(
        loaded.map(|s| s.state().as_str().to_owned()).as_deref(),
        Some("4")
    );
}

/// `list_snapshots` lists them without states, sorted by type and id (of one type when
/// asked); `delete_snapshots` drops those of one type and says how many.
pub fn list_and_delete_snapshots<S: EventStore + ?Sized>(store: &S) {
    let snapshots = snapshots(store);
    for (t, id, v) in [("order", "b", 3), ("account", "2", 5), ("account", "1", 9)] {
        ok(
            snapshots.save_snapshot(&snapshot(t, id, v, "[1,2,3]")),
            "save_snapshot",
        );
    }
    let all = ok(snapshots.list_snapshots(None), "list_snapshots");
    let keys: Vec<(&str, &str, u64, u64)> = all
        .iter()
        .map(|i| {
            (
                &i.aggregate_type[..],
                &i.aggregate_id[..],
                i.version,
                i.state_bytes,
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("account", "1", 9, 7),
            ("account", "2", 5, 7),
            ("order", "b", 3, 7)
        ]
    );
    assert_eq!(
        ok(snapshots.list_snapshots(Some("order")), "list one type").len(),
        1
    );
    assert_eq!(
        ok(snapshots.delete_snapshots("account"), "delete_snapshots"),
        2
    );
    assert_eq!(ok(snapshots.delete_snapshots("account"), "delete again"), 0);
    assert!(ok(snapshots.load_snapshot("account", "1"), "load deleted").is_none());
    assert_eq!(
        ok(snapshots.list_snapshots(None), "list after delete").len(),
        1
    );
    // A deleted aggregate takes a snapshot of any version again.
    assert!(ok(
        snapshots.save_snapshot(&snapshot("account", "1", 2, "0")),
        "save after delete"
    ));
}

/// A state is stored as given, whatever it holds (garbage to the aggregate is the
/// repository's business), and a malformed key is refused as an invalid argument.
pub fn garbage_snapshots_are_kept_as_given_and_bad_keys_refused<S: EventStore + ?Sized>(store: &S) {
    let snapshots = snapshots(store);
    for (id, state) in [
        ("g1", r#""not a state at all""#),
        ("g2", "null"),
        ("g3", "[{},[]]"),
    ] {
        let garbage = snapshot("account", id, 1, state);
        ok(snapshots.save_snapshot(&garbage), "save garbage");
        let loaded = ok(snapshots.load_snapshot("account", id), "load garbage");
        assert_eq!(
            loaded.map(|s| s.state().as_str().to_owned()).as_deref(),
            Some(state)
        );
    }
    for (t, id) in [
        ("", "1"),
        ("account", ""),
        ("a/b", "1"),
        ("account", "x\ny"),
        ("account", ".."),
    ] {
        let result = snapshots.save_snapshot(&snapshot(t, id, 1, "{}"));
        assert!(
            matches!(result, Err(StoreError::InvalidArgument(_))),
            "save ({t:?}, {id:?}): expected InvalidArgument, got {result:?}"
        );
        let result = snapshots.load_snapshot(t, id);
        assert!(
            matches!(result, Err(StoreError::InvalidArgument(_))),
            "load ({t:?}, {id:?}): expected InvalidArgument, got {result:?}"
        );
    }
}

/// `snapshot_and_tail` gives the snapshot and the stream's events and links from its version
/// (at most `max_count`); none without a snapshot; an empty tail for a snapshot ahead of its
/// stream.
pub fn snapshot_and_tail_reads_from_the_snapshot_version<S: EventStore + ?Sized>(store: &S) {
    let events = (0..5).map(|i| crate::testing::event("Added", &format!(r#"{{"n":{i}}}"#)));
    crate::testing::cases::support::append_ok(
        store,
        "counter-1",
        crate::ExpectedVersion::NoStream,
        events.collect(),
    );
    let other = crate::testing::cases::support::append_ok(
        store,
        "other-1",
        crate::ExpectedVersion::NoStream,
        vec![crate::testing::event("Added", r#"{"n":9}"#)],
    );
    let linked = ok(store.read_all(other.first_position, 1), "read_all")[0].id();
    ok(store.link_to_stream(linked, "counter-1"), "link_to_stream");
    let tail_of = |max| {
        ok(
            store.snapshot_and_tail("counter", "1", "counter-1", max),
            "tail",
        )
    };
    assert!(tail_of(10).is_none(), "no snapshot yet");
    let saved = snapshot("counter", "1", 3, r#"{"total":3}"#)
        .with_taken_at(Timestamp::from_unix_nanos(5_000));
    ok(snapshots(store).save_snapshot(&saved), "save_snapshot");
    let (found, tail) = tail_of(10).expect("the snapshot");
    assert_eq!(found, saved);
    let versions: Vec<u64> = tail.iter().map(|e| e.stream_version()).collect();
    assert_eq!(
        versions,
        [3, 4, 5, 6],
        "from the snapshot's version, the link included"
    );
    assert_eq!(tail[3].id(), linked);
    assert!(tail[3].link().is_some(), "read through its link");
    let (_, first_two) = tail_of(2).expect("the snapshot");
    assert_eq!(first_two.len(), 2);
    let ahead = snapshot("counter", "1", 50, r#"{"total":50}"#);
    ok(snapshots(store).save_snapshot(&ahead), "save ahead");
    let (found, tail) = tail_of(10).expect("the snapshot");
    assert_eq!((found.version(), tail.len()), (50, 0));
}
