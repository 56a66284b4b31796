//! The backend kit: what a store implementation needs besides the [`EventStore`] trait.
//!
//! To write a backend:
//!
//! 1. **Implement [`EventStore`]** for your store (`Send + Sync`, every method through `&self`).
//!    Its documentation lists the rules; the conformance suite checks them.
//! 2. **In `append`, before anything is read or written, call [`validate_append`]** (stream name,
//!    event types, payload sizes, no id twice in one call). Then, under whatever makes the append
//!    atomic in your store (a lock, a transaction):
//!    - apply the idempotency rule with [`check_idempotent`], which looks events up through the
//!      closure you give it; return its result when it says the append already happened;
//!    - check the stream's version with [`ExpectedVersion::check`];
//!    - write the events, giving each an id (its own, or [`EventId::new`](crate::EventId::new)),
//!      the stream's next versions, the store's next positions and one time that never goes
//!      back; an append with no events stores nothing and reports positions 0.
//! 3. **Hand events back** as [`RecordedEvent`](crate::RecordedEvent)s built with
//!    [`RecordedEvent::from_parts`](crate::RecordedEvent::from_parts) from
//!    [`RecordedEventParts`]; events read through a link carry a [`LinkInfo`]
//!    ([`RecordedEvent::with_link`](crate::RecordedEvent::with_link)). Reads validate stream
//!    names with [`validate_stream_name`]. The provided
//!    [`read_correlated`](EventStore::read_correlated) scans the whole log; a store that can
//!    find a conversation's events faster overrides it, calling [`validate_correlation_id`]
//!    first.
//! 4. **Run the conformance suite** in your tests: enable the `testing` feature and call
//!    `livenstore::conformance_tests!` with a function that makes a fresh store (see
//!    `livenstore::testing`). Subscriptions and consumers work on any `EventStore`
//!    ([`pubsub`](crate::pubsub)); keep consumer checkpoints through a
//!    [`CheckpointStore`](crate::pubsub::CheckpointStore) of your own if the store is shared
//!    between processes.
//!
//! `livenstore-postgres` is written with this module and the crate's public API only.
//!
//! # Examples
//!
//! The write path of a minimal store, with the rules in their order:
//!
//! ```
//! use std::sync::Mutex;
//! use livenstore::backend::{check_idempotent, validate_append, MAX_PAYLOAD_BYTES};
//! use livenstore::{AppendResult, ExpectedVersion, NewEvent, RecordedEvent, StoreError};
//!
//! struct Log(Mutex<Vec<RecordedEvent>>);
//!
//! impl Log {
//!     fn append(&self, stream: &str, expected: ExpectedVersion, events: Vec<NewEvent>)
//!         -> Result<AppendResult, StoreError> {
//!         validate_append(stream, &events, MAX_PAYLOAD_BYTES)?;
//!         let log = self.0.lock().unwrap();
//!         let find = |id| Ok(log.iter().find(|e| e.id() == id).cloned());
//!         if let Some(done) = check_idempotent(stream, &events, find)? {
//!             return Ok(done);
//!         }
//!         let current = log.iter().filter(|e| e.stream() == stream).count() as u64;
//!         expected.check(stream, current)?;
//!         // ... write the events at versions current + 1.. and the next positions ...
//!         # Ok(AppendResult { stream_version: current, first_position: 0, last_position: 0 })
//!     }
//! }
//!
//! let log = Log(Mutex::new(Vec::new()));
//! let event = NewEvent::from_json("Tick", "{}").unwrap();
//! assert!(log.append("clock", ExpectedVersion::NoStream, vec![event]).is_ok());
//! assert!(log.append("bad/name", ExpectedVersion::Any, vec![]).is_err());
//! ```

mod expected_version;
mod idempotency;
mod stream_name;
mod validation;

pub use crate::error_chain::ErrorChain;
pub use crate::pubsub::error::panic_message;
pub use idempotency::check_idempotent;
pub use stream_name::{validate_stream_name, MAX_STREAM_NAME_BYTES};
pub(crate) use validation::is_indexable_correlation_id;
pub use validation::{
    check_no_repeated_id, check_payload_size, validate_append, validate_correlation_id,
    validate_event_type, validate_event_version, MAX_CORRELATION_ID_BYTES, MAX_EVENT_VERSION,
    MAX_PAYLOAD_BYTES,
};

#[doc(no_inline)]
pub use crate::event::{LinkInfo, RecordedEventParts};
#[doc(no_inline)]
pub use crate::store::{AppendResult, EventStore, ExpectedVersion, StoreError, StreamInfo};
