//! # livenstore-nats
//!
//! A NATS JetStream backend for [livenstore]: [`JetStreamStore`] implements the same
//! [`EventStore`](livenstore::EventStore) trait as the in-memory, JSON and PostgreSQL stores
//! and passes the same conformance suite.
//!
//! (Layout documentation follows in the next commit.)

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod checkpoints;
mod codec;
mod config;
mod connection;
mod error;
mod follower;
mod kv;
mod layout;
mod log;
mod parked;
mod replica;
mod snapshots;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod writer;

pub use checkpoints::JetStreamCheckpointStore;
pub use config::{JetStreamConfig, DEFAULT_STREAM, MAX_STREAM_NAME_BYTES};
pub use parked::JetStreamParkedStore;
pub use snapshots::JetStreamSnapshotStore;
pub use store::JetStreamStore;
