//! The async face of livenstore (feature `tokio`): [`AsyncStore`] and [`AsyncRepository`] over
//! any [`EventStore`](crate::EventStore), subscriptions as [`DeliveryStream`]s, and consumers
//! with async handlers ([`start_async_consumer`]).
//!
//! The stores stay synchronous (that is what keeps them fast and runtime-agnostic). A call to a
//! store that blocks on I/O ([`EventStore::blocks`](crate::EventStore::blocks): `JsonStore`,
//! `PostgresStore`) runs on tokio's blocking pool (`spawn_blocking`), so it never stalls a
//! runtime worker; a call to one that does not (`InMemoryStore`) runs inline. Every future is
//! `Send`, so it can be spawned and awaited in an axum handler without extra bounds.
//!
//! # Cancellation
//!
//! Dropping a future of this module never leaves half an append: an append is one call of the
//! store, all or nothing, and once started on the blocking pool it runs to its end even when
//! nobody awaits it. Its outcome is then knowable by reading the stream (or by repeating the
//! append with the same event ids: an idempotent retry stores nothing twice). Dropping a
//! [`DeliveryStream`] unsubscribes.
//!
//! # Examples
//!
//! ```
//! use livenstore::nonblocking::AsyncRepository;
//! use livenstore::{Aggregate, DomainError, DomainEvent, InMemoryStore, Repository};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
//! struct Deposited { amount: u64 }
//!
//! #[derive(Debug, Default, Aggregate)]
//! #[aggregate(events(Deposited))]
//! struct Account { balance: u64 }
//!
//! impl Account {
//!     fn on_deposited(&mut self, e: &Deposited) -> Result<(), DomainError> {
//!         self.balance += e.amount;
//!         Ok(())
//!     }
//! }
//!
//! # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # runtime.block_on(async {
//! let repo = AsyncRepository::new(Repository::new(InMemoryStore::new()));
//! let tasks: Vec<_> = (0..8)
//!     .map(|_| {
//!         let repo = repo.clone();
//!         tokio::spawn(async move {
//!             repo.transact::<Account, _, _>("acc-1", |acc| acc.apply(Deposited { amount: 5 }))
//!                 .await
//!         })
//!     })
//!     .collect();
//! for task in tasks {
//!     task.await.unwrap().unwrap();
//! }
//! assert_eq!(repo.load::<Account>("acc-1").await.unwrap().balance, 40);
//! # });
//! ```

mod consumer;
mod offload;
mod repository;
mod store;
mod stream;

pub use consumer::start_async_consumer;
pub use repository::AsyncRepository;
pub use store::AsyncStore;
pub use stream::{subscribe_stream, DeliveryStream};
