//! The conformance cases, one public function each. Every function takes a fresh, empty store
//! and panics (through `assert!`) when the store breaks a rule of [`EventStore`].

mod append;
mod append_one;
mod concurrency;
mod idempotency;
mod links;
mod reads;
mod validation;

pub use append::{
    append_read_round_trip, batch_with_invalid_event_type_stores_nothing,
    batch_with_oversized_payload_stores_nothing, empty_batch, expected_version_variants,
    positions_are_gap_free_across_streams, recorded_at_never_decreases,
    versions_are_contiguous_per_stream,
};
pub use append_one::append_one_is_an_append_of_one;
pub use concurrency::{concurrent_appends_to_many_streams, concurrent_appends_to_one_stream};
pub use idempotency::{
    idempotent_retry_is_a_no_op, partly_stored_batch_is_refused, same_id_other_payload_is_refused,
    same_id_other_stream_is_refused, same_id_twice_in_one_call_is_refused,
};
pub use links::{link_errors, link_to_stream};
pub use reads::{
    read_all_paging, read_by_type, read_stream_paging, read_time_range, read_unknown_id,
    stream_info_and_streams,
};
pub use validation::{invalid_stream_names, payload_too_large};

use crate::{AppendResult, EventStore, ExpectedVersion, NewEvent, StoreError};

/// Appends and unwraps, naming the stream on failure.
pub(crate) fn append_ok<S: EventStore + ?Sized>(
    store: &S,
    stream: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> AppendResult {
    match store.append(stream, expected, events) {
        Ok(result) => result,
        Err(err) => panic!("append to {stream:?} with {expected:?} failed: {err}"),
    }
}

/// Asserts that `result` is a conflict carrying `stream`, `expected` and `actual`.
pub(crate) fn assert_conflict<T: std::fmt::Debug>(
    result: Result<T, StoreError>,
    stream: &str,
    expected: ExpectedVersion,
    actual: u64,
) {
    match result {
        Err(StoreError::Conflict {
            stream: s,
            expected: e,
            actual: a,
        }) => {
            assert_eq!(s, stream, "conflict names the stream");
            assert_eq!(e, expected, "conflict carries the expectation");
            assert_eq!(a, actual, "conflict carries the actual version");
        }
        other => panic!("expected a conflict on {stream:?} ({expected:?}), got {other:?}"),
    }
}

/// `n` events of type `event_type` with payloads `{"n":<i>}`.
pub(crate) fn numbered(event_type: &'static str, n: usize) -> Vec<NewEvent> {
    (0..n)
        .map(|i| super::event(event_type, &format!(r#"{{"n":{i}}}"#)))
        .collect()
}

/// Unwraps a store call in a test.
pub(crate) fn ok<T>(result: Result<T, StoreError>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("{what} failed: {err}"),
    }
}
