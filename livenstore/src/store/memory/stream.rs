//! [`StreamState`]: one stream of the in-memory store.
//!
//! Invariants:
//! - `entries[i]` is the stream's event at version `first_version + i`; `version` is the version
//!   of the last event ever added (it stays when retention empties the stream, so versions are
//!   never reused).
//! - An entry is the shared [`RecordedEvent`] itself (no payload copy); a linked entry carries its
//!   [`LinkInfo`](crate::LinkInfo).
//! - Entry times (`recorded_at`, or `linked_at` for links) never decrease along the entries, so
//!   retention removes a prefix.
//! - `linked` holds the ids linked into this stream that are still held.

use std::sync::Arc;

use super::hash::FastSet;
use crate::store::StreamInfo;
use crate::{EventId, RecordedEvent, Timestamp};

#[derive(Debug)]
pub(crate) struct StreamState {
    pub(crate) name: Arc<str>,
    pub(crate) entries: Vec<RecordedEvent>,
    pub(crate) first_version: u64,
    pub(crate) version: u64,
    pub(crate) last_time: Timestamp,
    pub(crate) linked: FastSet<EventId>,
}

/// The time an entry counts from: when it was linked, or else recorded.
#[inline]
pub(crate) fn entry_time(entry: &RecordedEvent) -> Timestamp {
    entry
        .link()
        .map_or(entry.recorded_at(), |link| link.linked_at)
}

impl StreamState {
    pub(crate) fn new(name: Arc<str>) -> Self {
        StreamState {
            name,
            entries: Vec::new(),
            first_version: 1,
            version: 0,
            last_time: Timestamp::UNIX_EPOCH,
            linked: FastSet::default(),
        }
    }

    /// Adds the next entry.
    #[inline]
    pub(crate) fn push(&mut self, entry: RecordedEvent, time: Timestamp) {
        self.entries.push(entry);
        self.version += 1;
        self.last_time = time;
    }

    /// Up to `max_count` entries from `from_version` on.
    pub(crate) fn read(&self, from_version: u64, max_count: usize) -> &[RecordedEvent] {
        let skip = from_version.max(self.first_version) - self.first_version;
        let start = usize::try_from(skip)
            .unwrap_or(usize::MAX)
            .min(self.entries.len());
        let end = start.saturating_add(max_count).min(self.entries.len());
        &self.entries[start..end]
    }

    /// Removes the entries made before `cutoff`; returns how many of them were links.
    pub(crate) fn expire(&mut self, cutoff: Timestamp) -> u64 {
        let count = self.entries.partition_point(|e| entry_time(e) < cutoff);
        let mut links = 0;
        if count > 0 {
            for entry in &self.entries[..count] {
                if entry.link().is_some() {
                    self.linked.remove(&entry.id());
                    links += 1;
                }
            }
            self.entries.drain(..count);
            self.first_version += count as u64;
        }
        links
    }

    pub(crate) fn info(&self) -> StreamInfo {
        let first_time = self.entries.first().map_or(self.last_time, entry_time);
        StreamInfo {
            stream: self.name.to_string(),
            event_count: self.entries.len() as u64,
            first_version: self.first_version,
            last_version: self.version,
            first_recorded_at: first_time,
            last_recorded_at: self.last_time,
        }
    }
}
