//! [`Stats`]: counters of an [`InMemoryStore`](crate::InMemoryStore).
//!
//! Invariant: `events` and `streams` describe what the store holds now; `appended`, `linked`,
//! `read` and `expired` only grow (until [`close`](crate::InMemoryStore::close) drops everything).

/// A snapshot of an [`InMemoryStore`](crate::InMemoryStore)'s counters.
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
