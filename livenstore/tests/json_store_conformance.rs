//! The shared backend conformance suite, run against `JsonStore` in three set-ups: the default
//! durability (`Always`, group commit), `Never`, and tiny segments so every case crosses segment
//! boundaries.

use livenstore::store::json::{Durability, JsonStoreOptions};
use livenstore::JsonStore;
use tempfile::TempDir;

fn open(options: JsonStoreOptions) -> (JsonStore, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = JsonStore::open_with(dir.path().join("store"), options).expect("open store");
    (store, dir)
}

mod always {
    fn make() -> (livenstore::JsonStore, tempfile::TempDir) {
        super::open(super::JsonStoreOptions::new())
    }
    livenstore::conformance_tests!(with_guard make);
}

mod never {
    fn make() -> (livenstore::JsonStore, tempfile::TempDir) {
        super::open(super::JsonStoreOptions::new().durability(super::Durability::Never))
    }
    livenstore::conformance_tests!(with_guard make);
}

mod tiny_segments {
    fn make() -> (livenstore::JsonStore, tempfile::TempDir) {
        super::open(
            super::JsonStoreOptions::new()
                .durability(super::Durability::Never)
                .segment_size(4096),
        )
    }
    livenstore::conformance_tests!(with_guard make);
}
