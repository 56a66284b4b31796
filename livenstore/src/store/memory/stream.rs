//! [`StreamState`]: one stream of the in-memory store.
//!
//! Invariants:
//! - `entries[i]` is the stream's event at version `first_version + i`; `version` is the version
//!   of the last event ever added (it stays when retention empties the stream, so versions are
//!   never reused).
//! - An entry is a global position (the event lives once, in the log), or `LINK | n` for the link
//!   `links[n - links_base]`: the shared envelope with its [`LinkInfo`](crate::LinkInfo), no
//!   payload copy. Positions are below 2^63, so the `LINK` bit never clashes.
//! - Entry times (`recorded_at`, or `linked_at` for links) never decrease along the entries, so
//!   retention removes a prefix.
//! - `linked` holds the ids linked into this stream that are still held.

use std::sync::Arc;

use super::hash::FastSet;
use crate::store::StreamInfo;
use crate::{EventId, RecordedEvent, Timestamp};

/// Marks an entry that is a link.
const LINK: u64 = 1 << 63;

/// The global log as streams see it: `events[i]` is at position `first_position + i`.
#[derive(Clone, Copy)]
pub(crate) struct Log<'a> {
    pub(crate) events: &'a [RecordedEvent],
    pub(crate) first_position: u64,
}

impl<'a> Log<'a> {
    #[inline]
    pub(crate) fn get(self, position: u64) -> Option<&'a RecordedEvent> {
        let index = usize::try_from(position.checked_sub(self.first_position)?).ok()?;
        self.events.get(index)
    }
}

#[derive(Debug)]
pub(crate) struct StreamState {
    pub(crate) name: Arc<str>,
    entries: Vec<u64>,
    links: Vec<RecordedEvent>,
    links_base: u64,
    first_version: u64,
    pub(crate) version: u64,
    last_time: Timestamp,
    pub(crate) linked: FastSet<EventId>,
}

impl StreamState {
    pub(crate) fn new(name: Arc<str>) -> Self {
        StreamState {
            name,
            entries: Vec::new(),
            links: Vec::new(),
            links_base: 0,
            first_version: 1,
            version: 0,
            last_time: Timestamp::UNIX_EPOCH,
            linked: FastSet::default(),
        }
    }

    /// Entries held now (events and links).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Adds the stream's own next event, stored at `position`.
    #[inline]
    pub(crate) fn push_event(&mut self, position: u64, time: Timestamp) {
        self.entries.push(position);
        self.version += 1;
        self.last_time = time;
    }

    /// Adds a link entry (an envelope carrying its `LinkInfo`).
    pub(crate) fn push_link(&mut self, link: RecordedEvent, time: Timestamp) {
        self.entries
            .push(LINK | (self.links_base + self.links.len() as u64));
        self.links.push(link);
        self.version += 1;
        self.last_time = time;
    }

    fn resolve<'a>(&'a self, entry: u64, log: Log<'a>) -> Option<&'a RecordedEvent> {
        if entry & LINK == 0 {
            log.get(entry)
        } else {
            let index = (entry & !LINK).checked_sub(self.links_base)?;
            self.links.get(usize::try_from(index).ok()?)
        }
    }

    fn entry_time(&self, entry: u64, log: Log<'_>) -> Timestamp {
        self.resolve(entry, log).map_or(self.last_time, |e| {
            e.link().map_or(e.recorded_at(), |link| link.linked_at)
        })
    }

    /// Up to `max_count` entries from `from_version` on, as envelopes (links with `LinkInfo`).
    pub(crate) fn read(
        &self,
        from_version: u64,
        max_count: usize,
        log: Log<'_>,
    ) -> Vec<RecordedEvent> {
        let skip = from_version.max(self.first_version) - self.first_version;
        let start = usize::try_from(skip)
            .unwrap_or(usize::MAX)
            .min(self.entries.len());
        let end = start.saturating_add(max_count).min(self.entries.len());
        self.entries[start..end]
            .iter()
            .filter_map(|&entry| self.resolve(entry, log).cloned())
            .collect()
    }

    /// Removes the entries whose event left the log (positions before `log.first_position`) or
    /// whose link was made before `cutoff`; returns how many links went.
    pub(crate) fn expire(&mut self, cutoff: Timestamp, log: Log<'_>) -> u64 {
        let count = self.entries.partition_point(|&entry| {
            if entry & LINK == 0 {
                entry < log.first_position
            } else {
                self.entry_time(entry, log) < cutoff
            }
        });
        let mut links = 0;
        for &entry in &self.entries[..count] {
            if entry & LINK != 0 {
                links += 1;
            }
        }
        if links > 0 {
            for link in self.links.drain(..links) {
                self.linked.remove(&link.id());
            }
            self.links_base += links as u64;
        }
        self.entries.drain(..count);
        self.first_version += count as u64;
        links as u64
    }

    pub(crate) fn info(&self, log: Log<'_>) -> StreamInfo {
        let first_time = self
            .entries
            .first()
            .map_or(self.last_time, |&e| self.entry_time(e, log));
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
