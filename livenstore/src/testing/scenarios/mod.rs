//! Shared scenarios for backends that keep consumer state and snapshots where another handle
//! (a restarted process, the command-line tool) sees them: checkpoints, parked events and a
//! [`Repository`](crate::Repository)'s snapshots.
//!
//! Unlike the [`cases`](super::cases), which take one fresh store, a scenario takes what it
//! needs to play two processes: an `Arc` store, checkpoint or parked-event stores opened on it,
//! or a closure that connects a second handle to the same place. Each panics (through
//! `assert!`) when the backend breaks the behaviour its documentation names.
//!
//! A backend calls them from its own test files, on a throw-away namespace (a PostgreSQL schema,
//! a JetStream stream):
//!
//! ```ignore
//! #[test]
//! fn a_poison_event_is_parked_and_replayed_on_request() {
//!     let Some(test) = my_backend::testing::TestNamespace::new() else { return };
//!     livenstore::testing::scenarios::a_poison_event_is_parked_and_replayed_on_request(
//!         || test.connect(),
//!         |store| store.checkpoints(),
//!         |store| store.parked(),
//!     );
//! }
//! ```

mod checkpoints;
mod counter;
mod parked;
mod snapshots;
mod wait;

pub use checkpoints::{
    checkpoints_save_load_overwrite_list_and_delete, checkpoints_survive_a_new_handle,
};
pub use parked::a_poison_event_is_parked_and_replayed_on_request;
pub use snapshots::{
    a_cached_repository_sees_what_another_handle_appended,
    concurrent_saves_keep_the_newest_snapshot,
    snapshots_written_by_one_handle_are_used_by_the_next,
};
