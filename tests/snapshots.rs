//! Snapshots and the repository cache: a load starts from a usable snapshot or cached state and
//! replays only the events after it; anything unusable is reported and replayed in full; a
//! cache never hides another writer's events.

use std::sync::{Arc, Mutex};

use livenstore::store::json::{Durability, JsonStoreOptions};
use livenstore::store::{Snapshot, SnapshotStore};
use livenstore::{
    Aggregate, CacheStats, DomainError, DomainEvent, EventStore, InMemoryStore, JsonStore, Payload,
    Repository, SnapshotNotice,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "counter.added")]
struct Added {
    n: u64,
}

/// Snapshot every 10 events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Aggregate)]
#[aggregate(name = "counter", events(Added), snapshot_every = 10)]
struct Counter {
    total: u64,
    adds: u64,
}

impl Counter {
    fn on_added(&mut self, e: &Added) -> Result<(), DomainError> {
        self.total += e.n;
        self.adds += 1;
        Ok(())
    }
}

/// The same aggregate type name, from another build: its state has another shape.
mod other_build {
    use super::Added;
    use livenstore::{Aggregate, DomainError};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, Default, Serialize, Deserialize, Aggregate)]
    #[aggregate(name = "counter", events(Added), snapshot_every = 10)]
    pub struct Counter {
        pub total: u64,
        pub adds: u64,
        pub last: u64,
    }

    impl Counter {
        fn on_added(&mut self, e: &Added) -> Result<(), DomainError> {
            self.total += e.n;
            self.adds += 1;
            self.last = e.n;
            Ok(())
        }
    }
}

/// The same state shape, but a new meaning: a raised snapshot version.
mod new_meaning {
    use super::Added;
    use livenstore::{Aggregate, DomainError};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, Default, Serialize, Deserialize, Aggregate)]
    #[aggregate(
        name = "counter",
        events(Added),
        snapshot_every = 10,
        snapshot_version = 2
    )]
    pub struct Counter {
        pub total: u64,
        pub adds: u64,
    }

    impl Counter {
        fn on_added(&mut self, e: &Added) -> Result<(), DomainError> {
            self.total += 2 * e.n;
            self.adds += 1;
            Ok(())
        }
    }
}

type Notices = Arc<Mutex<Vec<String>>>;

/// A repository over `store` whose snapshot problems are collected.
fn repository<S: EventStore>(store: S) -> (Repository<S>, Notices) {
    let notices: Notices = Arc::default();
    let log = Arc::clone(&notices);
    let repo = Repository::new(store).on_snapshot_problem(move |n: &SnapshotNotice| {
        log.lock().unwrap().push(n.to_string());
    });
    (repo, notices)
}

/// `n` single-event saves of `Added { n: i }` for i in 1..=n.
fn add_one_by_one<S: EventStore>(repo: &Repository<S>, id: &str, n: u64) {
    for i in 1..=n {
        repo.transact::<Counter, _, _>(id, |c| c.apply(Added { n: i }))
            .unwrap();
    }
}

/// A hand-made snapshot of counter `id` at `version` whose state no replay gives, with this
/// code's fingerprint: a load that shows it used the snapshot.
fn marker_snapshot(id: &str, version: u64, total: u64) -> Snapshot {
    let state = Payload::from_json(format!(r#"{{"total":{total},"adds":{version}}}"#)).unwrap();
    Snapshot::new("counter", id, version, state)
        .with_fingerprint(Counter::STATE_SHAPE.fingerprint())
        .with_snapshot_version(Counter::SNAPSHOT_VERSION)
}

fn json_store(dir: &std::path::Path) -> JsonStore {
    JsonStore::open_with(dir, JsonStoreOptions::new().durability(Durability::Never)).unwrap()
}

fn snapshots_of<S: EventStore>(store: &S) -> &dyn SnapshotStore {
    store.snapshots().expect("the store keeps snapshots")
}

/// Each case on an `InMemoryStore` and on a `JsonStore`.
macro_rules! on_every_store {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(#[test] fn $case() { super::$case(livenstore::InMemoryStore::new()); })*
        }
        mod json {
            $(#[test] fn $case() {
                let dir = tempfile::tempdir().unwrap();
                super::$case(super::json_store(dir.path()));
            })*
        }
    };
}

on_every_store!(
    saves_write_a_snapshot_every_n_events_and_loads_start_from_it,
    a_snapshot_of_another_shape_or_snapshot_version_is_replayed_in_full,
    an_undecodable_snapshot_is_replayed_in_full,
    a_snapshot_ahead_of_its_stream_is_replayed_in_full,
    two_cached_repositories_on_one_store_never_miss_each_others_events,
);

fn saves_write_a_snapshot_every_n_events_and_loads_start_from_it<S: EventStore>(store: S) {
    let (repo, notices) = repository(store);
    add_one_by_one(&repo, "1", 25);
    let snapshot = snapshots_of(repo.store())
        .load_snapshot("counter", "1")
        .unwrap()
        .expect("a snapshot");
    assert_eq!(snapshot.version(), 20, "taken at 10 and 20 events");
    assert_eq!(snapshot.fingerprint(), Counter::STATE_SHAPE.fingerprint());
    let expected = Counter {
        total: (1..=25).sum(),
        adds: 25,
    };
    assert_eq!(*repo.load::<Counter>("1").unwrap(), expected);
    // A snapshot no replay could give shows that the load starts from it.
    snapshots_of(repo.store())
        .save_snapshot(&marker_snapshot("1", 20, 1_000_000))
        .unwrap();
    let loaded = repo.load::<Counter>("1").unwrap();
    assert_eq!(loaded.total, 1_000_000 + (21..=25).sum::<u64>());
    assert_eq!((loaded.adds, loaded.version()), (25, 25));
    assert!(
        notices.lock().unwrap().is_empty(),
        "{:?}",
        notices.lock().unwrap()
    );
}

fn a_snapshot_of_another_shape_or_snapshot_version_is_replayed_in_full<S: EventStore>(store: S) {
    let (repo, notices) = repository(store);
    add_one_by_one(&repo, "1", 12);
    // Another build's state type reads the snapshot of this one: its shape differs.
    let other = repo.load::<other_build::Counter>("1").unwrap();
    assert_eq!(
        (other.total, other.adds, other.last),
        ((1..=12).sum(), 12, 12)
    );
    // A raised snapshot version: same shape, another meaning.
    let doubled = repo.load::<new_meaning::Counter>("1").unwrap();
    assert_eq!(
        doubled.total,
        2 * (1..=12).sum::<u64>(),
        "replayed, not read"
    );
    let notices = notices.lock().unwrap();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(
        notices.iter().all(|n| n.contains("taken by other code")),
        "{notices:?}"
    );
}

fn an_undecodable_snapshot_is_replayed_in_full<S: EventStore>(store: S) {
    let (repo, notices) = repository(store);
    add_one_by_one(&repo, "1", 5);
    let garbage = Snapshot::new(
        "counter",
        "1",
        5,
        Payload::from_json(r#"{"total":"x"}"#).unwrap(),
    )
    .with_fingerprint(Counter::STATE_SHAPE.fingerprint());
    snapshots_of(repo.store()).save_snapshot(&garbage).unwrap();
    assert_eq!(repo.load::<Counter>("1").unwrap().total, 15);
    let notices = notices.lock().unwrap();
    assert!(notices[0].contains("does not decode"), "{notices:?}");
}

fn a_snapshot_ahead_of_its_stream_is_replayed_in_full<S: EventStore>(store: S) {
    let (repo, notices) = repository(store);
    add_one_by_one(&repo, "1", 5);
    snapshots_of(repo.store())
        .save_snapshot(&marker_snapshot("1", 50, 999))
        .unwrap();
    assert_eq!(repo.load::<Counter>("1").unwrap().total, 15);
    let notices = notices.lock().unwrap();
    assert!(
        notices[0].contains("at version 50, but the stream is at version 5"),
        "{notices:?}"
    );
}

fn two_cached_repositories_on_one_store_never_miss_each_others_events<S: EventStore>(store: S) {
    let store = Arc::new(store);
    let first = Repository::new(Arc::clone(&store)).with_cache(10);
    let second = Repository::new(Arc::clone(&store)).with_cache(10);
    add_one_by_one(&first, "1", 3);
    add_one_by_one(&second, "1", 2);
    // The first repository's cached state is at version 3; the load reads what came after.
    let loaded = first.load::<Counter>("1").unwrap();
    assert_eq!((loaded.total, loaded.adds), (1 + 2 + 3 + 1 + 2, 5));
    // Both hold version 5; the second saves first, the first's save conflicts and evicts.
    let mut a = first.load::<Counter>("1").unwrap();
    let mut b = second.load::<Counter>("1").unwrap();
    b.apply(Added { n: 100 }).unwrap();
    second.save(&mut b).unwrap();
    a.apply(Added { n: 1_000 }).unwrap();
    assert!(first.save(&mut a).unwrap_err().is_conflict());
    let before = first.cache_stats().unwrap();
    let fresh = first.load::<Counter>("1").unwrap();
    assert_eq!((fresh.total, fresh.version()), (109, 6));
    assert_eq!(
        first.cache_stats().unwrap().misses,
        before.misses + 1,
        "evicted"
    );
    // `transact` retries against the fresh state.
    first
        .transact::<Counter, _, _>("1", |c| c.apply(Added { n: 1_000 }))
        .unwrap();
    assert_eq!(second.load::<Counter>("1").unwrap().total, 1_109);
}

#[test]
fn a_load_from_a_snapshot_or_the_cache_reads_only_the_events_after_it() {
    let (repo, _) = repository(InMemoryStore::new());
    add_one_by_one(&repo, "1", 105);
    let read = || repo.store().stats().read;
    let before = read();
    assert_eq!(repo.load::<Counter>("1").unwrap().adds, 105);
    // The event at the snapshot's version (100), then the five after it.
    assert_eq!(read() - before, 6);

    let cached = Repository::new(repo.into_store()).with_cache(10);
    cached.load::<Counter>("1").unwrap();
    let before = cached.store().stats().read;
    assert_eq!(cached.load::<Counter>("1").unwrap().adds, 105);
    assert_eq!(
        cached.store().stats().read - before,
        0,
        "nothing after the cached version"
    );
}

#[test]
fn json_snapshots_survive_a_reopen_and_damage_is_reported_then_repaired() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (repo, _) = repository(json_store(dir.path()));
        add_one_by_one(&repo, "1", 10);
        snapshots_of(repo.store())
            .save_snapshot(&marker_snapshot("1", 10, 777))
            .unwrap();
    }
    let (repo, notices) = repository(json_store(dir.path()));
    assert_eq!(
        repo.load::<Counter>("1").unwrap().total,
        777,
        "the snapshot after a reopen"
    );
    // Damage the file: the load reports it and replays everything.
    let file = dir.path().join("snapshots").join("counter.1.snapshot");
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&file, &bytes).unwrap();
    assert_eq!(repo.load::<Counter>("1").unwrap().total, 55);
    assert!(
        notices.lock().unwrap()[0].contains("cannot be read"),
        "{:?}",
        notices.lock().unwrap()
    );
    assert!(snapshots_of(repo.store())
        .load_snapshot("counter", "1")
        .is_err());
    // The first save after a full replay of 10 or more events takes a snapshot; it replaces
    // the damaged file.
    add_one_by_one(&repo, "1", 1);
    let repaired = snapshots_of(repo.store())
        .load_snapshot("counter", "1")
        .unwrap();
    assert_eq!(repaired.map(|s| s.version()), Some(11));
    // A read-only open reads snapshots too.
    drop(repo);
    let read_only = JsonStore::open_read_only(dir.path()).unwrap();
    assert_eq!(
        snapshots_of(&read_only).list_snapshots(None).unwrap().len(),
        1
    );
    let refused = snapshots_of(&read_only).save_snapshot(&marker_snapshot("1", 30, 1));
    assert!(
        matches!(refused, Err(livenstore::StoreError::ReadOnly { .. })),
        "{refused:?}"
    );
}

/// A state that is not `Clone`.
#[derive(Debug, Default, Serialize, Deserialize, Aggregate)]
#[aggregate(name = "tally", events(Added), snapshot_every = 1000)]
struct EncodedTally {
    total: u64,
}

impl EncodedTally {
    fn on_added(&mut self, e: &Added) -> Result<(), DomainError> {
        self.total += e.n;
        Ok(())
    }
}

/// Neither `Clone` nor snapshots: never cached.
#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "plain", events(Added))]
struct Uncached {
    total: u64,
}

impl Uncached {
    fn on_added(&mut self, e: &Added) -> Result<(), DomainError> {
        self.total += e.n;
        Ok(())
    }
}

#[test]
fn the_cache_keeps_clones_or_encodings_and_drops_the_least_recently_used() {
    let repo = Repository::new(InMemoryStore::new()).with_cache(2);
    for id in ["a", "b", "c"] {
        repo.transact::<Counter, _, _>(id, |c| c.apply(Added { n: 1 }))
            .unwrap();
    }
    let stats = repo.cache_stats().unwrap();
    assert_eq!(stats.entries, 2, "capacity 2");
    repo.load::<Counter>("b").unwrap(); // a hit: "b" is now the most recent
    repo.load::<Counter>("a").unwrap(); // a miss: "a" was dropped first
    let after = repo.cache_stats().unwrap();
    assert_eq!(
        (after.hits - stats.hits, after.misses - stats.misses),
        (1, 1)
    );

    repo.transact::<EncodedTally, _, _>("t", |t| t.apply(Added { n: 5 }))
        .unwrap();
    repo.transact::<EncodedTally, _, _>("t", |t| t.apply(Added { n: 6 }))
        .unwrap();
    assert_eq!(repo.load::<EncodedTally>("t").unwrap().total, 11);
    let with_tally = repo.cache_stats().unwrap();
    repo.transact::<Uncached, _, _>("u", |u| u.apply(Added { n: 1 }))
        .unwrap();
    repo.transact::<Uncached, _, _>("u", |u| u.apply(Added { n: 2 }))
        .unwrap();
    assert_eq!(repo.load::<Uncached>("u").unwrap().total, 3);
    let last = repo.cache_stats().unwrap();
    assert_eq!(
        last,
        CacheStats {
            entries: 2,
            hits: with_tally.hits,
            misses: with_tally.misses + 3,
        },
        "a state with neither Clone nor snapshots is never found in the cache"
    );
}
