//! A live subscription: its options, its handle, and its worker thread.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

use super::error::{
    default_report, panic_message, ErrorHook, HandlerError, SubscriptionError,
    SubscriptionErrorKind,
};
use super::filter::EventFilter;
use super::queue::{FullMode, PushRefused, Queue, StopMode};
use crate::RecordedEvent;

/// A boxed live-event handler, as [`SubscriptionManager::subscribe_boxed`] takes it.
///
/// [`SubscriptionManager::subscribe_boxed`]: super::SubscriptionManager::subscribe_boxed
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use livenstore::pubsub::{BoxedHandler, EventFilter, InMemorySubscriptionManager};
/// use livenstore::pubsub::{SubscriptionManager, SubscriptionOptions};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
///
/// let store = InMemoryStore::new();
/// let created = NewEvent::from_json("UserCreated", "{}").unwrap();
/// store.append("user-1", ExpectedVersion::NoStream, vec![created]).unwrap();
///
/// // A manager behind `dyn`, and a handler boxed to go with it.
/// let manager: Box<dyn SubscriptionManager> = Box::new(InMemorySubscriptionManager::new());
/// let (tx, rx) = mpsc::channel();
/// let handler: BoxedHandler = Box::new(move |event| {
///     tx.send(event.position())?;
///     Ok(())
/// });
/// let _subscription = manager
///     .subscribe_boxed(EventFilter::all(), SubscriptionOptions::new(), handler)
///     .unwrap();
/// manager.publish(&store.read_all(1, 1).unwrap()[0]).unwrap();
/// assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 1);
/// ```
pub type BoxedHandler = Box<dyn FnMut(&RecordedEvent) -> Result<(), HandlerError> + Send + 'static>;

/// The default queue capacity of a subscription (events).
pub const DEFAULT_QUEUE_CAPACITY: usize = 1024;

/// What `publish` does when a subscription's queue is full. Events are never dropped silently.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use livenstore::pubsub::{EventFilter, InMemorySubscriptionManager, PublishError};
/// use livenstore::pubsub::{QueueFullPolicy, SubscriptionManager, SubscriptionOptions};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
///
/// let store = InMemoryStore::new();
/// let ticks = (1..=3).map(|n| NewEvent::from_json("Tick", n.to_string()).unwrap()).collect();
/// store.append("clock", ExpectedVersion::NoStream, ticks).unwrap();
/// let events = store.read_all(1, 3).unwrap();
///
/// // A handler stuck on its first event, with room for one more event in its queue.
/// let manager = InMemorySubscriptionManager::new();
/// let (started_tx, started) = mpsc::channel();
/// let (release, gate) = mpsc::channel::<()>();
/// let options = SubscriptionOptions::new()
///     .name("slow")
///     .capacity(1)
///     .when_full(QueueFullPolicy::BlockFor(Duration::from_millis(20)));
/// let _slow = manager
///     .subscribe_with(EventFilter::all(), options, move |_| {
///         started_tx.send(())?;
///         gate.recv()?;
///         Ok(())
///     })
///     .unwrap();
/// manager.publish(&events[0]).unwrap();
/// started.recv_timeout(Duration::from_secs(5)).unwrap();
/// manager.publish(&events[1]).unwrap(); // queued
///
/// // The queue is full: `publish` waits 20 ms, then gives up on this subscription.
/// let error = manager.publish(&events[2]).unwrap_err();
/// match error {
///     PublishError::QueueFull { subscriptions } => assert_eq!(subscriptions, ["slow"]),
///     other => panic!("expected a full queue, got {other:?}"),
/// }
/// release.send(()).unwrap();
/// release.send(()).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum QueueFullPolicy {
    /// Wait until the worker has taken events out of the queue (the default). A slow handler
    /// then slows its publishers down, never other subscriptions' workers. A publisher that is
    /// the subscription's own worker gets [`PublishError::WouldDeadlock`] instead of waiting.
    ///
    /// [`PublishError::WouldDeadlock`]: super::PublishError::WouldDeadlock
    #[default]
    Block,
    /// Wait at most this long, then fail as [`Fail`](Self::Fail) does.
    BlockFor(Duration),
    /// Do not wait: `publish` returns [`PublishError::QueueFull`] naming the subscription. The
    /// event is still queued for every other matching subscription.
    ///
    /// [`PublishError::QueueFull`]: super::PublishError::QueueFull
    Fail,
}

/// What a subscription does after its handler returned an error or panicked (the error is
/// reported to the error hook either way).
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use livenstore::pubsub::{EventFilter, InMemorySubscriptionManager, OnHandlerError};
/// use livenstore::pubsub::{SubscriptionManager, SubscriptionOptions};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent, PublishingStore};
///
/// let store = PublishingStore::new(InMemoryStore::new(), InMemorySubscriptionManager::new());
/// let (tx, rx) = mpsc::channel();
/// store.manager().on_error(move |error| {
///     let _ = tx.send(error.stopped);
/// });
/// let options = SubscriptionOptions::new().on_handler_error(OnHandlerError::Stop);
/// let subscription = store
///     .manager()
///     .subscribe_with(EventFilter::all(), options, |_| Err("projection failed".into()))
///     .unwrap();
/// assert!(subscription.is_active());
///
/// let created = NewEvent::from_json("UserCreated", "{}").unwrap();
/// store.append("user-1", ExpectedVersion::NoStream, vec![created]).unwrap();
/// assert!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "the report says it stopped");
/// assert!(!subscription.is_active());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnHandlerError {
    /// Go on with the next event (the default). The failed event is not retried.
    #[default]
    Continue,
    /// Stop the subscription: no further event is delivered; publishers skip it.
    Stop,
}

/// Options of a live subscription.
///
/// # Examples
///
/// ```
/// use livenstore::pubsub::{OnHandlerError, QueueFullPolicy, SubscriptionOptions};
///
/// let options = SubscriptionOptions::new()
///     .name("mailer")
///     .capacity(64)
///     .when_full(QueueFullPolicy::Fail)
///     .on_handler_error(OnHandlerError::Stop);
/// assert_eq!(options.get_capacity(), 64);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionOptions {
    name: Option<String>,
    capacity: usize,
    when_full: QueueFullPolicy,
    on_handler_error: OnHandlerError,
}

impl Default for SubscriptionOptions {
    fn default() -> Self {
        SubscriptionOptions {
            name: None,
            capacity: DEFAULT_QUEUE_CAPACITY,
            when_full: QueueFullPolicy::Block,
            on_handler_error: OnHandlerError::Continue,
        }
    }
}

impl SubscriptionOptions {
    /// The defaults: an automatic name, [`DEFAULT_QUEUE_CAPACITY`], [`QueueFullPolicy::Block`],
    /// [`OnHandlerError::Continue`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The name used in errors and reports (default: `subscription-<id>`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// How many events may wait in the queue (at least 1). The worker also holds the batch it is
    /// handling, so up to twice this many events can be in flight.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// What `publish` does when the queue is full.
    pub fn when_full(mut self, policy: QueueFullPolicy) -> Self {
        self.when_full = policy;
        self
    }

    /// What the subscription does after a handler error or panic.
    pub fn on_handler_error(mut self, policy: OnHandlerError) -> Self {
        self.on_handler_error = policy;
        self
    }

    /// The queue capacity.
    pub fn get_capacity(&self) -> usize {
        self.capacity
    }
}

/// The shared state of one subscription: what publishers and the handle see.
pub(crate) struct SubShared {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) filter: EventFilter,
    pub(crate) queue: Queue,
    full_mode: FullMode,
    abort: AtomicBool,
    worker_thread: OnceLock<ThreadId>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl SubShared {
    /// Queues the events of `events` that pass the filter.
    pub(crate) fn offer(&self, events: &[RecordedEvent]) -> Result<(), PushRefused> {
        let matching = events.iter().filter(|e| self.filter.matches(e));
        self.queue
            .push(matching, self.full_mode, || self.is_worker_thread())
    }

    fn is_worker_thread(&self) -> bool {
        self.worker_thread.get() == Some(&std::thread::current().id())
    }

    /// Stops the subscription and joins its worker, unless called from the worker itself (then
    /// the worker ends after the handler call in progress returns).
    pub(crate) fn shutdown(&self, mode: StopMode) {
        if mode == StopMode::Abort {
            self.abort.store(true, Ordering::Relaxed);
        }
        self.queue.stop(mode);
        if self.is_worker_thread() {
            return;
        }
        let handle = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            // The worker catches handler panics; a join error cannot carry anything useful.
            let _ = handle.join();
        }
    }
}

/// Reports `error` to the hook held in `hook` (or to standard error when none is set).
pub(crate) fn report(hook: &RwLock<Option<ErrorHook>>, error: &SubscriptionError) {
    let hook = hook.read().unwrap_or_else(PoisonError::into_inner).clone();
    match hook {
        Some(hook) => {
            // A panicking hook must not take the worker down with it.
            let _ = catch_unwind(AssertUnwindSafe(|| hook(error)));
        }
        None => default_report(error),
    }
}

/// Starts a subscription's worker thread.
pub(crate) fn start(
    id: u64,
    filter: EventFilter,
    options: SubscriptionOptions,
    mut handler: BoxedHandler,
    hook: Arc<RwLock<Option<ErrorHook>>>,
) -> Result<Arc<SubShared>, std::io::Error> {
    let name = options.name.unwrap_or_else(|| format!("subscription-{id}"));
    let full_mode = match options.when_full {
        QueueFullPolicy::Block => FullMode::Block,
        QueueFullPolicy::BlockFor(d) => FullMode::BlockFor(d),
        QueueFullPolicy::Fail => FullMode::Fail,
    };
    let capacity = options.capacity;
    let shared = Arc::new(SubShared {
        id,
        name: name.clone(),
        filter,
        queue: Queue::new(capacity),
        full_mode,
        abort: AtomicBool::new(false),
        worker_thread: OnceLock::new(),
        worker: Mutex::new(None),
    });
    let on_error = options.on_handler_error;
    let worker_shared = Arc::clone(&shared);
    let handle = std::thread::Builder::new()
        .name(format!("livenstore-sub-{id}"))
        .spawn(move || {
            let shared = worker_shared;
            let mut batch = VecDeque::with_capacity(capacity.min(4096));
            'outer: while shared.queue.take_batch(&mut batch) {
                for event in batch.drain(..) {
                    if shared.abort.load(Ordering::Relaxed) {
                        break 'outer;
                    }
                    let kind = match catch_unwind(AssertUnwindSafe(|| handler(&event))) {
                        Ok(Ok(())) => continue,
                        Ok(Err(e)) => SubscriptionErrorKind::Handler(e),
                        Err(payload) => SubscriptionErrorKind::Panicked(panic_message(&*payload)),
                    };
                    let stop = on_error == OnHandlerError::Stop;
                    if stop {
                        shared.abort.store(true, Ordering::Relaxed);
                        shared.queue.stop(StopMode::Abort);
                    }
                    let error = SubscriptionError {
                        subscription: shared.name.clone(),
                        event: Some(event),
                        kind,
                        stopped: stop,
                    };
                    report(&hook, &error);
                    if stop {
                        break 'outer;
                    }
                }
            }
        })?;
    // Set before the handle is published, so `shutdown` from the handler sees it.
    let _ = shared.worker_thread.set(handle.thread().id());
    *shared.worker.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle);
    Ok(shared)
}

/// A live subscription. Dropping it (or calling [`unsubscribe`](Self::unsubscribe)) stops
/// delivery: events still queued are discarded, the handler call in progress finishes, and the
/// worker thread is joined — except when the subscription is dropped from inside its own
/// handler, where the worker ends right after that handler call returns.
///
/// To let it run for the life of the manager without keeping the handle, call
/// [`detach`](Self::detach).
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use livenstore::pubsub::{EventFilter, InMemorySubscriptionManager};
/// use livenstore::pubsub::{SubscriptionManager, SubscriptionOptions};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent, PublishingStore};
///
/// let store = PublishingStore::new(InMemoryStore::new(), InMemorySubscriptionManager::new());
/// let (tx, rx) = mpsc::channel();
/// let options = SubscriptionOptions::new().name("audit");
/// let subscription = store
///     .manager()
///     .subscribe_with(EventFilter::stream("user-1"), options, move |event| {
///         tx.send(event.version())?;
///         Ok(())
///     })
///     .unwrap();
/// assert_eq!(subscription.name(), "audit");
/// assert!(subscription.is_active());
///
/// let created = NewEvent::from_json("UserCreated", "{}").unwrap();
/// store.append("user-1", ExpectedVersion::NoStream, vec![created]).unwrap();
/// assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 1);
///
/// subscription.unsubscribe(); // stops delivery and joins the worker
/// let renamed = NewEvent::from_json("UserRenamed", "{}").unwrap();
/// store.append("user-1", ExpectedVersion::Exact(1), vec![renamed]).unwrap();
/// assert!(rx.recv_timeout(Duration::from_millis(50)).is_err(), "nothing after unsubscribe");
/// ```
#[must_use = "dropping a Subscription unsubscribes it"]
pub struct Subscription {
    shared: Arc<SubShared>,
    detach: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl Subscription {
    pub(crate) fn new(shared: Arc<SubShared>, detach: Box<dyn FnOnce() + Send + Sync>) -> Self {
        Subscription {
            shared,
            detach: Some(detach),
        }
    }

    /// The subscription's name (as given in the options, or `subscription-<id>`).
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The subscription's id, unique within its manager.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// Whether events are still delivered (false after a stop on error, or once the manager was
    /// closed).
    pub fn is_active(&self) -> bool {
        self.shared.queue.is_running()
    }

    /// Number of events waiting in the queue.
    pub fn queued(&self) -> usize {
        self.shared.queue.len()
    }

    /// Stops delivery and joins the worker (see the type's documentation).
    pub fn unsubscribe(self) {
        drop(self);
    }

    /// Lets the subscription run until the manager is closed or dropped, without a handle.
    pub fn detach(mut self) {
        self.detach = None;
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(detach) = self.detach.take() {
            detach();
            self.shared.shutdown(StopMode::Abort);
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.shared.id)
            .field("name", &self.shared.name)
            .field("filter", &self.shared.filter)
            .finish_non_exhaustive()
    }
}
