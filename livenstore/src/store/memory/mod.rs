//! [`InMemoryStore`]: an [`EventStore`] that holds everything in memory.
//!
//! Layout (one `RwLock` over one `State`):
//! - each stream holds its events inline, in chunks of up to 256 entries of 48 bytes (`chunk.rs`,
//!   `stream.rs`); an event read from the store is a handle to its chunk and slot, so reading a
//!   stream clones one `Arc` per event and replaying it walks memory in order; the chunk a stream
//!   appends to is its own, not yet in an `Arc`, until a reader asks for one of its events
//!   (`tail.rs`), so an append takes no atomic operation but the lock's;
//! - a global log (`log.rs`) names each position's stream and version in 8 bytes;
//! - streams are found by name through an open-addressing table of 8-byte slots
//!   (`stream_table.rs`) hashed from a two-word key of the name (`name_key.rs`), which a stream
//!   keeps on the cache line an append reads and writes, so a short name is compared without
//!   reading its allocation;
//!   event types are numbered once per store (`event_types.rs`), so an event keeps a 4-byte
//!   number, names already seen are not validated again, and each type lists its positions in 4
//!   bytes each (`position_list.rs`);
//! - an id index (`id_index.rs`) indexes the store's own monotonic ids with one `Vec::push`, and
//!   caller ids that arrive out of order in a small map;
//! - a correlation index (`store/correlation_index.rs`, shared with the JSON store) lists the
//!   positions of each correlation id's events, for [`EventStore::read_correlated`]; an event
//!   without metadata costs it one branch, and retention removes what it removes from it too.
//!
//! Invariants (besides those of [`EventStore`]):
//! - An append is O(1) per event and allocates nothing per event but the growth of its stream's
//!   chunk and of the indexes (amortized), plus a new chunk every 256 events.
//! - Reads hand out handles to immutable data: a chunk changes only while no handle to it
//!   exists, and only by gaining entries at its end.
//! - After [`close`](InMemoryStore::close) every call fails with [`StoreError::Closed`], and the
//!   memory is released (handles already given out keep their own chunks alive).
//!
//! Time: `recorded_at` (and `linked_at`) comes from a coarse reading of the system clock
//! (`clock.rs`): a system clock reading taken by the store, or by anyone in the process calling
//! [`Timestamp::now`], at most one tick (1 ms) before the append, or a little more while the
//! operating system delays the `livenstore-clock` ticker thread; the store reads the clock itself
//! at least every 64 appends. It is never earlier than a [`Timestamp::now`] that happened before
//! the append, and never decreases along positions. Reading the clock on every append would cost
//! about as much as the rest of the append.
//!
//! Retention: when [`Config::retention`] is set, a background thread (named
//! `livenstore-retention`) wakes every [`Config::cleanup_interval`] and removes the events recorded,
//! and the links made, longer ago than the retention. It holds only a `Weak` reference to the store
//! and stops when the store is closed or dropped. Removed events disappear from every read
//! (`read`, `read_stream`, `read_all`, `read_by_type`, `read_time_range`); the versions and
//! positions of the remaining events do not change, new events continue after the last version
//! and position ever given, and a stream emptied by retention still exists (its
//! [`StreamInfo::event_count`] is 0 and its `first_version` is `last_version + 1`). A link lives by
//! the time it was made: it keeps showing its event in the linking stream until the link itself
//! expires, even after the event left its own stream. Between two cleanups, expired events are
//! still readable; [`InMemoryStore::purge_expired`] runs a cleanup at once. The memory of removed
//! events is released chunk by chunk, once no reader holds an event of the chunk.

pub(crate) mod chunk;
mod config;
mod hash;
mod id_generator;
mod id_index;
mod log;
mod name_key;
mod position_list;
mod snapshot_table;
mod state;
mod stats;
mod stream;
mod stream_table;
mod tail;
mod type_index;

pub use config::Config;
pub use stats::Stats;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::Duration;

use self::snapshot_table::SnapshotTable;
use self::state::{NewRecord, State};
use crate::store::{
    validate_snapshot_key, AppendResult, EventStore, ExpectedVersion, Snapshot, SnapshotInfo,
    SnapshotStore, StoreError, StreamInfo,
};
use crate::{EventId, NewEvent, RecordedEvent, Timestamp};

#[derive(Debug)]
struct Inner {
    state: RwLock<State>,
    config: Config,
    read: AtomicU64,
    /// Dropping the sender stops the cleanup thread.
    stop_cleanup: Mutex<Option<Sender<()>>>,
    /// The latest snapshot of each aggregate.
    snapshots: SnapshotTable,
}

impl Inner {
    fn state(&self) -> RwLockReadGuard<'_, State> {
        // No code panics while holding the lock with the state half-changed, so a poisoned lock
        // still guards consistent data.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn state_mut(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn purge_expired(&self) -> Result<u64, StoreError> {
        let mut state = self.state_mut();
        state.check_open()?;
        Ok(match self.config.retention {
            Some(max_age) => state.expire(Timestamp::now().saturating_sub(max_age)),
            None => 0,
        })
    }

    fn count_read(&self, events: &[RecordedEvent]) {
        self.read.fetch_add(events.len() as u64, Ordering::Relaxed);
    }
}

/// An [`EventStore`] in memory: fast, shared between threads, gone when dropped.
///
/// Appends take one write lock and cost O(1) per event; reads take a read lock and return handles
/// to the stored, immutable events. Events appended with [`NewEvent::from_domain_owned`] keep
/// their typed value, so replaying them into an aggregate skips JSON decoding. `recorded_at` is
/// exact to about a millisecond (see the [module documentation](self) for the guarantee, the
/// layout and retention). [`EventStore::append_one`] appends one event without the `Vec`.
///
/// # Examples
///
/// ```
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
///
/// let store = InMemoryStore::new();
/// let event = NewEvent::from_json("Deposited", r#"{"amount":5}"#).unwrap();
/// store.append("account-1", ExpectedVersion::NoStream, vec![event]).unwrap();
/// assert_eq!(store.read_stream("account-1", 1, usize::MAX).unwrap().len(), 1);
/// assert_eq!(store.stats().events, 1);
/// ```
#[derive(Debug)]
pub struct InMemoryStore {
    inner: Arc<Inner>,
}

impl Default for InMemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryStore {
    /// An empty store without limits or retention.
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    /// An empty store with `config`. When `config.retention` is set, starts the cleanup thread.
    pub fn with_config(config: Config) -> Self {
        let retention = config.retention.is_some();
        let interval = config.cleanup_interval.max(Duration::from_millis(1));
        let inner = Arc::new(Inner {
            state: RwLock::new(State::new()),
            config,
            read: AtomicU64::new(0),
            stop_cleanup: Mutex::new(None),
            snapshots: SnapshotTable::default(),
        });
        if retention {
            let (sender, receiver) = mpsc::channel::<()>();
            let weak: Weak<Inner> = Arc::downgrade(&inner);
            let spawned = std::thread::Builder::new()
                .name("livenstore-retention".into())
                .spawn(move || loop {
                    match receiver.recv_timeout(interval) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                    let Some(inner) = weak.upgrade() else { return };
                    if inner.purge_expired().is_err() {
                        return;
                    }
                });
            // Without a thread (the OS refused one), `purge_expired` still works when called.
            if spawned.is_ok() {
                *inner
                    .stop_cleanup
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(sender);
            }
        }
        InMemoryStore { inner }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The store's counters and memory estimate.
    pub fn stats(&self) -> Stats {
        let state = self.inner.state();
        let (events, streams, memory_bytes) = state.sizes();
        Stats {
            events,
            streams,
            appended: state.appended,
            linked: state.linked,
            read: self.inner.read.load(Ordering::Relaxed),
            expired: state.expired,
            memory_bytes,
        }
    }

    /// Removes now what retention would remove at the next cleanup; returns how many events went
    /// (0 without retention).
    ///
    /// # Errors
    ///
    /// [`StoreError::Closed`].
    pub fn purge_expired(&self) -> Result<u64, StoreError> {
        self.inner.purge_expired()
    }

    /// Closes the store: drops every event, stops the cleanup thread, and makes every later call
    /// fail with [`StoreError::Closed`]. Closing twice is harmless.
    pub fn close(&self) {
        self.inner.state_mut().close();
        self.inner.snapshots.clear();
        self.inner
            .stop_cleanup
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.state().closed
    }
}

impl EventStore for InMemoryStore {
    fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        mut events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        // One event without an id: the same checks and storing as `append_one`'s.
        if events.len() == 1 && events.first().is_some_and(|e| e.id().is_none()) {
            if let Some(event) = events.pop() {
                return self.append_one(stream, expected, event);
            }
        }
        self.inner
            .state_mut()
            .append(stream, expected, events, &self.inner.config)
    }

    fn append_one(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        event: NewEvent,
    ) -> Result<AppendResult, StoreError> {
        // Taken apart before the lock, into what is stored: moved whole, the event was copied
        // through the stack with wider loads than the caller's stores (a forwarding stall).
        let event_version = event.event_version();
        match event.into_parts_without_id() {
            Ok((event_type, payload, payload_len, metadata)) => {
                self.inner.state_mut().append_new_event(
                    stream,
                    expected,
                    &event_type,
                    NewRecord {
                        payload,
                        payload_len,
                        metadata,
                        event_version,
                    },
                    &self.inner.config,
                )
            }
            // A caller's id: the idempotency rule of `append` decides.
            Err(event) => self.append(stream, expected, vec![event]),
        }
    }

    fn read(&self, id: EventId) -> Result<RecordedEvent, StoreError> {
        let event = self.inner.state().read(id)?;
        self.inner.read.fetch_add(1, Ordering::Relaxed);
        Ok(event)
    }

    fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = self
            .inner
            .state()
            .read_stream(stream, from_version, max_count)?;
        self.inner.count_read(&events);
        Ok(events)
    }

    fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = self.inner.state().read_all(from_position, max_count)?;
        self.inner.count_read(&events);
        Ok(events)
    }

    fn read_by_type(
        &self,
        event_type: &str,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = self
            .inner
            .state()
            .read_by_type(event_type, from_position, max_count)?;
        self.inner.count_read(&events);
        Ok(events)
    }

    fn read_time_range(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = self.inner.state().read_time_range(from, to)?;
        self.inner.count_read(&events);
        Ok(events)
    }

    fn stream_info(&self, stream: &str) -> Result<Option<StreamInfo>, StoreError> {
        self.inner.state().stream_info(stream)
    }

    fn streams(&self) -> Result<Vec<StreamInfo>, StoreError> {
        self.inner.state().streams()
    }

    fn link_to_stream(&self, id: EventId, stream: &str) -> Result<u64, StoreError> {
        self.inner
            .state_mut()
            .link_to_stream(id, stream, &self.inner.config)
    }

    fn read_correlated(&self, correlation_id: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        crate::backend::validate_correlation_id(correlation_id)?;
        let events = self.inner.state().read_correlated(correlation_id)?;
        self.inner.count_read(&events);
        Ok(events)
    }

    fn last_position(&self) -> Result<u64, StoreError> {
        self.inner.state().last_position()
    }

    /// `false`: a call takes a lock for the length of an in-memory update, never I/O.
    fn blocks(&self) -> bool {
        false
    }

    fn snapshots(&self) -> Option<&dyn SnapshotStore> {
        Some(self)
    }
}

/// Snapshots live in their own table (`snapshot_table.rs`); a closed store refuses them.
impl SnapshotStore for InMemoryStore {
    fn save_snapshot(&self, snapshot: &Snapshot) -> Result<bool, StoreError> {
        self.inner.state().check_open()?;
        validate_snapshot_key(snapshot.aggregate_type(), snapshot.aggregate_id())?;
        Ok(self.inner.snapshots.save(snapshot))
    }

    fn load_snapshot(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Option<Snapshot>, StoreError> {
        self.inner.state().check_open()?;
        validate_snapshot_key(aggregate_type, aggregate_id)?;
        Ok(self.inner.snapshots.load(aggregate_type, aggregate_id))
    }

    fn list_snapshots(
        &self,
        aggregate_type: Option<&str>,
    ) -> Result<Vec<SnapshotInfo>, StoreError> {
        self.inner.state().check_open()?;
        Ok(self.inner.snapshots.list(aggregate_type))
    }

    fn delete_snapshots(&self, aggregate_type: &str) -> Result<u64, StoreError> {
        self.inner.state().check_open()?;
        Ok(self.inner.snapshots.delete(aggregate_type))
    }
}
