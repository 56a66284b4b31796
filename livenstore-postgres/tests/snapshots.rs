//! Snapshots on PostgreSQL through a `Repository`: written by saves, used by loads in another
//! connection (a restarted process), concurrent saves never replace a newer snapshot, and the
//! cache sees what another process appended.

use std::sync::Arc;

use livenstore::store::Snapshot;
use livenstore::{Aggregate, DomainError, DomainEvent, EventStore, Payload, Repository};
use livenstore_postgres::testing::TestSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "counter.added")]
struct Added {
    n: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, Aggregate)]
#[aggregate(name = "counter", events(Added), snapshot_every = 10)]
struct Counter {
    total: u64,
}

impl Counter {
    fn on_added(&mut self, e: &Added) -> Result<(), DomainError> {
        self.total += e.n;
        Ok(())
    }
}

#[test]
fn snapshots_written_by_one_connection_are_used_by_the_next() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    {
        let repo = Repository::new(test.connect());
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
    // A new process: a new store on the same schema. A snapshot no replay could give shows
    // that the load starts from it.
    let store = test.connect();
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

#[test]
fn concurrent_saves_keep_the_newest_snapshot() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let store = Arc::new(test.connect());
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
            let store = Arc::clone(&store);
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
    let kept = store
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

#[test]
fn a_cached_repository_sees_what_another_process_appended() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let cached = Repository::new(test.connect()).with_cache(100);
    let other = Repository::new(test.connect());
    cached
        .transact::<Counter, _, _>("1", |c| c.apply(Added { n: 1 }))
        .unwrap();
    other
        .transact::<Counter, _, _>("1", |c| c.apply(Added { n: 10 }))
        .unwrap();
    assert_eq!(cached.load::<Counter>("1").unwrap().total, 11);
    assert_eq!(cached.cache_stats().unwrap().hits, 1);
}
