//! [`Chunk`]: a run of consecutive entries of one stream, stored inline and shared, immutable,
//! with the events read from it ([`ChunkSlot`]): how a store keeps events so that reading one
//! hands out a [`RecordedEvent`](super::RecordedEvent) sharing the chunk, without a copy (the
//! in-memory store keeps all its events so).
//!
//! Chunks are generic over `L`, what a link entry holds (a `RecordedEvent`), so this file needs
//! nothing of the envelope that holds its slots.
//!
//! Invariants:
//! - `entries[i]` is the stream's entry at version `first_version + i`.
//! - A chunk is changed only while its stream owns it (an open tail, `tail.rs`: not in an `Arc`,
//!   or taken back out of one with no other reference left), and then only by pushing an entry.
//!   Once a reader holds a handle to it, it does not change while the handle lives. So a handle
//!   cannot see, nor cause, a change.
//! - Chunks never form a reference cycle: a link entry references another chunk, but a chunk only
//!   gains entries while nothing references it, so no chunk it references can reach it. Dropping
//!   the store therefore frees every chunk that no reader holds.
//! - A chunk holds at most [`MAX_ENTRIES`] entries, and the positions of its events are at
//!   most `u32::MAX` above its `base_position` (records keep the 4-byte difference).
//! - A [`ChunkSlot`] names an entry of its chunk that is an event ([`Entry::Event`]), not a link.
//! - `types` names every `event_type` number of the chunk's records.
//! - `metadata` holds, in slot order, the metadata of the events that have some (most have none,
//!   and records stay small).

use std::sync::Arc;

use super::type_names::EventTypes;
use super::{EventId, Metadata, Payload};
use crate::Timestamp;

/// Entries per chunk, at most.
pub(crate) const MAX_ENTRIES: usize = 256;

/// One stored event, without what its chunk knows (stream, version): 48 bytes.
#[derive(Debug)]
pub(crate) struct Record {
    /// The id's high and low halves (two `u64`s keep the record 8-byte aligned, and small).
    id: [u64; 2],
    pub(crate) recorded_at: Timestamp,
    pub(crate) payload: Payload,
    /// The position, less its chunk's `base_position`.
    position_offset: u32,
    event_type: u32,
}

/// Shared by every record without metadata.
static NO_METADATA: Metadata = Metadata::new();

impl Record {
    /// A record at `position_offset` past its chunk's base position.
    #[inline]
    pub(crate) fn new(
        id: EventId,
        recorded_at: Timestamp,
        event_type: u32,
        payload: Payload,
        position_offset: u32,
    ) -> Self {
        let id = id.to_u128();
        Record {
            // Truncation is intended: the two halves of the id.
            id: [(id >> 64) as u64, id as u64],
            recorded_at,
            payload,
            position_offset,
            event_type,
        }
    }

    /// Sets the position offset (of a record made before its chunk was known).
    pub(crate) fn set_position_offset(&mut self, offset: u32) {
        self.position_offset = offset;
    }

    #[inline]
    pub(crate) fn id(&self) -> EventId {
        EventId::from_u128(u128::from(self.id[0]) << 64 | u128::from(self.id[1]))
    }
}

/// What a stream holds at one version: its own event, or a link `L` to another stream's event
/// (the shared envelope with its [`LinkInfo`](crate::LinkInfo)).
#[derive(Debug)]
pub(crate) enum Entry<L> {
    Event(Record),
    Link(Box<L>),
}

/// An entry on its way into a new chunk, with its event's metadata (often empty), which
/// the chunk keeps beside its entries: most events have none, and records stay small.
#[derive(Debug)]
pub(crate) struct NewEntry<L> {
    pub(crate) entry: Entry<L>,
    pub(crate) metadata: Metadata,
}

/// A run of a stream's entries; see the module documentation.
///
/// `repr(C)`, hot fields first: an append reads `entries` and `base_position`, which then share a
/// cache line.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Chunk<L> {
    entries: Vec<Entry<L>>,
    /// No event of the chunk has a smaller position, nor one larger by 2^32 or more.
    base_position: u64,
    first_version: u64,
    /// `(slot, metadata)` of the entries with metadata, in increasing slot order.
    metadata: Vec<(u32, Metadata)>,
    stream: Arc<str>,
    types: Arc<EventTypes>,
}

impl<L> Chunk<L> {
    /// A chunk whose first entry is `new`, at `first_version`: an event at `position` (its
    /// record made with position offset 0), or a link made when `position` was the store's next
    /// position. Room for `capacity` entries.
    pub(crate) fn starting_with(
        stream: Arc<str>,
        first_version: u64,
        position: u64,
        capacity: usize,
        types: Arc<EventTypes>,
        new: NewEntry<L>,
    ) -> Self {
        let mut entries = Vec::with_capacity(capacity.max(1));
        entries.push(new.entry);
        Chunk {
            entries,
            base_position: position,
            first_version,
            metadata: if new.metadata.is_empty() {
                Vec::new()
            } else {
                vec![(0, new.metadata)]
            },
            stream,
            types,
        }
    }

    /// The offset from the chunk's base of `position` (of the next entry) when the chunk has
    /// room for that entry and the position is within 2^32 of its base.
    #[inline]
    pub(crate) fn room_at(&self, position: u64) -> Option<u32> {
        // The room it was made with: a chunk never grows its vector (no copy of its entries).
        if self.entries.len() >= self.room() {
            return None;
        }
        u32::try_from(position.checked_sub(self.base_position)?).ok()
    }

    /// Adds the next entry, for which [`room_at`](Self::room_at) said there is room (an event's
    /// record made with the offset it gave).
    #[inline]
    pub(crate) fn push(&mut self, entry: Entry<L>, metadata: Metadata) {
        // Below `MAX_ENTRIES`.
        let slot = self.entries.len() as u32;
        // The entry first: it goes from registers to its slot, not through the stack.
        self.entries.push(entry);
        if !metadata.is_empty() {
            self.metadata.push((slot, metadata));
        }
    }

    /// Adds the next event, for which [`room_at`](Self::room_at) gave `offset`: its record's
    /// fields, and its metadata.
    #[inline(always)]
    pub(crate) fn push_event(
        &mut self,
        id: EventId,
        recorded_at: Timestamp,
        event_type: u32,
        payload: Payload,
        offset: u32,
        metadata: Metadata,
    ) {
        // Below `MAX_ENTRIES`.
        let slot = self.entries.len() as u32;
        push_record(
            &mut self.entries,
            id,
            recorded_at,
            payload,
            offset,
            event_type,
        );
        if !metadata.is_empty() {
            self.metadata.push((slot, metadata));
        }
    }

    /// The metadata of the entry at `slot`.
    fn metadata(&self, slot: u32) -> &Metadata {
        if self.metadata.is_empty() {
            return &NO_METADATA;
        }
        match self.metadata.binary_search_by_key(&slot, |&(s, _)| s) {
            Ok(index) => &self.metadata[index].1,
            Err(_) => &NO_METADATA,
        }
    }

    /// The entry at `slot` (version `first_version + slot`).
    #[inline]
    pub(crate) fn entry(&self, slot: usize) -> Option<&Entry<L>> {
        self.entries.get(slot)
    }

    /// The addresses of the fields an append reads and writes (for a layout test).
    #[cfg(test)]
    pub(crate) fn hot_field_addresses(&self) -> [usize; 2] {
        [
            std::ptr::from_ref(&self.entries) as usize,
            std::ptr::from_ref(&self.base_position) as usize,
        ]
    }

    /// Entries the chunk has room for, at most [`MAX_ENTRIES`].
    #[inline]
    pub(crate) fn room(&self) -> usize {
        self.entries.capacity().min(MAX_ENTRIES)
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Pushes an event's record to `entries`, built in its slot from the arguments: when there is
/// room, with a `Vec::push` that cannot grow the vector. (A push that may grow makes the record
/// on the stack first, to drop it if growing unwinds, then copies it with wider loads than the
/// stores that made it, which stalls store-to-load forwarding.) Out of line: inlined into the
/// large append path, `Vec::push` itself is not inlined and takes the record through the stack.
#[inline(never)]
fn push_record<L>(
    entries: &mut Vec<Entry<L>>,
    id: EventId,
    recorded_at: Timestamp,
    payload: Payload,
    offset: u32,
    event_type: u32,
) {
    let record = move || Entry::Event(Record::new(id, recorded_at, event_type, payload, offset));
    if entries.len() < entries.capacity() {
        entries.push(record());
    } else {
        grow_and_push(entries, record());
    }
}

/// `entries.push(entry)` when `entries` is full.
#[cold]
#[inline(never)]
fn grow_and_push<L>(entries: &mut Vec<Entry<L>>, entry: Entry<L>) {
    entries.push(entry);
}

/// An event stored in a chunk, as handed out inside a
/// [`RecordedEvent`](super::RecordedEvent): the shared chunk and the slot. Cloning it clones one
/// `Arc`.
#[derive(Debug)]
pub(crate) struct ChunkSlot<L> {
    chunk: Arc<Chunk<L>>,
    slot: u32,
}

impl<L> Clone for ChunkSlot<L> {
    #[inline]
    fn clone(&self) -> Self {
        ChunkSlot {
            chunk: Arc::clone(&self.chunk),
            slot: self.slot,
        }
    }
}

impl<L> ChunkSlot<L> {
    /// A handle to `slot` of `chunk`, which must hold an event (see the module invariants).
    #[inline]
    pub(crate) fn new(chunk: &Arc<Chunk<L>>, slot: usize) -> Self {
        debug_assert!(matches!(chunk.entry(slot), Some(Entry::Event(_))));
        ChunkSlot {
            chunk: Arc::clone(chunk),
            // Slots are below `MAX_ENTRIES`.
            slot: slot as u32,
        }
    }

    #[inline]
    pub(crate) fn record(&self) -> &Record {
        match self.chunk.entry(self.slot as usize) {
            Some(Entry::Event(record)) => record,
            _ => unreachable!("a ChunkSlot names a filled event slot"),
        }
    }

    #[inline]
    pub(crate) fn event_type(&self) -> &str {
        match self.chunk.types.get(self.record().event_type) {
            Some(name) => name,
            None => unreachable!("a chunk's type table holds its records' types"),
        }
    }

    /// The event's version (of its type's payload).
    #[inline]
    pub(crate) fn event_version(&self) -> u32 {
        match self.chunk.types.version(self.record().event_type) {
            Some(version) => version,
            None => unreachable!("a chunk's type table holds its records' types"),
        }
    }

    #[inline]
    pub(crate) fn stream(&self) -> &str {
        &self.chunk.stream
    }

    #[inline]
    pub(crate) fn version(&self) -> u64 {
        self.chunk.first_version + u64::from(self.slot)
    }

    #[inline]
    pub(crate) fn position(&self) -> u64 {
        self.chunk.base_position + u64::from(self.record().position_offset)
    }

    #[inline]
    pub(crate) fn metadata(&self) -> &Metadata {
        self.chunk.metadata(self.slot)
    }

    /// Whether both name the same stored slot.
    pub(crate) fn same_slot(&self, other: &ChunkSlot<L>) -> bool {
        Arc::ptr_eq(&self.chunk, &other.chunk) && self.slot == other.slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_stay_small() {
        assert_eq!(
            std::mem::size_of::<Entry<crate::RecordedEvent>>(),
            48,
            "a record, with the link variant in its niche"
        );
    }
}
