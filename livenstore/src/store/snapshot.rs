//! Snapshots: an aggregate's state at a version of its stream, kept so that loading it replays
//! only the events after that version. [`Snapshot`], [`SnapshotInfo`], and [`SnapshotStore`], the
//! trait every backend implements (reached through [`EventStore::snapshots`]).
//!
//! Rules every backend keeps (checked by the conformance suite in `livenstore::testing`):
//! - A store keeps one snapshot per `(aggregate type, aggregate id)`: the one of the highest
//!   version saved. Saving one of a lower version keeps the stored one (`save_snapshot` returns
//!   `false`); one of the same or a higher version replaces it ([`Snapshot::replaces`]).
//! - A snapshot comes back exactly as saved: the state's JSON text, the fingerprint, the snapshot
//!   version and the time. The store never interprets the state.
//! - A snapshot is a cache of what the events say: losing one costs a longer load, never a wrong
//!   state. Damage to a stored snapshot is reported as an error of `load_snapshot`, never
//!   returned as a snapshot.
//!
//! [`EventStore::snapshots`]: crate::EventStore::snapshots

use crate::backend::validate_stream_name;
use crate::{Payload, StoreError, Timestamp};

/// An aggregate's state at a version of its stream, with what identifies the code that wrote it.
///
/// The [`Repository`](crate::Repository) writes them for aggregates that ask for snapshots
/// (`#[aggregate(snapshot_every = N)]`) and uses one only when its fingerprint and snapshot
/// version are the code's.
///
/// # Examples
///
/// ```
/// use livenstore::store::{Snapshot, SnapshotStore};
/// use livenstore::{EventStore, InMemoryStore, Payload};
///
/// let store = InMemoryStore::new();
/// let snapshots = store.snapshots().expect("every built-in store keeps snapshots");
/// let state = Payload::from_json(r#"{"balance":120}"#).unwrap();
/// let snapshot = Snapshot::new("account", "42", 100, state)
///     .with_fingerprint(0x1234)
///     .with_snapshot_version(2);
/// assert!(snapshots.save_snapshot(&snapshot).unwrap());
///
/// let loaded = snapshots.load_snapshot("account", "42").unwrap().unwrap();
/// assert_eq!(loaded, snapshot);
/// assert_eq!((loaded.version(), loaded.fingerprint(), loaded.snapshot_version()), (100, 0x1234, 2));
/// assert_eq!(loaded.state().as_str(), r#"{"balance":120}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    aggregate_type: String,
    aggregate_id: String,
    version: u64,
    state: Payload,
    fingerprint: u64,
    snapshot_version: u32,
    taken_at: Timestamp,
}

impl Snapshot {
    /// A snapshot of aggregate `aggregate_id` of type `aggregate_type` at stream version
    /// `version`, with fingerprint 0, snapshot version 1, taken now.
    pub fn new(
        aggregate_type: impl Into<String>,
        aggregate_id: impl Into<String>,
        version: u64,
        state: Payload,
    ) -> Self {
        Snapshot {
            aggregate_type: aggregate_type.into(),
            aggregate_id: aggregate_id.into(),
            version,
            state,
            fingerprint: 0,
            snapshot_version: 1,
            taken_at: Timestamp::now(),
        }
    }

    /// Sets the fingerprint of the state type's shape ([`Shape`](crate::Shape)).
    pub fn with_fingerprint(mut self, fingerprint: u64) -> Self {
        self.fingerprint = fingerprint;
        self
    }

    /// Sets the snapshot version (`#[aggregate(snapshot_version = N)]`).
    pub fn with_snapshot_version(mut self, snapshot_version: u32) -> Self {
        self.snapshot_version = snapshot_version;
        self
    }

    /// Sets when it was taken (stores set it back to what they read).
    pub fn with_taken_at(mut self, taken_at: Timestamp) -> Self {
        self.taken_at = taken_at;
        self
    }

    /// The aggregate's type ([`Aggregate::AGGREGATE_TYPE`](crate::Aggregate::AGGREGATE_TYPE)).
    pub fn aggregate_type(&self) -> &str {
        &self.aggregate_type
    }

    /// The aggregate's id.
    pub fn aggregate_id(&self) -> &str {
        &self.aggregate_id
    }

    /// The stream version the state is at: the events after it are replayed on top.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The state, as JSON.
    pub fn state(&self) -> &Payload {
        &self.state
    }

    /// The fingerprint of the state type's shape when the snapshot was taken.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The snapshot version of the code that took it.
    pub fn snapshot_version(&self) -> u32 {
        self.snapshot_version
    }

    /// When it was taken.
    pub fn taken_at(&self) -> Timestamp {
        self.taken_at
    }

    /// Whether this snapshot may replace a stored one of the same aggregate taken at
    /// `stored_version`: it is of the same or a higher version (the rule every backend keeps).
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore::store::Snapshot;
    /// use livenstore::Payload;
    ///
    /// let at_5 = Snapshot::new("account", "42", 5, Payload::from_json("{}").unwrap());
    /// assert!(at_5.replaces(4) && at_5.replaces(5) && !at_5.replaces(6));
    /// ```
    pub fn replaces(&self, stored_version: u64) -> bool {
        self.version >= stored_version
    }

    /// What [`SnapshotStore::list_snapshots`] says of it.
    pub fn info(&self) -> SnapshotInfo {
        SnapshotInfo {
            aggregate_type: self.aggregate_type.clone(),
            aggregate_id: self.aggregate_id.clone(),
            version: self.version,
            fingerprint: self.fingerprint,
            snapshot_version: self.snapshot_version,
            taken_at: self.taken_at,
            state_bytes: self.state.len() as u64,
        }
    }
}

/// A stored snapshot without its state, as [`SnapshotStore::list_snapshots`] lists them.
///
/// # Examples
///
/// ```
/// use livenstore::store::Snapshot;
/// use livenstore::Payload;
///
/// let snapshot = Snapshot::new("account", "42", 7, Payload::from_json("[1,2]").unwrap());
/// let info = snapshot.info();
/// assert_eq!((info.aggregate_type.as_str(), info.version, info.state_bytes), ("account", 7, 5));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The aggregate's type.
    pub aggregate_type: String,
    /// The aggregate's id.
    pub aggregate_id: String,
    /// The stream version it was taken at.
    pub version: u64,
    /// The fingerprint of the state type's shape.
    pub fingerprint: u64,
    /// The snapshot version of the code that took it.
    pub snapshot_version: u32,
    /// When it was taken.
    pub taken_at: Timestamp,
    /// The size of the state's JSON, in bytes.
    pub state_bytes: u64,
}

/// Where a store keeps snapshots. Every built-in store implements it and returns itself from
/// [`EventStore::snapshots`](crate::EventStore::snapshots).
///
/// # Examples
///
/// ```
/// use livenstore::store::{Snapshot, SnapshotStore};
/// use livenstore::{EventStore, InMemoryStore, Payload};
///
/// let store = InMemoryStore::new();
/// let snapshots = store.snapshots().unwrap();
/// let at = |version, balance: u64| {
///     let state = Payload::from_json(format!(r#"{{"balance":{balance}}}"#)).unwrap();
///     Snapshot::new("account", "42", version, state)
/// };
/// assert!(snapshots.save_snapshot(&at(200, 9)).unwrap());
/// // An older snapshot never replaces a newer one.
/// assert!(!snapshots.save_snapshot(&at(100, 5)).unwrap());
/// assert_eq!(snapshots.load_snapshot("account", "42").unwrap().unwrap().version(), 200);
/// assert!(snapshots.load_snapshot("account", "43").unwrap().is_none());
///
/// assert_eq!(snapshots.list_snapshots(Some("account")).unwrap().len(), 1);
/// assert_eq!(snapshots.delete_snapshots("account").unwrap(), 1);
/// assert!(snapshots.list_snapshots(None).unwrap().is_empty());
/// ```
pub trait SnapshotStore: Send + Sync {
    /// Stores `snapshot`, unless the store holds one of a higher version for the same aggregate.
    /// Returns whether it was stored.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`] for an empty or malformed aggregate type or id (the
    /// rules of a stream name); [`StoreError::Closed`], [`StoreError::ReadOnly`], and the I/O
    /// or backend errors of persistent stores.
    fn save_snapshot(&self, snapshot: &Snapshot) -> Result<bool, StoreError>;

    /// The stored snapshot of aggregate `aggregate_id` of type `aggregate_type`, if any.
    ///
    /// # Errors
    ///
    /// As [`save_snapshot`](Self::save_snapshot); [`StoreError::Corrupted`] when the stored
    /// snapshot is damaged.
    fn load_snapshot(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Option<Snapshot>, StoreError>;

    /// Every stored snapshot (of `aggregate_type` only, when given), without states, sorted by
    /// type and id.
    ///
    /// # Errors
    ///
    /// As [`load_snapshot`](Self::load_snapshot).
    fn list_snapshots(&self, aggregate_type: Option<&str>)
        -> Result<Vec<SnapshotInfo>, StoreError>;

    /// Deletes every snapshot of `aggregate_type`; returns how many there were.
    ///
    /// # Errors
    ///
    /// As [`save_snapshot`](Self::save_snapshot).
    fn delete_snapshots(&self, aggregate_type: &str) -> Result<u64, StoreError>;
}

/// Checks the key of a snapshot: an aggregate type and id that each follow the rules of a stream
/// name (non-empty, at most 256 bytes, no path separator or control character, not `.` or
/// `..`). For backends.
///
/// # Errors
///
/// [`StoreError::InvalidArgument`] naming the part that is wrong.
///
/// # Examples
///
/// ```
/// use livenstore::store::validate_snapshot_key;
///
/// assert!(validate_snapshot_key("account", "42").is_ok());
/// assert!(validate_snapshot_key("", "42").is_err());
/// assert!(validate_snapshot_key("account", "a/b").is_err());
/// ```
pub fn validate_snapshot_key(aggregate_type: &str, aggregate_id: &str) -> Result<(), StoreError> {
    for (what, value) in [
        ("aggregate type", aggregate_type),
        ("aggregate id", aggregate_id),
    ] {
        if let Err(error) = validate_stream_name(value) {
            let reason = match error {
                StoreError::InvalidStreamName { reason, .. } => reason,
                _ => "it is not a valid name",
            };
            return Err(StoreError::InvalidArgument(format!(
                "snapshot {what} {:?}: {reason}",
                value.chars().take(100).collect::<String>()
            )));
        }
    }
    Ok(())
}
