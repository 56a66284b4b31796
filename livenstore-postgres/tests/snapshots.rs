//! Snapshots on PostgreSQL through a `Repository`: written by saves, used by loads in another
//! connection (a restarted process), concurrent saves never replace a newer snapshot, and the
//! cache sees what another process appended.

use std::sync::Arc;

use livenstore::testing::scenarios;
use livenstore_postgres::testing::TestSchema;

#[test]
fn snapshots_written_by_one_connection_are_used_by_the_next() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    scenarios::snapshots_written_by_one_handle_are_used_by_the_next(|| test.connect());
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
    scenarios::a_cached_repository_sees_what_another_handle_appended(|| test.connect());
}
