//! [`JetStreamSubscriptionManager`]: subscriptions that receive the events every process
//! appends to the store's JetStream stream.
//!
//! Invariants:
//! - Delivery, queues and the error hook are an [`InMemorySubscriptionManager`]'s; this manager
//!   adds one publisher thread that hands it what the store's replica holds after the manager's
//!   position, each event once, in position order. The replica is fed by the store's ordered
//!   JetStream consumer, so events appended by other processes arrive like local ones.
//! - The publisher wakes on every fold of the replica (a watch on its sequence), never polls.
//! - `close` (or dropping the last handle) stops the publisher and joins it; after it returns no
//!   event is published.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use livenstore::pubsub::{
    BoxedHandler, ErrorHook, EventFilter, InMemorySubscriptionManager, Notify, PublishError,
    SubscribeError, Subscription, SubscriptionError, SubscriptionErrorKind, SubscriptionManager,
    SubscriptionOptions, Watch,
};
use livenstore::{EventStore, RecordedEvent, StoreError};

use crate::store::JetStreamStore;

/// Events read from the replica per publication.
const PAGE: usize = 1000;

/// A [`SubscriptionManager`] whose subscriptions receive the events appended to a
/// [`JetStreamStore`]'s stream by **any** process, from the manager's start on.
///
/// [`subscribe`](SubscriptionManager::subscribe) gets live events from every process;
/// [`subscribe_from`](livenstore::pubsub::subscribe_from) and
/// [`Consumer::start`](livenstore::pubsub::Consumer::start) catch up by reading the store and are
/// woken by this manager, and a consumer's checkpoint can live in the same server
/// ([`JetStreamStore::checkpoints`]).
///
/// Do **not** also wrap the store in a [`PublishingStore`](livenstore::PublishingStore) feeding
/// this manager: every appended event is already published, and would be delivered twice.
/// [`publish_batch`](SubscriptionManager::publish_batch) called directly reaches this process's
/// subscriptions only.
///
/// Cloning gives another handle to the same manager; dropping the last one closes it.
///
/// # Examples
///
/// ```no_run
/// use livenstore::pubsub::{EventFilter, SubscriptionManager};
/// use livenstore_nats::{JetStreamStore, JetStreamSubscriptionManager};
///
/// let store = JetStreamStore::connect("nats://127.0.0.1:4222")?;
/// let manager = JetStreamSubscriptionManager::start(&store)?;
/// let _subscription = manager.subscribe(EventFilter::category("account"), |event| {
///     println!("{} at {}", event.event_type(), event.position());
///     Ok(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct JetStreamSubscriptionManager {
    inner: Arc<ManagerInner>,
}

struct ManagerInner {
    local: InMemorySubscriptionManager,
    position: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    waker: Mutex<Option<tokio::task::JoinHandle<()>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl ManagerInner {
    fn close(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // Closing the in-process manager first releases a publisher blocked on a full queue.
        self.local.close();
        if let Some(waker) = self
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            // Its wake-up sender goes with it, which ends the publisher's wait.
            waker.abort();
        }
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

impl std::fmt::Debug for JetStreamSubscriptionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamSubscriptionManager")
            .field("position", &self.position())
            .field("local", &self.inner.local)
            .finish()
    }
}

impl JetStreamSubscriptionManager {
    /// Starts a manager whose subscriptions receive the events appended to `store`'s stream
    /// after this call, by any process.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the publisher thread cannot be started; the store's damage error
    /// when its replica stopped at a bad message.
    pub fn start(store: &JetStreamStore) -> Result<Self, StoreError> {
        let next = store.last_position()? + 1;
        let local = InMemorySubscriptionManager::new();
        let position = Arc::new(AtomicU64::new(next - 1));
        let stop = Arc::new(AtomicBool::new(false));
        // Wake-ups: one pending at most, the publisher reads everything new on each.
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let mut folded = store.log().subscribe();
        let waker = store.connection().handle().spawn(async move {
            while folded.changed().await.is_ok() {
                if let Err(std::sync::mpsc::TrySendError::Disconnected(())) = wake.try_send(()) {
                    return;
                }
            }
        });
        let publisher = Publisher {
            store: store.clone(),
            local: local.clone(),
            position: Arc::clone(&position),
            stop: Arc::clone(&stop),
            next,
        };
        let worker = std::thread::Builder::new()
            .name(format!(
                "nats-subscriptions-{}",
                store.config().stream_name()
            ))
            .spawn(move || publisher.run(&woken))
            .map_err(|source| StoreError::Io {
                path: "<subscription publisher thread>".into(),
                source,
            })?;
        Ok(JetStreamSubscriptionManager {
            inner: Arc::new(ManagerInner {
                local,
                position,
                stop,
                waker: Mutex::new(Some(waker)),
                worker: Mutex::new(Some(worker)),
            }),
        })
    }

    /// The position of the last event published to the subscriptions.
    pub fn position(&self) -> u64 {
        self.inner.position.load(Ordering::SeqCst)
    }

    /// Sets the hook that receives the subscriptions' errors (standard error by default).
    pub fn on_error(&self, hook: impl Fn(&SubscriptionError) + Send + Sync + 'static) {
        self.inner.local.on_error(hook);
    }

    /// The number of live subscriptions.
    pub fn subscription_count(&self) -> usize {
        self.inner.local.subscription_count()
    }

    /// Whether the manager was closed.
    pub fn is_closed(&self) -> bool {
        self.inner.local.is_closed()
    }
}

impl SubscriptionManager for JetStreamSubscriptionManager {
    fn subscribe_boxed(
        &self,
        filter: EventFilter,
        options: SubscriptionOptions,
        handler: BoxedHandler,
    ) -> Result<Subscription, SubscribeError> {
        self.inner.local.subscribe_boxed(filter, options, handler)
    }

    fn publish_batch(&self, events: &[RecordedEvent]) -> Result<(), PublishError> {
        self.inner.local.publish_batch(events)
    }

    fn watch(&self, filter: EventFilter, notify: Notify) -> Result<Watch, SubscribeError> {
        self.inner.local.watch(filter, notify)
    }

    fn error_reporter(&self) -> ErrorHook {
        self.inner.local.error_reporter()
    }

    fn close(&self) {
        self.inner.close();
    }
}

/// The publisher thread's state.
struct Publisher {
    store: JetStreamStore,
    local: InMemorySubscriptionManager,
    position: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    next: u64,
}

impl Publisher {
    fn run(mut self, woken: &std::sync::mpsc::Receiver<()>) {
        let report = self.local.error_reporter();
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            if let Err(error) = self.publish_new(&report) {
                report(&SubscriptionError::new(
                    "jetstream-publisher".to_owned(),
                    SubscriptionErrorKind::Store(error),
                ));
            }
            if woken.recv().is_err() {
                return;
            }
        }
    }

    /// Publishes every event after `next` the replica holds.
    fn publish_new(&mut self, report: &ErrorHook) -> Result<(), StoreError> {
        loop {
            let page = self.store.read_all(self.next, PAGE)?;
            let Some(last) = page.last().map(RecordedEvent::position) else {
                return Ok(());
            };
            if let Err(e) = self.local.publish_batch(&page) {
                report(&SubscriptionError::new(
                    "jetstream-publisher".to_owned(),
                    SubscriptionErrorKind::Publish(e),
                ));
            }
            self.next = last + 1;
            self.position.store(last, Ordering::SeqCst);
            if page.len() < PAGE || self.stop.load(Ordering::SeqCst) {
                return Ok(());
            }
        }
    }
}
