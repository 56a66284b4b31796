//! # livenstore-nats
//!
//! A NATS JetStream backend for [livenstore]: [`JetStreamStore`] implements the same
//! [`EventStore`](livenstore::EventStore) trait as the in-memory, JSON and PostgreSQL stores and
//! passes the same conformance suite, so domain code moves between them unchanged. Many
//! processes can share one store; [`JetStreamSubscriptionManager`] delivers what any of them
//! appends.
//!
//! ```no_run
//! use livenstore::{EventStore, ExpectedVersion, NewEvent};
//! use livenstore_nats::{JetStreamConfig, JetStreamStore};
//!
//! let config = JetStreamConfig::new().stream("BANK")?;
//! let store = JetStreamStore::connect_with("nats://127.0.0.1:4222", config)?;
//! let deposited = NewEvent::from_json("Deposited", r#"{"amount":100}"#)?;
//! let result = store.append("account-7", ExpectedVersion::Any, vec![deposited])?;
//! println!("stored at position {}", result.first_position);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The API is synchronous, like the rest of livenstore; the store runs the
//! [async-nats](async_nats) client on a small tokio runtime of its own (two threads). Through
//! `livenstore::nonblocking::AsyncStore` it is used from async code like any other store.
//!
//! ## Layout: one JetStream stream, one message per append
//!
//! A store is one JetStream stream (named by [`JetStreamConfig::stream`], file storage, limits
//! retention) taking the subjects `livenstore.<stream>.>`:
//!
//! - **`livenstore.<stream>.append`**: one message per append, or per group of appends made
//!   at the same time by the threads of one process. The message holds the events with their
//!   stream, stream versions, event ids, types, metadata and payloads, the first global
//!   position and the time. (Body format: the `codec` module; readable with `nats stream view`.)
//! - **`livenstore.<stream>.link`**: one message per [`link_to_stream`](livenstore::EventStore::link_to_stream).
//!
//! So **global positions are not JetStream sequences**: a message of 100 events takes one
//! sequence and 100 positions. Positions and stream versions are written in the message, and
//! every reader checks them as it folds the stream (contiguous positions from 1, contiguous
//! versions per stream, unique ids, times that never go back); a message that breaks a rule,
//! or one the store did not write, is reported as [`StoreError::Corrupted`](livenstore::StoreError)
//! naming its sequence, never skipped.
//!
//! ## How appends stay atomic, ordered and checked (server 2.9: no batch publish)
//!
//! Every store keeps a **replica**: an in-memory copy of the whole stream, read with an ordered
//! consumer when it connects and kept up to date by that consumer for its whole life (so it
//! sees what other processes append). The writer decides each append against the replica (the
//! idempotency rule, then the expected version), and publishes the group as one message with
//! **`Nats-Expected-Last-Sequence`** set to the replica's last sequence. The server stores the
//! message only if nothing else was stored since, which makes the decision one made against the
//! whole log: an append from another process in between makes the server refuse it, the writer
//! waits for the replica to fold that message and decides again (the append may now get a
//! typed [`Conflict`](livenstore::StoreError::Conflict)). Because one message is stored or not,
//! a multi-event append is all-or-nothing, and because messages are stored one after another
//! behind the guard, positions are gap-free and in commit order.
//!
//! What this layout costs:
//! - **Writers of all processes take turns**, one guarded message at a time: a process whose
//!   publish is overtaken waits for the replica to catch up and publishes again. Within one
//!   process concurrent appends share one message (the writer groups up to 256 appends and
//!   10,000 events), which is what keeps many writers fast; many processes writing at the same
//!   moment mostly retry.
//! - **An append (or a group) must fit in one message**: the server's `max_payload`, 1 MiB by
//!   default (raise it in the server's configuration for larger events). A single append whose
//!   encoding is larger is refused with [`PayloadTooLarge`](livenstore::StoreError::PayloadTooLarge)
//!   naming the limit; groups are cut to fit.
//! - **Memory**: every store holds the whole stream in memory (events, payloads and indexes by
//!   id, stream, type and correlation id), like `InMemoryStore`, and reads it whole when it
//!   connects; `BENCHMARKS.md` gives the time to open a million events.
//! - **Reads are as fresh as the replica.** Appends and links always check against the whole
//!   log, and a process reads its own writes at once; another process's append reaches the
//!   replica as fast as JetStream delivers it (typically well under a millisecond on one
//!   machine). [`JetStreamStore::sync`] waits until the replica holds everything the server
//!   held when it was called; with [`JetStreamConfig::sync_reads`] every read does so first
//!   (one round trip per read), so reads see every append made before them by any process.
//!
//! ## Idempotent event ids, within and beyond the duplicate window
//!
//! Each append message carries a `Nats-Msg-Id` (its first event id), so the server drops a
//! republished message within its duplicate window
//! ([`JetStreamConfig::duplicate_window`], two minutes by default). That is not what keeps ids
//! unique: the replica indexes **every** event id the stream holds, and each append is checked
//! against it before publishing, under the sequence guard, so an id is stored at most once for
//! as long as the stream keeps the event (for ever without retention limits). A retry with the
//! same ids returns the first result; the same id with another payload or stream is
//! [`DuplicateEventId`](livenstore::StoreError::DuplicateEventId). The duplicate window only
//! spares a round of catching up when a publish is retried, and, with retention limits, it is
//! what still refuses (as `DuplicateEventId`) an id whose message the limits removed less than
//! a window ago; after that, such an id is unknown and can be stored again.
//!
//! ## Failures
//!
//! - An unreachable server when connecting is [`StoreError::Connection`](livenstore::StoreError::Connection)
//!   naming the address without credentials ([`redact_url`]).
//! - An existing stream with settings the store cannot use (other subjects, memory storage,
//!   interest or work-queue retention, a per-subject limit, sealed, a mirror) is
//!   [`StoreError::InvalidArgument`](livenstore::StoreError::InvalidArgument) listing them;
//!   nothing is written.
//! - A publish that fails without an answer (timeout, lost connection, server restart) is
//!   resolved: the writer asks the server for its last sequence, waits for the replica to reach
//!   it, and decides the group again, which finds its ids if it was stored and publishes it
//!   again if not (the sequence guard and the message id make a late first publish harmless).
//!   After four attempts the callers get [`StoreError::Backend`](livenstore::StoreError::Backend),
//!   with `outcome_unknown` set unless the log is known to have moved on without the append.
//!   The client reconnects on its own; the same store works again once the server is back.
//!
//! ## Subscriptions and checkpoints
//!
//! [`JetStreamSubscriptionManager`] publishes every event the replica folds (from any process)
//! to its subscriptions, so live subscriptions, catch-up subscriptions and consumers work
//! across processes.
//!
//! What a consumer keeps lives in three JetStream key-value buckets beside the stream, each
//! opened on first use, and created (file storage, history 1, the stream's replicas) only by
//! the first write (a missing bucket reads as empty):
//!
//! | bucket | store | key | value |
//! |---|---|---|---|
//! | `<stream>_checkpoints` | [`JetStreamCheckpointStore`] ([`JetStreamStore::checkpoints`]) | the consumer's name | its position, in decimal |
//! | `<stream>_snapshots` | [`JetStreamSnapshotStore`] (`EventStore::snapshots`) | `<aggregate type>.<id>` | the snapshot as JSON |
//! | `<stream>_parked` | [`JetStreamParkedStore`] ([`JetStreamStore::parked`]) | `event.<consumer>.<event id>`, `replay.<consumer>` | the parked event as JSON; a replay request |
//!
//! Names are written into keys with every byte outside `[A-Za-z0-9_-]` as `=XX`, so any name
//! has exactly one key and lists give the names back. A snapshot save is a compare-and-set on
//! the key's revision (an older version never replaces a newer one, whichever process writes).
//! A key-value bucket rather than a durable JetStream consumer holds checkpoints because a
//! livenstore consumer's position is a global position (an event, not a message), and because
//! the same bucket then serves `consumers` in the command-line tool.
//!
//! ## Retention limits
//!
//! [`JetStreamConfig::max_age`], [`max_bytes`](JetStreamConfig::max_bytes) and
//! [`max_messages`](JetStreamConfig::max_messages) let the server remove the oldest messages,
//! and with them **events**. They are off by default; an event store normally keeps
//! everything. With them:
//! - a store opened after a removal starts at the oldest kept message, positions and versions
//!   going on from there (a stream first seen after the removal starts at the version its first
//!   kept record has; a kept link to a removed event keeps its version and reads as nothing);
//! - the versions of a stream all of whose records were removed are unknown to a store opened
//!   afterwards, which treats it as new;
//! - when the limits removed **every** message (`max_age` on a store idle for longer), the
//!   positions given out are unknown: a new store refuses to open rather than give them out
//!   again ([`StoreError::InvalidArgument`](livenstore::StoreError::InvalidArgument)), while a
//!   store that stayed open goes on, and once it has appended a new store opens again. Keep
//!   `max_age` well above the longest idle time, or use `max_messages` or `max_bytes`, which
//!   always keep the newest message;
//! - a store disconnected for longer than `max_age` misses messages it can never read and
//!   reports the gap as [`StoreError::Corrupted`](livenstore::StoreError::Corrupted) (it does not
//!   skip them silently); connect a new store.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod checkpoints;
mod codec;
mod config;
mod connection;
mod error;
mod follower;
mod import;
mod kv;
mod layout;
mod log;
mod parked;
mod pubsub;
mod replica;
mod snapshots;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod writer;

pub use checkpoints::JetStreamCheckpointStore;
pub use config::{JetStreamConfig, DEFAULT_STREAM, MAX_STREAM_NAME_BYTES};
pub use connection::redact_url;
pub use parked::JetStreamParkedStore;
pub use pubsub::JetStreamSubscriptionManager;
pub use snapshots::JetStreamSnapshotStore;
pub use store::JetStreamStore;
