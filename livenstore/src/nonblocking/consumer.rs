//! Consumers with async handlers.
//!
//! Invariant: the handler's future is awaited to its end on the consumer's own thread (through
//! the runtime's handle) before the next delivery and before the checkpoint moves past it, so
//! an async handler keeps the consumer's ordering, back-pressure and at-least-once delivery.

use std::future::Future;
use std::sync::Arc;

use crate::pubsub::{
    Consumer, Delivery, EventFilter, HandlerError, RunningConsumer, SubscribeError,
    SubscriptionManager,
};
use crate::EventStore;

/// Starts `consumer` with an async `handler`, run on the current tokio runtime.
///
/// Stop it ([`RunningConsumer::stop`], or drop it) from outside the runtime's worker threads,
/// for example in `spawn_blocking`: stopping waits for the handler in progress, whose future
/// needs the runtime to finish (on a current-thread runtime, stopping from its own thread would
/// wait forever).
///
/// # Errors
///
/// As [`Consumer::start`].
///
/// # Panics
///
/// When called outside a tokio runtime.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use livenstore::nonblocking::start_async_consumer;
/// use livenstore::pubsub::{Consumer, EventFilter, InMemoryCheckpointStore};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, InMemorySubscriptionManager};
/// use livenstore::NewEvent;
///
/// # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
/// let store = Arc::new(InMemoryStore::new());
/// let event = NewEvent::from_json("Opened", "{}").unwrap();
/// store.append("account-1", ExpectedVersion::Any, vec![event]).unwrap();
///
/// let (tx, mut rx) = tokio::sync::mpsc::channel(8);
/// let consumer = Consumer::new("mailer", Arc::new(InMemoryCheckpointStore::new())).unwrap();
/// let manager = InMemorySubscriptionManager::new();
/// let running = start_async_consumer(consumer, store, &manager, EventFilter::all(),
///     move |delivery| {
///         let tx = tx.clone();
///         async move {
///             tx.send(delivery.event().event_type().to_owned()).await?;
///             Ok(())
///         }
///     })
/// .unwrap();
/// assert_eq!(rx.recv().await.as_deref(), Some("Opened"));
/// tokio::task::spawn_blocking(move || running.stop()).await.unwrap();
/// # });
/// ```
pub fn start_async_consumer<S, M, F, Fut>(
    consumer: Consumer,
    store: Arc<S>,
    manager: &M,
    filter: EventFilter,
    mut handler: F,
) -> Result<RunningConsumer, SubscribeError>
where
    S: EventStore + ?Sized + 'static,
    M: SubscriptionManager,
    F: FnMut(Delivery) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    let runtime = tokio::runtime::Handle::current();
    consumer.start(store, manager, filter, move |delivery: &Delivery| {
        runtime.block_on(handler(delivery.clone()))
    })
}
