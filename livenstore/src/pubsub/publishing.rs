//! [`PublishingStore`]: a store that publishes what it appends.

use std::sync::{Mutex, PoisonError};

use super::error::{PublishError, SubscriptionError, SubscriptionErrorKind};
use super::manager::SubscriptionManager;
use crate::{
    AppendResult, EventId, EventStore, ExpectedVersion, NewEvent, RecordedEvent, StoreError,
    StreamInfo, Timestamp,
};

/// Errors of [`PublishingStore::publish`].
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

/// An [`EventStore`] that publishes every event it appends to a [`SubscriptionManager`] (the Go
/// original's store with a manager attached).
///
/// `append` persists, then reads the appended events back (`read_all(first_position, n)`) and
/// publishes them. A failed append notifies nobody; an idempotent no-op append (every id already
/// stored) publishes nothing again. Appends and their publication happen under one lock, so
/// every subscription receives events in position order. Events appended to the inner store
/// directly, or by another process, are not published; catch-up subscriptions still see them
/// (they read the store).
///
/// Through the [`EventStore`] trait, a publication failure after a successful append cannot be
/// returned (the events *are* stored): it is reported to the manager's error hook and `append`
/// returns `Ok`. [`publish`](Self::publish) returns it.
///
/// A handler must not append through the `PublishingStore` that feeds it when its subscription
/// blocks on a full queue: the append would wait for the lock held by a publisher that waits
/// for that handler. Use a catch-up subscription or a consumer for such handlers (they never
/// block publishers).
pub struct PublishingStore<S, M> {
    store: S,
    manager: M,
    lock: Mutex<()>,
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
            lock: Mutex::new(()),
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

    /// Appends `events` to `stream` and publishes them (the Go original's `Publish`).
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
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let before = self.store.last_position()?;
        let result = self.store.append(stream, expected, events)?;
        if result.first_position == 0 || result.last_position <= before {
            return Ok(result); // nothing new: empty call or idempotent no-op
        }
        let count =
            usize::try_from(result.last_position - result.first_position + 1).unwrap_or(usize::MAX);
        let appended = match self.store.read_all(result.first_position, count) {
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

    fn last_position(&self) -> Result<u64, StoreError> {
        self.store.last_position()
    }

    fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        self.store.stream_version(stream)
    }
}
