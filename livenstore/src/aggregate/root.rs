//! [`AggregateRoot`]: an aggregate's state, id, version and the events applied but not yet saved.
//!
//! Invariants:
//! - `apply` runs the handler, then tracks the event as unsaved and bumps the version only if the
//!   handler succeeded; a failed apply changes neither.
//! - `replay` runs the handler and bumps the version, never tracking.
//! - `collect_unsaved` returns every tracked event in apply order and empties the list.

use std::borrow::Borrow;
use std::ops::Deref;

use crate::{Aggregate, AggregateEvent, EventDecodeError, EventId, RecordedEvent, UpcastError};

/// Errors replaying stored events into an aggregate.
///
/// # Examples
///
/// ```
/// use livenstore::{Aggregate, AggregateRoot, DomainError, DomainEvent, ReplayError};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
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
/// let store = InMemoryStore::new();
/// let events = vec![
///     NewEvent::from_json("Deposited", r#"{"amount":5}"#).unwrap(),
///     NewEvent::from_json("Frozen", "{}").unwrap(),
/// ];
/// store.append("Account-1", ExpectedVersion::NoStream, events).unwrap();
/// let stored = store.read_stream("Account-1", 1, usize::MAX).unwrap();
///
/// let mut account = AggregateRoot::<Account>::new("1");
/// let error = account.replay_all(&stored).unwrap_err();
/// assert!(matches!(error, ReplayError::UnknownEventType { aggregate: "Account", .. }));
/// assert_eq!((error.event_id(), error.event_type()), (stored[1].id(), "Frozen"));
/// assert_eq!((account.balance, account.version()), (5, 1), "the events before it stay replayed");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError<E: std::error::Error + 'static> {
    /// The aggregate lists no event of the stored type.
    #[error(
        "event {event_id} has type `{event_type}`, which aggregate `{aggregate}` does not handle"
    )]
    UnknownEventType {
        /// The stored event's id.
        event_id: EventId,
        /// The stored event's type.
        event_type: String,
        /// The aggregate's type name.
        aggregate: &'static str,
    },
    /// The stored payload does not decode into the listed type.
    #[error("event {event_id} (`{event_type}`) has a payload that does not decode")]
    InvalidPayload {
        /// The stored event's id.
        event_id: EventId,
        /// The stored event's type.
        event_type: String,
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// The handler refused the event.
    #[error("the handler of event {event_id} (`{event_type}`) failed")]
    Handler {
        /// The stored event's id.
        event_id: EventId,
        /// The stored event's type.
        event_type: String,
        /// The handler's own error.
        source: E,
    },
    /// The event was stored at a version of its type newer than the one this program knows (a
    /// newer build wrote it).
    #[error(
        "event {event_id} (`{event_type}`) was stored at version {stored}, newer than version \
         {known}, the latest this program knows"
    )]
    NewerVersion {
        /// The stored event's id.
        event_id: EventId,
        /// The stored event's type.
        event_type: String,
        /// The version it was stored at.
        stored: u32,
        /// The latest version the listed type knows.
        known: u32,
    },
    /// No upcast leads from the stored version, or an upcast refused the value (the
    /// [`UpcastError`] is the source).
    #[error("event {event_id} (`{event_type}` version {event_version}) cannot be upcast")]
    Upcast {
        /// The stored event's id.
        event_id: EventId,
        /// The stored event's type.
        event_type: String,
        /// The version it was stored at.
        event_version: u32,
        /// Why.
        source: UpcastError,
    },
}

impl<E: std::error::Error + 'static> ReplayError<E> {
    /// The id of the event that could not be replayed.
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore::{DomainError, EventId, ReplayError};
    ///
    /// let id = EventId::new();
    /// let error = ReplayError::<DomainError>::UnknownEventType {
    ///     event_id: id,
    ///     event_type: "Renamed".into(),
    ///     aggregate: "User",
    /// };
    /// assert_eq!((error.event_id(), error.event_type()), (id, "Renamed"));
    /// ```
    pub fn event_id(&self) -> EventId {
        match self {
            ReplayError::UnknownEventType { event_id, .. }
            | ReplayError::InvalidPayload { event_id, .. }
            | ReplayError::Handler { event_id, .. }
            | ReplayError::NewerVersion { event_id, .. }
            | ReplayError::Upcast { event_id, .. } => *event_id,
        }
    }

    /// The type of the event that could not be replayed.
    pub fn event_type(&self) -> &str {
        match self {
            ReplayError::UnknownEventType { event_type, .. }
            | ReplayError::InvalidPayload { event_type, .. }
            | ReplayError::Handler { event_type, .. }
            | ReplayError::NewerVersion { event_type, .. }
            | ReplayError::Upcast { event_type, .. } => event_type,
        }
    }
}

/// An aggregate with its id, its version and the events applied to it that are not saved yet.
///
/// Dereferences to the aggregate's state.
///
/// # Examples
///
/// ```
/// use livenstore::{Aggregate, AggregateRoot, DomainError, DomainEvent};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
/// struct Incremented { by: i64 }
///
/// #[derive(Debug, Default, Aggregate)]
/// #[aggregate(events(Incremented))]
/// struct Counter { value: i64 }
///
/// impl Counter {
///     fn on_incremented(&mut self, e: &Incremented) -> Result<(), DomainError> {
///         if e.by == 0 {
///             return Err(DomainError::new("increment by zero"));
///         }
///         self.value += e.by;
///         Ok(())
///     }
/// }
///
/// let mut counter = AggregateRoot::<Counter>::new("c-1");
/// counter.apply(Incremented { by: 2 }).unwrap();
/// assert!(counter.apply(Incremented { by: 0 }).is_err());
/// assert_eq!((counter.value, counter.version()), (2, 1));
/// assert_eq!(counter.collect_unsaved().len(), 1);
/// assert!(counter.collect_unsaved().is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct AggregateRoot<A: Aggregate> {
    id: String,
    state: A,
    version: u64,
    unsaved: Vec<A::Event>,
    /// The version of the last snapshot this state was loaded from or saved at (0: none), for
    /// the repository's snapshot policy.
    snapshot_base: u64,
}

impl<A: Aggregate> AggregateRoot<A> {
    /// A new aggregate with default state, version 0 and nothing unsaved.
    pub fn new(id: impl Into<String>) -> Self {
        AggregateRoot {
            id: id.into(),
            state: A::default(),
            version: 0,
            unsaved: Vec::new(),
            snapshot_base: 0,
        }
    }

    /// An aggregate with `state` at `version` (from a snapshot, or a cache), nothing unsaved.
    /// `snapshot_base` is the version of the snapshot the state comes from (0 for none).
    pub(crate) fn from_state(id: &str, state: A, version: u64, snapshot_base: u64) -> Self {
        AggregateRoot {
            id: id.to_owned(),
            state,
            version,
            unsaved: Vec::new(),
            snapshot_base,
        }
    }

    /// Events applied or replayed since the snapshot this state was loaded from or saved at (or
    /// since the start, when none).
    pub(crate) fn since_snapshot(&self) -> u64 {
        self.version - self.snapshot_base
    }

    /// The version of that snapshot (0 for none).
    pub(crate) fn snapshot_base(&self) -> u64 {
        self.snapshot_base
    }

    /// Records that a snapshot of the current state was saved.
    pub(crate) fn snapshot_taken(&mut self) {
        self.snapshot_base = self.version;
    }

    /// The aggregate's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The name of the aggregate's stream: `<AGGREGATE_TYPE>-<id>`.
    pub fn stream_name(&self) -> String {
        stream_name::<A>(&self.id)
    }

    /// The state.
    pub fn state(&self) -> &A {
        &self.state
    }

    /// Takes the state out.
    pub fn into_state(self) -> A {
        self.state
    }

    /// Number of events applied or replayed.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The version the store holds: [`version`](Self::version) minus the unsaved events.
    pub fn saved_version(&self) -> u64 {
        self.version - self.unsaved.len() as u64
    }

    /// Applies a new event: runs its handler and, if the handler succeeds, tracks the event as
    /// unsaved and bumps the version.
    ///
    /// # Errors
    ///
    /// The handler's own error; the unsaved list and the version are then unchanged.
    pub fn apply(&mut self, event: impl Into<A::Event>) -> Result<(), A::Error> {
        let event = event.into();
        self.state.handle(&event)?;
        self.unsaved.push(event);
        self.version += 1;
        Ok(())
    }

    /// Replays a stored event: decodes it by type name and event version (upcasting an older
    /// version through the listed type's chain), runs its handler and bumps the version, without
    /// tracking it.
    ///
    /// # Errors
    ///
    /// [`ReplayError::UnknownEventType`] or [`ReplayError::InvalidPayload`] (naming the event id and
    /// type) when the event does not decode; [`ReplayError::NewerVersion`] when it was stored at
    /// a version newer than the code knows, [`ReplayError::Upcast`] when no upcast leads from its
    /// version or one refused it; [`ReplayError::Handler`] when the handler fails.
    pub fn replay(&mut self, event: &RecordedEvent) -> Result<(), ReplayError<A::Error>> {
        let handler_error = |source| ReplayError::Handler {
            event_id: event.id(),
            event_type: event.event_type().to_owned(),
            source,
        };
        if let Some(typed) = event.payload().typed_any() {
            if let Some(result) = self.state.handle_typed(typed) {
                result.map_err(handler_error)?;
                self.version += 1;
                return Ok(());
            }
        }
        let version = event.event_version();
        let decoded = A::Event::decode(event.event_type(), version, event.payload().as_bytes())
            .map_err(|err| {
                let (event_id, event_type) = (event.id(), event.event_type().to_owned());
                match err {
                    EventDecodeError::UnknownEventType => ReplayError::UnknownEventType {
                        event_id,
                        event_type,
                        aggregate: A::AGGREGATE_TYPE,
                    },
                    EventDecodeError::InvalidPayload(source) => ReplayError::InvalidPayload {
                        event_id,
                        event_type,
                        source,
                    },
                    EventDecodeError::Upcast(UpcastError::Newer { stored, known }) => {
                        ReplayError::NewerVersion {
                            event_id,
                            event_type,
                            stored,
                            known,
                        }
                    }
                    EventDecodeError::Upcast(source) => ReplayError::Upcast {
                        event_id,
                        event_type,
                        event_version: version,
                        source,
                    },
                }
            })?;
        self.state.handle(&decoded).map_err(handler_error)?;
        self.version += 1;
        Ok(())
    }

    /// Replays stored events in order, stopping at the first error.
    ///
    /// # Errors
    ///
    /// The first event's [`ReplayError`]; events before it stay replayed.
    pub fn replay_all<I>(&mut self, events: I) -> Result<(), ReplayError<A::Error>>
    where
        I: IntoIterator,
        I::Item: Borrow<RecordedEvent>,
    {
        events.into_iter().try_for_each(|e| self.replay(e.borrow()))
    }

    /// Returns the unsaved events in apply order and clears them; an empty `Vec` when none.
    pub fn collect_unsaved(&mut self) -> Vec<A::Event> {
        std::mem::take(&mut self.unsaved)
    }

    /// Puts events taken by [`collect_unsaved`](Self::collect_unsaved) back in front of the
    /// unsaved list (a save that failed); the version does not change.
    pub(crate) fn restore_unsaved(&mut self, mut events: Vec<A::Event>) {
        events.append(&mut self.unsaved);
        self.unsaved = events;
    }

    /// The unsaved events, without clearing them.
    pub fn unsaved(&self) -> &[A::Event] {
        &self.unsaved
    }

    /// Whether any applied event is not saved yet.
    pub fn has_unsaved(&self) -> bool {
        !self.unsaved.is_empty()
    }
}

impl<A: Aggregate> Deref for AggregateRoot<A> {
    type Target = A;

    fn deref(&self) -> &A {
        &self.state
    }
}

/// The stream name of aggregate `A` with id `id`: `<AGGREGATE_TYPE>-<id>`.
///
/// # Examples
///
/// ```
/// use livenstore::{stream_name, Aggregate, DomainError, DomainEvent};
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
/// # struct Opened;
/// #[derive(Debug, Default, Aggregate)]
/// #[aggregate(events(Opened), name = "account")]
/// struct Account;
/// # impl Account { fn on_opened(&mut self, _: &Opened) -> Result<(), DomainError> { Ok(()) } }
///
/// assert_eq!(stream_name::<Account>("42"), "account-42");
/// ```
pub fn stream_name<A: Aggregate>(id: &str) -> String {
    let mut name = String::with_capacity(A::AGGREGATE_TYPE.len() + 1 + id.len());
    name.push_str(A::AGGREGATE_TYPE);
    name.push('-');
    name.push_str(id);
    name
}
