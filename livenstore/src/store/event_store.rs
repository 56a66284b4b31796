//! [`EventStore`]: the trait every store implements, with what its calls report
//! ([`AppendResult`], [`StreamInfo`]), and [`CORRELATION_SCAN_PAGE`], the page of the provided
//! [`EventStore::read_correlated`] scan.

use super::{ExpectedVersion, Snapshot, SnapshotStore, StoreError};
use crate::{EventId, NewEvent, RecordedEvent, Timestamp};

/// How many events the provided [`EventStore::read_correlated`] reads at a time in its scan.
pub const CORRELATION_SCAN_PAGE: usize = 1000;

/// What a successful append reports.
///
/// # Examples
///
/// ```
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
///
/// let store = InMemoryStore::new();
/// let opened = NewEvent::from_json("Opened", "{}").unwrap();
/// store.append("account-1", ExpectedVersion::NoStream, vec![opened]).unwrap();
///
/// let batch = vec![
///     NewEvent::from_json("Opened", "{}").unwrap(),
///     NewEvent::from_json("Deposited", r#"{"amount":5}"#).unwrap(),
/// ];
/// let result = store.append("account-2", ExpectedVersion::NoStream, batch).unwrap();
/// assert_eq!(result.stream_version, 2);
/// assert_eq!((result.first_position, result.last_position), (2, 3));
///
/// // An append of no events stores nothing: positions 0.
/// let empty = store.append("account-2", ExpectedVersion::Exact(2), vec![]).unwrap();
/// assert_eq!((empty.stream_version, empty.first_position, empty.last_position), (2, 0, 0));
/// ```
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
///
/// # Examples
///
/// ```
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
///
/// let store = InMemoryStore::new();
/// let events = vec![
///     NewEvent::from_json("Opened", "{}").unwrap(),
///     NewEvent::from_json("Closed", "{}").unwrap(),
/// ];
/// store.append("account-1", ExpectedVersion::NoStream, events).unwrap();
///
/// let info = store.stream_info("account-1").unwrap().unwrap();
/// assert_eq!(info.stream, "account-1");
/// assert_eq!((info.event_count, info.first_version, info.last_version), (2, 1, 2));
/// assert!(info.first_recorded_at <= info.last_recorded_at);
/// assert!(store.stream_info("account-2").unwrap().is_none());
/// ```
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

    /// Every event whose metadata [`CORRELATION_ID`](crate::CORRELATION_ID) is `correlation_id`
    /// (the events of one conversation), in position order. Links are not included: each
    /// event appears once, as appended. An id no event carries reads as empty.
    ///
    /// The provided implementation is a **scan**: it reads the whole log through
    /// [`read_all`](Self::read_all), [`CORRELATION_SCAN_PAGE`] events at a time, and keeps the
    /// matching ones, so it costs a read of every event (and as a read of every event it fails
    /// where `read_all` would). The built-in stores override it with an index, so a lookup costs
    /// about a read of the events it returns; a store that wraps another forwards it.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`] for an empty id or one longer than
    /// [`MAX_CORRELATION_ID_BYTES`](crate::backend::MAX_CORRELATION_ID_BYTES) (checked by
    /// [`validate_correlation_id`](crate::backend::validate_correlation_id) before anything
    /// is read); [`StoreError::Closed`], I/O errors.
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, Metadata, NewEvent};
    ///
    /// let store = InMemoryStore::new();
    /// let in_conversation = |kind: &str, conversation: &str| {
    ///     NewEvent::from_json(kind.to_owned(), "{}")
    ///         .unwrap()
    ///         .with_metadata(Metadata::new().with_correlation_id(conversation))
    /// };
    /// store.append("order-1", ExpectedVersion::Any, vec![in_conversation("OrderPlaced", "req-1")]).unwrap();
    /// store.append("order-2", ExpectedVersion::Any, vec![in_conversation("OrderPlaced", "req-2")]).unwrap();
    /// store.append("stock-7", ExpectedVersion::Any, vec![in_conversation("StockReserved", "req-1")]).unwrap();
    ///
    /// let conversation = store.read_correlated("req-1").unwrap();
    /// let seen: Vec<(u64, &str)> = conversation.iter().map(|e| (e.position(), e.stream())).collect();
    /// assert_eq!(seen, [(1, "order-1"), (3, "stock-7")]);
    /// assert!(store.read_correlated("req-9").unwrap().is_empty());
    /// assert!(store.read_correlated("").is_err());
    /// ```
    fn read_correlated(&self, correlation_id: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        crate::backend::validate_correlation_id(correlation_id)?;
        scan_from(self, 1, |e| {
            e.metadata().correlation_id() == Some(correlation_id)
        })
    }

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

    /// Whether a call to this store may block the calling thread on I/O (a disk, a network): the
    /// async facade (`livenstore::nonblocking`, feature `tokio`) runs the calls of a store that
    /// blocks on the runtime's blocking pool and calls one that does not inline. The default is
    /// `true`; [`InMemoryStore`](crate::InMemoryStore) says `false` (its calls only take a
    /// lock held for the length of an in-memory update); a store that wraps another forwards it.
    fn blocks(&self) -> bool {
        true
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

    /// Where this store keeps aggregate snapshots, when it keeps them (every built-in store
    /// does, and returns itself). The default, for a store without them, is `None`: a
    /// [`Repository`](crate::Repository) then replays whole streams. A store that wraps another
    /// forwards it.
    fn snapshots(&self) -> Option<&dyn SnapshotStore> {
        None
    }

    /// The stored snapshot of aggregate `aggregate_id` of `aggregate_type`, with the events of
    /// `stream` from the snapshot's version on (the event at that version first, when the
    /// stream holds it; at most `max_count`): what a [`Repository`](crate::Repository) load
    /// needs. `None` when there is no snapshot (or the store keeps none).
    ///
    /// The default asks [`snapshots`](Self::snapshots), then [`read_stream`](Self::read_stream);
    /// a backend that can answer in one round trip overrides it (a store that wraps another
    /// forwards it).
    ///
    /// # Errors
    ///
    /// As [`SnapshotStore::load_snapshot`] and [`read_stream`](Self::read_stream).
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore::store::Snapshot;
    /// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent, Payload};
    ///
    /// let store = InMemoryStore::new();
    /// let events = (0..5).map(|_| NewEvent::from_json("Added", "{}").unwrap()).collect();
    /// store.append("counter-1", ExpectedVersion::NoStream, events).unwrap();
    /// let state = Payload::from_json(r#"{"total":3}"#).unwrap();
    /// store.snapshots().unwrap().save_snapshot(&Snapshot::new("counter", "1", 3, state)).unwrap();
    ///
    /// let (snapshot, tail) = store.snapshot_and_tail("counter", "1", "counter-1", 100).unwrap().unwrap();
    /// assert_eq!(snapshot.version(), 3);
    /// assert_eq!(tail.iter().map(|e| e.version()).collect::<Vec<_>>(), [3, 4, 5]);
    /// ```
    #[allow(clippy::type_complexity)]
    fn snapshot_and_tail(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        stream: &str,
        max_count: usize,
    ) -> Result<Option<(Snapshot, Vec<RecordedEvent>)>, StoreError> {
        let Some(snapshots) = self.snapshots() else {
            return Ok(None);
        };
        let Some(snapshot) = snapshots.load_snapshot(aggregate_type, aggregate_id)? else {
            return Ok(None);
        };
        let tail = self.read_stream(stream, snapshot.version(), max_count)?;
        Ok(Some((snapshot, tail)))
    }
}

/// The events of `store` from position `from` on that `keep` accepts, read
/// [`CORRELATION_SCAN_PAGE`] at a time with `read_all`: the scan behind the default
/// [`EventStore::read_correlated`] and a trace's search for an event's direct effects.
pub(crate) fn scan_from<S: EventStore + ?Sized>(
    store: &S,
    mut from: u64,
    mut keep: impl FnMut(&RecordedEvent) -> bool,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut found = Vec::new();
    loop {
        let page = store.read_all(from, CORRELATION_SCAN_PAGE)?;
        let Some(next) = page.last().map(|e| e.position().saturating_add(1)) else {
            break;
        };
        found.extend(page.into_iter().filter(|e| keep(e)));
        if next <= from {
            break; // a store that does not move forward would loop forever
        }
        from = next;
    }
    Ok(found)
}
