//! [`Repository`]: loads aggregates by replaying their stream (after a snapshot, or a cached
//! state, when there is one) and saves their unsaved events with optimistic concurrency.
//!
//! Invariants:
//! - `save` appends with `ExpectedVersion::Exact(saved version)`, so of two writers that loaded
//!   the same version only one can save; the other gets [`StoreError::Conflict`] and its
//!   aggregate keeps its unsaved events.
//! - A load starts from the cached state, else from a usable snapshot (`snapshotting.rs`), else
//!   from nothing, and always reads the stream's events after that point: a state is never
//!   older than what the store held when the load began.

use std::sync::{Arc, Mutex, PoisonError};

use super::snapshotting::{self, SnapshotHook, SnapshotNotice, SnapshotProblem};
use super::state_cache::StateCache;
use crate::{
    stream_name, Aggregate, AggregateEvent, AggregateRoot, AppendResult, EnvelopeError, EventStore,
    ExpectedVersion, Metadata, Payload, ReplayError, StoreError,
};

/// How many events [`Repository::load`] reads from the store per call.
const LOAD_PAGE: usize = 4096;

/// Errors of [`Repository`] operations. `E` is the aggregate's handler error.
///
/// # Examples
///
/// ```
/// use livenstore::{Aggregate, DomainError, DomainEvent, InMemoryStore, Repository};
/// use livenstore::RepositoryError;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
/// struct Deposited { amount: u64 }
///
/// #[derive(Debug, Default, Aggregate)]
/// #[aggregate(events(Deposited))]
/// struct Account { balance: u64 }
///
/// impl Account {
///     fn on_deposited(&mut self, e: &Deposited) -> Result<(), DomainError> {
///         self.balance += e.amount;
///         Ok(())
///     }
/// }
///
/// let repo = Repository::new(InMemoryStore::new());
/// let missing = repo.load::<Account>("acc-1");
/// assert!(matches!(
///     missing,
///     Err(RepositoryError::NotFound { stream }) if stream == "Account-acc-1"
/// ));
///
/// let mut account = repo.create::<Account>("acc-1").unwrap();
/// account.apply(Deposited { amount: 10 }).unwrap();
/// repo.save(&mut account).unwrap();
///
/// // Two writers load version 1; the second to save loses.
/// let mut first = repo.load::<Account>("acc-1").unwrap();
/// let mut second = repo.load::<Account>("acc-1").unwrap();
/// first.apply(Deposited { amount: 1 }).unwrap();
/// second.apply(Deposited { amount: 2 }).unwrap();
/// repo.save(&mut first).unwrap();
/// let error = repo.save(&mut second).unwrap_err();
/// assert!(error.is_conflict());
/// assert!(second.has_unsaved(), "the loser keeps its events, to retry after a fresh load");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepositoryError<E: std::error::Error + 'static> {
    /// The store failed; a version conflict is `Store(StoreError::Conflict { .. })`.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored event could not be replayed into the aggregate.
    #[error(
        "replaying stream `{stream}` failed at event {} (`{}`)",
        source.event_id(),
        source.event_type()
    )]
    Replay {
        /// The aggregate's stream.
        stream: String,
        /// What went wrong.
        source: ReplayError<E>,
    },
    /// An unsaved event could not be serialized.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// [`Repository::load`] found no stream for the aggregate.
    #[error("aggregate stream `{stream}` does not exist")]
    NotFound {
        /// The stream looked for.
        stream: String,
    },
    /// [`Repository::create`] found the aggregate's stream already there.
    #[error("aggregate stream `{stream}` already exists")]
    AlreadyExists {
        /// The stream.
        stream: String,
    },
    /// The function given to [`Repository::transact`] returned the aggregate's own error.
    #[error(transparent)]
    Handler(E),
    /// The aggregate's stream lacks a version: its record was lost (a JSON store's `repair`
    /// moved it to a quarantine file and left a hole), so replaying the others would build a
    /// state that never was.
    #[error(
        "stream `{stream}` lacks version {missing}: the record was lost, so the aggregate \
         cannot be rebuilt (see the store's holes and quarantine files)"
    )]
    MissingVersion {
        /// The aggregate's stream.
        stream: String,
        /// The first version missing.
        missing: u64,
    },
}

impl<E: std::error::Error + 'static> RepositoryError<E> {
    /// Whether this is a version conflict (another writer saved first).
    pub fn is_conflict(&self) -> bool {
        matches!(self, RepositoryError::Store(StoreError::Conflict { .. }))
    }
}

/// Loads and saves aggregates of any type through one store.
///
/// An aggregate `A` with id `id` lives in the stream `<A::AGGREGATE_TYPE>-<id>` (see
/// [`stream_name`]).
///
/// # Examples
///
/// ```
/// use livenstore::{Aggregate, DomainError, DomainEvent, InMemoryStore, Repository};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
/// struct Deposited { amount: u64 }
///
/// #[derive(Debug, Default, Aggregate)]
/// #[aggregate(events(Deposited))]
/// struct Account { balance: u64 }
///
/// impl Account {
///     fn on_deposited(&mut self, e: &Deposited) -> Result<(), DomainError> {
///         self.balance += e.amount;
///         Ok(())
///     }
/// }
///
/// let repo = Repository::new(InMemoryStore::new());
/// let mut account = repo.create::<Account>("acc-1").unwrap();
/// account.apply(Deposited { amount: 10 }).unwrap();
/// repo.save(&mut account).unwrap();
///
/// repo.transact::<Account, _, _>("acc-1", |acc| acc.apply(Deposited { amount: 5 })).unwrap();
/// let loaded = repo.load::<Account>("acc-1").unwrap();
/// assert_eq!((loaded.balance, loaded.version()), (15, 2));
/// ```
pub struct Repository<S> {
    store: S,
    pub(super) max_attempts: u32,
    pub(super) conflict_backoff: Option<crate::pubsub::RetryPolicy>,
    cache: Option<Mutex<StateCache>>,
    on_snapshot_problem: Arc<SnapshotHook>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Repository<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository")
            .field("store", &self.store)
            .field("max_attempts", &self.max_attempts)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

/// What a [`Repository`]'s cache holds and how it served loads
/// ([`Repository::cache_stats`]).
///
/// # Examples
///
/// ```
/// use livenstore::{CacheStats, InMemoryStore, Repository};
///
/// let repo = Repository::new(InMemoryStore::new()).with_cache(100);
/// assert_eq!(repo.cache_stats(), Some(CacheStats { entries: 0, hits: 0, misses: 0 }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// States held.
    pub entries: usize,
    /// Loads that started from a cached state.
    pub hits: u64,
    /// Loads that found none.
    pub misses: u64,
}

impl<S: EventStore> Repository<S> {
    /// A repository over `store`; [`transact`](Self::transact) tries up to 5 times. No cache;
    /// snapshot problems are reported on standard error (see
    /// [`on_snapshot_problem`](Self::on_snapshot_problem)).
    pub fn new(store: S) -> Self {
        Repository {
            store,
            max_attempts: 5,
            conflict_backoff: None,
            cache: None,
            on_snapshot_problem: Arc::new(snapshotting::warn),
        }
    }

    /// Keeps the states of the `capacity` most recently loaded or saved aggregates (least
    /// recently used out first), so a load replays only the events appended since: one short
    /// read, and never an event missed, whoever appended it.
    ///
    /// A state is cached as a clone when its type is `Clone + Send + Sync` (the derive sees
    /// it), else through its snapshot encoding when the aggregate takes snapshots, else not at
    /// all. A save that loses a version conflict drops the aggregate's entry. 0 turns the cache
    /// off.
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore::{Aggregate, DomainError, DomainEvent, InMemoryStore, Repository};
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
    /// struct Deposited { amount: u64 }
    ///
    /// #[derive(Debug, Clone, Default, Aggregate)]
    /// #[aggregate(events(Deposited))]
    /// struct Account { balance: u64 }
    ///
    /// impl Account {
    ///     fn on_deposited(&mut self, e: &Deposited) -> Result<(), DomainError> {
    ///         self.balance += e.amount;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let repo = Repository::new(InMemoryStore::new()).with_cache(1_000);
    /// for amount in 1..=3 {
    ///     repo.transact::<Account, _, _>("acc-1", |acc| acc.apply(Deposited { amount })).unwrap();
    /// }
    /// assert_eq!(repo.load::<Account>("acc-1").unwrap().balance, 6);
    /// assert_eq!(repo.cache_stats().unwrap().hits, 3, "every load after the first");
    /// ```
    pub fn with_cache(mut self, capacity: usize) -> Self {
        self.cache = (capacity > 0).then(|| Mutex::new(StateCache::new(capacity)));
        self
    }

    /// What the cache holds and how it served loads; `None` without a cache.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.cache.as_ref().map(|cache| {
            let (entries, hits, misses) = lock(cache).stats();
            CacheStats {
                entries,
                hits,
                misses,
            }
        })
    }

    /// Sends what goes wrong with snapshots to `hook` instead of standard error: a stored
    /// snapshot that cannot be used (unreadable, taken by other code, undecodable, ahead of its
    /// stream; the load replays the whole stream instead) or a new one that cannot be written
    /// (the save succeeded without it).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use livenstore::{InMemoryStore, Repository, SnapshotNotice};
    ///
    /// let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    /// let log = Arc::clone(&seen);
    /// let repo = Repository::new(InMemoryStore::new())
    ///     .on_snapshot_problem(move |notice: &SnapshotNotice| {
    ///         log.lock().unwrap().push(notice.to_string());
    ///     });
    /// # drop(repo);
    /// ```
    pub fn on_snapshot_problem(
        mut self,
        hook: impl Fn(&SnapshotNotice) + Send + Sync + 'static,
    ) -> Self {
        self.on_snapshot_problem = Arc::new(hook);
        self
    }

    /// Reports a snapshot problem of aggregate `id` of `A`.
    fn report<A: Aggregate>(&self, id: &str, problem: SnapshotProblem) {
        (self.on_snapshot_problem)(&SnapshotNotice {
            aggregate_type: A::AGGREGATE_TYPE,
            aggregate_id: id.to_owned(),
            problem,
        });
    }

    /// Sets how many times [`transact`](Self::transact) runs before giving up on conflicts (at
    /// least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Takes the store back.
    pub fn into_store(self) -> S {
        self.store
    }

    /// Loads aggregate `id` by replaying its stream.
    ///
    /// # Errors
    ///
    /// [`RepositoryError::NotFound`] when the stream does not exist; [`RepositoryError::Replay`]
    /// when an event does not decode or its handler fails; store errors.
    pub fn load<A: Aggregate>(
        &self,
        id: &str,
    ) -> Result<AggregateRoot<A>, RepositoryError<A::Error>> {
        let root = self.load_or_new::<A>(id)?;
        if root.version() == 0 {
            return Err(RepositoryError::NotFound {
                stream: stream_name::<A>(id),
            });
        }
        Ok(root)
    }

    /// A new aggregate `id`, checked not to exist in the store yet. Save it to persist its
    /// events.
    ///
    /// # Errors
    ///
    /// [`RepositoryError::AlreadyExists`] when the stream exists; store errors.
    pub fn create<A: Aggregate>(
        &self,
        id: &str,
    ) -> Result<AggregateRoot<A>, RepositoryError<A::Error>> {
        let stream = stream_name::<A>(id);
        if self.store.stream_version(&stream)? > 0 {
            return Err(RepositoryError::AlreadyExists { stream });
        }
        Ok(AggregateRoot::new(id))
    }

    /// Loads aggregate `id`, or a new one (version 0) when its stream does not exist.
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load), except that a missing stream is not an error.
    pub fn get_or_create<A: Aggregate>(
        &self,
        id: &str,
    ) -> Result<AggregateRoot<A>, RepositoryError<A::Error>> {
        self.load_or_new(id)
    }

    fn load_or_new<A: Aggregate>(
        &self,
        id: &str,
    ) -> Result<AggregateRoot<A>, RepositoryError<A::Error>> {
        let stream = stream_name::<A>(id);
        let cached = self
            .cache
            .as_ref()
            .and_then(|cache| lock(cache).get::<A>(id));
        let root = match cached {
            Some(mut root) => {
                let cached_version = root.version();
                self.replay_from(&stream, &mut root, cached_version + 1, None)?;
                // The hit already moved the entry to the back of the use order: it is stored
                // again only when the stream had moved on.
                if root.version() == cached_version {
                    return Ok(root);
                }
                root
            }
            None => match self.load_from_snapshot::<A>(id, &stream)? {
                Some(root) => root,
                None => {
                    let mut root = AggregateRoot::new(id);
                    self.replay_from(&stream, &mut root, 1, None)?;
                    root
                }
            },
        };
        self.cache_put(&root);
        Ok(root)
    }

    /// The aggregate from its snapshot and the events after it, when there is a snapshot this
    /// code can use and the stream holds its version; `None` otherwise (what was wrong with a
    /// snapshot is reported).
    fn load_from_snapshot<A: Aggregate>(
        &self,
        id: &str,
        stream: &str,
    ) -> Result<Option<AggregateRoot<A>>, RepositoryError<A::Error>> {
        if snapshotting::snapshots_for::<A, S>(&self.store).is_none() {
            return Ok(None);
        }
        let (snapshot, tail) =
            match self
                .store
                .snapshot_and_tail(A::AGGREGATE_TYPE, id, stream, LOAD_PAGE)
            {
                Ok(Some(found)) => found,
                Ok(None) => return Ok(None),
                Err(error) => {
                    self.report::<A>(id, SnapshotProblem::Unreadable(error));
                    return Ok(None);
                }
            };
        // The event at the snapshot's version must be there: a snapshot ahead of its stream
        // (a store restored from an older copy, a stream that was rebuilt) is not used.
        if tail.first().map(|e| e.stream_version()) != Some(snapshot.version()) {
            let stream = self.store.stream_version(stream)?;
            let snapshot = snapshot.version();
            self.report::<A>(id, SnapshotProblem::AheadOfStream { snapshot, stream });
            return Ok(None);
        }
        let mut root = match snapshotting::usable::<A>(&snapshot, id) {
            Ok(root) => root,
            Err(problem) => {
                self.report::<A>(id, problem);
                return Ok(None);
            }
        };
        let from = root.version() + 1;
        self.replay_from(stream, &mut root, from, Some((&tail[1..], tail.len())))?;
        Ok(Some(root))
    }

    /// Replays the stream's events from version `from` (the one after `root`'s) to its end,
    /// starting with `first`, a page already read (the events from `from`, and how many the
    /// read returned), when there is one.
    fn replay_from<A: Aggregate>(
        &self,
        stream: &str,
        root: &mut AggregateRoot<A>,
        mut from: u64,
        mut first: Option<(&[crate::RecordedEvent], usize)>,
    ) -> Result<(), RepositoryError<A::Error>> {
        loop {
            let read;
            let (page, returned) = match first.take() {
                Some(page) => page,
                None => {
                    read = self.store.read_stream(stream, from, LOAD_PAGE)?;
                    (&read[..], read.len())
                }
            };
            let gap = page
                .iter()
                .zip(from..)
                .find(|(event, want)| event.stream_version() != *want);
            if let Some((_, missing)) = gap {
                let stream = stream.to_owned();
                return Err(RepositoryError::MissingVersion { stream, missing });
            }
            root.replay_all(page)
                .map_err(|source| RepositoryError::Replay {
                    stream: stream.to_owned(),
                    source,
                })?;
            if returned < LOAD_PAGE {
                // A lost last version leaves no event after it to show the gap.
                if self.store.has_gaps(stream)?
                    && self.store.stream_version(stream)? > root.version()
                {
                    let missing = root.version() + 1;
                    let stream = stream.to_owned();
                    return Err(RepositoryError::MissingVersion { stream, missing });
                }
                return Ok(());
            }
            from = root.version() + 1;
        }
    }

    /// Caches a copy of `root`'s state, when there is a cache.
    fn cache_put<A: Aggregate>(&self, root: &AggregateRoot<A>) {
        if let Some(cache) = &self.cache {
            lock(cache).put(root);
        }
    }

    /// Appends the aggregate's unsaved events, expecting its stream at the version it was loaded
    /// at; on success the unsaved list is emptied. Returns `None` when there was nothing to save.
    ///
    /// # Errors
    ///
    /// `Store(StoreError::Conflict { .. })` when another writer saved first (the aggregate keeps
    /// its unsaved events); other store or serialization errors.
    pub fn save<A: Aggregate>(
        &self,
        root: &mut AggregateRoot<A>,
    ) -> Result<Option<AppendResult>, RepositoryError<A::Error>> {
        self.save_with_metadata(root, &Metadata::new())
    }

    /// Like [`save`](Self::save), adding `metadata` (correlation id, user, ...) to every event.
    ///
    /// # Errors
    ///
    /// As [`save`](Self::save).
    pub fn save_with_metadata<A: Aggregate>(
        &self,
        root: &mut AggregateRoot<A>,
        metadata: &Metadata,
    ) -> Result<Option<AppendResult>, RepositoryError<A::Error>> {
        if !root.has_unsaved() {
            return Ok(None);
        }
        let expected = ExpectedVersion::Exact(root.saved_version());
        // The events move into their envelopes, which keep the typed values (so an in-memory store
        // replays them without decoding). What a failed save must put back is kept as (type, JSON)
        // pairs: a pointer copy and a shared payload per event.
        let unsaved = root.collect_unsaved();
        let mut events = Vec::with_capacity(unsaved.len());
        let mut sent: Vec<(&'static str, u32, Payload)> = Vec::with_capacity(unsaved.len());
        let mut pending = unsaved.into_iter();
        while let Some(event) = pending.next() {
            let event_type = event.event_type();
            match event.try_into_new_event() {
                Ok(mut new_event) => {
                    let version = new_event.event_version();
                    sent.push((event_type, version, new_event.payload().clone()));
                    if !metadata.is_empty() {
                        new_event = new_event.with_metadata(metadata.clone());
                    }
                    events.push(new_event);
                }
                Err((event, err)) => {
                    let mut back = decode_sent::<A>(&sent);
                    back.push(event);
                    back.extend(pending);
                    root.restore_unsaved(back);
                    return Err(err.into());
                }
            }
        }
        match self.store.append(&root.stream_name(), expected, events) {
            Ok(result) => {
                if let Some(snapshots) = snapshotting::snapshots_for::<A, S>(&self.store) {
                    let id = root.id().to_owned();
                    snapshotting::take_if_due(snapshots, root, &mut |p| self.report::<A>(&id, p));
                }
                self.cache_put(root);
                Ok(Some(result))
            }
            Err(err) => {
                let conflict = matches!(err, StoreError::Conflict { .. });
                if let (true, Some(cache)) = (conflict, &self.cache) {
                    lock(cache).evict::<A>(root.id());
                }
                root.restore_unsaved(decode_sent::<A>(&sent));
                Err(err.into())
            }
        }
    }
}

/// The cache, locked. (No code panics while holding it with an entry half-changed, so a
/// poisoned lock still guards consistent data.)
fn lock(cache: &Mutex<StateCache>) -> std::sync::MutexGuard<'_, StateCache> {
    cache.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The events of a failed save, decoded back from the JSON they were written as: the serde round
/// trip that [`Repository::load`] relies on. An event whose JSON does not decode back (a serde impl
/// that does not round-trip, which `load` could not replay either) is dropped from the list.
fn decode_sent<A: Aggregate>(sent: &[(&'static str, u32, Payload)]) -> Vec<A::Event> {
    sent.iter()
        .filter_map(|(event_type, version, payload)| {
            A::Event::decode(event_type, *version, payload.as_bytes()).ok()
        })
        .collect()
}
