//! What a catch-up subscription hands its handler ([`Delivery`]) and where it starts
//! ([`StartFrom`]).

use super::error::HandlerError;
use crate::{CommandContext, EventId, RecordedEvent};

/// Where a catch-up subscription starts.
///
/// # Examples
///
/// ```
/// use std::sync::{mpsc, Arc};
/// use std::time::Duration;
/// use livenstore::pubsub::{subscribe_from, EventFilter, InMemorySubscriptionManager, StartFrom};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
///
/// let store = Arc::new(InMemoryStore::new());
/// for stream in ["user-1", "user-2", "user-1"] {
///     let event = NewEvent::from_json("UserTouched", "{}").unwrap();
///     store.append(stream, ExpectedVersion::Any, vec![event]).unwrap();
/// }
/// let manager = InMemorySubscriptionManager::new();
/// let first_delivered = |from: StartFrom| {
///     let (tx, rx) = mpsc::channel();
///     let _subscription = subscribe_from(Arc::clone(&store), &manager, from, EventFilter::all(),
///         move |delivery| {
///             tx.send(delivery.event().position())?;
///             Ok(())
///         })
///     .unwrap();
///     rx.recv_timeout(Duration::from_secs(5)).unwrap()
/// };
/// assert_eq!(first_delivered(StartFrom::Beginning), 1);
/// // Resume after position 1, as a consumer with that checkpoint does.
/// assert_eq!(first_delivered(StartFrom::After(1)), 2);
/// // Only `user-1`, after its version 1: its version 2 is at position 3.
/// let from = StartFrom::StreamAfter { stream: "user-1".into(), version: 1 };
/// assert_eq!(first_delivered(from), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartFrom {
    /// Every stored event (position 1 on).
    Beginning,
    /// Events after this global position (exclusive): `After(0)` is
    /// [`Beginning`](Self::Beginning); a consumer resumes with `After(checkpoint)`.
    After(u64),
    /// Only events appended after the subscription started; every delivery is live.
    Now,
    /// Events of `stream` after its version `version` (exclusive), then its live events. Only
    /// events appended to the stream count; linked copies are not followed.
    StreamAfter {
        /// The stream.
        stream: String,
        /// The last version already seen (0 for the whole stream).
        version: u64,
    },
}

/// One event handed to a catch-up handler.
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
/// let opened = NewEvent::from_json("Opened", "{}").unwrap();
/// store.append("account-1", ExpectedVersion::NoStream, vec![opened]).unwrap();
///
/// let (tx, rx) = mpsc::channel();
/// let subscription = subscribe_from(Arc::clone(&store), &manager, StartFrom::Beginning,
///     EventFilter::all(), move |delivery| {
///         tx.send(delivery.clone())?;
///         Ok(())
///     })
/// .unwrap();
/// let delivery = rx.recv_timeout(Duration::from_secs(5)).unwrap();
/// assert_eq!(delivery.event().event_type(), "Opened");
/// assert!(!delivery.is_live(), "stored history comes first");
/// assert_eq!(delivery.idempotency_key(), delivery.event().id());
///
/// while !subscription.is_live() {
///     std::thread::sleep(Duration::from_millis(1));
/// }
/// let deposited = NewEvent::from_json("Deposited", r#"{"amount":5}"#).unwrap();
/// store.append("account-1", ExpectedVersion::Exact(1), vec![deposited]).unwrap();
/// let delivery = rx.recv_timeout(Duration::from_secs(5)).unwrap();
/// assert_eq!(delivery.event().event_type(), "Deposited");
/// assert!(delivery.is_live());
/// ```
#[derive(Debug, Clone)]
pub struct Delivery {
    pub(crate) event: RecordedEvent,
    pub(crate) live: bool,
}

impl Delivery {
    /// The event.
    pub fn event(&self) -> &RecordedEvent {
        &self.event
    }

    /// `false` while the subscription replays stored history, `true` once it has caught up
    /// (then it stays `true`).
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// The key to make handling idempotent: the event's id. Delivery is at-least-once, so a
    /// handler with side effects should remember which ids it has handled.
    pub fn idempotency_key(&self) -> EventId {
        self.event.id()
    }

    /// The context for what the handler writes in response: the event's correlation id (its own
    /// id when it has none) and the event as the cause. Pass it to
    /// [`Repository::transact_with`](crate::Repository::transact_with) so the events written
    /// link back to this one.
    pub fn context(&self) -> CommandContext {
        CommandContext::caused_by(&self.event)
    }
}

/// A boxed catch-up handler.
///
/// # Examples
///
/// ```
/// use std::sync::{mpsc, Arc};
/// use std::time::Duration;
/// use livenstore::pubsub::{subscribe_from_with, CatchUpOptions, DeliveryHandler, EventFilter};
/// use livenstore::pubsub::StartFrom;
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
///
/// let store = Arc::new(InMemoryStore::new());
/// let (tx, rx) = mpsc::channel();
/// let handler: DeliveryHandler = Box::new(move |delivery| {
///     tx.send(delivery.event().event_type().to_owned())?;
///     Ok(())
/// });
/// // Without a manager, the reader finds new events by polling the store.
/// let options = CatchUpOptions::new().poll_interval(Duration::from_millis(10));
/// let _subscription = subscribe_from_with(Arc::clone(&store), None, StartFrom::Beginning,
///     EventFilter::all(), options, handler)
/// .unwrap();
///
/// let created = NewEvent::from_json("UserCreated", r#"{"name":"ada"}"#).unwrap();
/// store.append("user-1", ExpectedVersion::NoStream, vec![created]).unwrap();
/// assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "UserCreated");
/// ```
pub type DeliveryHandler = Box<dyn FnMut(&Delivery) -> Result<(), HandlerError> + Send + 'static>;
