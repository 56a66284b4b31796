//! `livenstore::testing::scenarios` on the JSON store, whose checkpoints, parked events and
//! snapshots live in files that a second handle on the directory sees: the scenarios pass on a
//! backend that keeps the rules, and fail on one that breaks them.

use std::sync::Arc;

use livenstore::pubsub::{
    CheckpointError, CheckpointStore, FileCheckpointStore, InMemoryCheckpointStore,
};
use livenstore::testing::scenarios;
use livenstore::{InMemoryStore, JsonStore};

#[test]
fn checkpoint_rules_hold_in_memory_and_in_files() {
    scenarios::checkpoints_save_load_overwrite_list_and_delete(
        &InMemoryCheckpointStore::new(),
        u64::MAX,
    );
    let dir = tempfile::tempdir().unwrap();
    scenarios::checkpoints_save_load_overwrite_list_and_delete(
        &FileCheckpointStore::open(dir.path()).unwrap(),
        u64::MAX,
    );
}

#[test]
fn file_checkpoints_survive_a_new_handle() {
    let (dir, elsewhere) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    scenarios::checkpoints_survive_a_new_handle(
        || FileCheckpointStore::open(dir.path()).unwrap(),
        &FileCheckpointStore::open(elsewhere.path()).unwrap(),
    );
}

#[test]
#[should_panic(expected = "Some(1234)")]
fn checkpoints_lost_with_their_handle_fail_the_scenario() {
    scenarios::checkpoints_survive_a_new_handle(
        InMemoryCheckpointStore::new,
        &InMemoryCheckpointStore::new(),
    );
}

/// Checkpoints whose `delete` forgets nothing.
struct Undeletable(InMemoryCheckpointStore);

impl CheckpointStore for Undeletable {
    fn load(&self, consumer: &str) -> Result<Option<u64>, CheckpointError> {
        self.0.load(consumer)
    }
    fn save(&self, consumer: &str, position: u64) -> Result<(), CheckpointError> {
        self.0.save(consumer, position)
    }
    fn list(&self) -> Result<Vec<(String, u64)>, CheckpointError> {
        self.0.list()
    }
    fn delete(&self, consumer: &str) -> Result<bool, CheckpointError> {
        Ok(self.0.load(consumer)?.is_some())
    }
}

#[test]
#[should_panic(expected = "assertion failed")]
fn a_delete_that_keeps_the_checkpoint_fails_the_scenario() {
    scenarios::checkpoints_save_load_overwrite_list_and_delete(
        &Undeletable(InMemoryCheckpointStore::new()),
        u64::MAX,
    );
}

#[test]
fn a_poison_event_is_parked_in_files_and_replayed_on_request() {
    let dir = tempfile::tempdir().unwrap();
    // Two handles on one directory: the second opens it read-only (the first holds the lock).
    let first = std::cell::Cell::new(true);
    scenarios::a_poison_event_is_parked_and_replayed_on_request(
        || {
            if first.replace(false) {
                JsonStore::open(dir.path()).unwrap()
            } else {
                JsonStore::open_read_only(dir.path()).unwrap()
            }
        },
        |store| store.checkpoints().unwrap(),
        |store| store.parked().unwrap(),
    );
}

#[test]
fn json_snapshots_are_used_by_the_next_handle_and_the_newest_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    scenarios::snapshots_written_by_one_handle_are_used_by_the_next(|| {
        JsonStore::open(dir.path()).unwrap()
    });
    let other = tempfile::tempdir().unwrap();
    scenarios::concurrent_saves_keep_the_newest_snapshot(&[Arc::new(
        JsonStore::open(other.path()).unwrap(),
    )]);
}

#[test]
fn a_cached_repository_sees_what_another_handle_appended() {
    let store = Arc::new(InMemoryStore::new());
    scenarios::a_cached_repository_sees_what_another_handle_appended(|| Arc::clone(&store));
}

#[test]
#[should_panic]
fn a_store_that_forgets_between_handles_fails_the_snapshot_scenario() {
    scenarios::snapshots_written_by_one_handle_are_used_by_the_next(InMemoryStore::new);
}
