//! The [`EventStore`] trait and the types every backend shares.
//!
//! Rules every backend keeps (checked by the conformance suite in `livenstore::testing`):
//! - An append is atomic: all events of one call are stored, or none.
//! - Stream versions are 1-based and contiguous per stream; global positions are 1-based and
//!   gap-free per store, in append order.
//! - `recorded_at` never decreases along global positions.
//! - The idempotency check comes before the version check: when every event of a call carries an
//!   id that is already stored in that stream with the same type and payload, the call is a no-op
//!   that succeeds and reports the stored versions and positions. When some id is stored with other
//!   content, in another stream, or only some ids of the call are stored, the call fails with
//!   [`StoreError::DuplicateEventId`].
//! - An append with no events checks the expected version like any other (a mismatch is a
//!   [`StoreError::Conflict`]), stores nothing, creates no stream, and reports the stream's current
//!   version with positions 0.
//! - Linking gives the link the target stream's next version; linking an event into a stream it
//!   already is in (its own, or one it was linked into) is [`StoreError::InvalidArgument`].
//! - Stored events are never changed or deleted through this API (retention in
//!   [`InMemoryStore`](crate::InMemoryStore) is a configured exception, documented there).

pub mod memory;

mod expected_version;
mod idempotency;
pub mod json;
mod stream_name;

pub use expected_version::ExpectedVersion;
pub use idempotency::check_idempotent;
pub use stream_name::{validate_stream_name, MAX_STREAM_NAME_BYTES};

use std::path::PathBuf;

use crate::{EventId, NewEvent, RecordedEvent, Timestamp};

/// The largest payload a store accepts by default, in bytes of JSON text (16 MiB).
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;

/// What a successful append reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendResult {
    /// The stream's version after the append (the version of its last event).
    pub stream_version: u64,
    /// The global position of the first event appended (0 when the call had no events).
    pub first_position: u64,
    /// The global position of the last event appended (0 when the call had no events).
    pub last_position: u64,
}

/// What a store knows of one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// The stream's name.
    pub stream: String,
    /// Number of events in the stream (linked ones included).
    pub event_count: u64,
    /// Version of the first event still held (1 unless retention removed older ones).
    pub first_version: u64,
    /// Version of the last event (the stream's current version).
    pub last_version: u64,
    /// When the first event still held was recorded (or linked).
    pub first_recorded_at: Timestamp,
    /// When the last event was recorded (or linked).
    pub last_recorded_at: Timestamp,
}

/// Which configured limit an append ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitKind {
    /// Events per stream.
    EventsPerStream,
    /// Number of streams.
    Streams,
}

/// Errors of store operations.
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
    /// An I/O error, with the file it happened on.
    #[error("I/O error on {path}: {source}")]
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
    /// A database server could not be reached (or the connection to it could not be set up).
    #[error("cannot connect to {endpoint}: {source}")]
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
        "{backend} error during {operation}{}: {source}",
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
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An event store: appends events to streams and reads them back.
///
/// Synchronous, `Send + Sync`, used through `&self`; every call is short and does its own I/O, so
/// async code calls it through `spawn_blocking`. "from" arguments are inclusive; `max_count` caps
/// how many events a read returns (`usize::MAX` for all).
///
/// # Examples
///
/// ```
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
///
/// let store = InMemoryStore::new();
/// let event = NewEvent::from_json("UserCreated", r#"{"name":"ada"}"#).unwrap();
/// let result = store.append("user-1", ExpectedVersion::NoStream, vec![event]).unwrap();
/// assert_eq!((result.stream_version, result.first_position), (1, 1));
///
/// let events = store.read_stream("user-1", 1, usize::MAX).unwrap();
/// assert_eq!(events[0].payload().as_str(), r#"{"name":"ada"}"#);
/// ```
pub trait EventStore: Send + Sync {
    /// Appends `events` to `stream` atomically, if the stream's version matches `expected`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] on a version mismatch; [`StoreError::DuplicateEventId`],
    /// [`StoreError::InvalidStreamName`], [`StoreError::InvalidEventType`],
    /// [`StoreError::PayloadTooLarge`], [`StoreError::LimitExceeded`], [`StoreError::Closed`], and
    /// I/O errors of persistent backends. On any error nothing is stored.
    fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError>;

    /// Appends one event to `stream`, if the stream's version matches `expected`: exactly
    /// `append(stream, expected, vec![event])`, which is what this default implementation does.
    /// Stores override it to skip the one-element `Vec` (the in-memory store does).
    ///
    /// # Errors
    ///
    /// As [`append`](Self::append). On any error nothing is stored.
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
    ///
    /// let store = InMemoryStore::new();
    /// let opened = NewEvent::from_json("Opened", r#"{"owner":"ada"}"#).unwrap();
    /// let result = store.append_one("account-1", ExpectedVersion::NoStream, opened).unwrap();
    /// assert_eq!((result.stream_version, result.first_position, result.last_position), (1, 1, 1));
    ///
    /// // The expected version is checked as for `append`.
    /// let late = NewEvent::from_json("Deposited", r#"{"amount":5}"#).unwrap();
    /// assert!(store.append_one("account-1", ExpectedVersion::NoStream, late).is_err());
    /// ```
    fn append_one(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        event: NewEvent,
    ) -> Result<AppendResult, StoreError> {
        self.append(stream, expected, vec![event])
    }

    /// The event with this id (as appended, without link information).
    ///
    /// # Errors
    ///
    /// [`StoreError::EventNotFound`] when no event has it.
    fn read(&self, id: EventId) -> Result<RecordedEvent, StoreError>;

    /// Events of `stream` from version `from_version` on, in version order; linked events carry
    /// [`LinkInfo`](crate::LinkInfo). An unknown stream reads as empty.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidStreamName`], [`StoreError::Closed`], I/O errors.
    fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Events from global position `from_position` on, in global order (links not repeated).
    ///
    /// # Errors
    ///
    /// [`StoreError::Closed`], I/O errors.
    fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Events of one type from global position `from_position` on, in global order.
    ///
    /// # Errors
    ///
    /// [`StoreError::Closed`], I/O errors.
    fn read_by_type(
        &self,
        event_type: &str,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Events recorded at or after `from` and before `to`, in global order.
    ///
    /// # Errors
    ///
    /// [`StoreError::Closed`], I/O errors.
    fn read_time_range(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// What the store knows of `stream`; `None` when it does not exist.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidStreamName`], [`StoreError::Closed`], I/O errors.
    fn stream_info(&self, stream: &str) -> Result<Option<StreamInfo>, StoreError>;

    /// Every stream, sorted by name.
    ///
    /// # Errors
    ///
    /// [`StoreError::Closed`], I/O errors.
    fn streams(&self) -> Result<Vec<StreamInfo>, StoreError>;

    /// Makes the stored event `id` also appear in `stream`, at the stream's next version, without
    /// copying its payload. Returns that version.
    ///
    /// # Errors
    ///
    /// [`StoreError::EventNotFound`], [`StoreError::InvalidStreamName`],
    /// [`StoreError::InvalidArgument`] when the event already is in `stream`, I/O errors.
    fn link_to_stream(&self, id: EventId, stream: &str) -> Result<u64, StoreError>;

    /// The global position of the last event (0 when the store is empty).
    ///
    /// # Errors
    ///
    /// [`StoreError::Closed`], I/O errors.
    fn last_position(&self) -> Result<u64, StoreError>;

    /// The current version of `stream` (0 when it does not exist).
    ///
    /// # Errors
    ///
    /// As [`stream_info`](Self::stream_info).
    fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        Ok(self
            .stream_info(stream)?
            .map_or(0, |info| info.last_version))
    }

    /// Whether `stream` has lost versions: records a repair of damage moved out of the store,
    /// their versions kept taken ([`JsonStore::holes`](crate::JsonStore::holes)). Reads skip
    /// them, so a reader that needs every version (a [`Repository`](crate::Repository)
    /// rebuilding an aggregate) asks. The default, for stores that cannot lose a record, is
    /// `false`; a store that wraps another forwards it.
    ///
    /// # Errors
    ///
    /// As [`stream_info`](Self::stream_info).
    fn has_gaps(&self, stream: &str) -> Result<bool, StoreError> {
        let _ = stream;
        Ok(false)
    }
}

/// Checks an event type name: non-empty, at most 256 bytes, no control characters.
///
/// # Errors
///
/// [`StoreError::InvalidEventType`] saying what is wrong.
pub fn validate_event_type(event_type: &str) -> Result<(), StoreError> {
    let reason = if event_type.is_empty() {
        "it is empty"
    } else if event_type.len() > 256 {
        "it is longer than 256 bytes"
    } else if stream_name::has_control(event_type) {
        "it contains a control character"
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidEventType {
        event_type: event_type.chars().take(100).collect(),
        reason,
    })
}

/// Checks what every backend checks of an append's input: the stream name, each event's type and
/// payload size (against `max_payload`), and that no id is given twice in the call.
///
/// # Errors
///
/// The first problem found.
pub fn validate_append(
    stream: &str,
    events: &[NewEvent],
    max_payload: usize,
) -> Result<(), StoreError> {
    validate_stream_name(stream)?;
    check_no_repeated_id(events)?;
    let mut checked_type = None;
    for event in events {
        // Batches mostly repeat one type: check it again only when it changes.
        if checked_type != Some(event.event_type()) {
            validate_event_type(event.event_type())?;
            checked_type = Some(event.event_type());
        }
        check_payload_size(event.payload().len(), max_payload)?;
    }
    Ok(())
}

/// Refuses a payload of `size` bytes over `limit` with [`StoreError::PayloadTooLarge`].
#[inline]
pub(crate) fn check_payload_size(size: usize, limit: usize) -> Result<(), StoreError> {
    if size > limit {
        return Err(StoreError::PayloadTooLarge { size, limit });
    }
    Ok(())
}

/// Checks that no id is given twice in one call's `events` (part of [`validate_append`]).
///
/// # Errors
///
/// [`StoreError::DuplicateEventId`] naming the first repeated id.
pub(crate) fn check_no_repeated_id(events: &[NewEvent]) -> Result<(), StoreError> {
    if events.iter().filter(|e| e.id().is_some()).nth(1).is_some() {
        let mut seen = std::collections::HashSet::with_capacity(events.len());
        for id in events.iter().filter_map(NewEvent::id) {
            if !seen.insert(id) {
                return Err(StoreError::DuplicateEventId {
                    id,
                    reason: "the call holds it twice",
                });
            }
        }
    }
    Ok(())
}
