//! [`Config`]: limits and retention of an [`InMemoryStore`](crate::InMemoryStore).
//!
//! Invariant: a limit of 0 means "unlimited"; every other value is enforced on every append and
//! link, before anything is stored.

use std::time::Duration;

use crate::backend::MAX_PAYLOAD_BYTES;

/// The configuration of an [`InMemoryStore`](crate::InMemoryStore).
///
/// The default has no limits, no retention and accepts payloads up to
/// [`MAX_PAYLOAD_BYTES`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use livenstore::store::memory::Config;
/// use livenstore::InMemoryStore;
///
/// let store = InMemoryStore::with_config(
///     Config::default()
///         .max_events_per_stream(10_000)
///         .max_streams(100)
///         .retention(Duration::from_secs(3600)),
/// );
/// assert_eq!(store.config().max_streams, 100);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Most events (linked ones included) one stream may hold; 0 = unlimited.
    pub max_events_per_stream: u64,
    /// Most streams the store may hold; 0 = unlimited.
    pub max_streams: u64,
    /// Largest payload accepted, in bytes of JSON text.
    pub max_payload_bytes: usize,
    /// Events (and links) older than this are removed by the periodic cleanup; `None` keeps
    /// everything.
    pub retention: Option<Duration>,
    /// How often the cleanup thread runs when `retention` is set.
    pub cleanup_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_events_per_stream: 0,
            max_streams: 0,
            max_payload_bytes: MAX_PAYLOAD_BYTES,
            retention: None,
            cleanup_interval: Duration::from_secs(60),
        }
    }
}

impl Config {
    /// Sets [`max_events_per_stream`](Self::max_events_per_stream) (0 = unlimited).
    pub fn max_events_per_stream(mut self, max: u64) -> Self {
        self.max_events_per_stream = max;
        self
    }

    /// Sets [`max_streams`](Self::max_streams) (0 = unlimited).
    pub fn max_streams(mut self, max: u64) -> Self {
        self.max_streams = max;
        self
    }

    /// Sets [`max_payload_bytes`](Self::max_payload_bytes).
    pub fn max_payload_bytes(mut self, max: usize) -> Self {
        self.max_payload_bytes = max;
        self
    }

    /// Sets the [`retention`](Self::retention): events older than `max_age` are removed.
    pub fn retention(mut self, max_age: Duration) -> Self {
        self.retention = Some(max_age);
        self
    }

    /// Sets the [`cleanup_interval`](Self::cleanup_interval) (at least 1 ms is used).
    pub fn cleanup_interval(mut self, interval: Duration) -> Self {
        self.cleanup_interval = interval;
        self
    }
}
