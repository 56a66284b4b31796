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
//! ## Global positions
//!
//! Positions are 1, 2, 3... with no gap, and a reader never sees position n + 1 before n, even
//! with many writers in many processes. That is what lets a subscription (or any reader paging
//! with [`read_all`](livenstore::EventStore::read_all)) remember one number and never miss an
//! event. The store gets it from a **serialising position counter**: the one row of the
//! `log_head` table holds the last position. Every append transaction first locks that row
//! (`SELECT ... FOR UPDATE`) and holds the lock until its COMMIT, then reads the streams'
//! versions, decides, writes its events at `last_position + 1...` and stores the new last
//! position. So:
//!
//! - positions are gap-free: only the holder of the lock hands them out, and it commits or rolls
//!   back all of them together;
//! - position n is visible before n + 1 can exist: PostgreSQL makes a committed transaction
//!   visible before it releases its row locks, and the next writer gets the lock only then.
//!
//! The usual alternative, a sequence plus a reader-side bound on the oldest running
//! transaction, lets writers run in parallel but leaves gaps whenever a transaction rolls back
//! (a version conflict, a lost connection), and gap-free positions are a rule of every
//! livenstore backend.
//!
//! The price of the lock is that appends of one schema commit one after another: every
//! transaction pays a commit (a WAL flush) that no other writer overlaps, so many clients
//! appending one event per transaction through the lock get a small fraction of the rate of
//! bare autocommit `INSERT`s. The store wins that back with **group commit inside the
//! process**: appends made at the same time by many threads of
//! one process queue up, and one thread at a time (the leader) runs every pending append, up to
//! 256 appends, 10,000 events or 64 MiB of payloads, in one transaction, then hands each
//! caller its own result (its conflict, its duplicate-id error, or its
//! [`AppendResult`](livenstore::AppendResult)).
//! A group of small appends is taken off the queue only once its leader holds the lock, so the
//! callers of the previous group are back in the queue by then. A transaction is three or four
//! round trips whatever the group's size: `BEGIN` and the lock, with the read of the head, the
//! server's clock and the group's stream versions in the same message when the group holds at
//! least 64 events and no caller gave an event id (else a second round trip, which also reads
//! the stored events of those ids); one statement writing all events, stream versions, the head
//! and the notification; `COMMIT`. With it, many threads of one process appending single events
//! keep up with as many clients doing bare autocommit `INSERT`s, and batches keep up with bare
//! multi-row `INSERT` transactions (`cargo bench --bench postgres_store`; the figures are in the
//! repository's `BENCHMARKS.md`). Processes still take turns, so run the writers of a busy
//! store in few processes with many threads rather than the reverse.
//!
//! With the lock held from the events' write to the commit, a schema's event writes still run
//! one after another, on one server core, while bare writers spread theirs over all cores. So
//! when a group is running and at least 150 more events are queued (64 once the running
//! groups have written their events and only wait for the lock and their commit, leaving a
//! server core idle), **another group runs pipelined** beside it (up to three at once): it decides its appends against the state the first one will leave,
//! writes its events without the lock (on another server core, and while the first group
//! commits), and only then takes the lock, in one statement that moves the head and writes the
//! stream versions only if the head is still the one its predecessor wrote. Every write sets
//! the head's `last_write` to a fresh random id, so any other write in between (another
//! process, a link, a predecessor that failed) makes the check fail: the group rolls back and
//! runs again, locked. The positions rules above are untouched (positions are still handed out
//! and committed under the lock, in order); a wrong prediction costs time, never correctness.
//!
//! The same prediction also saves round trips when a group runs **alone**. Its read is
//! skipped when the groups before it in this process (the chain) already say what the head
//! and the group's streams hold: streams they wrote or read under the lock since the last
//! write of any other process, and new streams that the append expects absent
//! (`ExpectedVersion::NoStream` or `Exact(0)`). The group is then decided in memory and sent as
//! **one statement, outside any transaction**: it takes the lock, checks the head as a
//! pipelined group does, writes everything and notifies, and PostgreSQL commits it before it
//! answers: one round trip instead of three or four (once the statement is prepared on the
//! connection). A stream predicted absent that exists
//! after all (created before the chain began, or only linked to) fails the statement's INSERT
//! of its row, and the group runs again, locked. A lone writer appending to streams it wrote
//! before, or creating new ones, pays one round trip per append.
//!
//! ## Times
//!
//! `recorded_at` is the database server's clock, read in the append's transaction (under the
//! lock, or for a pipelined group just before, raised to its predecessor's time and checked
//! under the lock, or in a group's one statement, under the lock): it never decreases along positions, across processes too (when the
//! server's clock goes back, events keep the last time). All events of one transaction share it. PostgreSQL's `timestamptz` holds
//! microseconds, so times are whole microseconds (a [`Timestamp`](livenstore::Timestamp)'s
//! nanoseconds end in `000`). The bounds of
//! [`read_time_range`](livenstore::EventStore::read_time_range) are rounded up to the next
//! microsecond, which selects exactly the events whose reported times are in the range. The
//! server's clock and the callers' may differ: on another machine, an event can be recorded
//! "before" the caller's `Timestamp::now()` taken just before the append.
//!
//! ## Notifications
//!
//! Every transaction that adds positions sends `NOTIFY` on
//! [`PostgresStore::notification_channel`] (`livenstore_<schema>`) with the new last position,
//! in decimal, as payload. PostgreSQL delivers it at COMMIT, after the events are visible.
//! Links add no position and notify nothing.
//!
//! ## Errors and lost connections
//!
//! A failed append stores nothing: every error says so, except
//! [`StoreError::Backend`](livenstore::StoreError::Backend) with `outcome_unknown: true`, which
//! means the connection was lost while COMMIT was in flight; retrying with the same event ids is
//! then safe (the retry is a no-op if the first one was stored). A group sent as one statement
//! commits as it runs, so a connection lost during it could leave the outcome unknown: the
//! store then finds out on another connection, in a transaction that takes the lock, sets a
//! fresh last write (so the lost statement, if it still waits for the lock, fails its check)
//! and looks for the group's first event. The callers get their results when it is stored and a
//! known failure when it is not; the outcome stays unknown only when that transaction fails
//! too. The pool drops connections that
//! lost their server, so the store works again on the next call once the server is back: a
//! call whose connection is lost before anything was written (any read; an append before its
//! write was sent) is run once more, at once, on a connection that answered a round trip. A
//! unique violation caused by a writer that bypasses the lock (two versions n of a stream, an
//! id twice) is a [`Conflict`](livenstore::StoreError::Conflict) or
//! [`DuplicateEventId`](livenstore::StoreError::DuplicateEventId), and never fails the other
//! appends of its group.
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
//!
//! ## Projections with an exactly-once effect
//!
//! A [`Consumer`](livenstore::pubsub::Consumer) is at-least-once: it saves its checkpoint after
//! handling events, so a crash in between handles them again. A read model kept in the same
//! database can do better: a [`PostgresProjection`] hands its handler the **database
//! transaction** in which its checkpoint advances. Each batch (up to
//! [`batch_size`](PostgresProjection::batch_size) events, 100 by default) is one transaction:
//! lock the projection's row of the `checkpoints` table, read the events after it, call the
//! handler with the transaction and the events passing the
//! [`filter`](PostgresProjection::filter), move the checkpoint to the last event read, COMMIT.
//! A crash, a lost connection or a handler error before the COMMIT rolls back the read model's
//! writes and the checkpoint together, so an event's effects are applied exactly once (the
//! effects made through that transaction; anything else the handler does may happen again).
//! The checkpoint row is the one [`PostgresStore::checkpoints`] and `livenstore --postgres URL
//! consumers` show, and its lock makes two instances of one projection take turns.
//!
//! ```no_run
//! use livenstore_postgres::PostgresStore;
//!
//! let store = PostgresStore::connect("postgresql://postgres@127.0.0.1:5432/test")?;
//! let running = store.projection("deposits-by-account")?.start(|tx, events| {
//!     for event in events {
//!         let amount = event.payload().to_value()?["amount"].as_i64().unwrap_or(0);
//!         tx.execute(
//!             "INSERT INTO balances (account, total) VALUES ($1, $2) \
//!              ON CONFLICT (account) DO UPDATE SET total = balances.total + EXCLUDED.total",
//!             &[&event.stream(), &amount],
//!         )?;
//!     }
//!     Ok(())
//! })?;
//! // ... the worker thread follows the store (polling, or woken through `wake_on`) ...
//! running.stop(); // after the batch in flight commits or rolls back
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`start`](PostgresProjection::start) runs it on a worker thread: transient failures (a lost
//! connection, a deadlock) are reported to the error hook and retried after a growing pause;
//! a handler error or panic is reported and stops the worker with the checkpoint before the
//! failed batch. [`catch_up`](PostgresProjection::catch_up) and
//! [`run_once`](PostgresProjection::run_once) run batches synchronously. With batches of 100
//! and one multi-row INSERT per batch, a projection writes its read model at about the rate of
//! bare 100-row INSERT transactions (`cargo bench --bench projection`; `BENCHMARKS.md`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod checkpoints;
mod codec;
mod config;
mod connection;
mod error;
mod inner;
mod parked;
mod projection;
mod pubsub;
mod read;
pub mod schema;
mod snapshot_tail;
mod snapshots;
mod sql;
mod store;
mod write;

#[cfg(feature = "testing")]
pub mod testing;

pub use checkpoints::PostgresCheckpointStore;
pub use config::{validate_schema_name, PostgresConfig, DEFAULT_SCHEMA, MAX_SCHEMA_NAME_BYTES};
pub use error::endpoint;
pub use inner::PostgresPool;
pub use parked::PostgresParkedStore;
pub use projection::{
    PostgresProjection, ProjectionError, ProjectionErrorHook, ProjectionProgress,
    RunningProjection, DEFAULT_BATCH_SIZE, DEFAULT_MAX_RETRY_DELAY, DEFAULT_POLL_INTERVAL,
};
pub use pubsub::{FollowerOptions, PostgresSubscriptionManager, LISTENER_APPLICATION_NAME};
pub use store::PostgresStore;
