//! # livenstore
//!
//! Event sourcing for Rust. Annotate plain structs with derives, apply and replay events in
//! domain code, and persist the collected events to the store you choose.
//!
//! | module | folder | what is there |
//! |---|---|---|
//! | [`event`] | `src/event/` | everything an event is: [`DomainEvent`], the [`EventRegistry`], [`NewEvent`], [`RecordedEvent`], [`EventId`], [`Payload`], [`Metadata`] |
//! | [`aggregate`] | `src/aggregate/` | the [`Aggregate`] trait (derived), [`AggregateRoot`], [`Repository`] |
//! | [`store`] | `src/store/` | the [`EventStore`] trait and [`StoreError`]; [`InMemoryStore`] (`memory/`), [`JsonStore`] (`json/`) |
//! | [`backend`] | `src/backend/` | the kit for writing a store: the append rules, stream names, a guide |
//! | [`pubsub`] | `src/pubsub/` | subscriptions, catch-up subscriptions, consumers and their checkpoints |
//! | [`trace`] | `src/trace/` | the events of one conversation arranged by causation ([`CausalTree`]) |
//! | `testing` | `src/testing/` | the conformance suite every store passes (feature `testing`) |
//!
//! Every item a user names is also re-exported here, at the crate root.
//!
//! - [`DomainEvent`] (derive): an event's stable type name, registered so stored events decode by
//!   name ([`EventRegistry`]).
//! - [`Aggregate`] (derive): the compile-time dispatch from each event to the aggregate's
//!   `on_<snake_case_event>` handler.
//! - [`AggregateRoot`]: apply (dispatch and track), replay (dispatch only), collect unsaved
//!   (drain), version.
//! - [`NewEvent`] / [`RecordedEvent`]: the envelope (ULID id, type, stream, version, global
//!   position, time, metadata, JSON payload).
//! - [`EventStore`]: the store trait, with [`InMemoryStore`] and the crash-safe [`JsonStore`];
//!   [`Repository`] loads and saves aggregates with optimistic concurrency.
//! - [`pubsub`]: live subscriptions ([`SubscriptionManager`]), a store that publishes what it
//!   appends ([`PublishingStore`]), catch-up subscriptions and checkpointed consumers.
//!
//! ```
//! use livenstore::{Aggregate, AggregateRoot, DomainEvent};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
//! struct UserCreated { user_id: String, username: String }
//!
//! #[derive(Debug, thiserror::Error)]
//! enum UserError { #[error("username cannot be empty")] EmptyName }
//!
//! #[derive(Debug, Default, Aggregate)]
//! #[aggregate(events(UserCreated), error = UserError)]
//! struct User { id: String, username: String }
//!
//! impl User {
//!     fn on_user_created(&mut self, e: &UserCreated) -> Result<(), UserError> {
//!         if e.username.is_empty() {
//!             return Err(UserError::EmptyName);
//!         }
//!         self.id = e.user_id.clone();
//!         self.username = e.username.clone();
//!         Ok(())
//!     }
//! }
//!
//! let mut user = AggregateRoot::<User>::new("user-001");
//! user.apply(UserCreated { user_id: "user-001".into(), username: "ada".into() }).unwrap();
//! assert_eq!(user.username, "ada");
//! assert_eq!(user.collect_unsaved().len(), 1);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod clock;
mod error_chain;
mod fnv;
mod time;

pub mod aggregate;
pub mod backend;
pub mod event;
#[cfg(feature = "tokio")]
pub mod nonblocking;
pub mod pubsub;
pub mod store;
pub mod trace;

#[cfg(feature = "testing")]
pub mod testing;

pub use aggregate::{
    stream_name, Aggregate, AggregateEvent, AggregateRoot, CacheStats, DomainError,
    EventDecodeError, ReplayError, Repository, RepositoryError, SnapshotNotice, SnapshotProblem,
};
pub use event::{
    CommandContext, DomainEvent, EnvelopeError, EventId, EventRegistration, EventRegistry,
    LinkInfo, Metadata, NewEvent, ParseEventIdError, Payload, RecordedEvent, RecordedEventParts,
    RegistryDecodeError, RegistryError, Shape, UpcastError, CAUSATION_ID, CORRELATION_ID,
};
pub use pubsub::{EventFilter, InMemorySubscriptionManager, PublishingStore, SubscriptionManager};
pub use store::json::JsonStore;
pub use store::memory::InMemoryStore;
pub use store::{AppendResult, EventStore, ExpectedVersion, LimitKind, StoreError, StreamInfo};
pub use time::{ParseTimestampError, Timestamp};
pub use trace::{CausalTree, TracedEvent};

/// `#[derive(DomainEvent)]`: see [`DomainEvent`](trait@DomainEvent).
pub use livenstore_derive::DomainEvent;

/// `#[derive(Aggregate)]`: see [`Aggregate`](trait@Aggregate).
pub use livenstore_derive::Aggregate;

/// What the derives' generated code names. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::aggregate::state_copy::{
        decode_state, encode_state, CacheByClone, CacheNotAtAll, CacheProbe, EqByPartialEq,
        EqNotAtAll, EqProbe,
    };
    pub use crate::event::domain_event::decode_at_version;
    pub use crate::event::upcast_steps::{
        all_above, first_gap, json_step, names_overlap, str_eq, str_in, typed_step,
    };
    pub use crate::event::EventRegistration;
    pub use inventory;
    pub use serde_json;

    use crate::{AggregateEvent, EnvelopeError, EventDecodeError, NewEvent};

    /// The event enum of the stub `Aggregate` impl that `#[derive(Aggregate)]` emits next to its
    /// errors, so a refused input gives one error rather than a cascade. It has no value.
    #[derive(Debug, Clone, Copy)]
    pub enum FallbackEvent {}

    impl AggregateEvent for FallbackEvent {
        const EVENT_TYPES: &'static [&'static str] = &[];

        fn event_type(&self) -> &'static str {
            match *self {}
        }

        fn decode(_: &str, _: u32, _: &[u8]) -> Result<Self, EventDecodeError> {
            Err(EventDecodeError::UnknownEventType)
        }

        fn to_new_event(&self) -> Result<NewEvent, EnvelopeError> {
            match *self {}
        }

        fn into_new_event(self) -> Result<NewEvent, EnvelopeError> {
            match self {}
        }
    }
}
