//! [`Repository`]: loads aggregates by replaying their stream and saves their unsaved events with
//! optimistic concurrency.
//!
//! Invariant: `save` appends with `ExpectedVersion::Exact(saved version)`, so of two writers that
//! loaded the same version only one can save; the other gets [`StoreError::Conflict`] and its
//! aggregate keeps its unsaved events.

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
#[derive(Debug)]
pub struct Repository<S> {
    store: S,
    max_attempts: u32,
}

impl<S: EventStore> Repository<S> {
    /// A repository over `store`; [`transact`](Self::transact) tries up to 5 times.
    pub fn new(store: S) -> Self {
        Repository {
            store,
            max_attempts: 5,
        }
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
        let mut root = AggregateRoot::<A>::new(id);
        loop {
            let page = self
                .store
                .read_stream(&stream, root.version() + 1, LOAD_PAGE)?;
            let expected = root.version() + 1;
            let gap = page
                .iter()
                .zip(expected..)
                .find(|(event, want)| event.stream_version() != *want);
            if let Some((_, missing)) = gap {
                return Err(RepositoryError::MissingVersion { stream, missing });
            }
            root.replay_all(&page)
                .map_err(|source| RepositoryError::Replay {
                    stream: stream.clone(),
                    source,
                })?;
            if page.len() < LOAD_PAGE {
                // A lost last version leaves no event after it to show the gap.
                if self.store.has_gaps(&stream)?
                    && self.store.stream_version(&stream)? > root.version()
                {
                    let missing = root.version() + 1;
                    return Err(RepositoryError::MissingVersion { stream, missing });
                }
                return Ok(root);
            }
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
            Ok(result) => Ok(Some(result)),
            Err(err) => {
                root.restore_unsaved(decode_sent::<A>(&sent));
                Err(err.into())
            }
        }
    }

    /// Loads aggregate `id` (new when absent), runs `f` on it and saves; on a version conflict,
    /// starts over from a fresh load, at most the configured number of attempts. Returns what `f`
    /// returned.
    ///
    /// `f` may run more than once, so it should only apply events to the aggregate.
    ///
    /// # Errors
    ///
    /// [`RepositoryError::Handler`] with `f`'s error (nothing saved); the last conflict when every
    /// attempt lost; other load or save errors.
    pub fn transact<A, T, F>(&self, id: &str, mut f: F) -> Result<T, RepositoryError<A::Error>>
    where
        A: Aggregate,
        F: FnMut(&mut AggregateRoot<A>) -> Result<T, A::Error>,
    {
        let mut attempt = 1;
        loop {
            let mut root = self.get_or_create::<A>(id)?;
            let value = f(&mut root).map_err(RepositoryError::Handler)?;
            match self.save(&mut root) {
                Ok(_) => return Ok(value),
                Err(err) if err.is_conflict() && attempt < self.max_attempts => attempt += 1,
                Err(err) => return Err(err),
            }
        }
    }
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
