//! Named consumers that resume after their checkpoint.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::catch_up::{self, CatchUpSubscription, Progress};
use super::catch_up_options::CatchUpOptions;
use super::checkpoint::{validate_consumer_name, CheckpointStore};
use super::delivery::{Delivery, DeliveryHandler, StartFrom};
use super::error::{HandlerError, SubscribeError, SubscriptionError, SubscriptionErrorKind};
use super::filter::EventFilter;
use super::manager::SubscriptionManager;
use super::parked::ParkedEventStore;
use super::retry::RetryPolicy;
use super::retrying::RetryingHandler;
use crate::EventStore;

/// When a consumer saves its checkpoint. Whatever the policy, it also saves when it has caught
/// up with the store (nothing more to read) and when it stops.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use livenstore::pubsub::{CheckpointPolicy, Consumer, EventFilter, InMemoryCheckpointStore};
/// use livenstore::pubsub::{InMemorySubscriptionManager, SubscribeError};
/// use livenstore::InMemoryStore;
///
/// let default = CheckpointPolicy::Every { events: 100, interval: Duration::from_secs(1) };
/// assert_eq!(CheckpointPolicy::default(), default);
///
/// let store = Arc::new(InMemoryStore::new());
/// let manager = InMemorySubscriptionManager::new();
/// let checkpoints = Arc::new(InMemoryCheckpointStore::new());
/// // Save after every event: at most one event is handled twice after a crash.
/// let every_event = Consumer::new("mailer", checkpoints.clone())
///     .unwrap()
///     .checkpoint_policy(CheckpointPolicy::EveryEvent)
///     .start(Arc::clone(&store), &manager, EventFilter::all(), |_| Ok(()));
/// assert!(every_event.is_ok());
///
/// let never = CheckpointPolicy::Every { events: 0, interval: Duration::from_secs(1) };
/// let refused = Consumer::new("indexer", checkpoints)
///     .unwrap()
///     .checkpoint_policy(never)
///     .start(store, &manager, EventFilter::all(), |_| Ok(()));
/// assert!(matches!(refused, Err(SubscribeError::InvalidOption(_))));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckpointPolicy {
    /// After every delivered event: at most one event is handled again after a crash, at the
    /// cost of one checkpoint write per event.
    EveryEvent,
    /// After `events` delivered events or once `interval` has passed since the last save,
    /// whichever comes first: after a crash, up to that many events are handled again.
    Every {
        /// Delivered events between saves (at least 1).
        events: u64,
        /// Longest time between saves while events flow.
        interval: Duration,
    },
}

impl Default for CheckpointPolicy {
    /// `Every { events: 100, interval: 1 s }`.
    fn default() -> Self {
        CheckpointPolicy::Every {
            events: 100,
            interval: Duration::from_secs(1),
        }
    }
}

/// A named, resumable catch-up subscription: it starts after the position saved in its
/// [`CheckpointStore`], handles every later event passing its filter (historical, then live),
/// and saves the position it has processed as it goes.
///
/// Delivery is **at-least-once**: an event is handled, then its position is saved later (see
/// [`CheckpointPolicy`]); a crash between the two hands the event over again on restart. Make
/// handlers idempotent with [`Delivery::idempotency_key`] (the event id). A handler error with
/// [`OnHandlerError::Stop`](super::OnHandlerError::Stop) leaves the checkpoint before the failed
/// event, so it is retried on the next start; with `Continue` (the default) the event is
/// reported and counts as processed.
///
/// Two consumers running at once under the same name would overwrite each other's checkpoint:
/// give each one its own name.
///
/// # Examples
///
/// ```no_run
/// use std::sync::Arc;
/// use livenstore::pubsub::{Consumer, EventFilter, FileCheckpointStore, InMemorySubscriptionManager};
/// # fn demo(store: Arc<dyn livenstore::EventStore>) -> Result<(), Box<dyn std::error::Error>> {
/// let manager = InMemorySubscriptionManager::new();
/// let checkpoints = Arc::new(FileCheckpointStore::open("data/checkpoints")?);
/// let running = Consumer::new("user-projection", checkpoints)?
///     .start(store, &manager, EventFilter::category("user"), |delivery| {
///         println!("{} {}", delivery.idempotency_key(), delivery.event().event_type());
///         Ok(())
///     })?;
/// running.stop(); // saves the checkpoint
/// # Ok(()) }
/// ```
pub struct Consumer {
    name: String,
    checkpoints: Arc<dyn CheckpointStore>,
    policy: CheckpointPolicy,
    options: CatchUpOptions,
    retry: Option<RetryPolicy>,
    parked: Option<Arc<dyn ParkedEventStore>>,
    member: Option<(u32, u32)>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("name", &self.name)
            .field("policy", &self.policy)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Consumer {
    /// A consumer named `name` keeping its checkpoint in `checkpoints`.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::InvalidName`](super::CheckpointError::InvalidName) (see
    /// [`validate_consumer_name`]).
    pub fn new(
        name: impl Into<String>,
        checkpoints: Arc<dyn CheckpointStore>,
    ) -> Result<Self, super::CheckpointError> {
        let name = name.into();
        validate_consumer_name(&name)?;
        Ok(Consumer {
            options: CatchUpOptions::default().name(name.clone()),
            name,
            checkpoints,
            policy: CheckpointPolicy::default(),
            retry: None,
            parked: None,
            member: None,
        })
    }

    /// Makes this consumer member `index` (from 0) of a group of `count` named by the
    /// consumer's name: it handles only the streams it owns ([`EventFilter::member_of`]: a
    /// stable hash of the stream name), so each stream's events stay in order on one member,
    /// and keeps its checkpoint (and parked events) as `<name>.member-<index>-of-<count>`.
    ///
    /// The assignment is static: a member that stops leaves its share unprocessed until it (the
    /// same index of the same count) is back; changing `count` starts new checkpoints. Members
    /// may run in one process or in several (with a shared checkpoint store, such as a
    /// PostgreSQL store's).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{mpsc, Arc};
    /// use std::time::Duration;
    /// use livenstore::pubsub::{stream_member, Consumer, EventFilter, InMemoryCheckpointStore};
    /// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, InMemorySubscriptionManager};
    /// use livenstore::NewEvent;
    ///
    /// let store = Arc::new(InMemoryStore::new());
    /// for stream in ["account-1", "account-2", "account-3"] {
    ///     let event = NewEvent::from_json("Opened", "{}").unwrap();
    ///     store.append(stream, ExpectedVersion::Any, vec![event]).unwrap();
    /// }
    /// let checkpoints = Arc::new(InMemoryCheckpointStore::new());
    /// let (tx, rx) = mpsc::channel();
    /// let member = Consumer::new("mailer", checkpoints)
    ///     .unwrap()
    ///     .member(1, 2)
    ///     .start(Arc::clone(&store), &InMemorySubscriptionManager::new(), EventFilter::all(),
    ///         move |d| { tx.send(d.event().stream().to_owned())?; Ok(()) })
    ///     .unwrap();
    /// assert_eq!(member.name(), "mailer.member-1-of-2");
    /// let mine = ["account-1", "account-2", "account-3"]
    ///     .into_iter()
    ///     .filter(|s| stream_member(s, 2) == 1)
    ///     .count();
    /// for _ in 0..mine {
    ///     let stream = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    ///     assert_eq!(stream_member(&stream, 2), 1);
    /// }
    /// ```
    pub fn member(mut self, index: u32, count: u32) -> Self {
        self.member = Some((index, count));
        self
    }

    /// Retries a failed event as `policy` says before giving up on it (then it is parked, see
    /// [`park_to`](Self::park_to), or goes to the handler-error policy). Without this call a
    /// consumer that parks retries with [`RetryPolicy::default`] (3 attempts, 100 ms then
    /// 200 ms, jitter) and one that does not park tries once. A retry waits on the consumer's
    /// thread, so [`RunningConsumer::stop`] may wait for the rest of one backoff.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Parks events that fail every attempt in `parked` (durably, with the error, the attempts
    /// and the time) and goes on, instead of stopping or skipping silently. Parked events are
    /// re-delivered, in position order, when a replay is asked
    /// ([`ParkedEventStore::request_replay`], `livenstore DIR parked replay NAME`): the consumer
    /// does it each time it has caught up with the store.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use livenstore::pubsub::{Consumer, EventFilter, InMemoryCheckpointStore};
    /// use livenstore::pubsub::{InMemoryParkedStore, ParkedEventStore, RetryPolicy};
    /// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, InMemorySubscriptionManager};
    /// use livenstore::NewEvent;
    ///
    /// let store = Arc::new(InMemoryStore::new());
    /// for body in ["1", "\"poison\"", "3"] {
    ///     let event = NewEvent::from_json("Counted", body).unwrap();
    ///     store.append("counter", ExpectedVersion::Any, vec![event]).unwrap();
    /// }
    /// let parked = Arc::new(InMemoryParkedStore::new());
    /// let running = Consumer::new("sum", Arc::new(InMemoryCheckpointStore::new()))
    ///     .unwrap()
    ///     .retry(RetryPolicy::new(2).backoff(Duration::ZERO, Duration::ZERO))
    ///     .park_to(parked.clone())
    ///     .start(Arc::clone(&store), &InMemorySubscriptionManager::new(), EventFilter::all(),
    ///         |delivery| {
    ///             let _n = delivery.event().payload().to_value()?.as_u64().ok_or("not a number")?;
    ///             Ok(())
    ///         })
    ///     .unwrap();
    /// while running.position() < 3 {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// let poison = parked.list(Some("sum")).unwrap();
    /// assert_eq!((poison.len(), poison[0].position, poison[0].attempts), (1, 2, 2));
    /// ```
    pub fn park_to(mut self, parked: Arc<dyn ParkedEventStore>) -> Self {
        self.parked = Some(parked);
        self
    }

    /// When to save the checkpoint.
    pub fn checkpoint_policy(mut self, policy: CheckpointPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Options of the underlying catch-up subscription (its name is always the consumer's).
    pub fn options(mut self, options: CatchUpOptions) -> Self {
        self.options = options.name(self.name.clone());
        self
    }

    /// Loads the checkpoint and starts handling the events of `store` after it.
    ///
    /// # Errors
    ///
    /// [`SubscribeError::Checkpoint`] when the checkpoint cannot be loaded;
    /// [`SubscribeError::InvalidOption`] for `Every { events: 0, .. }`; otherwise as
    /// [`subscribe_from_with`](super::subscribe_from_with).
    pub fn start<S, M, F>(
        mut self,
        store: Arc<S>,
        manager: &M,
        filter: EventFilter,
        handler: F,
    ) -> Result<RunningConsumer, SubscribeError>
    where
        S: EventStore + ?Sized + 'static,
        M: SubscriptionManager,
        F: FnMut(&Delivery) -> Result<(), HandlerError> + Send + 'static,
    {
        if let CheckpointPolicy::Every { events: 0, .. } = self.policy {
            return Err(SubscribeError::InvalidOption(
                "a checkpoint every 0 events".into(),
            ));
        }
        let filter = match self.member {
            None => filter,
            Some((index, count)) => {
                if count == 0 || index >= count {
                    return Err(SubscribeError::InvalidOption(format!(
                        "member {index} of a group of {count}"
                    )));
                }
                let name = format!("{}.member-{index}-of-{count}", self.name);
                validate_consumer_name(&name)?;
                self.options = self.options.name(name.clone());
                self.name = name;
                filter.member_of(index, count)
            }
        };
        let saved = self.checkpoints.load(&self.name)?.unwrap_or(0);
        let retry = self.retry.unwrap_or(if self.parked.is_some() {
            RetryPolicy::default()
        } else {
            RetryPolicy::never()
        });
        let (handler, replay): (DeliveryHandler, Option<Replay>) =
            if retry.max_attempts == 1 && self.parked.is_none() {
                (Box::new(handler), None)
            } else {
                let wrapped = Arc::new(Mutex::new(RetryingHandler {
                    consumer: self.name.clone(),
                    handler,
                    policy: retry,
                    parked: self.parked.clone(),
                    replay_checked: None,
                }));
                let for_replay = Arc::clone(&wrapped);
                let replay_store = Arc::clone(&store);
                (
                    Box::new(move |delivery: &Delivery| lock(&wrapped).handle(delivery)),
                    Some(Box::new(move || {
                        lock(&for_replay).replay_if_requested(&*replay_store)
                    })),
                )
            };
        let progress = Checkpointing {
            name: self.name.clone(),
            checkpoints: Arc::clone(&self.checkpoints),
            policy: self.policy,
            saved,
            processed: saved,
            unsaved_deliveries: 0,
            last_save: Instant::now(),
            replay,
        };
        let subscription = catch_up::start(
            store,
            Some(manager),
            StartFrom::After(saved),
            filter,
            self.options,
            handler,
            progress,
        )?;
        Ok(RunningConsumer {
            name: self.name,
            subscription,
        })
    }
}

/// Re-delivers parked events when asked (see `retrying.rs`).
type Replay = Box<dyn FnMut() -> Result<(), HandlerError> + Send>;

/// The wrapped handler, locked (only the consumer's thread takes the lock; a panic in the
/// user's handler leaves nothing half-changed in the wrapper).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Checkpointing {
    name: String,
    checkpoints: Arc<dyn CheckpointStore>,
    policy: CheckpointPolicy,
    saved: u64,
    processed: u64,
    unsaved_deliveries: u64,
    last_save: Instant,
    replay: Option<Replay>,
}

impl Checkpointing {
    fn save(&mut self, report: &dyn Fn(SubscriptionError)) {
        if self.processed == self.saved {
            return;
        }
        match self.checkpoints.save(&self.name, self.processed) {
            Ok(()) => {
                self.saved = self.processed;
                self.unsaved_deliveries = 0;
                self.last_save = Instant::now();
            }
            Err(e) => report(SubscriptionError {
                subscription: self.name.clone(),
                event: None,
                kind: SubscriptionErrorKind::Checkpoint(e),
                stopped: false,
            }),
        }
    }
}

impl Progress for Checkpointing {
    fn processed(&mut self, position: u64, delivered: bool, report: &dyn Fn(SubscriptionError)) {
        self.processed = position;
        if !delivered {
            return;
        }
        self.unsaved_deliveries += 1;
        let due = match self.policy {
            CheckpointPolicy::EveryEvent => true,
            CheckpointPolicy::Every { events, interval } => {
                self.unsaved_deliveries >= events || self.last_save.elapsed() >= interval
            }
        };
        if due {
            self.save(report);
        }
    }

    fn idle(&mut self, report: &dyn Fn(SubscriptionError)) {
        self.save(report);
        if let Some(replay) = &mut self.replay {
            if let Err(error) = replay() {
                report(SubscriptionError {
                    subscription: self.name.clone(),
                    event: None,
                    kind: SubscriptionErrorKind::Handler(error),
                    stopped: false,
                });
            }
        }
    }

    fn finished(&mut self, report: &dyn Fn(SubscriptionError)) {
        self.save(report);
    }
}

/// A started [`Consumer`]. Dropping it (or [`stop`](Self::stop)) stops it after the event in
/// progress and saves its checkpoint.
///
/// # Examples
///
/// ```
/// use std::sync::{mpsc, Arc};
/// use std::time::Duration;
/// use livenstore::pubsub::{Consumer, EventFilter, InMemoryCheckpointStore};
/// use livenstore::pubsub::{InMemorySubscriptionManager, RunningConsumer};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
///
/// let store = Arc::new(InMemoryStore::new());
/// let manager = InMemorySubscriptionManager::new();
/// let checkpoints = Arc::new(InMemoryCheckpointStore::new());
/// let count = |n: u64| {
///     let event = NewEvent::from_json("Counted", n.to_string()).unwrap();
///     store.append("counter", ExpectedVersion::Any, vec![event]).unwrap();
/// };
/// let start = |tx: mpsc::Sender<u64>| -> RunningConsumer {
///     Consumer::new("counter-view", checkpoints.clone())
///         .unwrap()
///         .start(Arc::clone(&store), &manager, EventFilter::all(), move |delivery| {
///             tx.send(delivery.event().position())?;
///             Ok(())
///         })
///         .unwrap()
/// };
///
/// count(1);
/// let (tx, rx) = mpsc::channel();
/// let running = start(tx);
/// assert_eq!(running.name(), "counter-view");
/// assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 1);
/// running.stop(); // saves position 1
///
/// count(2);
/// let (tx, rx) = mpsc::channel();
/// let _running = start(tx);
/// assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 2, "resumes after its checkpoint");
/// ```
#[must_use = "dropping a RunningConsumer stops it"]
#[derive(Debug)]
pub struct RunningConsumer {
    name: String,
    subscription: CatchUpSubscription,
}

impl RunningConsumer {
    /// The consumer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The position of the last event processed (saved or not yet).
    pub fn position(&self) -> u64 {
        self.subscription.position()
    }

    /// Whether the consumer has caught up with the store.
    pub fn is_live(&self) -> bool {
        self.subscription.is_live()
    }

    /// Whether it still runs (false after a stop on a handler error).
    pub fn is_running(&self) -> bool {
        self.subscription.is_running()
    }

    /// Stops, saves the checkpoint, and joins the reader.
    pub fn stop(self) {
        drop(self);
    }
}
