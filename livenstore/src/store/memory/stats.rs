//! [`Stats`]: counters of an [`InMemoryStore`](crate::InMemoryStore), and what its memory
//! estimate counts per event, link and stream.
//!
//! Invariant: `events` and `streams` describe what the store holds now; `appended`, `linked`,
//! `read` and `expired` only grow (until [`close`](crate::InMemoryStore::close) drops everything).

use super::chunk::Entry;
use super::stream::StreamState;
use crate::{LinkInfo, Metadata};

/// Fixed bytes per held event beyond its payload and metadata: its chunk slot. (The log, id and
/// type index entries are counted by those structures' capacities.)
pub(super) const EVENT_OVERHEAD: u64 = std::mem::size_of::<Entry>() as u64;
/// Fixed bytes per link: the chunk slot, the boxed envelope, the `LinkInfo` with its `Arc` header,
/// the set entry.
pub(super) const LINK_OVERHEAD: u64 =
    EVENT_OVERHEAD + 32 + std::mem::size_of::<LinkInfo>() as u64 + 16 + 24;
/// Fixed bytes per stream: its state, name header and map entry.
pub(super) const STREAM_OVERHEAD: u64 = std::mem::size_of::<StreamState>() as u64 + 16 + 24;

/// Bytes a held event's metadata counts for in the memory estimate.
pub(super) fn metadata_bytes(metadata: &Metadata) -> usize {
    metadata.iter().map(|(k, v)| k.len() + v.len() + 64).sum()
}

/// Bytes one held event counts for in the memory estimate.
#[inline]
pub(super) fn event_bytes(payload_len: usize, metadata: &Metadata) -> u64 {
    let metadata = if metadata.is_empty() {
        0
    } else {
        metadata_bytes(metadata)
    };
    EVENT_OVERHEAD + (payload_len + metadata) as u64
}

/// A snapshot of an [`InMemoryStore`](crate::InMemoryStore)'s counters.
///
/// # Examples
///
/// ```
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
///
/// let store = InMemoryStore::new();
/// let events = vec![
///     NewEvent::from_json("Opened", "{}").unwrap(),
///     NewEvent::from_json("Deposited", r#"{"amount":5}"#).unwrap(),
/// ];
/// store.append("account-1", ExpectedVersion::NoStream, events).unwrap();
/// let first = store.read_stream("account-1", 1, 1).unwrap()[0].id();
/// store.link_to_stream(first, "audit").unwrap();
///
/// let stats = store.stats();
/// assert_eq!((stats.events, stats.streams), (2, 2));
/// assert_eq!((stats.appended, stats.linked, stats.read, stats.expired), (2, 1, 1, 0));
/// assert!(stats.memory_bytes > 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Events held now (each once, however many streams link it).
    pub events: u64,
    /// Streams held now.
    pub streams: u64,
    /// Events appended since the store was made.
    pub appended: u64,
    /// Links made since the store was made.
    pub linked: u64,
    /// Events handed out by reads since the store was made.
    pub read: u64,
    /// Events removed by retention since the store was made.
    pub expired: u64,
    /// Estimate of the memory held, in bytes (envelopes, payload text, indexes).
    pub memory_bytes: u64,
}
