//! [`Chunk`]: a run of consecutive entries of one stream, stored inline and shared, immutable,
//! with the events read from it ([`StoredEvent`]).
//!
//! Invariants:
//! - `entries[i]` is the stream's entry at version `first_version + i`.
//! - A chunk is changed only while the store holds the only reference to it (`Arc::get_mut`), and
//!   then only by pushing an entry. Once a reader holds a handle to it, it never changes again:
//!   the store starts a new chunk for the next entry. So a handle cannot see, nor cause, a change.
//! - A chunk holds at most [`MAX_ENTRIES`] entries.
//! - A [`StoredEvent`] names an entry of its chunk that is an event ([`Entry::Event`]), not a link.
//! - `types` names every `event_type` number of the chunk's records.

use std::sync::Arc;

use super::event_types::EventTypes;
use crate::{EventId, Metadata, Payload, RecordedEvent, Timestamp};

/// Entries per chunk, at most.
pub(crate) const MAX_ENTRIES: usize = 256;

/// One stored event, without what its chunk knows (stream, version).
#[derive(Debug)]
pub(crate) struct Record {
    /// The id's high and low halves (two `u64`s keep the record 8-byte aligned, and small).
    id: [u64; 2],
    pub(crate) position: u64,
    pub(crate) recorded_at: Timestamp,
    pub(crate) payload: Payload,
    /// `None` for empty metadata (the common case), so a record stays small.
    metadata: Option<Box<Metadata>>,
    event_type: u32,
}

/// Shared by every record without metadata.
static NO_METADATA: Metadata = Metadata::new();

impl Record {
    pub(crate) fn new(
        id: EventId,
        position: u64,
        recorded_at: Timestamp,
        event_type: u32,
        payload: Payload,
        metadata: Metadata,
    ) -> Self {
        let id = id.to_u128();
        Record {
            // Truncation is intended: the two halves of the id.
            id: [(id >> 64) as u64, id as u64],
            position,
            recorded_at,
            payload,
            metadata: metadata.into_boxed(),
            event_type,
        }
    }

    #[inline]
    pub(crate) fn id(&self) -> EventId {
        EventId::from_u128(u128::from(self.id[0]) << 64 | u128::from(self.id[1]))
    }

    pub(crate) fn metadata(&self) -> &Metadata {
        self.metadata.as_deref().unwrap_or(&NO_METADATA)
    }
}

/// What a stream holds at one version: its own event, or a link to another stream's event (the
/// shared envelope with its [`LinkInfo`](crate::LinkInfo)).
#[derive(Debug)]
pub(crate) enum Entry {
    Event(Record),
    Link(Box<RecordedEvent>),
}

/// A run of a stream's entries; see the module documentation.
#[derive(Debug)]
pub(crate) struct Chunk {
    stream: Arc<str>,
    first_version: u64,
    types: Arc<EventTypes>,
    entries: Vec<Entry>,
}

impl Chunk {
    /// An empty chunk for entries from `first_version` on, with room for `capacity` of them.
    pub(crate) fn new(
        stream: Arc<str>,
        first_version: u64,
        capacity: usize,
        types: Arc<EventTypes>,
    ) -> Self {
        Chunk {
            stream,
            first_version,
            types,
            entries: Vec::with_capacity(capacity),
        }
    }

    /// Adds the next entry, if the chunk has fewer than `MAX_ENTRIES`; else gives it back.
    #[inline]
    pub(crate) fn push(&mut self, entry: Entry) -> Result<(), Entry> {
        if self.entries.len() >= MAX_ENTRIES {
            return Err(entry);
        }
        self.entries.push(entry);
        Ok(())
    }

    /// The entry at `slot` (version `first_version + slot`).
    #[inline]
    pub(crate) fn entry(&self, slot: usize) -> Option<&Entry> {
        self.entries.get(slot)
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// An event stored in a chunk, as handed out inside a [`RecordedEvent`]: the shared chunk and the
/// slot. Cloning it clones one `Arc`.
#[derive(Debug, Clone)]
pub(crate) struct StoredEvent {
    chunk: Arc<Chunk>,
    slot: u32,
}

impl StoredEvent {
    /// A handle to `slot` of `chunk`, which must hold an event (see the module invariants).
    #[inline]
    pub(crate) fn new(chunk: &Arc<Chunk>, slot: usize) -> Self {
        debug_assert!(matches!(chunk.entry(slot), Some(Entry::Event(_))));
        StoredEvent {
            chunk: Arc::clone(chunk),
            // Slots are below `MAX_ENTRIES`.
            slot: slot as u32,
        }
    }

    #[inline]
    pub(crate) fn record(&self) -> &Record {
        match self.chunk.entry(self.slot as usize) {
            Some(Entry::Event(record)) => record,
            _ => unreachable!("a StoredEvent names a filled event slot"),
        }
    }

    pub(crate) fn event_type(&self) -> &str {
        match self.chunk.types.get(self.record().event_type) {
            Some(name) => name,
            None => unreachable!("a chunk's type table holds its records' types"),
        }
    }

    pub(crate) fn stream(&self) -> &str {
        &self.chunk.stream
    }

    pub(crate) fn version(&self) -> u64 {
        self.chunk.first_version + u64::from(self.slot)
    }

    /// Whether both name the same stored slot.
    pub(crate) fn same_slot(&self, other: &StoredEvent) -> bool {
        Arc::ptr_eq(&self.chunk, &other.chunk) && self.slot == other.slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_stay_small() {
        assert!(std::mem::size_of::<Entry>() <= 80);
    }
}
