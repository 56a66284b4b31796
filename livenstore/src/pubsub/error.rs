//! Errors of the pub/sub layer, and the report handed to error hooks.

use std::fmt;
use std::sync::Arc;

use crate::{RecordedEvent, StoreError};

/// What a handler returns when it fails: any error, boxed.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The hook that receives every [`SubscriptionError`] (see
/// [`InMemorySubscriptionManager::on_error`](super::InMemorySubscriptionManager::on_error)).
pub type ErrorHook = Arc<dyn Fn(&SubscriptionError) + Send + Sync + 'static>;

/// Errors of [`publish`](super::SubscriptionManager::publish).
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
}

/// What went wrong inside a subscription, as handed to the error hook.
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

/// The message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
