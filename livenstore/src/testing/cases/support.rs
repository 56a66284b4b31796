//! What the cases share: appends that name what failed, the conflict assertion, numbered events.

use crate::error_chain::ErrorChain;
use crate::testing::fixtures::event;
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
        Err(err) => panic!(
            "append to {stream:?} with {expected:?} failed: {}",
            ErrorChain(&err)
        ),
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
        .map(|i| event(event_type, &format!(r#"{{"n":{i}}}"#)))
        .collect()
}

/// Unwraps a store call in a test.
pub(crate) fn ok<T>(result: Result<T, StoreError>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("{what} failed: {}", ErrorChain(&err)),
    }
}
