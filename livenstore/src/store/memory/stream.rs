//! [`StreamState`]: one stream of the in-memory store, its entries held inline in chunks.
//!
//! Invariants:
//! - The stream's chunks are `chunks` (shared with readers) then `tail` (the one it appends to,
//!   `tail.rs`; `Empty` only while there is none), and hold consecutive versions: `starts[i]` is
//!   the first version of the `i`-th of them, and each chunk starts where the one before ends.
//!   Versions `first_version..=version` are held; earlier ones were removed by retention, and a
//!   chunk is dropped once none of its versions is held.
//! - Only the tail ever grows, and only while it is open (owned by the stream) and within the
//!   room it was made with (its entries are never copied to a larger vector); a shared tail is
//!   taken back when no reader holds it, else a new tail starts, as it does when the tail is full.
//!   A stream's first chunk has room for `FIRST_CHUNK_ENTRIES`, one after a chunk cut short by a
//!   reader for `AFTER_CUT_ENTRIES`, one after a full chunk for twice that chunk's room (up to
//!   `MAX_ENTRIES`), so a stream of `n` entries holds `O(n)` memory.
//! - `version` is the version of the last entry ever added (it stays when retention empties the
//!   stream, so versions are never reused).
//! - Entry times (`recorded_at` of events, `linked_at` of links) never decrease along versions, so
//!   retention removes a prefix.
//! - `linked` holds the ids linked into this stream that are still held.
//! - `name_words` are the words of the name's [`NameKey`].
//! - `last_time` is when the last removed entry was recorded or linked (the epoch before any);
//!   while the stream holds entries its last one tells the time instead, so appends do not write
//!   it.
//! - What an append to a stream with a short name reads and writes is on the struct's first cache
//!   line (`repr(C, align(64))`): `version`, `name_words`, the tail's lock word and the open
//!   tail's entries and base position (`Mutex` keeps its data after its lock and poison flag, and
//!   `Chunk` starts with those two fields). Over many streams, an append to one of them misses
//!   the cache there once, not once per field or allocation.

use std::collections::VecDeque;
use std::sync::Arc;

use super::chunk::{Chunk, Entry, NewEntry, Record, StoredEvent, MAX_ENTRIES};
use super::hash::FastSet;
use super::name_key::NameKey;
use super::tail::{LockedTail, Tail};
use crate::event::type_names::EventTypes;
use crate::store::StreamInfo;
use crate::{EventId, Metadata, Payload, RecordedEvent, Timestamp};

/// Room in a stream's first chunk.
const FIRST_CHUNK_ENTRIES: usize = 4;
/// Room in a chunk started because a reader shared the last one before it was full.
const AFTER_CUT_ENTRIES: usize = 1;

#[derive(Debug)]
#[repr(C, align(64))]
pub(crate) struct StreamState {
    pub(crate) version: u64,
    name_words: [u64; 2],
    tail: LockedTail,
    pub(crate) name: Arc<str>,
    first_version: u64,
    last_time: Timestamp,
    chunks: VecDeque<Arc<Chunk>>,
    starts: VecDeque<u64>,
    pub(crate) linked: FastSet<EventId>,
}

/// The time an entry counts for: when its event was recorded, or when its link was made.
fn entry_time(entry: &Entry) -> Timestamp {
    match entry {
        Entry::Event(record) => record.recorded_at,
        Entry::Link(link) => link.link().map_or(link.recorded_at(), |l| l.linked_at),
    }
}

impl StreamState {
    pub(crate) fn new(name: Arc<str>) -> Self {
        StreamState {
            version: 0,
            name_words: NameKey::new(&name).words,
            tail: LockedTail::default(),
            name,
            first_version: 1,
            last_time: Timestamp::UNIX_EPOCH,
            chunks: VecDeque::new(),
            starts: VecDeque::new(),
            linked: FastSet::default(),
        }
    }

    /// Whether the stream is named `name`, whose key is `key`.
    #[inline]
    pub(crate) fn is_named(&self, name: &str, key: &NameKey) -> bool {
        self.name_words == key.words && (key.is_short() || *self.name == *name)
    }

    /// Entries held now (events and links).
    pub(crate) fn len(&self) -> usize {
        usize::try_from(self.version + 1 - self.first_version).unwrap_or(usize::MAX)
    }

    /// Adds the next event (at version `version + 1`): its record's fields and metadata. It is at
    /// `position`, recorded at `recorded_at`. `types` is the store's type table, for a new chunk.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push_event(
        &mut self,
        id: EventId,
        recorded_at: Timestamp,
        event_type: u32,
        payload: Payload,
        metadata: Metadata,
        position: u64,
        types: &Arc<EventTypes>,
    ) {
        self.version += 1;
        if let Tail::Open(chunk) = self.tail.get_mut() {
            if let Some(offset) = chunk.room_at(position) {
                chunk.push_event(id, recorded_at, event_type, payload, offset, metadata);
                return;
            }
        }
        let entry = Entry::Event(Record::new(id, recorded_at, event_type, payload, 0));
        self.push_past_open_tail(NewEntry { entry, metadata }, position, types);
    }

    /// Adds a link (at version `version + 1`), made when `position` was the store's next
    /// position.
    pub(crate) fn push_link(
        &mut self,
        link: RecordedEvent,
        position: u64,
        types: &Arc<EventTypes>,
    ) {
        self.version += 1;
        let entry = NewEntry {
            entry: Entry::Link(Box::new(link)),
            metadata: Metadata::new(),
        };
        if let Tail::Open(chunk) = self.tail.get_mut() {
            if chunk.room_at(position).is_some() {
                chunk.push(entry.entry, Metadata::new());
                return;
            }
        }
        self.push_past_open_tail(entry, position, types);
    }

    /// Adds the entry at version `version` (already counted) when the tail is not open with room:
    /// to the tail taken back from readers, or to a new tail. An event's record has offset 0.
    #[cold]
    #[inline(never)]
    fn push_past_open_tail(&mut self, new: NewEntry, position: u64, types: &Arc<EventTypes>) {
        let tail = self.tail.get_mut();
        tail.reopen();
        if let Tail::Open(chunk) = tail {
            if let Some(offset) = chunk.room_at(position) {
                let mut entry = new.entry;
                if let Entry::Event(record) = &mut entry {
                    record.set_position_offset(offset);
                }
                chunk.push(entry, new.metadata);
                return;
            }
        }
        let room = match tail.chunk() {
            None => FIRST_CHUNK_ENTRIES,
            Some(last) if last.len() >= last.room() => (2 * last.room()).min(MAX_ENTRIES),
            Some(_) => AFTER_CUT_ENTRIES,
        };
        if let Some(full) = tail.take_shared() {
            self.chunks.push_back(full);
        }
        *tail = Tail::Open(Chunk::starting_with(
            Arc::clone(&self.name),
            self.version,
            position,
            room,
            Arc::clone(types),
            new,
        ));
        self.starts.push_back(self.version);
    }

    /// Runs `f` on the `index`-th chunk, as shared with readers (the tail shared first).
    fn with_shared_chunk<R>(&self, index: usize, f: impl FnOnce(&Arc<Chunk>) -> R) -> Option<R> {
        match self.chunks.get(index) {
            Some(chunk) => Some(f(chunk)),
            None if index == self.chunks.len() => self.tail.lock().share().map(f),
            None => None,
        }
    }

    /// Runs `f` on the entry at a held `version`, for a reader (the tail is not shared for it).
    fn with_entry<R>(&self, version: u64, f: impl FnOnce(&Entry) -> R) -> Option<R> {
        let (index, slot) = self.locate(version)?;
        match self.chunks.get(index) {
            Some(chunk) => chunk.entry(slot).map(f),
            None if index == self.chunks.len() => self.tail.lock().chunk()?.entry(slot).map(f),
            None => None,
        }
    }

    /// The entry at a held `version`, for the store holding its write lock.
    fn entry_mut(&mut self, version: u64) -> Option<&Entry> {
        let (index, slot) = self.locate(version)?;
        match self.chunks.get(index) {
            Some(chunk) => chunk.entry(slot),
            None if index == self.chunks.len() => self.tail.get_mut().chunk()?.entry(slot),
            None => None,
        }
    }

    /// The chunk index and slot of a held `version`.
    #[inline]
    fn locate(&self, version: u64) -> Option<(usize, usize)> {
        if version < self.first_version || version > self.version {
            return None;
        }
        // The last chunk first: recent versions are the ones most read.
        let last = self.starts.len().checked_sub(1)?;
        let index = if self.starts[last] <= version {
            last
        } else {
            self.starts.partition_point(|&start| start <= version) - 1
        };
        // Below `MAX_ENTRIES`, which fits any usize.
        Some((index, (version - self.starts[index]) as usize))
    }

    /// When the stream's own event at `version` (not a link) was recorded.
    pub(crate) fn recorded_at(&self, version: u64) -> Option<Timestamp> {
        self.with_entry(version, |entry| match entry {
            Entry::Event(record) => Some(record.recorded_at),
            Entry::Link(_) => None,
        })?
    }

    /// The stream's own event at `version`, as handed out. `version` must be one the log names
    /// (an event, not a link): the handle is made without reading the entry, so scanning the log
    /// touches no event a caller does not look at.
    #[inline]
    pub(crate) fn logged_event(&self, version: u64) -> Option<RecordedEvent> {
        let (index, slot) = self.locate(version)?;
        self.with_shared_chunk(index, |chunk| {
            (slot < chunk.len()).then(|| RecordedEvent::from_stored(StoredEvent::new(chunk, slot)))
        })?
    }

    /// Up to `max_count` entries from `from_version` on, as envelopes (links with `LinkInfo`).
    pub(crate) fn read(&self, from_version: u64, max_count: usize) -> Vec<RecordedEvent> {
        let start = from_version.max(self.first_version);
        let Some((mut index, mut slot)) = self.locate(start) else {
            return Vec::new();
        };
        let count = usize::try_from(self.version - start + 1)
            .unwrap_or(usize::MAX)
            .min(max_count);
        let mut events = Vec::with_capacity(count);
        // Chunk by chunk, each one's entries in order.
        while events.len() < count {
            let copied = self.with_shared_chunk(index, |chunk| {
                let end = chunk.len().min(slot + (count - events.len()));
                for slot in slot..end {
                    match chunk.entry(slot) {
                        Some(Entry::Event(_)) => {
                            events.push(RecordedEvent::from_stored(StoredEvent::new(chunk, slot)));
                        }
                        Some(Entry::Link(link)) => events.push(RecordedEvent::clone(link)),
                        None => {}
                    }
                }
            });
            if copied.is_none() {
                break;
            }
            index += 1;
            slot = 0;
        }
        events
    }

    /// Removes the entries recorded or linked before `cutoff` (a prefix). Returns how many links
    /// went.
    pub(crate) fn expire(&mut self, cutoff: Timestamp) -> u64 {
        // Binary search for the first held entry at or after the cutoff.
        let (mut low, mut high) = (self.first_version, self.version + 1);
        while low < high {
            let middle = low + (high - low) / 2;
            if self
                .entry_mut(middle)
                .is_some_and(|e| entry_time(e) < cutoff)
            {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        let mut links = 0;
        // `linked` holds every link of the stream: empty, there is none to look for.
        if !self.linked.is_empty() {
            for version in self.first_version..low {
                if let Some(Entry::Link(link)) = self.entry_mut(version) {
                    let id = link.id();
                    self.linked.remove(&id);
                    links += 1;
                }
            }
        }
        if low > self.first_version {
            if let Some(time) = self.entry_mut(low - 1).map(entry_time) {
                self.last_time = time;
            }
        }
        self.first_version = low;
        // Drop the chunks that end before `first_version`.
        while let Some(&start) = self.starts.front() {
            let len = match self.chunks.front() {
                Some(chunk) => chunk.len(),
                None => self.tail.get_mut().chunk().map_or(0, Chunk::len),
            };
            if start + len as u64 > self.first_version {
                break;
            }
            if self.chunks.pop_front().is_none() {
                *self.tail.get_mut() = Tail::Empty;
            }
            self.starts.pop_front();
        }
        links
    }

    pub(crate) fn info(&self) -> StreamInfo {
        let first_time = self
            .with_entry(self.first_version, entry_time)
            .unwrap_or(self.last_time);
        let last_time = self
            .with_entry(self.version, entry_time)
            .unwrap_or(self.last_time);
        StreamInfo {
            stream: self.name.to_string(),
            event_count: self.version + 1 - self.first_version,
            first_version: self.first_version,
            last_version: self.version,
            first_recorded_at: first_time,
            last_recorded_at: last_time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Payload;

    #[test]
    fn an_append_to_a_short_named_stream_stays_on_its_first_cache_line() {
        let types = Arc::new(EventTypes::new());
        let mut stream = StreamState::new(Arc::from("Account-1"));
        for position in 1..=3 {
            let payload = Payload::from_json("{}").unwrap();
            let now = Timestamp::now();
            stream.push_event(
                EventId::new(),
                now,
                0,
                payload,
                crate::Metadata::new(),
                position,
                &types,
            );
        }
        let start = std::ptr::from_ref(&stream) as usize;
        assert_eq!(start % 64, 0);
        let words = std::ptr::from_ref(&stream.name_words) as usize;
        let Tail::Open(chunk) = stream.tail.get_mut() else {
            panic!("the tail is open");
        };
        let [entries, base_position] = chunk.hot_field_addresses();
        assert!(entries - start + std::mem::size_of::<Vec<Entry>>() <= 64);
        assert!(base_position - start + 8 <= 64);
        assert!(words - start + 16 <= 64);
        assert_eq!(stream.version, 3);
    }
}
