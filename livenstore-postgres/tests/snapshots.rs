//! Snapshots on PostgreSQL through a `Repository`: written by saves, used by loads in another
//! connection (a restarted process), concurrent saves never replace a newer snapshot, and the
//! cache sees what another process appended.

use std::sync::Arc;

use livenstore::testing::scenarios;
use livenstore::{Aggregate, DomainError, DomainEvent, Repository};
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
    scenarios::snapshots_written_by_one_handle_are_used_by_the_next::<Counter, _>(
        || test.connect(),
        |n| Added { n }.into(),
        |c| c.total,
    );
}

#[test]
fn concurrent_saves_keep_the_newest_snapshot() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    scenarios::concurrent_saves_keep_the_newest_snapshot(&[Arc::new(test.connect())]);
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
