//! Aggregates: the [`Aggregate`] trait that `#[derive(Aggregate)]` implements (the dispatch from
//! each event to its handler), [`AggregateRoot`] (apply, replay, collect unsaved, version) and
//! [`Repository`] (load and save through any [`EventStore`](crate::EventStore), with optimistic
//! concurrency).
//!
//! | file | holds |
//! |---|---|
//! | `dispatch.rs` | [`Aggregate`], [`AggregateEvent`], [`DomainError`], [`EventDecodeError`] |
//! | `root.rs` | [`AggregateRoot`], [`ReplayError`], [`stream_name`] |
//! | `repository.rs` | [`Repository`], [`RepositoryError`] |
//! | `transact.rs` | [`Repository::transact`], [`Repository::transact_with`] (a command, stamped with a [`CommandContext`](crate::CommandContext)) |
//! | `snapshotting.rs` | which snapshots a repository trusts and when it writes one: [`SnapshotNotice`], [`SnapshotProblem`] |
//! | `state_cache.rs` | the repository's cache of recent states |
//! | `state_copy.rs` | how the derive copies a state for a cache and encodes it for a snapshot |
//!
//! The crate root re-exports every public item here.

mod dispatch;
mod repository;
mod root;
mod snapshotting;
mod state_cache;
pub(crate) mod state_copy;
mod transact;

pub use dispatch::{Aggregate, AggregateEvent, DomainError, EventDecodeError};
pub use repository::{CacheStats, Repository, RepositoryError};
pub use root::{stream_name, AggregateRoot, ReplayError};
pub use snapshotting::{SnapshotNotice, SnapshotProblem};
