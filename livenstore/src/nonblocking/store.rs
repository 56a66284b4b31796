//! [`AsyncStore`]: an [`EventStore`]'s calls as futures.

use std::sync::Arc;

use super::offload::offload;
use crate::{AppendResult, EventId, EventStore, ExpectedVersion, NewEvent, RecordedEvent};
use crate::{StoreError, StreamInfo};

/// An [`EventStore`] shared by async tasks: each method runs the store's call on the blocking
/// pool (inline for a store that does not block, see [`EventStore::blocks`]). Cloning is cheap
/// (an `Arc`).
///
/// # Examples
///
/// ```
/// use livenstore::nonblocking::AsyncStore;
/// use livenstore::{ExpectedVersion, InMemoryStore, NewEvent};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = AsyncStore::new(InMemoryStore::new());
/// let event = NewEvent::from_json("Opened", "{}").unwrap();
/// store.append("account-1", ExpectedVersion::NoStream, vec![event]).await.unwrap();
/// let events = store.read_stream("account-1", 1, 10).await.unwrap();
/// assert_eq!(events[0].event_type(), "Opened");
/// # });
/// ```
#[derive(Debug)]
pub struct AsyncStore<S: ?Sized> {
    store: Arc<S>,
}

impl<S: ?Sized> Clone for AsyncStore<S> {
    fn clone(&self) -> Self {
        AsyncStore {
            store: Arc::clone(&self.store),
        }
    }
}

impl<S: EventStore + 'static> AsyncStore<S> {
    /// The async face of `store`.
    pub fn new(store: S) -> Self {
        AsyncStore {
            store: Arc::new(store),
        }
    }
}

impl<S: EventStore + ?Sized + 'static> AsyncStore<S> {
    /// The async face of a shared store.
    pub fn from_arc(store: Arc<S>) -> Self {
        AsyncStore { store }
    }

    /// The store, for synchronous calls and for subscriptions.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    async fn call<R, F>(&self, call: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&S) -> Result<R, StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        offload(self.store.blocks(), move || call(&store)).await?
    }

    /// [`EventStore::append`]. Dropped before it completes, the append still completes or fails
    /// as a whole (read the stream, or retry with the same event ids, to know).
    ///
    /// # Errors
    ///
    /// As [`EventStore::append`]; [`StoreError::Closed`] when the runtime shut down before the
    /// call started.
    pub async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        let stream = stream.to_owned();
        self.call(move |store| store.append(&stream, expected, events))
            .await
    }

    /// [`EventStore::read_stream`].
    ///
    /// # Errors
    ///
    /// As [`EventStore::read_stream`].
    pub async fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let stream = stream.to_owned();
        self.call(move |store| store.read_stream(&stream, from_version, max_count))
            .await
    }

    /// [`EventStore::read_all`].
    ///
    /// # Errors
    ///
    /// As [`EventStore::read_all`].
    pub async fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.call(move |store| store.read_all(from_position, max_count))
            .await
    }

    /// [`EventStore::read`]: one event by id.
    ///
    /// # Errors
    ///
    /// As [`EventStore::read`].
    pub async fn read(&self, id: EventId) -> Result<RecordedEvent, StoreError> {
        self.call(move |store| store.read(id)).await
    }

    /// [`EventStore::stream_info`].
    ///
    /// # Errors
    ///
    /// As [`EventStore::stream_info`].
    pub async fn stream_info(&self, stream: &str) -> Result<Option<StreamInfo>, StoreError> {
        let stream = stream.to_owned();
        self.call(move |store| store.stream_info(&stream)).await
    }

    /// [`EventStore::last_position`].
    ///
    /// # Errors
    ///
    /// As [`EventStore::last_position`].
    pub async fn last_position(&self) -> Result<u64, StoreError> {
        self.call(|store| store.last_position()).await
    }
}
