//! How NATS and JetStream failures become [`StoreError`]s.
//!
//! Invariant: every error the client library returns reaches the caller as a
//! [`StoreError::Backend`] (or [`StoreError::Connection`] when connecting), naming the operation,
//! with the library's error as its source; whether an append's outcome is unknown is decided by
//! the write path, never guessed here.

use livenstore::StoreError;

/// The backend name in [`StoreError::Backend`].
pub(crate) const BACKEND: &str = "NATS JetStream";

/// A failure of the client library during `operation`.
pub(crate) fn backend(
    operation: &'static str,
    outcome_unknown: bool,
    source: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    StoreError::Backend {
        backend: BACKEND,
        operation,
        outcome_unknown,
        source: Box::new(source),
    }
}

/// A failure described in words during `operation`.
pub(crate) fn message(operation: &'static str, outcome_unknown: bool, what: String) -> StoreError {
    StoreError::Backend {
        backend: BACKEND,
        operation,
        outcome_unknown,
        source: what.into(),
    }
}

/// The store's background task stopped (the store was closed or its runtime shut down).
pub(crate) fn stopped(operation: &'static str) -> StoreError {
    message(
        operation,
        true,
        "the store's background task stopped; the store is closed".to_owned(),
    )
}

/// A JetStream message that is not what this crate writes, met at `sequence`.
pub(crate) fn corrupted(stream: &str, sequence: u64, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupted {
        path: format!("nats:{stream}").into(),
        line: sequence,
        reason: reason.into(),
    }
}
