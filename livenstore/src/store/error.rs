//! [`StoreError`]: what store operations fail with, and [`LimitKind`].

use std::path::PathBuf;

use super::ExpectedVersion;
use crate::EventId;

/// Which configured limit an append ran into.
///
/// # Examples
///
/// ```
/// use livenstore::store::memory::Config;
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, LimitKind, NewEvent, StoreError};
///
/// let store = InMemoryStore::with_config(Config::default().max_streams(1));
/// let opened = || NewEvent::from_json("Opened", "{}").unwrap();
/// store.append("account-1", ExpectedVersion::NoStream, vec![opened()]).unwrap();
/// match store.append("account-2", ExpectedVersion::NoStream, vec![opened()]) {
///     Err(StoreError::LimitExceeded { kind, max }) => {
///         assert_eq!((kind, max), (LimitKind::Streams, 1));
///     }
///     other => panic!("expected the stream limit, got {other:?}"),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitKind {
    /// Events per stream.
    EventsPerStream,
    /// Number of streams.
    Streams,
    /// Events in one append.
    EventsPerAppend,
    /// Distinct event types in one store.
    EventTypes,
}

/// Errors of store operations.
///
/// # Examples
///
/// ```
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent, StoreError};
///
/// let store = InMemoryStore::new();
/// let opened = NewEvent::from_json("Opened", "{}").unwrap();
/// store.append("account-1", ExpectedVersion::NoStream, vec![opened]).unwrap();
///
/// // This writer read the stream before it was opened: it expects version 0.
/// let deposited = NewEvent::from_json("Deposited", r#"{"amount":5}"#).unwrap();
/// match store.append("account-1", ExpectedVersion::Exact(0), vec![deposited]) {
///     Err(StoreError::Conflict { stream, actual, .. }) => {
///         assert_eq!((stream.as_str(), actual), ("account-1", 1));
///     }
///     other => panic!("expected a conflict, got {other:?}"),
/// }
/// assert_eq!(store.stream_version("account-1").unwrap(), 1, "nothing was stored");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The stream's version is not the one the append expected.
    #[error(
        "version conflict on stream `{stream}`: expected {expected}, but the stream is at version \
         {actual}"
    )]
    Conflict {
        /// The stream appended to.
        stream: String,
        /// What the caller expected.
        expected: ExpectedVersion,
        /// The stream's actual version (0 when it does not exist).
        actual: u64,
    },
    /// An event id is already stored with other content, in another stream, or only part of a
    /// call's ids are stored.
    #[error("event id {id} is already stored ({reason})")]
    DuplicateEventId {
        /// The id.
        id: EventId,
        /// What differs.
        reason: &'static str,
    },
    /// The stream name is not allowed.
    #[error("invalid stream name {name:?}: {reason}")]
    InvalidStreamName {
        /// The name given (cut to 100 characters).
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The event type name is empty, too long or has control characters.
    #[error("invalid event type {event_type:?}: {reason}")]
    InvalidEventType {
        /// The type given (cut to 100 characters).
        event_type: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A payload is larger than the store accepts.
    #[error("payload of {size} bytes is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The payload's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A configured limit would be exceeded.
    #[error("limit reached: at most {max} {kind:?} allowed")]
    LimitExceeded {
        /// Which limit.
        kind: LimitKind,
        /// Its value.
        max: u64,
    },
    /// No event has this id.
    #[error("no event with id {0}")]
    EventNotFound(EventId),
    /// The store was closed.
    #[error("the store is closed")]
    Closed,
    /// Another process holds the store's lock.
    #[error("the store at {path} is locked by another process")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// An I/O error, with the file it happened on (the error itself is the source).
    #[error("I/O error on {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Stored data is damaged.
    #[error("corrupted store file {path} at line {line}: {reason}")]
    Corrupted {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// An argument is out of range or malformed (the message says which).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A record could not be encoded for storage (serde_json's error is the source).
    #[error("cannot encode the {record} for storage")]
    Encode {
        /// What was being encoded: `"event"`, `"link"`, `"hole"`.
        record: &'static str,
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// The store was opened for reading only and cannot append.
    #[error("the store at {path} was opened read-only")]
    ReadOnly {
        /// The store's directory (or other location).
        path: PathBuf,
    },
    /// A database server could not be reached (or the connection to it could not be set up);
    /// the client library's error is the source.
    #[error("cannot connect to {endpoint}")]
    Connection {
        /// Where the server was expected, as `host:port` (or the socket path).
        endpoint: String,
        /// The client library's error.
        #[source]
        source: BoxError,
    },
    /// A database backend failed an operation (lost connection, server error). When this is
    /// returned by an append, nothing of that append is stored, unless `outcome_unknown` says
    /// the connection was lost while the commit was in flight: then the append may or may not
    /// have been stored, and retrying it with the same event ids is safe (the idempotency rule
    /// turns a stored retry into a no-op).
    #[error(
        "{backend} error during {operation}{}",
        if *outcome_unknown { OUTCOME_UNKNOWN } else { "" }
    )]
    Backend {
        /// The backend (`"PostgreSQL"`).
        backend: &'static str,
        /// What the store was doing (`"append"`, `"read_stream"`, `"connect"`...).
        operation: &'static str,
        /// Whether an append's outcome is unknown (the connection was lost during its commit).
        outcome_unknown: bool,
        /// The client library's error.
        #[source]
        source: BoxError,
    },
}

/// What the message of a [`StoreError::Backend`] with `outcome_unknown: true` says after the
/// operation, so that "maybe stored" never reads like "not stored".
const OUTCOME_UNKNOWN: &str =
    " (the append may have been stored: read the stream to find out, or retry it with the same \
     event ids, which stores it at most once)";

impl StoreError {
    /// Whether this error leaves an append's outcome unknown: a [`StoreError::Backend`] with
    /// `outcome_unknown: true` (the connection was lost while the commit was in flight). The
    /// events may or may not be stored; reading the stream tells, and a retry with the same
    /// event ids is safe.
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore::StoreError;
    ///
    /// let lost = StoreError::Backend {
    ///     backend: "PostgreSQL",
    ///     operation: "append",
    ///     outcome_unknown: true,
    ///     source: "connection reset".into(),
    /// };
    /// assert!(lost.is_outcome_unknown());
    /// assert!(lost.to_string().contains("may have been stored"));
    /// assert!(!StoreError::Closed.is_outcome_unknown());
    /// ```
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(
            self,
            StoreError::Backend {
                outcome_unknown: true,
                ..
            }
        )
    }
}

/// A boxed error of a backend's client library, as carried by [`StoreError::Connection`] and
/// [`StoreError::Backend`].
///
/// # Examples
///
/// ```
/// use std::io;
/// use livenstore::store::BoxError;
/// use livenstore::StoreError;
///
/// // A backend wraps its client library's error.
/// let cause: BoxError = io::Error::new(io::ErrorKind::ConnectionRefused, "refused").into();
/// let error = StoreError::Connection { endpoint: "db.internal:5432".into(), source: cause };
/// assert_eq!(error.to_string(), "cannot connect to db.internal:5432");
/// assert_eq!(std::error::Error::source(&error).unwrap().to_string(), "refused");
/// ```
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
