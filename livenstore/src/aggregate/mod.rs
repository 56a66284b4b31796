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
//!
//! The crate root re-exports every public item here.

mod dispatch;
mod repository;
mod root;

pub use dispatch::{Aggregate, AggregateEvent, DomainError, EventDecodeError};
pub use repository::{Repository, RepositoryError};
pub use root::{stream_name, AggregateRoot, ReplayError};
