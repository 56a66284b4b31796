//! [`PostgresSubscriptionManager`]: subscriptions that follow the events every process appends.
//!
//! Invariants:
//! - Delivery, queues and the error hook are an [`InMemorySubscriptionManager`]'s; this manager
//!   only adds one follower thread that publishes to it what the store holds after the
//!   manager's position (see `follower.rs` for its rules: each event once, in position order).
//! - Only the follower publishes what the store holds: [`publish_batch`] called directly goes to
//!   the in-process manager alone, it is not a way to reach other processes.
//! - `close` (or dropping the last handle) stops the follower and joins it; after it returns no
//!   event is published and the listening connection is gone.
//!
//! [`publish_batch`]: SubscriptionManager::publish_batch

mod follower;
mod follower_options;
mod listener;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use livenstore::pubsub::{
    BoxedHandler, ErrorHook, EventFilter, InMemorySubscriptionManager, Notify, PublishError,
    SubscribeError, Subscription, SubscriptionError, SubscriptionManager, SubscriptionOptions,
    Watch,
};
use livenstore::{EventStore, RecordedEvent, StoreError};

use crate::store::PostgresStore;
use follower::{Follower, FollowerState};
pub use follower_options::FollowerOptions;
pub use listener::LISTENER_APPLICATION_NAME;
use listener::{Connector, ListenSource};

/// A [`SubscriptionManager`] whose subscriptions receive the events appended to a
/// [`PostgresStore`] by **any** process (or any store instance) using the same schema.
///
/// It wraps an [`InMemorySubscriptionManager`], which does the delivery (one queue and worker
/// thread per subscription, the error hook), and runs one follower thread that:
/// - holds a connection (its own, outside the pool; or one taken from the pool for a store made
///   [`with_pool`](PostgresStore::with_pool)) that `LISTEN`s on the store's
///   [`notification_channel`](PostgresStore::notification_channel), with application name
///   [`LISTENER_APPLICATION_NAME`];
/// - on each notification (all pending ones at once), and every
///   [`poll_interval`](FollowerOptions::poll_interval) when none arrives, reads the store from
///   its position and publishes the new events, each once, in position order;
/// - starts at the store's last position when the manager starts, so subscriptions receive
///   the events appended after that;
/// - when the listening connection is lost, reports it to the error hook (standard error when
///   none is set), keeps polling, reconnects with a growing delay, and then reads from its
///   position, so nothing is skipped.
///
/// So [`subscribe`](SubscriptionManager::subscribe) gets live events from every process,
/// [`subscribe_from`](livenstore::pubsub::subscribe_from) and
/// [`Consumer::start`](livenstore::pubsub::Consumer::start) are woken by them (they read the
/// store themselves), and a consumer's checkpoint can live in the same database
/// ([`PostgresStore::checkpoints`]).
///
/// Do **not** also wrap the store in a [`PublishingStore`](livenstore::PublishingStore) feeding
/// this manager: the follower already publishes every appended event, so each would be
/// delivered twice. [`publish_batch`](SubscriptionManager::publish_batch) called directly goes
/// to this process's subscriptions only (it is the in-process manager's), and is not written
/// to the store.
///
/// A subscription whose queue is full and blocks holds back the follower, and so every other
/// subscription of this manager; give slow handlers their own manager or a catch-up
/// subscription.
///
/// Cloning gives another handle to the same manager; dropping the last one closes it.
///
/// # Examples
///
/// ```no_run
/// use livenstore::pubsub::{EventFilter, SubscriptionManager};
/// use livenstore_postgres::{PostgresStore, PostgresSubscriptionManager};
///
/// let store = PostgresStore::connect("postgresql://postgres@127.0.0.1:5432/test")?;
/// let manager = PostgresSubscriptionManager::start(&store)?;
/// let subscription = manager.subscribe(EventFilter::category("account"), |event| {
///     println!("{} at {}", event.event_type(), event.position());
///     Ok(())
/// })?;
/// // ... events appended by any process now reach the handler ...
/// subscription.unsubscribe();
/// manager.close();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PostgresSubscriptionManager {
    inner: Arc<ManagerInner>,
}

struct ManagerInner {
    local: InMemorySubscriptionManager,
    state: Arc<FollowerState>,
    worker: Mutex<Option<JoinHandle<()>>>,
    channel: Option<String>,
}

impl ManagerInner {
    fn close(&self) {
        self.state.request_stop();
        // Closing the in-process manager first releases a follower blocked on a full queue.
        self.local.close();
        let worker = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(worker) = worker {
            let _ = worker.join();
        }
    }
}

impl Drop for ManagerInner {
    fn drop(&mut self) {
        self.close();
    }
}

impl std::fmt::Debug for PostgresSubscriptionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSubscriptionManager")
            .field("channel", &self.inner.channel)
            .field("position", &self.position())
            .field("listening", &self.is_listening())
            .field("local", &self.inner.local)
            .finish()
    }
}

impl PostgresSubscriptionManager {
    /// Starts following `store` with the default [`FollowerOptions`].
    ///
    /// # Errors
    ///
    /// As [`with_options`](Self::with_options).
    pub fn start(store: &PostgresStore) -> Result<Self, StoreError> {
        Self::with_options(store, FollowerOptions::default())
    }

    /// Starts following `store`: connects the listener (unless
    /// [`listen(false)`](FollowerOptions::listen)), reads the store's last position, and starts
    /// the follower thread.
    ///
    /// For a store made [`with_pool`](PostgresStore::with_pool), the listener is one of the
    /// pool's connections, held while the manager runs.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`] for invalid options, and when the listener would take the
    /// only connection of a store's pool; [`StoreError::Connection`] or
    /// [`StoreError::Backend`] when the listener cannot connect or the last position cannot be
    /// read; [`StoreError::Io`] when the thread cannot start.
    pub fn with_options(
        store: &PostgresStore,
        options: FollowerOptions,
    ) -> Result<Self, StoreError> {
        if options.listen && store.inner.pg_config.is_none() && store.inner.pool.max_size() < 2 {
            return Err(StoreError::InvalidArgument(
                "the follower would hold the only connection of the store's pool: give the pool \
                 at least two, or use FollowerOptions::listen(false)"
                    .into(),
            ));
        }
        let source = options.listen.then(|| listen_source(store));
        let name = format!("postgres-follower-{}", store.schema());
        let handle: Arc<dyn EventStore> = Arc::new(store.clone());
        Self::spawn(handle, source, options, name)
    }

    /// Starts a follower of `store` (listening through `source` when given).
    pub(crate) fn spawn(
        store: Arc<dyn EventStore>,
        source: Option<ListenSource>,
        options: FollowerOptions,
        name: String,
    ) -> Result<Self, StoreError> {
        options.validate()?;
        // Listen before fixing the start, so an append committed after the start notifies.
        let listener = source.as_ref().map(ListenSource::connect).transpose()?;
        let next = store.last_position()?.saturating_add(1);
        let local = InMemorySubscriptionManager::new();
        let state = Arc::new(FollowerState::default());
        state.position.store(next - 1, Ordering::SeqCst);
        follower::show_listener(&state, listener.as_ref());
        let channel = source.as_ref().map(|s| s.channel.clone());
        let follower = Follower {
            store,
            local: local.clone(),
            source,
            options,
            state: Arc::clone(&state),
            name: name.clone(),
            next,
        };
        let worker = std::thread::Builder::new()
            .name(name)
            .spawn(move || follower.run(listener))
            .map_err(|source| StoreError::Io {
                path: "<follower thread>".into(),
                source,
            })?;
        Ok(PostgresSubscriptionManager {
            inner: Arc::new(ManagerInner {
                local,
                state,
                worker: Mutex::new(Some(worker)),
                channel,
            }),
        })
    }

    /// The position of the last event published to this manager's subscriptions (at start,
    /// the store's last position then).
    pub fn position(&self) -> u64 {
        self.inner.state.position.load(Ordering::SeqCst)
    }

    /// Whether the follower's listening connection is up (`false` while it reconnects, and
    /// always with [`listen(false)`](FollowerOptions::listen)).
    pub fn is_listening(&self) -> bool {
        self.listener_backend_pid().is_some()
    }

    /// The server process id (`pg_backend_pid()`) of the listening connection, while it is up:
    /// what `pg_stat_activity.pid` shows for it.
    pub fn listener_backend_pid(&self) -> Option<i32> {
        match self.inner.state.listener_pid.load(Ordering::SeqCst) {
            0 => None,
            pid => Some(pid),
        }
    }

    /// Sets the hook that receives every [`SubscriptionError`]: handler failures (see
    /// [`InMemorySubscriptionManager::on_error`]), and the follower's lost connections, failed
    /// reads and refused publications. Without one they go to standard error.
    pub fn on_error(&self, hook: impl Fn(&SubscriptionError) + Send + Sync + 'static) {
        self.inner.local.on_error(hook);
    }

    /// Number of live subscriptions.
    pub fn subscription_count(&self) -> usize {
        self.inner.local.subscription_count()
    }

    /// Whether the manager was closed.
    pub fn is_closed(&self) -> bool {
        self.inner.local.is_closed()
    }
}

impl SubscriptionManager for PostgresSubscriptionManager {
    fn subscribe_boxed(
        &self,
        filter: EventFilter,
        options: SubscriptionOptions,
        handler: BoxedHandler,
    ) -> Result<Subscription, SubscribeError> {
        self.inner.local.subscribe_boxed(filter, options, handler)
    }

    /// Publishes `events` to this process's subscriptions only (see the type's documentation):
    /// they are not stored, and other processes do not see them.
    fn publish_batch(&self, events: &[RecordedEvent]) -> Result<(), PublishError> {
        self.inner.local.publish_batch(events)
    }

    fn watch(&self, filter: EventFilter, notify: Notify) -> Result<Watch, SubscribeError> {
        self.inner.local.watch(filter, notify)
    }

    fn error_reporter(&self) -> ErrorHook {
        self.inner.local.error_reporter()
    }

    /// Stops the follower (and closes its connection), then closes the in-process manager:
    /// subscriptions deliver what is already queued. Idempotent.
    fn close(&self) {
        self.inner.close();
    }
}

fn listen_source(store: &PostgresStore) -> ListenSource {
    let inner = &store.inner;
    ListenSource {
        connector: match &inner.pg_config {
            Some(config) => Connector::Dedicated(Box::new(config.clone())),
            None => Connector::Pooled(inner.pool.clone()),
        },
        endpoint: inner.endpoint.clone(),
        channel: inner.channel.clone(),
    }
}

#[cfg(test)]
mod tests;
