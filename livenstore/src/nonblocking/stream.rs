//! [`DeliveryStream`]: a catch-up subscription as a [`futures_core::Stream`].
//!
//! Invariants:
//! - Back-pressure, never loss: the subscription's reader hands each delivery to a bounded
//!   channel and waits while it is full, so a slow consumer of the stream slows the
//!   subscription's reads (it catches up later from the store) and memory stays bounded by the
//!   channel's capacity; no delivery is dropped.
//! - Dropping the stream unsubscribes: the channel closes first (a reader waiting on it gives
//!   up), then the subscription stops and its thread is joined.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::mpsc;

use crate::pubsub::{
    subscribe_from_with, CatchUpOptions, CatchUpSubscription, Delivery, EventFilter,
    OnHandlerError, StartFrom, SubscribeError, SubscriptionManager,
};
use crate::EventStore;

/// The deliveries of a catch-up subscription (stored history, then live events), as a
/// [`Stream`]. Made by [`subscribe_stream`].
#[derive(Debug)]
pub struct DeliveryStream {
    // Declared first, so dropped first: a reader blocked on a full channel wakes up and stops
    // before the subscription is joined.
    receiver: mpsc::Receiver<Delivery>,
    subscription: Option<CatchUpSubscription>,
}

impl DeliveryStream {
    /// The subscription under the stream (its position, whether it is live).
    pub fn subscription(&self) -> Option<&CatchUpSubscription> {
        self.subscription.as_ref()
    }
}

impl Stream for DeliveryStream {
    type Item = Delivery;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        self.receiver.poll_recv(cx)
    }
}

impl Drop for DeliveryStream {
    fn drop(&mut self) {
        self.receiver.close();
        if let Some(subscription) = self.subscription.take() {
            subscription.stop();
        }
    }
}

/// Subscribes to `store` from `from`, keeping at most `capacity` deliveries (at least 1)
/// waiting for the stream's consumer.
///
/// `options` are the catch-up subscription's (page size, poll interval, name); its handler-error
/// policy is set to stop, which only happens once the stream is dropped. Without a manager the
/// subscription polls the store for new events.
///
/// # Errors
///
/// As [`subscribe_from_with`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use livenstore::nonblocking::subscribe_stream;
/// use livenstore::pubsub::{CatchUpOptions, EventFilter, StartFrom};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, InMemorySubscriptionManager};
/// use livenstore::{NewEvent, PublishingStore};
/// use tokio_stream::StreamExt;
///
/// # tokio::runtime::Builder::new_multi_thread().build().unwrap().block_on(async {
/// let manager = InMemorySubscriptionManager::new();
/// let store = Arc::new(PublishingStore::new(InMemoryStore::new(), manager.clone()));
/// let opened = NewEvent::from_json("Opened", "{}").unwrap();
/// store.append("account-1", ExpectedVersion::NoStream, vec![opened]).unwrap();
///
/// let mut deliveries = subscribe_stream(Arc::clone(&store), Some(&manager), StartFrom::Beginning,
///     EventFilter::all(), CatchUpOptions::new(), 16).unwrap();
/// let first = deliveries.next().await.unwrap();
/// assert_eq!(first.event().event_type(), "Opened");
///
/// let closed = NewEvent::from_json("Closed", "{}").unwrap();
/// store.append("account-1", ExpectedVersion::Exact(1), vec![closed]).unwrap();
/// assert_eq!(deliveries.next().await.unwrap().event().event_type(), "Closed");
/// drop(deliveries); // unsubscribes
/// # });
/// ```
pub fn subscribe_stream<S>(
    store: Arc<S>,
    manager: Option<&dyn SubscriptionManager>,
    from: StartFrom,
    filter: EventFilter,
    options: CatchUpOptions,
    capacity: usize,
) -> Result<DeliveryStream, SubscribeError>
where
    S: EventStore + ?Sized + 'static,
{
    let (sender, receiver) = mpsc::channel(capacity.max(1));
    let options = options.on_handler_error(OnHandlerError::Stop);
    let subscription = subscribe_from_with(
        store,
        manager,
        from,
        filter,
        options,
        Box::new(move |delivery: &Delivery| {
            // The subscription's own thread, never a runtime's: waiting here is the
            // back-pressure.
            sender
                .blocking_send(delivery.clone())
                .map_err(|_| "the delivery stream was dropped".into())
        }),
    )?;
    Ok(DeliveryStream {
        receiver,
        subscription: Some(subscription),
    })
}
