//! # livenstore-postgres
//!
//! A PostgreSQL backend for [livenstore]: [`PostgresStore`] implements the same
//! [`EventStore`](livenstore::EventStore) trait as the in-memory and JSON stores and passes the
//! same conformance suite, and adds what a shared database makes possible: many writers in many
//! processes, and subscriptions that follow events appended by other processes.
//!
//! ```no_run
//! use livenstore::{EventStore, ExpectedVersion, NewEvent};
//! use livenstore_postgres::{PostgresConfig, PostgresStore};
//!
//! let config = PostgresConfig::new().schema("bank");
//! let store = PostgresStore::connect_with("postgresql://postgres@127.0.0.1:5432/test", config)?;
//! let deposited = NewEvent::from_json("Deposited", r#"{"amount":100}"#)?;
//! let result = store.append("account-7", ExpectedVersion::Any, vec![deposited])?;
//! println!("stored at position {}", result.first_position);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The API is synchronous, like the rest of livenstore: the [`postgres`] client with an
//! [`r2d2`] connection pool.
//!
//! ## Schema
//!
//! Tables live in a schema of their own (`livenstore` unless [`PostgresConfig::schema`] says
//! otherwise), created or upgraded on connect by the versioned SQL files in the crate's `sql/`
//! directory ([`schema::MIGRATIONS`]).
//!
//! ## Subscriptions across processes
//!
//! A [`PostgresSubscriptionManager`] is a
//! [`SubscriptionManager`](livenstore::pubsub::SubscriptionManager) whose subscriptions receive
//! the events **any** process appends to the store's schema. Its follower thread `LISTEN`s on
//! the channel every append notifies ([`PostgresStore::notification_channel`]), reads the new
//! events from the store in position order and publishes each once to an in-process
//! [`InMemorySubscriptionManager`](livenstore::pubsub::InMemorySubscriptionManager); it also
//! polls (every 500 ms by default, [`FollowerOptions`]), and reconnects a lost listener, so a
//! missed notification delays events but never loses them. Live subscriptions,
//! [`subscribe_from`](livenstore::pubsub::subscribe_from) catch-up subscriptions and
//! [`Consumer`](livenstore::pubsub::Consumer)s all work with it unchanged, and a consumer's
//! checkpoint can live in the same database ([`PostgresStore::checkpoints`]), so it resumes in
//! whichever process starts it next.
//!
//! Appends need nothing extra: do **not** wrap the store in a
//! [`PublishingStore`](livenstore::PublishingStore) feeding this manager (every event would be
//! delivered twice).
//!
//! ```no_run
//! use std::sync::Arc;
//! use livenstore::pubsub::{Consumer, EventFilter, SubscriptionManager};
//! use livenstore_postgres::{PostgresStore, PostgresSubscriptionManager};
//!
//! let store = Arc::new(PostgresStore::connect("postgresql://postgres@127.0.0.1:5432/test")?);
//! let manager = PostgresSubscriptionManager::start(&store)?;
//!
//! // Live: every event appended from now on, by this process or any other.
//! let live = manager.subscribe(EventFilter::all(), |event| {
//!     println!("{} at position {}", event.event_type(), event.position());
//!     Ok(())
//! })?;
//!
//! // Resumable: all of history once, then live events; the checkpoint is kept in the database.
//! let balances = Consumer::new("balances", Arc::new(store.checkpoints()))?.start(
//!     Arc::clone(&store),
//!     &manager,
//!     EventFilter::category("account"),
//!     |delivery| {
//!         println!("apply {} (key {})", delivery.event().event_type(), delivery.idempotency_key());
//!         Ok(())
//!     },
//! )?;
//!
//! // ... on shutdown: the consumer saves its checkpoint, the manager stops its follower.
//! balances.stop();
//! live.unsubscribe();
//! manager.close();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod append;
mod checkpoints;
mod codec;
mod config;
mod connection;
mod error;
mod event_store;
mod group_commit;
mod link;
mod plan;
mod read;
pub mod schema;
mod sql;
mod store;
mod subscriptions;

#[cfg(feature = "testing")]
pub mod testing;

pub use checkpoints::PostgresCheckpointStore;
pub use config::{validate_schema_name, PostgresConfig, DEFAULT_SCHEMA, MAX_SCHEMA_NAME_BYTES};
pub use store::{PostgresPool, PostgresStore};
pub use subscriptions::{FollowerOptions, PostgresSubscriptionManager, LISTENER_APPLICATION_NAME};
