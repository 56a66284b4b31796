//! The [`SubscriptionManager`] trait and [`InMemorySubscriptionManager`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};

use super::error::{ErrorHook, HandlerError, PublishError, SubscribeError, SubscriptionError};
use super::filter::EventFilter;
use super::queue::{PushRefused, StopMode};
use super::subscription::{self, BoxedHandler, SubShared, Subscription, SubscriptionOptions};
use crate::RecordedEvent;

/// A callback run by `publish` on the publisher's thread; see [`SubscriptionManager::watch`].
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use livenstore::pubsub::{EventFilter, InMemorySubscriptionManager, Notify, SubscriptionManager};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent, PublishingStore};
///
/// let store = PublishingStore::new(InMemoryStore::new(), InMemorySubscriptionManager::new());
/// let wakeups = Arc::new(AtomicUsize::new(0));
/// let counter = Arc::clone(&wakeups);
/// let notify: Notify = Arc::new(move || {
///     counter.fetch_add(1, Ordering::SeqCst);
/// });
/// let _watch = store.manager().watch(EventFilter::category("user"), notify).unwrap();
///
/// let created = NewEvent::from_json("UserCreated", "{}").unwrap();
/// store.append("user-1", ExpectedVersion::NoStream, vec![created]).unwrap();
/// let placed = NewEvent::from_json("OrderPlaced", "{}").unwrap();
/// store.append("order-1", ExpectedVersion::NoStream, vec![placed]).unwrap();
/// // Run by the publishing `append` itself, for the matching event only.
/// assert_eq!(wakeups.load(Ordering::SeqCst), 1);
/// ```
pub type Notify = Arc<dyn Fn() + Send + Sync + 'static>;

/// Publishes recorded events to subscriptions.
///
/// Delivery is asynchronous: `publish` queues each event for every subscription whose
/// [`EventFilter`] it passes and returns; each subscription's worker thread calls its handler,
/// in the order the events were queued for it. Delivery is at-least-once within the process
/// for events whose `publish` returned `Ok` and whose subscription is not dropped (dropping
/// discards what is queued; [`close`](Self::close) delivers it). Nothing survives a restart:
/// for that, use [`subscribe_from`](super::subscribe_from) or a [`Consumer`](super::Consumer),
/// which read the store.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use livenstore::pubsub::{EventFilter, InMemorySubscriptionManager, SubscriptionManager};
/// # use livenstore::{EventId, Metadata, Payload, RecordedEvent, RecordedEventParts, Timestamp};
/// # let event = RecordedEvent::from_parts(RecordedEventParts { id: EventId::new(),
/// #     event_type: "UserCreated".into(), stream: "user-1".into(), version: 1, position: 1,
/// #     recorded_at: Timestamp::now(), metadata: Metadata::new(),
/// #     payload: Payload::from_json("{}").unwrap(), event_version: 1 });
///
/// let manager = InMemorySubscriptionManager::new();
/// let (tx, rx) = mpsc::channel();
/// let subscription = manager.subscribe(EventFilter::event_type_names(["UserCreated"]), move |e| {
///     tx.send(e.id())?;
///     Ok(())
/// })?;
/// manager.publish(&event)?;
/// assert_eq!(rx.recv()?, event.id());
/// subscription.unsubscribe();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait SubscriptionManager: Send + Sync {
    /// Subscribes a boxed handler (the dyn-compatible form of
    /// [`subscribe_with`](Self::subscribe_with)).
    ///
    /// # Errors
    ///
    /// [`SubscribeError::Closed`] after [`close`](Self::close);
    /// [`SubscribeError::InvalidOption`] for a capacity of 0; [`SubscribeError::Spawn`] when the
    /// worker thread cannot start.
    fn subscribe_boxed(
        &self,
        filter: EventFilter,
        options: SubscriptionOptions,
        handler: BoxedHandler,
    ) -> Result<Subscription, SubscribeError>;

    /// Subscribes `handler` to the events passing `filter`, with default options (a queue of
    /// [`DEFAULT_QUEUE_CAPACITY`](super::DEFAULT_QUEUE_CAPACITY) events that blocks publishers
    /// when full; handler errors are reported and delivery goes on).
    ///
    /// # Errors
    ///
    /// As [`subscribe_boxed`](Self::subscribe_boxed).
    fn subscribe<F>(&self, filter: EventFilter, handler: F) -> Result<Subscription, SubscribeError>
    where
        Self: Sized,
        F: FnMut(&RecordedEvent) -> Result<(), HandlerError> + Send + 'static,
    {
        self.subscribe_boxed(filter, SubscriptionOptions::default(), Box::new(handler))
    }

    /// Subscribes `handler` with explicit options.
    ///
    /// # Errors
    ///
    /// As [`subscribe_boxed`](Self::subscribe_boxed).
    fn subscribe_with<F>(
        &self,
        filter: EventFilter,
        options: SubscriptionOptions,
        handler: F,
    ) -> Result<Subscription, SubscribeError>
    where
        Self: Sized,
        F: FnMut(&RecordedEvent) -> Result<(), HandlerError> + Send + 'static,
    {
        self.subscribe_boxed(filter, options, Box::new(handler))
    }

    /// Queues `event` for every matching subscription.
    ///
    /// # Errors
    ///
    /// As [`publish_batch`](Self::publish_batch).
    fn publish(&self, event: &RecordedEvent) -> Result<(), PublishError> {
        self.publish_batch(std::slice::from_ref(event))
    }

    /// Queues `events`, in order, for every matching subscription (one lock per subscription for
    /// the whole batch), then runs the matching [`watch`](Self::watch) callbacks once.
    ///
    /// Events published by one thread reach each subscription in that order. Events published
    /// concurrently by several threads may interleave differently in different subscriptions;
    /// publish under one lock (as [`PublishingStore`](super::PublishingStore) does) for one
    /// order everywhere.
    ///
    /// # Errors
    ///
    /// [`PublishError::QueueFull`] naming the subscriptions whose full queue refused an event
    /// (policy [`Fail`](super::QueueFullPolicy::Fail) or an expired
    /// [`BlockFor`](super::QueueFullPolicy::BlockFor)); [`PublishError::WouldDeadlock`] when a
    /// handler publishes into its own full blocking queue; [`PublishError::Closed`] after
    /// [`close`](Self::close). Subscriptions not named in the error received the events.
    fn publish_batch(&self, events: &[RecordedEvent]) -> Result<(), PublishError>;

    /// Runs `notify` on the publisher's thread after each `publish` with an event passing
    /// `filter`, until the returned [`Watch`] is dropped. `notify` must be quick and must not
    /// block (catch-up subscriptions use it to wake their reader).
    ///
    /// # Errors
    ///
    /// [`SubscribeError::Closed`] after [`close`](Self::close).
    fn watch(&self, filter: EventFilter, notify: Notify) -> Result<Watch, SubscribeError>;

    /// A function that hands a [`SubscriptionError`] to this manager's error hook, for
    /// subscriptions that run outside the manager (catch-up subscriptions, consumers,
    /// [`PublishingStore`](super::PublishingStore)).
    fn error_reporter(&self) -> ErrorHook;

    /// Stops accepting events and subscriptions, lets every subscription deliver what is already
    /// queued, then stops and joins their workers. Idempotent.
    fn close(&self);
}

/// A registration of [`SubscriptionManager::watch`]; dropping it unregisters the callback.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use livenstore::pubsub::{EventFilter, InMemorySubscriptionManager, SubscriptionManager};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent, PublishingStore};
///
/// let store = PublishingStore::new(InMemoryStore::new(), InMemorySubscriptionManager::new());
/// let wakeups = Arc::new(AtomicUsize::new(0));
/// let counter = Arc::clone(&wakeups);
/// let watch = store
///     .manager()
///     .watch(EventFilter::all(), Arc::new(move || {
///         counter.fetch_add(1, Ordering::SeqCst);
///     }))
///     .unwrap();
/// let tick = || NewEvent::from_json("Tick", "{}").unwrap();
/// store.append("clock", ExpectedVersion::Any, vec![tick()]).unwrap();
/// assert_eq!(wakeups.load(Ordering::SeqCst), 1);
///
/// drop(watch); // unregisters the callback
/// store.append("clock", ExpectedVersion::Any, vec![tick()]).unwrap();
/// assert_eq!(wakeups.load(Ordering::SeqCst), 1);
/// ```
#[must_use = "dropping a Watch unregisters it"]
pub struct Watch {
    detach: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl Watch {
    /// A watch that runs `detach` when dropped (for other manager implementations).
    pub fn new(detach: Box<dyn FnOnce() + Send + Sync>) -> Self {
        Watch {
            detach: Some(detach),
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(detach) = self.detach.take() {
            detach();
        }
    }
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watch")
    }
}

struct Watcher {
    id: u64,
    filter: EventFilter,
    notify: Notify,
}

/// The subscriptions and watchers, replaced as a whole on change so `publish` reads one
/// snapshot without holding a lock while it queues.
#[derive(Default)]
struct Registry {
    subs: Vec<Arc<SubShared>>,
    watchers: Vec<Arc<Watcher>>,
}

struct Inner {
    registry: RwLock<Arc<Registry>>,
    hook: Arc<RwLock<Option<ErrorHook>>>,
    closed: AtomicBool,
    next_id: AtomicU64,
}

impl Inner {
    fn snapshot(&self) -> Arc<Registry> {
        Arc::clone(&self.registry.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn update(&self, change: impl FnOnce(&mut Registry)) {
        let mut guard = self
            .registry
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut next = Registry {
            subs: guard.subs.clone(),
            watchers: guard.watchers.clone(),
        };
        change(&mut next);
        *guard = Arc::new(next);
    }

    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let taken = {
            let mut guard = self
                .registry
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            std::mem::take(&mut *guard)
        };
        for sub in &taken.subs {
            sub.queue.stop(StopMode::Drain);
        }
        for sub in &taken.subs {
            sub.shutdown(StopMode::Drain);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.close();
    }
}

/// The in-process [`SubscriptionManager`]: one bounded queue and one worker thread per
/// subscription.
///
/// Cloning gives another handle to the same manager. When the last handle is dropped the
/// manager closes (as [`close`](SubscriptionManager::close)), even if [`Subscription`]
/// handles remain.
///
/// Handler errors and panics are reported to the hook set with [`on_error`](Self::on_error)
/// (standard error when none is set); what happens next is each subscription's
/// [`OnHandlerError`](super::OnHandlerError) option.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use livenstore::pubsub::{EventFilter, InMemorySubscriptionManager, SubscriptionManager};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent, PublishingStore};
///
/// let manager = InMemorySubscriptionManager::new();
/// let (tx, rx) = mpsc::channel();
/// let subscription = manager
///     .subscribe(EventFilter::category("user"), move |event| {
///         tx.send(event.event_type().to_owned())?;
///         Ok(())
///     })
///     .unwrap();
/// assert_eq!(manager.subscription_count(), 1);
///
/// // A clone is another handle to the same manager.
/// let store = PublishingStore::new(InMemoryStore::new(), manager.clone());
/// let created = NewEvent::from_json("UserCreated", "{}").unwrap();
/// store.append("user-1", ExpectedVersion::NoStream, vec![created]).unwrap();
/// assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "UserCreated");
///
/// subscription.unsubscribe();
/// assert_eq!(manager.subscription_count(), 0);
/// manager.close();
/// assert!(manager.is_closed());
/// ```
#[derive(Clone)]
pub struct InMemorySubscriptionManager {
    inner: Arc<Inner>,
}

impl Default for InMemorySubscriptionManager {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for InMemorySubscriptionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let registry = self.inner.snapshot();
        f.debug_struct("InMemorySubscriptionManager")
            .field("subscriptions", &registry.subs.len())
            .field("watchers", &registry.watchers.len())
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish()
    }
}

impl InMemorySubscriptionManager {
    /// A manager with no subscriptions and no error hook.
    pub fn new() -> Self {
        InMemorySubscriptionManager {
            inner: Arc::new(Inner {
                registry: RwLock::new(Arc::new(Registry::default())),
                hook: Arc::new(RwLock::new(None)),
                closed: AtomicBool::new(false),
                next_id: AtomicU64::new(1),
            }),
        }
    }

    /// Sets the hook that receives every [`SubscriptionError`] of this manager's subscriptions
    /// (and of catch-up subscriptions and consumers attached to it). It runs on the failing
    /// subscription's worker thread; a panic inside it is caught and ignored. Replaces any
    /// previous hook.
    pub fn on_error(&self, hook: impl Fn(&SubscriptionError) + Send + Sync + 'static) {
        *self
            .inner
            .hook
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(hook));
    }

    /// Number of live subscriptions.
    pub fn subscription_count(&self) -> usize {
        self.inner.snapshot().subs.len()
    }

    /// Whether [`close`](SubscriptionManager::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }
}

impl SubscriptionManager for InMemorySubscriptionManager {
    fn subscribe_boxed(
        &self,
        filter: EventFilter,
        options: SubscriptionOptions,
        handler: BoxedHandler,
    ) -> Result<Subscription, SubscribeError> {
        if options.get_capacity() == 0 {
            return Err(SubscribeError::InvalidOption(
                "the queue capacity must be at least 1".into(),
            ));
        }
        if self.is_closed() {
            return Err(SubscribeError::Closed);
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let shared =
            subscription::start(id, filter, options, handler, Arc::clone(&self.inner.hook))
                .map_err(SubscribeError::Spawn)?;
        self.inner
            .update(|registry| registry.subs.push(Arc::clone(&shared)));
        // A close that raced with this subscribe took the registry before the push: undo.
        if self.is_closed() {
            self.inner
                .update(|registry| registry.subs.retain(|s| s.id != id));
            shared.shutdown(StopMode::Abort);
            return Err(SubscribeError::Closed);
        }
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        Ok(Subscription::new(
            shared,
            Box::new(move || {
                if let Some(inner) = weak.upgrade() {
                    inner.update(|registry| registry.subs.retain(|s| s.id != id));
                }
            }),
        ))
    }

    fn publish_batch(&self, events: &[RecordedEvent]) -> Result<(), PublishError> {
        if self.is_closed() {
            return Err(PublishError::Closed);
        }
        if events.is_empty() {
            return Ok(());
        }
        let registry = self.inner.snapshot();
        let mut full = Vec::new();
        let mut deadlock = None;
        for sub in &registry.subs {
            match sub.offer(events) {
                Ok(()) => {}
                Err(PushRefused::Full) => full.push(sub.name.clone()),
                Err(PushRefused::WouldDeadlock) => deadlock = Some(sub.name.clone()),
            }
        }
        for watcher in &registry.watchers {
            if events.iter().any(|e| watcher.filter.matches(e)) {
                (watcher.notify)();
            }
        }
        if let Some(subscription) = deadlock {
            return Err(PublishError::WouldDeadlock { subscription });
        }
        if !full.is_empty() {
            return Err(PublishError::QueueFull {
                subscriptions: full,
            });
        }
        Ok(())
    }

    fn watch(&self, filter: EventFilter, notify: Notify) -> Result<Watch, SubscribeError> {
        if self.is_closed() {
            return Err(SubscribeError::Closed);
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let watcher = Arc::new(Watcher { id, filter, notify });
        self.inner
            .update(|registry| registry.watchers.push(watcher));
        let weak = Arc::downgrade(&self.inner);
        Ok(Watch::new(Box::new(move || {
            if let Some(inner) = weak.upgrade() {
                inner.update(|registry| registry.watchers.retain(|w| w.id != id));
            }
        })))
    }

    fn error_reporter(&self) -> ErrorHook {
        let hook = Arc::clone(&self.inner.hook);
        Arc::new(move |error: &SubscriptionError| subscription::report(&hook, error))
    }

    fn close(&self) {
        self.inner.close();
    }
}
