//! `PostgresCheckpointStore`: consumer checkpoints in the store's database.

use livenstore::pubsub::{CheckpointError, CheckpointStore};
use livenstore::testing::scenarios;
use livenstore::StoreError;
use livenstore_postgres::testing::TestSchema;

#[test]
fn save_load_and_overwrite() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    // The position column is a BIGINT: the largest position is i64::MAX.
    scenarios::checkpoints_save_load_overwrite_list_and_delete(
        &test.connect().checkpoints(),
        i64::MAX as u64,
    );
}

#[test]
fn checkpoints_survive_a_new_store_and_stay_in_their_schema() {
    let (Some(test), Some(elsewhere)) = (TestSchema::new(), TestSchema::new()) else {
        return;
    };
    // Another schema is another store: its checkpoints are its own.
    scenarios::checkpoints_survive_a_new_handle(
        || test.connect().checkpoints(),
        &elsewhere.connect().checkpoints(),
    );
}

#[test]
fn invalid_names_and_positions_are_refused() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let checkpoints = test.connect().checkpoints();
    for bad in ["", "a/b", "'; DROP TABLE checkpoints; --", ".hidden"] {
        assert!(
            matches!(
                checkpoints.save(bad, 1),
                Err(CheckpointError::InvalidName { .. })
            ),
            "{bad:?}"
        );
        assert!(
            matches!(
                checkpoints.load(bad),
                Err(CheckpointError::InvalidName { .. })
            ),
            "{bad:?}"
        );
    }
    let err = checkpoints.save("c", u64::MAX).unwrap_err();
    assert!(
        matches!(
            err,
            CheckpointError::Backend(StoreError::InvalidArgument(_))
        ),
        "{err:?}"
    );
    assert_eq!(checkpoints.load("c").unwrap(), None);
}

#[test]
fn a_lost_connection_is_retried_once() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    // One pooled connection: the checkpoint store gets the one terminated below.
    let store = test.connect_with(test.config().pool_size(1));
    let checkpoints = store.checkpoints();
    checkpoints.save("c", 1).unwrap();
    let pid: i32 = store
        .pool()
        .get()
        .unwrap()
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let other = test.connect();
    let terminated: bool = other
        .pool()
        .get()
        .unwrap()
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    assert!(terminated);
    checkpoints.save("c", 2).unwrap();
    assert_eq!(checkpoints.load("c").unwrap(), Some(2));
}

#[test]
fn a_server_error_is_a_backend_error_naming_the_operation() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let store = test.connect();
    let checkpoints = store.checkpoints();
    // Drop the table under the store: a server error, not a lost connection, so no retry.
    store
        .pool()
        .get()
        .unwrap()
        .batch_execute(&format!("DROP TABLE \"{}\".checkpoints", test.schema()))
        .unwrap();
    let err = checkpoints.load("c").unwrap_err();
    assert!(
        matches!(
            &err,
            CheckpointError::Backend(StoreError::Backend {
                operation: "load checkpoint",
                ..
            })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("checkpoint"), "{err}");
}
