//! Errors of the pub/sub layer, and the report handed to error hooks.

use std::fmt;
use std::sync::Arc;

use crate::{RecordedEvent, StoreError};

/// What a handler returns when it fails: any error, boxed.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use livenstore::pubsub::{EventFilter, HandlerError, InMemorySubscriptionManager};
/// use livenstore::pubsub::{SubscriptionErrorKind, SubscriptionManager};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent, PublishingStore};
///
/// fn send_welcome_mail(address: Option<&str>) -> Result<(), HandlerError> {
///     let _address = address.ok_or("the user has no e-mail address")?;
///     Ok(())
/// }
///
/// let manager = InMemorySubscriptionManager::new();
/// let (tx, rx) = mpsc::channel();
/// manager.on_error(move |error| {
///     if let SubscriptionErrorKind::Handler(cause) = &error.kind {
///         let _ = tx.send(cause.to_string());
///     }
/// });
/// let _mailer = manager
///     .subscribe(EventFilter::all(), |event| {
///         let user = event.payload().to_value()?; // a serde_json::Error converts too
///         send_welcome_mail(user["email"].as_str())
///     })
///     .unwrap();
///
/// let store = PublishingStore::new(InMemoryStore::new(), manager.clone());
/// let created = NewEvent::from_json("UserCreated", r#"{"name":"ada"}"#).unwrap();
/// store.append("user-1", ExpectedVersion::NoStream, vec![created]).unwrap();
/// let reported = rx.recv_timeout(Duration::from_secs(5)).unwrap();
/// assert_eq!(reported, "the user has no e-mail address");
/// ```
pub type HandlerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The hook that receives every [`SubscriptionError`] (see
/// [`InMemorySubscriptionManager::on_error`](super::InMemorySubscriptionManager::on_error)).
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use livenstore::pubsub::{ErrorHook, InMemorySubscriptionManager, SubscriptionError};
/// use livenstore::pubsub::{SubscriptionErrorKind, SubscriptionManager};
/// use livenstore::StoreError;
///
/// let manager = InMemorySubscriptionManager::new();
/// let reports = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&reports);
/// manager.on_error(move |error| log.lock().unwrap().push(error.to_string()));
///
/// // A component running outside the manager reports through the manager's hook.
/// let report: ErrorHook = manager.error_reporter();
/// report(&SubscriptionError::new("follower", SubscriptionErrorKind::Store(StoreError::Closed)));
/// assert_eq!(*reports.lock().unwrap(), ["subscription `follower`: store read failed"]);
/// ```
pub type ErrorHook = Arc<dyn Fn(&SubscriptionError) + Send + Sync + 'static>;

/// Errors of [`publish`](super::SubscriptionManager::publish).
///
/// # Examples
///
/// ```
/// use livenstore::pubsub::{InMemorySubscriptionManager, PublishError, SubscriptionManager};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
///
/// let store = InMemoryStore::new();
/// let created = NewEvent::from_json("UserCreated", "{}").unwrap();
/// store.append("user-1", ExpectedVersion::NoStream, vec![created]).unwrap();
/// let event = &store.read_all(1, 1).unwrap()[0];
///
/// let manager = InMemorySubscriptionManager::new();
/// manager.publish(event).unwrap();
/// manager.close();
/// assert!(matches!(manager.publish(event), Err(PublishError::Closed)));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The queues of these subscriptions (named) were full and their policy is
    /// [`QueueFullPolicy::Fail`](super::QueueFullPolicy::Fail) or timed out with
    /// [`QueueFullPolicy::BlockFor`](super::QueueFullPolicy::BlockFor). The event was not queued
    /// for them (it was for every other matching subscription); with a batch, the events before
    /// the first refused one were queued for them.
    #[error("the queue of subscription(s) {} is full; the event was not queued for them", .subscriptions.join(", "))]
    QueueFull {
        /// The names of the subscriptions that refused the event.
        subscriptions: Vec<String>,
    },
    /// The publisher is the worker thread of a subscription whose queue is full: blocking would
    /// wait for itself forever, so the event was not queued for that subscription.
    #[error("publishing from the handler of subscription `{subscription}` into its own full queue would deadlock")]
    WouldDeadlock {
        /// The subscription's name.
        subscription: String,
    },
    /// The manager was closed.
    #[error("the subscription manager is closed")]
    Closed,
    /// [`PublishingStore`](super::PublishingStore) stored the events but could not read them
    /// back to publish them (the store's error message).
    #[error("could not read the appended events back to publish them: {0}")]
    ReadBack(String),
}

/// Errors of subscribing.
///
/// # Examples
///
/// ```
/// use livenstore::pubsub::{EventFilter, InMemorySubscriptionManager, SubscribeError};
/// use livenstore::pubsub::{SubscriptionManager, SubscriptionOptions};
///
/// let manager = InMemorySubscriptionManager::new();
/// let no_room = SubscriptionOptions::new().capacity(0);
/// let error = manager.subscribe_with(EventFilter::all(), no_room, |_| Ok(())).unwrap_err();
/// assert!(matches!(error, SubscribeError::InvalidOption(_)));
///
/// manager.close();
/// let error = manager.subscribe(EventFilter::all(), |_| Ok(())).unwrap_err();
/// assert!(matches!(error, SubscribeError::Closed));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubscribeError {
    /// The manager was closed.
    #[error("the subscription manager is closed")]
    Closed,
    /// An option is out of range (the message says which).
    #[error("invalid subscription option: {0}")]
    InvalidOption(String),
    /// The worker thread could not be started.
    #[error("could not start the subscription's worker thread")]
    Spawn(#[source] std::io::Error),
    /// The store failed while setting up a catch-up subscription or a consumer.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The consumer's checkpoint could not be loaded.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// Errors of [`CheckpointStore`](super::CheckpointStore) operations.
///
/// # Examples
///
/// ```
/// use livenstore::pubsub::{CheckpointError, CheckpointStore, FileCheckpointStore};
///
/// let dir = tempfile::tempdir().unwrap();
/// let checkpoints = FileCheckpointStore::open(dir.path()).unwrap();
/// match checkpoints.save("../projector", 7) {
///     Err(CheckpointError::InvalidName { name, .. }) => assert_eq!(name, "../projector"),
///     other => panic!("expected an invalid name, got {other:?}"),
/// }
///
/// // A checkpoint file that does not hold a position.
/// std::fs::write(dir.path().join("projector.checkpoint"), "seven\n").unwrap();
/// assert!(matches!(checkpoints.load("projector"), Err(CheckpointError::Corrupted { .. })));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The consumer name is not allowed.
    #[error("invalid consumer name {name:?}: {reason}")]
    InvalidName {
        /// The name given (cut to 100 characters).
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An I/O error, with the file it happened on.
    #[error("checkpoint I/O error on {path}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A checkpoint file does not hold a position.
    #[error("corrupted checkpoint file {path}: {reason}")]
    Corrupted {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A database backend keeping the checkpoints failed (the store's error says how).
    #[error("checkpoint store failed")]
    Backend(#[source] StoreError),
    /// The checkpoint store cannot do this (a third-party store without `list` or `delete`).
    #[error("this checkpoint store cannot {0}")]
    Unsupported(&'static str),
}

/// What went wrong inside a subscription, as handed to the error hook.
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
///     let position = error.event.as_ref().map(|event| event.position());
///     let _ = tx.send((error.subscription.clone(), position, error.stopped, error.to_string()));
/// });
/// let options = SubscriptionOptions::new().name("mailer").on_handler_error(OnHandlerError::Stop);
/// let _mailer = store
///     .manager()
///     .subscribe_with(EventFilter::all(), options, |_| Err("the mail server is down".into()))
///     .unwrap();
///
/// let created = NewEvent::from_json("UserCreated", "{}").unwrap();
/// store.append("user-1", ExpectedVersion::NoStream, vec![created]).unwrap();
/// let (name, position, stopped, message) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
/// assert_eq!((name.as_str(), position, stopped), ("mailer", Some(1), true));
/// assert!(message.starts_with("subscription `mailer`: handler failed (event "));
/// assert!(message.ends_with("`UserCreated` at position 1); the subscription stopped"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct SubscriptionError {
    /// The subscription's name.
    pub subscription: String,
    /// The event being handled, when there was one.
    pub event: Option<RecordedEvent>,
    /// What happened.
    pub kind: SubscriptionErrorKind,
    /// Whether the subscription stopped because of it.
    pub stopped: bool,
}

impl SubscriptionError {
    /// A report of `kind` from the subscription (or other component) named `subscription`, about
    /// no particular event, that did not stop it: how [`SubscriptionManager`] implementations
    /// outside this crate report to an [`ErrorHook`].
    ///
    /// [`SubscriptionManager`]: super::SubscriptionManager
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore::pubsub::{SubscriptionError, SubscriptionErrorKind};
    /// use livenstore::StoreError;
    ///
    /// let error = SubscriptionError::new(
    ///     "follower",
    ///     SubscriptionErrorKind::Store(StoreError::Closed),
    /// );
    /// assert_eq!(error.to_string(), "subscription `follower`: store read failed");
    /// // The store's error is the source, not repeated in the message.
    /// let source = std::error::Error::source(&error).unwrap();
    /// assert_eq!(source.to_string(), "the store is closed");
    /// ```
    pub fn new(subscription: impl Into<String>, kind: SubscriptionErrorKind) -> Self {
        SubscriptionError {
            subscription: subscription.into(),
            event: None,
            kind,
            stopped: false,
        }
    }
}

/// What happened inside a subscription.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use livenstore::pubsub::{EventFilter, InMemorySubscriptionManager};
/// use livenstore::pubsub::{SubscriptionErrorKind, SubscriptionManager};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent, PublishingStore};
///
/// let store = PublishingStore::new(InMemoryStore::new(), InMemorySubscriptionManager::new());
/// let (tx, rx) = mpsc::channel();
/// store.manager().on_error(move |error| {
///     let what = match &error.kind {
///         SubscriptionErrorKind::Handler(cause) => format!("error: {cause}"),
///         SubscriptionErrorKind::Panicked(message) => format!("panic: {message}"),
///         other => format!("{other:?}"),
///     };
///     let _ = tx.send(what);
/// });
/// let _projection = store
///     .manager()
///     .subscribe(EventFilter::all(), |event| match event.event_type() {
///         "UserCreated" => Err("no such table".into()),
///         _ => panic!("unexpected {}", event.event_type()),
///     })
///     .unwrap();
///
/// let created = NewEvent::from_json("UserCreated", "{}").unwrap();
/// let renamed = NewEvent::from_json("UserRenamed", "{}").unwrap();
/// store.append("user-1", ExpectedVersion::NoStream, vec![created, renamed]).unwrap();
/// let next = || rx.recv_timeout(Duration::from_secs(5)).unwrap();
/// assert_eq!(next(), "error: no such table");
/// assert_eq!(next(), "panic: unexpected UserRenamed", "the subscription went on (the default)");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum SubscriptionErrorKind {
    /// The handler returned an error.
    Handler(HandlerError),
    /// The handler panicked; the panic message when it was a string.
    Panicked(String),
    /// Reading the store failed (catch-up subscriptions and consumers retry after their poll
    /// interval).
    Store(StoreError),
    /// Saving a checkpoint failed (the consumer goes on; it will save again later).
    Checkpoint(CheckpointError),
    /// [`PublishingStore`](super::PublishingStore) stored events through the `EventStore` trait
    /// but could not publish them to every subscription.
    Publish(PublishError),
}

impl fmt::Display for SubscriptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "subscription `{}`: ", self.subscription)?;
        match &self.kind {
            // The error of each kind but a panic is the source, not repeated here.
            SubscriptionErrorKind::Handler(_) => f.write_str("handler failed")?,
            SubscriptionErrorKind::Panicked(m) => write!(f, "handler panicked: {m}")?,
            SubscriptionErrorKind::Store(_) => f.write_str("store read failed")?,
            SubscriptionErrorKind::Checkpoint(_) => f.write_str("checkpoint failed")?,
            SubscriptionErrorKind::Publish(_) => f.write_str("publication failed")?,
        }
        if let Some(event) = &self.event {
            write!(
                f,
                " (event {} `{}` at position {})",
                event.id(),
                event.event_type(),
                event.position()
            )?;
        }
        if self.stopped {
            f.write_str("; the subscription stopped")?;
        }
        Ok(())
    }
}

impl std::error::Error for SubscriptionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            SubscriptionErrorKind::Handler(e) => Some(&**e),
            SubscriptionErrorKind::Panicked(_) => None,
            SubscriptionErrorKind::Store(e) => Some(e),
            SubscriptionErrorKind::Checkpoint(e) => Some(e),
            SubscriptionErrorKind::Publish(e) => Some(e),
        }
    }
}

/// Where reports go when no hook is set: standard error, one line each, with the causes.
pub(crate) fn default_report(error: &SubscriptionError) {
    eprintln!(
        "livenstore pubsub: {}",
        crate::error_chain::ErrorChain(error)
    );
}

/// The message of a panic payload (what `catch_unwind` returns): its text, or a placeholder for
/// a payload that is not a string.
///
/// # Examples
///
/// ```
/// use livenstore::backend::panic_message;
///
/// let payload = std::panic::catch_unwind(|| panic!("boom {}", 7)).unwrap_err();
/// assert_eq!(panic_message(&*payload), "boom 7");
/// ```
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
