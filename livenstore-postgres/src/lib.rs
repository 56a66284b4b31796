//! # livenstore-postgres
//!
//! A PostgreSQL backend for [livenstore](livenstore): [`PostgresStore`] implements the same
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

#[cfg(feature = "testing")]
pub mod testing;

pub use checkpoints::PostgresCheckpointStore;
pub use config::{validate_schema_name, PostgresConfig, DEFAULT_SCHEMA, MAX_SCHEMA_NAME_BYTES};
pub use store::{PostgresPool, PostgresStore};
