//! Options of a [`JsonStore`](super::JsonStore): durability and segment size.
//!
//! Invariant: the defaults are the safe choice (`Durability::Always`, 64 MiB segments, the
//! crate's payload limit).

use std::time::Duration;

use crate::store::MAX_PAYLOAD_BYTES;

/// When appended lines are forced to the disk (`fsync`).
///
/// Every mode survives a crash of the process: an append writes its lines to the operating
/// system before it returns, so they are in the page cache even if the process dies right after.
/// The modes differ in what survives a power loss or a kernel crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// `fsync` before `append` returns: an acknowledged append survives a power loss.
    /// Concurrent appenders share one `fsync` (group commit).
    #[default]
    Always,
    /// `fsync` at most once per interval (by a background flusher, or by the next append once the
    /// interval has passed): a power loss may lose the appends of the last interval, never part of
    /// one append, and never an append that a later surviving one depended on.
    Batch(Duration),
    /// Never `fsync` (the operating system writes back when it likes): a power loss may lose any
    /// recent appends (whole appends only: a partial batch is cut off on open).
    Never,
}

/// How a [`JsonStore`](super::JsonStore) is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonStoreOptions {
    /// When appends are made durable. Default [`Durability::Always`].
    pub durability: Durability,
    /// A segment file is closed and a new one started once a batch would make it larger than
    /// this many bytes (a single batch larger than the limit gets a segment of its own).
    /// Default 64 MiB.
    pub segment_size: u64,
    /// The largest payload accepted, in bytes. Default [`MAX_PAYLOAD_BYTES`].
    pub max_payload_bytes: usize,
}

impl Default for JsonStoreOptions {
    fn default() -> Self {
        JsonStoreOptions {
            durability: Durability::Always,
            segment_size: 64 * 1024 * 1024,
            max_payload_bytes: MAX_PAYLOAD_BYTES,
        }
    }
}

impl JsonStoreOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the durability.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets the segment size limit in bytes (at least 1).
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.segment_size = bytes.max(1);
        self
    }

    /// Sets the payload size limit in bytes.
    pub fn max_payload_bytes(mut self, bytes: usize) -> Self {
        self.max_payload_bytes = bytes;
        self
    }
}
