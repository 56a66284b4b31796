//! Catch-up subscriptions: stored history from a position on, then live events, read from the
//! store by position.
//!
//! Design: the reader thread always reads the store (`read_all(next, page)`), so events arrive in
//! position order and the hand-over from history to live can have no gap and no duplicate,
//! whatever writers do concurrently. Live publications only wake the reader (through
//! [`SubscriptionManager::watch`]); it also polls every
//! [`poll_interval`](CatchUpOptions::poll_interval), so appends that bypass the manager are seen
//! too. The one assumption: the store makes positions visible in order (it serializes appends),
//! as every livenstore backend does.
//!
//! A [`Delivery`] is historical until the reader first finds nothing after its position and
//! `last_position()` confirms it has caught up; from then on every delivery is live. The flag
//! therefore goes from `false` to `true` once and never back.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

use super::catch_up_options::CatchUpOptions;
use super::delivery::{Delivery, DeliveryHandler, StartFrom};
use super::error::{
    default_report, panic_message, ErrorHook, HandlerError, SubscribeError, SubscriptionError,
    SubscriptionErrorKind,
};
use super::filter::EventFilter;
use super::manager::{SubscriptionManager, Watch};
use super::subscription::OnHandlerError;
use crate::{EventStore, StoreError};

/// What the reader tells its owner (the consumer's checkpointing).
pub(crate) trait Progress: Send + 'static {
    /// `position` is processed (delivered successfully, skipped by the filter, or failed with
    /// [`OnHandlerError::Continue`]).
    fn processed(&mut self, position: u64, delivered: bool, report: &dyn Fn(SubscriptionError));
    /// The reader has nothing more to read for now.
    fn idle(&mut self, report: &dyn Fn(SubscriptionError));
    /// The reader stops.
    fn finished(&mut self, report: &dyn Fn(SubscriptionError));
}

struct NoProgress;

impl Progress for NoProgress {
    fn processed(&mut self, _: u64, _: bool, _: &dyn Fn(SubscriptionError)) {}
    fn idle(&mut self, _: &dyn Fn(SubscriptionError)) {}
    fn finished(&mut self, _: &dyn Fn(SubscriptionError)) {}
}

#[derive(Default)]
struct Signal {
    dirty: bool,
    stop: bool,
}

#[derive(Default)]
struct Shared {
    signal: Mutex<Signal>,
    wake: Condvar,
    worker_thread: OnceLock<ThreadId>,
    processed: AtomicU64,
    live: AtomicBool,
    running: AtomicBool,
}

impl Shared {
    fn notify(&self) {
        let mut signal = self.signal.lock().unwrap_or_else(PoisonError::into_inner);
        signal.dirty = true;
        drop(signal);
        self.wake.notify_one();
    }

    fn stopped(&self) -> bool {
        self.signal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stop
    }

    /// Waits for a wake-up, a stop or the poll interval. Returns `false` on stop.
    fn wait(&self, timeout: Duration) -> bool {
        let mut signal = self.signal.lock().unwrap_or_else(PoisonError::into_inner);
        if !signal.dirty && !signal.stop {
            signal = self
                .wake
                .wait_timeout(signal, timeout)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        signal.dirty = false;
        !signal.stop
    }
}

/// A running catch-up subscription. Dropping it (or [`stop`](Self::stop)) stops the reader after
/// the handler call in progress and joins it (from inside its own handler, it does not wait).
///
/// # Examples
///
/// ```
/// use std::sync::{mpsc, Arc};
/// use std::time::Duration;
/// use livenstore::pubsub::{subscribe_from, EventFilter, InMemorySubscriptionManager, StartFrom};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent, PublishingStore};
///
/// let manager = InMemorySubscriptionManager::new();
/// let store = Arc::new(PublishingStore::new(InMemoryStore::new(), manager.clone()));
/// let created = NewEvent::from_json("UserCreated", r#"{"name":"ada"}"#).unwrap();
/// store.append("user-1", ExpectedVersion::NoStream, vec![created]).unwrap();
///
/// let (tx, rx) = mpsc::channel();
/// let subscription = subscribe_from(Arc::clone(&store), &manager, StartFrom::Beginning,
///     EventFilter::category("user"), move |delivery| {
///         tx.send(delivery.event().position())?;
///         Ok(())
///     })
/// .unwrap();
/// assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 1, "history");
///
/// let renamed = NewEvent::from_json("UserRenamed", r#"{"name":"ada l."}"#).unwrap();
/// store.append("user-1", ExpectedVersion::Exact(1), vec![renamed]).unwrap();
/// assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 2, "then live events");
/// assert!(subscription.is_running());
///
/// subscription.stop();
/// let closed = NewEvent::from_json("UserClosed", "{}").unwrap();
/// store.append("user-1", ExpectedVersion::Exact(2), vec![closed]).unwrap();
/// assert!(rx.recv_timeout(Duration::from_millis(50)).is_err(), "nothing after stop");
/// ```
#[must_use = "dropping a CatchUpSubscription stops it"]
pub struct CatchUpSubscription {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
    watch: Option<Watch>,
    name: String,
}

impl CatchUpSubscription {
    /// The subscription's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the reader has caught up with the store (deliveries are live).
    pub fn is_live(&self) -> bool {
        self.shared.live.load(Ordering::SeqCst)
    }

    /// The position of the last event processed (0 before the first).
    pub fn position(&self) -> u64 {
        self.shared.processed.load(Ordering::SeqCst)
    }

    /// Whether the reader still runs (false after a stop on a handler error).
    pub fn is_running(&self) -> bool {
        self.shared.running.load(Ordering::SeqCst)
    }

    /// Stops the reader and joins it.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for CatchUpSubscription {
    fn drop(&mut self) {
        self.watch.take();
        self.shared
            .signal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stop = true;
        self.shared.wake.notify_all();
        if let Some(handle) = self.worker.take() {
            if self.shared.worker_thread.get() != Some(&std::thread::current().id()) {
                let _ = handle.join();
            }
        }
    }
}

impl std::fmt::Debug for CatchUpSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatchUpSubscription")
            .field("name", &self.name)
            .field("position", &self.position())
            .field("live", &self.is_live())
            .finish_non_exhaustive()
    }
}

/// Subscribes `handler` to the events of `store` after `from` that pass `filter`: first the
/// stored ones (historical), then live ones, woken by `manager`'s publications. See the
/// [`pubsub` module documentation](crate::pubsub) for the guarantees.
///
/// # Errors
///
/// As [`subscribe_from_with`].
///
/// # Examples
///
/// ```no_run
/// use std::sync::Arc;
/// use livenstore::pubsub::{subscribe_from, EventFilter, InMemorySubscriptionManager, StartFrom};
/// # fn demo(store: Arc<dyn livenstore::EventStore>) -> Result<(), Box<dyn std::error::Error>> {
/// let manager = InMemorySubscriptionManager::new();
/// let subscription = subscribe_from(store, &manager, StartFrom::Beginning, EventFilter::all(),
///     |delivery| {
///         println!("{} live={}", delivery.event().position(), delivery.is_live());
///         Ok(())
///     })?;
/// # drop(subscription); Ok(()) }
/// ```
pub fn subscribe_from<S, M, F>(
    store: Arc<S>,
    manager: &M,
    from: StartFrom,
    filter: EventFilter,
    handler: F,
) -> Result<CatchUpSubscription, SubscribeError>
where
    S: EventStore + ?Sized + 'static,
    M: SubscriptionManager,
    F: FnMut(&Delivery) -> Result<(), HandlerError> + Send + 'static,
{
    subscribe_from_with(
        store,
        Some(manager),
        from,
        filter,
        CatchUpOptions::default(),
        Box::new(handler),
    )
}

/// [`subscribe_from`] with options, and with an optional manager: without one, the reader only
/// polls (every [`poll_interval`](CatchUpOptions::poll_interval)) and reports errors to
/// standard error.
///
/// # Errors
///
/// [`SubscribeError::InvalidOption`] for a page size of 0; [`SubscribeError::Store`] when the
/// start position cannot be resolved (for [`StartFrom::StreamAfter`], a version the stream does
/// not have is [`StoreError::InvalidArgument`]); [`SubscribeError::Closed`] when the manager is
/// closed; [`SubscribeError::Spawn`].
pub fn subscribe_from_with<S>(
    store: Arc<S>,
    manager: Option<&dyn SubscriptionManager>,
    from: StartFrom,
    filter: EventFilter,
    options: CatchUpOptions,
    handler: DeliveryHandler,
) -> Result<CatchUpSubscription, SubscribeError>
where
    S: EventStore + ?Sized + 'static,
{
    start(store, manager, from, filter, options, handler, NoProgress)
}

pub(crate) fn start<S, P>(
    store: Arc<S>,
    manager: Option<&dyn SubscriptionManager>,
    from: StartFrom,
    filter: EventFilter,
    options: CatchUpOptions,
    mut handler: DeliveryHandler,
    mut progress: P,
) -> Result<CatchUpSubscription, SubscribeError>
where
    S: EventStore + ?Sized + 'static,
    P: Progress,
{
    if options.page_size == 0 {
        return Err(SubscribeError::InvalidOption(
            "the page size must be at least 1".into(),
        ));
    }
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| format!("catch-up-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed)));
    let shared = Arc::new(Shared::default());
    // Watch before resolving the start, so no publication after the start is missed.
    let (watch, reporter): (Option<Watch>, Option<ErrorHook>) = match manager {
        Some(manager) => {
            let waker = Arc::clone(&shared);
            let watch = manager.watch(filter.clone(), Arc::new(move || waker.notify()))?;
            (Some(watch), Some(manager.error_reporter()))
        }
        None => (None, None),
    };
    let starts_live = from == StartFrom::Now;
    let (mut next, stream_only) = match from {
        StartFrom::Beginning => (1, None),
        StartFrom::After(p) => (p.saturating_add(1), None),
        StartFrom::Now => (store.last_position()?.saturating_add(1), None),
        StartFrom::StreamAfter { stream, version } => {
            let next = if version == 0 {
                1
            } else {
                let found = store.read_stream(&stream, version, 1)?;
                match found.first() {
                    Some(event) if event.version() == version => event.position() + 1,
                    _ => {
                        return Err(StoreError::InvalidArgument(format!(
                            "stream `{stream}` has no version {version}"
                        ))
                        .into())
                    }
                }
            };
            (next, Some(stream))
        }
    };
    shared
        .processed
        .store(next.saturating_sub(1), Ordering::SeqCst);
    shared.running.store(true, Ordering::SeqCst);
    let worker_shared = Arc::clone(&shared);
    let worker_name = name.clone();
    let handle = std::thread::Builder::new()
        .name(format!("livenstore-{name}"))
        .spawn(move || {
            let shared = worker_shared;
            let report = |error: SubscriptionError| match &reporter {
                Some(hook) => {
                    let _ = catch_unwind(AssertUnwindSafe(|| hook(&error)));
                }
                None => default_report(&error),
            };
            let mut live = starts_live;
            shared.live.store(live, Ordering::SeqCst);
            'outer: while !shared.stopped() {
                // Clear the wake flag before reading, so a publication during the read is not lost.
                shared
                    .signal
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .dirty = false;
                let page = match store.read_all(next, options.page_size) {
                    Ok(page) => page,
                    Err(e) => {
                        report(store_error(&worker_name, e));
                        if !shared.wait(options.poll_interval) {
                            break;
                        }
                        continue;
                    }
                };
                if page.iter().all(|e| e.position() < next) {
                    if !live {
                        match store.last_position() {
                            Ok(last) if last < next => {
                                live = true;
                                shared.live.store(true, Ordering::SeqCst);
                            }
                            // Events appeared since the read: read again.
                            Ok(_) => continue,
                            Err(e) => report(store_error(&worker_name, e)),
                        }
                    }
                    progress.idle(&report);
                    if !shared.wait(options.poll_interval) {
                        break;
                    }
                    continue;
                }
                for event in page {
                    let position = event.position();
                    if position < next {
                        continue;
                    }
                    if shared.stopped() {
                        break 'outer;
                    }
                    let wanted = filter.matches(&event)
                        && stream_only.as_deref().is_none_or(|s| s == event.stream());
                    if wanted {
                        let delivery = Delivery { event, live };
                        let kind = match catch_unwind(AssertUnwindSafe(|| handler(&delivery))) {
                            Ok(Ok(())) => None,
                            Ok(Err(e)) => Some(SubscriptionErrorKind::Handler(e)),
                            Err(p) => Some(SubscriptionErrorKind::Panicked(panic_message(&*p))),
                        };
                        if let Some(kind) = kind {
                            let stop = options.on_handler_error == OnHandlerError::Stop;
                            report(SubscriptionError {
                                subscription: worker_name.clone(),
                                event: Some(delivery.event),
                                kind,
                                stopped: stop,
                            });
                            if stop {
                                break 'outer;
                            }
                        }
                    }
                    next = position + 1;
                    shared.processed.store(position, Ordering::SeqCst);
                    progress.processed(position, wanted, &report);
                }
            }
            progress.finished(&report);
            shared.running.store(false, Ordering::SeqCst);
        })
        .map_err(SubscribeError::Spawn)?;
    let _ = shared.worker_thread.set(handle.thread().id());
    Ok(CatchUpSubscription {
        shared,
        worker: Some(handle),
        watch,
        name,
    })
}

fn store_error(name: &str, error: StoreError) -> SubscriptionError {
    SubscriptionError {
        subscription: name.to_owned(),
        event: None,
        kind: SubscriptionErrorKind::Store(error),
        stopped: false,
    }
}
