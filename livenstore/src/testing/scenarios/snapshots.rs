//! Snapshots kept by the backend: what a new handle uses, and concurrent saves.

use std::sync::Arc;

use super::counter::{Added, Counter};
use crate::store::Snapshot;
use crate::{Aggregate, EventStore, Payload, Repository};

/// A [`Repository`] on one handle writes snapshots that a [`Repository`] on the next handle (a
/// restarted process) loads from.
///
/// `connect` opens a new handle on the same, empty place each call. The aggregate is the
/// scenario's own counter (type `counter`, a snapshot every 10 events). Proves: 25 events
/// through `transact` leave the snapshot of version 20; and a new handle's load starts from the
/// stored snapshot (a marker no replay could give, total 5000, at version 20), then replays only
/// events 21 to 25, with no snapshot problem reported.
///
/// A backend calls it as
/// `snapshots_written_by_one_handle_are_used_by_the_next(|| test.connect())`.
pub fn snapshots_written_by_one_handle_are_used_by_the_next<S: EventStore>(
    connect: impl Fn() -> S,
) {
    {
        let repo = Repository::new(connect());
        for n in 1..=25 {
            repo.transact::<Counter, _, _>("1", |c| c.apply(Added { n }))
                .unwrap();
        }
        let stored = repo
            .store()
            .snapshots()
            .unwrap()
            .load_snapshot("counter", "1");
        assert_eq!(stored.unwrap().map(|s| s.version()), Some(20));
    }
    // A new process: a new handle on the same place. A snapshot no replay could give shows that
    // the load starts from it.
    let store = connect();
    let marker = Snapshot::new(
        "counter",
        "1",
        20,
        Payload::from_json(r#"{"total":5000}"#).unwrap(),
    )
    .with_fingerprint(Counter::STATE_SHAPE.fingerprint());
    store.snapshots().unwrap().save_snapshot(&marker).unwrap();
    let repo = Repository::new(store).on_snapshot_problem(|n| panic!("{n}"));
    assert_eq!(
        repo.load::<Counter>("1").unwrap().total,
        5000 + (21..=25).sum::<u64>()
    );
}

/// A [`Repository`] with a cache sees what a [`Repository`] on another handle (another process)
/// appended since it cached the aggregate, and the cached load is a hit.
///
/// `connect` opens a new handle on the same, empty place each call. Proves: after 1 added
/// through the cached repository and 10 through the other, the cached load totals 11 and the
/// cache counts one hit.
///
/// A backend calls it as
/// `a_cached_repository_sees_what_another_handle_appended(|| test.connect())`.
pub fn a_cached_repository_sees_what_another_handle_appended<S: EventStore>(
    connect: impl Fn() -> S,
) {
    let cached = Repository::new(connect()).with_cache(100);
    let other = Repository::new(connect());
    cached
        .transact::<Counter, _, _>("1", |c| c.apply(Added { n: 1 }))
        .unwrap();
    other
        .transact::<Counter, _, _>("1", |c| c.apply(Added { n: 10 }))
        .unwrap();
    assert_eq!(cached.load::<Counter>("1").unwrap().total, 11);
    assert_eq!(cached.cache_stats().unwrap().hits, 1);
}

/// Concurrent saves of one aggregate's snapshot keep the newest: an older snapshot never
/// replaces a newer one, whichever handle saves it.
///
/// `stores` are one or more handles on the same, empty place (two handles also prove that the
/// rule holds across processes). Four threads, each on `stores[t % stores.len()]`, save
/// versions 0 to 990 of `counter` `7` interleaved; the version kept must be 990.
///
/// A backend calls it as
/// `concurrent_saves_keep_the_newest_snapshot(&[Arc::new(test.connect()), Arc::new(test.connect())])`.
pub fn concurrent_saves_keep_the_newest_snapshot<S: EventStore + ?Sized>(stores: &[Arc<S>]) {
    assert!(!stores.is_empty(), "at least one store");
    let snapshot = |v: u64| {
        Snapshot::new(
            "counter",
            "7",
            v,
            Payload::from_json(format!(r#"{{"total":{v}}}"#)).unwrap(),
        )
    };
    std::thread::scope(|scope| {
        for t in 0..4u64 {
            let store = Arc::clone(&stores[t as usize % stores.len()]);
            scope.spawn(move || {
                for k in 0..25 {
                    let version = (k * 4 + t) * 10;
                    store
                        .snapshots()
                        .unwrap()
                        .save_snapshot(&snapshot(version))
                        .unwrap();
                }
            });
        }
    });
    let kept = stores[0]
        .snapshots()
        .unwrap()
        .load_snapshot("counter", "7")
        .unwrap();
    assert_eq!(
        kept.map(|s| s.version()),
        Some(990),
        "the highest version saved"
    );
}
