//! The [`EventStore`] trait and the types every backend shares.
//!
//! Rules every backend keeps (checked by the conformance suite in `livenstore::testing`):
//! - An append is atomic: all events of one call are stored, or none.
//! - Stream versions are 1-based and contiguous per stream; global positions are 1-based and
//!   gap-free per store, in append order.
//! - `recorded_at` never decreases along global positions.
//! - The idempotency check comes before the version check: when every event of a call carries an
//!   id that is already stored in that stream with the same type and payload, the call is a no-op
//!   that succeeds and reports the stored versions and positions. When some id is stored with other
//!   content, in another stream, or only some ids of the call are stored, the call fails with
//!   [`StoreError::DuplicateEventId`].
//! - An append with no events checks the expected version like any other (a mismatch is a
//!   [`StoreError::Conflict`]), stores nothing, creates no stream, and reports the stream's current
//!   version with positions 0.
//! - Linking gives the link the target stream's next version; linking an event into a stream it
//!   already is in (its own, or one it was linked into) is [`StoreError::InvalidArgument`].
//! - Stored events are never changed or deleted through this API (retention in
//!   [`InMemoryStore`](crate::InMemoryStore) is a configured exception, documented there).

//!
//! | path | holds |
//! |---|---|
//! | `event_store.rs` | [`EventStore`], [`AppendResult`], [`StreamInfo`], [`CORRELATION_SCAN_PAGE`] |
//! | `error.rs` | [`StoreError`], [`LimitKind`], [`BoxError`] |
//! | `expected_version.rs` | [`ExpectedVersion`] |
//! | `forwarding.rs` | [`EventStore`] for `&S`, `Box<S>` and `Arc<S>` |
//! | `snapshot.rs` | [`Snapshot`], [`SnapshotInfo`], [`SnapshotStore`]: aggregate states kept to shorten loads |
//! | `correlation_index.rs` | `CorrelationIndex`: correlation id to positions, the in-memory and JSON stores' index for [`EventStore::read_correlated`] |
//! | `memory/` | [`InMemoryStore`](crate::InMemoryStore) |
//! | `json/` | [`JsonStore`](crate::JsonStore) |
//!
//! What a backend author needs besides the trait (the append rules, stream-name rules, the
//! stored-event building blocks) is in [`backend`](crate::backend).

mod correlation_index;
mod error;
pub(crate) mod event_store;
mod expected_version;
mod forwarding;
pub mod json;
pub mod memory;
mod snapshot;

pub use error::{BoxError, LimitKind, StoreError};
pub use event_store::{AppendResult, EventStore, StreamInfo, CORRELATION_SCAN_PAGE};
pub use expected_version::ExpectedVersion;
pub use snapshot::{validate_snapshot_key, Snapshot, SnapshotInfo, SnapshotStore};

// The append and stream-name rules, also here where they have always been.
#[doc(no_inline)]
pub use crate::backend::{
    check_idempotent, validate_append, validate_event_type, validate_stream_name,
    MAX_PAYLOAD_BYTES, MAX_STREAM_NAME_BYTES,
};
