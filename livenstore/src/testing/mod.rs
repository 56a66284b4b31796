//! Test kits (feature `testing`): the backend conformance suite, the behaviour every
//! [`EventStore`](crate::EventStore) must show; [`check_schema_lock`], which keeps an
//! application's event shapes and versions honest across releases; and
//! [`check_written_by_0_1`], for backends' upgrade tests.
//!
//! Invariant: every case takes a fresh, empty store, asserts real behaviour (every check is an
//! `assert!`), and finishes in well under a second in a debug build.
//!
//! Run it from a backend's test file with [`conformance_tests!`](crate::conformance_tests):
//!
//! ```ignore
//! // tests/my_store.rs
//! livenstore::conformance_tests!(|| my_crate::MyStore::new());
//!
//! // A store that needs a guard kept alive (a temporary directory): return `(store, guard)`.
//! fn open() -> (my_crate::FileStore, tempfile::TempDir) {
//!     let dir = tempfile::tempdir().unwrap();
//!     (my_crate::FileStore::open(dir.path()).unwrap(), dir)
//! }
//! livenstore::conformance_tests!(with_guard open);
//! ```
//!
//! Each case is also a public function in [`cases`], callable on its own. Backends that keep
//! consumer state and snapshots for other processes also run the [`scenarios`], which take a
//! store and a way to open a second handle on it.

mod aggregate_test;
pub mod cases;
mod consumer_test;
mod event_diff;
mod fixture_0_1;
mod fixtures;
mod replay_check;
mod runner;
pub mod scenarios;
mod schema_lock;
mod server_url;

pub use aggregate_test::{AggregateOutcome, AggregateTest};
pub use consumer_test::{assert_caused_by, ConsumerTest, Outcome as ConsumerOutcome};
pub use fixture_0_1::check_written_by_0_1;
pub use fixtures::{event, oversized_payload};
pub use runner::{run_case, run_case_skippable, run_case_with_guard};
pub use schema_lock::check_schema_lock;
pub use server_url::server_url;

/// Expands to one `#[test]` per conformance case, each on a fresh store.
///
/// `conformance_tests!(make)` takes anything callable as `make()` returning the store (a closure
/// `|| Store::new()` or a function path); `conformance_tests!(with_guard make)` takes one returning
/// `(store, guard)`, the guard (a `tempfile::TempDir`) being dropped after the store;
/// `conformance_tests!(skippable make)` takes one returning `Option<(store, guard)>`, for backends
/// that need a server: `None` skips the case (see [`run_case_skippable`]).
#[macro_export]
macro_rules! conformance_tests {
    (with_guard $make:expr) => {
        $crate::__conformance_cases!(run_case_with_guard, $make);
    };
    (skippable $make:expr) => {
        $crate::__conformance_cases!(run_case_skippable, $make);
    };
    ($make:expr) => {
        $crate::__conformance_cases!(run_case, $make);
    };
}

/// The case list of [`conformance_tests!`]. Not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($runner:ident, $make:expr) => {
        $crate::__conformance_cases!(@each $runner, $make;
            append_read_round_trip,
            versions_are_contiguous_per_stream,
            positions_are_gap_free_across_streams,
            expected_version_variants,
            batch_with_invalid_event_type_stores_nothing,
            batch_with_oversized_payload_stores_nothing,
            empty_batch,
            append_one_is_an_append_of_one,
            idempotent_retry_is_a_no_op,
            same_id_other_payload_is_refused,
            same_id_other_stream_is_refused,
            partly_stored_batch_is_refused,
            same_id_twice_in_one_call_is_refused,
            read_stream_paging,
            read_all_paging,
            read_by_type,
            read_time_range,
            stream_info_and_streams,
            link_to_stream,
            link_errors,
            read_unknown_id,
            invalid_stream_names,
            payload_too_large,
            recorded_at_never_decreases,
            concurrent_appends_to_one_stream,
            concurrent_appends_to_many_streams,
            event_versions_round_trip,
            event_versions_out_of_range_are_refused,
            snapshot_round_trip,
            latest_snapshot_wins,
            list_and_delete_snapshots,
            garbage_snapshots_are_kept_as_given_and_bad_keys_refused,
            snapshot_and_tail_reads_from_the_snapshot_version,
            read_correlated_returns_one_conversation_in_position_order,
            read_correlated_matches_ids_exactly,
            read_correlated_refuses_empty_and_oversized_ids,
        );
    };
    (@each $runner:ident, $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::testing::$runner($make, $crate::testing::cases::$case);
            }
        )*
    };
}
