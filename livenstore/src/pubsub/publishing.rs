//! [`PublishingStore`]: a store that publishes what it appends.

use std::sync::{Mutex, PoisonError};

use super::error::{PublishError, SubscriptionError, SubscriptionErrorKind};
use super::manager::SubscriptionManager;
use crate::store::{Snapshot, SnapshotStore};
use crate::{
    AppendResult, EventId, EventStore, ExpectedVersion, NewEvent, RecordedEvent, StoreError,
    StreamInfo, Timestamp,
};

/// Errors of [`PublishingStore::publish`].
///
/// # Examples
///
/// ```
/// use livenstore::pubsub::{InMemorySubscriptionManager, PublishError, PublishingError};
/// use livenstore::pubsub::SubscriptionManager;
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent, PublishingStore};
/// use livenstore::StoreError;
///
/// let store = PublishingStore::new(InMemoryStore::new(), InMemorySubscriptionManager::new());
/// let event = |event_type: &'static str| NewEvent::from_json(event_type, "{}").unwrap();
/// store.publish("user-1", ExpectedVersion::NoStream, vec![event("UserCreated")]).unwrap();
///
/// // The append failed: nothing stored, nobody notified.
/// let error = store.publish("user-1", ExpectedVersion::NoStream, vec![event("UserCreated")]);
/// assert!(matches!(error, Err(PublishingError::Store(StoreError::Conflict { .. }))));
///
/// // Stored, but not published: the manager is closed.
/// store.manager().close();
/// match store.publish("user-1", ExpectedVersion::Exact(1), vec![event("UserRenamed")]) {
///     Err(PublishingError::Publish { result, error: PublishError::Closed }) => {
///         assert_eq!(result.stream_version, 2);
///     }
///     other => panic!("expected a publication failure, got {other:?}"),
/// }
/// assert_eq!(store.stream_version("user-1").unwrap(), 2);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishingError {
    /// The append failed: nothing was stored, nobody was notified.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The events were stored (see `result`), but some subscriptions did not get them.
    #[error("events stored (positions {}..={}) but not published to every subscription: {error}", .result.first_position, .result.last_position)]
    Publish {
        /// What the append stored.
        result: AppendResult,
        /// Why publication failed.
        error: PublishError,
    },
}

/// An [`EventStore`] that publishes every event it appends to a [`SubscriptionManager`]: a store
/// with a manager attached, so live subscribers hear of each append.
///
/// `append` persists, then publishes: under the publication lock it reads back every event from
/// the first position not yet published through the last one it appended
/// (`read_all(next, n)`) and publishes them in position order. The append itself runs outside that
/// lock, so concurrent appenders still share the inner store's work (a [`JsonStore`] with
/// `Durability::Always` gives them one fsync: group commit). Consequences:
/// - every subscription receives events in position order, each once;
/// - an append may return after a concurrent appender published its events for it (a
///   publication failure is reported to whichever append published the events);
/// - a failed append notifies nobody; an idempotent no-op append publishes nothing again;
/// - events appended to the inner store directly, once this wrapper has appended, are published
///   with the next append through it. Catch-up subscriptions read the store and
///   see every event regardless.
///
/// [`JsonStore`]: crate::JsonStore
///
/// Through the [`EventStore`] trait, a publication failure after a successful append cannot be
/// returned (the events *are* stored): it is reported to the manager's error hook and `append`
/// returns `Ok`. [`publish`](Self::publish) returns it.
///
/// A handler must not append through the `PublishingStore` that feeds it when its subscription
/// blocks on a full queue: the append would wait for the lock held by a publisher that waits
/// for that handler. Use a catch-up subscription or a consumer for such handlers (they never
/// block publishers).
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use livenstore::pubsub::{EventFilter, InMemorySubscriptionManager, SubscriptionManager};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent, PublishingStore};
///
/// let store = PublishingStore::new(InMemoryStore::new(), InMemorySubscriptionManager::new());
/// let (tx, rx) = mpsc::channel();
/// let _subscription = store
///     .manager()
///     .subscribe(EventFilter::category("account"), move |event| {
///         tx.send((event.stream().to_owned(), event.position()))?;
///         Ok(())
///     })
///     .unwrap();
///
/// let deposited = NewEvent::from_json("Deposited", r#"{"amount":5}"#).unwrap();
/// store.append("account-1", ExpectedVersion::NoStream, vec![deposited]).unwrap();
/// // Delivered on the subscription's worker thread.
/// let received = rx.recv_timeout(Duration::from_secs(5)).unwrap();
/// assert_eq!(received, ("account-1".to_owned(), 1));
/// assert_eq!(store.inner().last_position().unwrap(), 1);
/// ```
pub struct PublishingStore<S, M> {
    store: S,
    manager: M,
    /// The next position to publish; set before the first append through this wrapper.
    next_to_publish: Mutex<Option<u64>>,
}

impl<S: std::fmt::Debug, M: std::fmt::Debug> std::fmt::Debug for PublishingStore<S, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishingStore")
            .field("store", &self.store)
            .field("manager", &self.manager)
            .finish()
    }
}

impl<S: EventStore, M: SubscriptionManager> PublishingStore<S, M> {
    /// Wraps `store`, publishing to `manager`.
    pub fn new(store: S, manager: M) -> Self {
        PublishingStore {
            store,
            manager,
            next_to_publish: Mutex::new(None),
        }
    }

    /// The wrapped store (appending to it directly publishes nothing).
    pub fn inner(&self) -> &S {
        &self.store
    }

    /// The manager.
    pub fn manager(&self) -> &M {
        &self.manager
    }

    /// Takes the wrapper apart.
    pub fn into_parts(self) -> (S, M) {
        (self.store, self.manager)
    }

    /// Sets the first position to publish, once, before the first append through this wrapper
    /// (so events of appends that race the first one are never skipped).
    fn start_publishing(&self) -> Result<(), StoreError> {
        let mut next = self
            .next_to_publish
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if next.is_none() {
            *next = Some(self.store.last_position()? + 1);
        }
        Ok(())
    }

    /// Appends `events` to `stream` and publishes them.
    ///
    /// # Errors
    ///
    /// [`PublishingError::Store`] when the append fails (nothing stored, nobody notified);
    /// [`PublishingError::Publish`] when the events were stored but some subscription did not
    /// get them (or reading them back failed).
    pub fn publish(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, PublishingError> {
        self.start_publishing()?;
        let result = self.store.append(stream, expected, events)?;
        if result.first_position == 0 {
            return Ok(result); // an empty call
        }
        let mut next = self
            .next_to_publish
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let from = next.unwrap_or(result.first_position);
        if result.last_position < from {
            return Ok(result); // published by a concurrent append, or an idempotent no-op
        }
        *next = Some(result.last_position + 1);
        let count = usize::try_from(result.last_position - from + 1).unwrap_or(usize::MAX);
        let appended = match self.store.read_all(from, count) {
            Ok(events) => events,
            Err(e) => {
                return Err(PublishingError::Publish {
                    result,
                    error: PublishError::ReadBack(e.to_string()),
                })
            }
        };
        self.manager
            .publish_batch(&appended)
            .map_err(|error| PublishingError::Publish { result, error })?;
        Ok(result)
    }
}

impl<S: EventStore, M: SubscriptionManager> EventStore for PublishingStore<S, M> {
    fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        match self.publish(stream, expected, events) {
            Ok(result) => Ok(result),
            Err(PublishingError::Store(e)) => Err(e),
            Err(PublishingError::Publish { result, error }) => {
                (self.manager.error_reporter())(&SubscriptionError {
                    subscription: "publishing-store".to_owned(),
                    event: None,
                    kind: SubscriptionErrorKind::Publish(error),
                    stopped: false,
                });
                Ok(result)
            }
        }
    }

    fn read(&self, id: EventId) -> Result<RecordedEvent, StoreError> {
        self.store.read(id)
    }

    fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.store.read_stream(stream, from_version, max_count)
    }

    fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.store.read_all(from_position, max_count)
    }

    fn read_by_type(
        &self,
        event_type: &str,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.store
            .read_by_type(event_type, from_position, max_count)
    }

    fn read_time_range(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.store.read_time_range(from, to)
    }

    fn stream_info(&self, stream: &str) -> Result<Option<StreamInfo>, StoreError> {
        self.store.stream_info(stream)
    }

    fn streams(&self) -> Result<Vec<StreamInfo>, StoreError> {
        self.store.streams()
    }

    /// Delegates; a link is not published (it adds no event).
    fn link_to_stream(&self, id: EventId, stream: &str) -> Result<u64, StoreError> {
        self.store.link_to_stream(id, stream)
    }

    fn read_correlated(&self, correlation_id: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        self.store.read_correlated(correlation_id)
    }

    fn last_position(&self) -> Result<u64, StoreError> {
        self.store.last_position()
    }

    fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        self.store.stream_version(stream)
    }

    fn blocks(&self) -> bool {
        self.store.blocks()
    }

    fn has_gaps(&self, stream: &str) -> Result<bool, StoreError> {
        self.store.has_gaps(stream)
    }

    fn snapshots(&self) -> Option<&dyn SnapshotStore> {
        self.store.snapshots()
    }

    fn snapshot_and_tail(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        stream: &str,
        max_count: usize,
    ) -> Result<Option<(Snapshot, Vec<RecordedEvent>)>, StoreError> {
        self.store
            .snapshot_and_tail(aggregate_type, aggregate_id, stream, max_count)
    }
}
