//! [`Stats`]: counters of an [`InMemoryStore`](crate::InMemoryStore).
//!
//! Invariant: `events` and `streams` describe what the store holds now; `appended`, `linked`,
//! `read` and `expired` only grow (until [`close`](crate::InMemoryStore::close) drops everything).

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
