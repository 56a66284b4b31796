//! Publish/subscribe: live subscriptions, catch-up subscriptions and checkpointed consumers.
//!
//! - [`SubscriptionManager`] / [`InMemorySubscriptionManager`]: live, in-process delivery.
//!   `publish` queues each event for every subscription whose [`EventFilter`] it passes; one
//!   worker thread per subscription calls its handler, in publish order, so a slow handler holds
//!   back only its own queue (and, with [`QueueFullPolicy::Block`], the publishers once that
//!   queue is full). Handler errors and panics go to the manager's error hook.
//! - [`PublishingStore`]: an [`EventStore`](crate::EventStore) that publishes what it appends.
//! - [`subscribe_from`]: a catch-up subscription that reads the store from a position, then
//!   follows live publications, with no gap and no duplicate at the hand-over; each
//!   [`Delivery`] says whether it is historical or live.
//! - [`Consumer`]: a named catch-up subscription whose position is saved in a
//!   [`CheckpointStore`] ([`InMemoryCheckpointStore`], [`FileCheckpointStore`]), so it resumes
//!   after a restart. At-least-once: handlers get the event id as idempotency key. A failing
//!   event is retried ([`RetryPolicy`]: attempts, exponential backoff, jitter) and, after the
//!   last attempt, parked ([`ParkedEventStore`]: [`InMemoryParkedStore`], [`FileParkedStore`])
//!   while the consumer goes on; parked events are re-delivered on request.
//!   [`consumer_statuses`] lists consumers with their position, lag and parked count.
//!
//! Live subscriptions are lost on restart and deliver at-least-once only within the process;
//! anything that must not miss events reads the store (catch-up subscription or consumer).

mod catch_up;
mod catch_up_options;
mod checkpoint;
mod consumer;
mod consumer_status;
mod delivery;
pub(crate) mod error;
mod filter;
mod manager;
mod parked;
mod parked_file;
mod publishing;
mod queue;
mod retry;
mod retrying;
mod subscription;

pub use catch_up::{subscribe_from, subscribe_from_with, CatchUpSubscription};
pub use catch_up_options::CatchUpOptions;
pub use checkpoint::{
    validate_consumer_name, CheckpointStore, FileCheckpointStore, InMemoryCheckpointStore,
    MAX_CONSUMER_NAME_BYTES,
};
pub use consumer::{CheckpointPolicy, Consumer, RunningConsumer};
pub use consumer_status::{consumer_statuses, ConsumerStatus};
pub use delivery::{Delivery, DeliveryHandler, StartFrom};
pub use error::{
    CheckpointError, ErrorHook, HandlerError, PublishError, SubscribeError, SubscriptionError,
    SubscriptionErrorKind,
};
pub use filter::{category_of, stream_member, EventFilter, EventTypeSet};
pub use manager::{InMemorySubscriptionManager, Notify, SubscriptionManager, Watch};
pub use parked::{InMemoryParkedStore, ParkedEvent, ParkedEventStore};
pub use parked_file::FileParkedStore;
pub use publishing::{PublishingError, PublishingStore};
pub use retry::RetryPolicy;
pub use subscription::{
    BoxedHandler, OnHandlerError, QueueFullPolicy, Subscription, SubscriptionOptions,
    DEFAULT_QUEUE_CAPACITY,
};
