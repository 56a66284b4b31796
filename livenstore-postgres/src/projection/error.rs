//! [`ProjectionError`]: what a projection's batch, options or worker can fail with, and the
//! hook its worker reports to.
//!
//! Invariants:
//! - Every variant that stands for a failed batch says whether it is **transient** (a lost
//!   connection, a deadlock, a serialization failure, no connection to be had): the worker
//!   retries those and stops on the others. Either way the batch's transaction was rolled back,
//!   so its checkpoint did not move.
//! - Display prints the error itself; the cause is `source()`, never both (so a printed chain
//!   repeats nothing).

use std::fmt;
use std::sync::Arc;

use livenstore::pubsub::{HandlerError, SubscribeError};
use livenstore::StoreError;

use crate::error::ClientError;

/// The hook a running projection reports its errors to (standard error when none is set): see
/// [`PostgresProjection::on_error`](crate::PostgresProjection::on_error).
pub type ProjectionErrorHook = Arc<dyn Fn(&ProjectionError) + Send + Sync + 'static>;

/// Errors of a [`PostgresProjection`](crate::PostgresProjection).
///
/// # Examples
///
/// ```
/// use livenstore_postgres::ProjectionError;
///
/// let error = ProjectionError::InvalidOption("batch_size must be at least 1".into());
/// assert!(!error.is_transient());
/// assert_eq!(error.to_string(), "invalid projection option: batch_size must be at least 1");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ProjectionError {
    /// The projection's name is not a valid consumer name
    /// ([`validate_consumer_name`](livenstore::pubsub::validate_consumer_name)).
    InvalidName {
        /// The name given (at most 100 characters of it).
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// An option is out of range (a batch size of 0, a zero poll interval).
    InvalidOption(String),
    /// The database work of a batch failed (reading, locking the checkpoint, moving it,
    /// committing), or the worker thread could not start. Nothing of the batch is stored.
    Store {
        /// The projection's name.
        projection: String,
        /// Whether running the batch again can succeed (a lost connection, a deadlock, a
        /// serialization failure, no connection to be had).
        transient: bool,
        /// What failed.
        source: StoreError,
    },
    /// The handler returned an error for the batch `first_position..=last_position`; the
    /// transaction was rolled back, so the checkpoint stays before the batch.
    Handler {
        /// The projection's name.
        projection: String,
        /// The position of the first event handed to the handler.
        first_position: u64,
        /// The position of the last event handed to the handler.
        last_position: u64,
        /// Whether the failure looks transient: the handler's error is a `postgres::Error` for
        /// a lost connection, a deadlock or a serialization failure, or the batch's connection
        /// was found closed.
        transient: bool,
        /// The handler's error.
        source: HandlerError,
    },
    /// The subscription to the manager given to
    /// [`wake_on`](crate::PostgresProjection::wake_on) could not be made (the manager is
    /// closed).
    WakeUp {
        /// The projection's name.
        projection: String,
        /// Why the manager refused it.
        source: SubscribeError,
    },
    /// The handler panicked for the batch `first_position..=last_position`; the transaction
    /// was rolled back.
    HandlerPanicked {
        /// The projection's name.
        projection: String,
        /// The position of the first event handed to the handler.
        first_position: u64,
        /// The position of the last event handed to the handler.
        last_position: u64,
        /// The panic's message.
        message: String,
    },
}

impl ProjectionError {
    /// Whether the failed batch may succeed when run again: a running projection retries
    /// these (after a growing pause) and stops on every other error.
    pub fn is_transient(&self) -> bool {
        match self {
            ProjectionError::Store { transient, .. }
            | ProjectionError::Handler { transient, .. } => *transient,
            _ => false,
        }
    }
}

impl fmt::Display for ProjectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProjectionError::InvalidName { name, reason } => {
                write!(f, "invalid projection name {name:?}: {reason}")
            }
            ProjectionError::InvalidOption(what) => write!(f, "invalid projection option: {what}"),
            ProjectionError::Store { projection, .. } => {
                write!(f, "projection `{projection}`: database work failed")
            }
            ProjectionError::Handler {
                projection,
                first_position,
                last_position,
                ..
            } => write!(
                f,
                "projection `{projection}`: handler failed for positions \
                 {first_position}..={last_position}"
            ),
            ProjectionError::WakeUp { projection, .. } => {
                write!(
                    f,
                    "projection `{projection}`: the wake-up subscription failed"
                )
            }
            ProjectionError::HandlerPanicked {
                projection,
                first_position,
                last_position,
                message,
            } => write!(
                f,
                "projection `{projection}`: handler panicked for positions \
                 {first_position}..={last_position}: {message}"
            ),
        }
    }
}

impl std::error::Error for ProjectionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProjectionError::Store { source, .. } => Some(source),
            ProjectionError::Handler { source, .. } => Some(&**source),
            ProjectionError::WakeUp { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Where reports go when no hook is set: standard error, one line each, with the causes.
pub(crate) fn default_report(error: &ProjectionError) {
    eprintln!(
        "livenstore-postgres: {}",
        livenstore::backend::ErrorChain(error)
    );
}

/// Whether `error` is worth running the batch again for: the connection is gone, or the server
/// rolled the transaction back for a deadlock (40P01) or a serialization failure (40001).
pub(crate) fn is_transient_db(error: &postgres::Error) -> bool {
    crate::error::is_connection_lost(error)
        || crate::error::is_deadlock(error)
        || error.code().is_some_and(|code| code.code() == "40001")
}

/// Whether a store error of this crate is transient: no connection could be had, or the
/// client library's error under it is transient ([`is_transient_db`]).
pub(crate) fn is_transient_store(error: &StoreError) -> bool {
    match error {
        StoreError::Connection { .. } => true,
        StoreError::Backend { source, .. } => source
            .downcast_ref::<ClientError>()
            .is_some_and(|client| is_transient_db(client.get())),
        _ => false,
    }
}
