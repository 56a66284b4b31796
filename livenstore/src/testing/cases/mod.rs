//! The conformance cases, one public function each. Every function takes a fresh, empty store
//! and panics (through `assert!`) when the store breaks a rule of [`EventStore`](crate::EventStore).

mod append;
mod append_one;
mod concurrency;
mod correlation;
mod event_versions;
mod idempotency;
mod links;
mod reads;
mod snapshots;
pub(crate) mod support;
mod validation;

pub use append::{
    append_read_round_trip, batch_with_invalid_event_type_stores_nothing,
    batch_with_oversized_payload_stores_nothing, empty_batch, expected_version_variants,
    positions_are_gap_free_across_streams, recorded_at_never_decreases,
    versions_are_contiguous_per_stream,
};
pub use append_one::append_one_is_an_append_of_one;
pub use concurrency::{concurrent_appends_to_many_streams, concurrent_appends_to_one_stream};
pub use correlation::{
    read_correlated_matches_ids_exactly, read_correlated_refuses_empty_and_oversized_ids,
    read_correlated_returns_one_conversation_in_position_order,
};
pub use event_versions::{event_versions_out_of_range_are_refused, event_versions_round_trip};
pub use idempotency::{
    idempotent_retry_is_a_no_op, partly_stored_batch_is_refused, same_id_other_payload_is_refused,
    same_id_other_stream_is_refused, same_id_twice_in_one_call_is_refused,
};
pub use links::{link_errors, link_to_stream};
pub use reads::{
    read_all_paging, read_by_type, read_stream_paging, read_time_range, read_unknown_id,
    stream_info_and_streams,
};
pub use snapshots::{
    garbage_snapshots_are_kept_as_given_and_bad_keys_refused, latest_snapshot_wins,
    list_and_delete_snapshots, snapshot_and_tail_reads_from_the_snapshot_version,
    snapshot_round_trip,
};
pub use validation::{invalid_stream_names, payload_too_large};
