//! [`State`]: everything an [`InMemoryStore`](crate::InMemoryStore) holds, behind its one lock.
//!
//! Invariants:
//! - `log[i]` is the event at global position `first_position + i`; positions are gap-free and
//!   `next_position` is one past the last ever given (retention only moves `first_position`).
//! - `clock` is the latest time given out; every `recorded_at` and `linked_at` is
//!   `max(now, clock)`, so times never decrease along positions nor along a stream's entries, and
//!   retention always removes a prefix of the log and of each stream.
//! - Ids the store generates are larger than every id it generated before (ULID monotonic rule
//!   over `clock`), so the id index indexes them with a push (see `id_index.rs`).
//! - An append checks everything (idempotency, version, limits) before changing anything, so a
//!   failed call stores nothing.
//! - `types[t].positions` lists, in increasing order, the positions of the held events of type `t`.

use std::borrow::Cow;
use std::cmp::max;
use std::sync::Arc;

use super::hash::FastMap;
use super::id_index::IdIndex;
use super::stream::{Log, StreamState};
use super::Config;
use crate::store::{
    check_idempotent, AppendResult, ExpectedVersion, LimitKind, StoreError, StreamInfo,
};
use crate::{EventId, LinkInfo, NewEvent, RecordedEvent, RecordedEventParts, Timestamp};

/// Fixed bytes per held event beyond its payload and metadata: the shared envelope with its `Arc`
/// header, the log slot, the stream slot, the id key and the type index slot.
const EVENT_OVERHEAD: u64 =
    (std::mem::size_of::<RecordedEventParts>() + 16 + 16 + 16 + 16 + 8) as u64;
/// Fixed bytes per link: the stream slot, the link envelope, the `LinkInfo` with its `Arc`
/// header, the set entry.
const LINK_OVERHEAD: u64 = (8 + 16 + std::mem::size_of::<LinkInfo>() + 16 + 24) as u64;

/// A new id, larger than every id generated before (`last` is the last one generated, 0 for
/// none): the ULID monotonic rule, the random part incremented inside one millisecond.
#[inline]
fn next_id(last: &mut u128, at: Timestamp) -> EventId {
    let ms = u128::from(at.as_unix_nanos() / 1_000_000);
    let last_ms = *last >> 80;
    let next = last.wrapping_add(1);
    let id = if *last == 0 || ms > last_ms {
        ulid::Ulid::from_datetime(at.to_system_time()).0
    } else if next >> 80 == last_ms {
        next
    } else {
        // 2^80 ids in one millisecond: fall back to the process-wide generator.
        EventId::new().to_u128()
    };
    *last = id;
    EventId::from_u128(id)
}

/// Bytes one held event counts for in the memory estimate.
fn event_bytes(event: &RecordedEvent) -> u64 {
    let metadata: usize = event
        .metadata()
        .iter()
        .map(|(k, v)| k.len() + v.len() + 64)
        .sum();
    EVENT_OVERHEAD + (event.payload().len() + metadata) as u64
}

/// Checks the limits for adding `count` entries to a stream holding `held` entries (`None`: a
/// new stream) in a store of `stream_count` streams.
fn check_limits(
    held: Option<usize>,
    stream_count: u64,
    count: usize,
    config: &Config,
) -> Result<(), StoreError> {
    if held.is_none() && config.max_streams != 0 && stream_count >= config.max_streams {
        return Err(StoreError::LimitExceeded {
            kind: LimitKind::Streams,
            max: config.max_streams,
        });
    }
    let held = held.unwrap_or(0) as u64;
    if config.max_events_per_stream != 0
        && held.saturating_add(count as u64) > config.max_events_per_stream
    {
        return Err(StoreError::LimitExceeded {
            kind: LimitKind::EventsPerStream,
            max: config.max_events_per_stream,
        });
    }
    Ok(())
}

#[derive(Debug)]
struct TypeIndex {
    name: Arc<str>,
    positions: Vec<u64>,
}

/// The interned event types with their positions.
///
/// Invariant: `by_name[n]` and every `recent` entry for `n` point at the `entries` slot named
/// `n`. `recent` keys `'static` names by address and length: such a name never changes, so
/// equal address and length mean equal text, and the lookup skips hashing.
#[derive(Debug, Default)]
struct Types {
    entries: Vec<TypeIndex>,
    by_name: FastMap<Arc<str>, usize>,
    recent: Vec<((usize, usize), usize)>,
}

impl Types {
    /// The slot of `name`, made when new.
    // The `Cow` itself is needed: only a borrowed (`'static`) name may be cached by address.
    #[allow(clippy::ptr_arg)]
    #[inline]
    fn index_of(&mut self, name: &Cow<'static, str>) -> usize {
        let key = match name {
            Cow::Borrowed(s) => Some((s.as_ptr() as usize, s.len())),
            Cow::Owned(_) => None,
        };
        if let Some(key) = key {
            if let Some(&(_, index)) = self.recent.iter().find(|(k, _)| *k == key) {
                return index;
            }
        }
        let index = match self.by_name.get(&**name) {
            Some(&index) => index,
            None => {
                let name: Arc<str> = Arc::from(&**name);
                self.entries.push(TypeIndex {
                    name: Arc::clone(&name),
                    positions: Vec::new(),
                });
                self.by_name.insert(name, self.entries.len() - 1);
                self.entries.len() - 1
            }
        };
        if let Some(key) = key {
            if self.recent.len() >= 16 {
                self.recent.remove(0);
            }
            self.recent.push((key, index));
        }
        index
    }

    fn get(&self, name: &str) -> Option<&TypeIndex> {
        self.by_name.get(name).map(|&i| &self.entries[i])
    }
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) closed: bool,
    log: Vec<RecordedEvent>,
    first_position: u64,
    next_position: u64,
    clock: Timestamp,
    last_generated: u128,
    ids: IdIndex,
    streams: FastMap<Arc<str>, StreamState>,
    types: Types,
    pub(crate) appended: u64,
    pub(crate) linked: u64,
    pub(crate) expired: u64,
    memory: u64,
}

impl State {
    pub(crate) fn new() -> Self {
        State {
            closed: false,
            log: Vec::new(),
            first_position: 1,
            next_position: 1,
            clock: Timestamp::UNIX_EPOCH,
            last_generated: 0,
            ids: IdIndex::new(),
            streams: FastMap::default(),
            types: Types::default(),
            appended: 0,
            linked: 0,
            expired: 0,
            memory: 0,
        }
    }

    pub(crate) fn check_open(&self) -> Result<(), StoreError> {
        if self.closed {
            Err(StoreError::Closed)
        } else {
            Ok(())
        }
    }

    /// The next time to give out: now, or the last time given when the clock went back.
    fn tick(&mut self) -> Timestamp {
        self.clock = max(Timestamp::now(), self.clock);
        self.clock
    }

    fn view(&self) -> Log<'_> {
        Log {
            events: &self.log,
            first_position: self.first_position,
        }
    }

    fn event_at(&self, position: u64) -> Option<&RecordedEvent> {
        let index = usize::try_from(position.checked_sub(self.first_position)?).ok()?;
        self.log.get(index)
    }

    fn find(&self, id: EventId) -> Option<&RecordedEvent> {
        let position = self
            .ids
            .find(id, |p| self.event_at(p).map(RecordedEvent::id))?;
        self.event_at(position)
    }

    /// Appends after the input was validated (`validate_append`).
    pub(crate) fn append(
        &mut self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        config: &Config,
    ) -> Result<AppendResult, StoreError> {
        self.check_open()?;
        if events.iter().any(|e| e.id().is_some()) {
            if let Some(result) =
                check_idempotent(stream, &events, |id| Ok(self.find(id).cloned()))?
            {
                return Ok(result);
            }
        }
        let stream_count = self.streams.len() as u64;
        let empty = |version| AppendResult {
            stream_version: version,
            first_position: 0,
            last_position: 0,
        };
        // One map lookup for an existing stream; the checks come before any change.
        let state = match self.streams.get_mut(stream) {
            Some(state) => {
                expected.check(stream, state.version)?;
                if events.is_empty() {
                    return Ok(empty(state.version));
                }
                check_limits(Some(state.len()), stream_count, events.len(), config)?;
                state
            }
            None => {
                expected.check(stream, 0)?;
                if events.is_empty() {
                    return Ok(empty(0));
                }
                check_limits(None, stream_count, events.len(), config)?;
                let name: Arc<str> = Arc::from(stream);
                self.memory += (name.len() + 128) as u64;
                self.streams
                    .entry(Arc::clone(&name))
                    .or_insert_with(|| StreamState::new(name))
            }
        };

        // Nothing below fails: the append is committed.
        let recorded_at = max(Timestamp::now(), self.clock);
        self.clock = recorded_at;
        let first_position = self.next_position;
        self.log.reserve(events.len());
        for event in events {
            let (id, event_type, payload, metadata) = event.into_parts();
            let id = match id {
                Some(id) => id,
                None => next_id(&mut self.last_generated, recorded_at),
            };
            let position = self.next_position;
            self.next_position += 1;
            let type_index = self.types.index_of(&event_type);
            let type_index = &mut self.types.entries[type_index];
            type_index.positions.push(position);
            let recorded = RecordedEvent::from_parts(RecordedEventParts {
                id,
                event_type: Arc::clone(&type_index.name),
                stream: Arc::clone(&state.name),
                version: state.version + 1,
                position,
                recorded_at,
                metadata,
                payload,
            });
            self.memory += event_bytes(&recorded);
            self.ids.push(id, position);
            state.push_event(position, recorded_at);
            self.log.push(recorded);
        }
        self.appended += self.next_position - first_position;
        Ok(AppendResult {
            stream_version: state.version,
            first_position,
            last_position: self.next_position - 1,
        })
    }

    pub(crate) fn read(&self, id: EventId) -> Result<RecordedEvent, StoreError> {
        self.check_open()?;
        self.find(id).cloned().ok_or(StoreError::EventNotFound(id))
    }

    pub(crate) fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.check_open()?;
        Ok(self
            .streams
            .get(stream)
            .map_or_else(Vec::new, |s| s.read(from_version, max_count, self.view())))
    }

    pub(crate) fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.check_open()?;
        let skip = from_position.max(self.first_position) - self.first_position;
        let start = usize::try_from(skip)
            .unwrap_or(usize::MAX)
            .min(self.log.len());
        let end = start.saturating_add(max_count).min(self.log.len());
        Ok(self.log[start..end].to_vec())
    }

    pub(crate) fn read_by_type(
        &self,
        event_type: &str,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.check_open()?;
        let Some(index) = self.types.get(event_type) else {
            return Ok(Vec::new());
        };
        let start = index.positions.partition_point(|&p| p < from_position);
        Ok(index.positions[start..]
            .iter()
            .take(max_count)
            .filter_map(|&p| self.event_at(p).cloned())
            .collect())
    }

    pub(crate) fn read_time_range(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.check_open()?;
        let start = self.log.partition_point(|e| e.recorded_at() < from);
        let end = self
            .log
            .partition_point(|e| e.recorded_at() < to)
            .max(start);
        Ok(self.log[start..end].to_vec())
    }

    pub(crate) fn stream_info(&self, stream: &str) -> Result<Option<StreamInfo>, StoreError> {
        self.check_open()?;
        Ok(self.streams.get(stream).map(|s| s.info(self.view())))
    }

    pub(crate) fn streams(&self) -> Result<Vec<StreamInfo>, StoreError> {
        self.check_open()?;
        let mut infos: Vec<StreamInfo> =
            self.streams.values().map(|s| s.info(self.view())).collect();
        infos.sort_unstable_by(|a, b| a.stream.cmp(&b.stream));
        Ok(infos)
    }

    pub(crate) fn link_to_stream(
        &mut self,
        id: EventId,
        stream: &str,
        config: &Config,
    ) -> Result<u64, StoreError> {
        self.check_open()?;
        let event = self.find(id).ok_or(StoreError::EventNotFound(id))?.clone();
        let stream_count = self.streams.len() as u64;
        let existing = self.streams.get(stream);
        if event.stream() == stream || existing.is_some_and(|s| s.linked.contains(&id)) {
            return Err(StoreError::InvalidArgument(format!(
                "event {id} is already in stream `{stream}`"
            )));
        }
        check_limits(existing.map(StreamState::len), stream_count, 1, config)?;
        let linked_at = self.tick();
        if !self.streams.contains_key(stream) {
            let name: Arc<str> = Arc::from(stream);
            self.memory += (name.len() + 128) as u64;
            self.streams
                .insert(Arc::clone(&name), StreamState::new(name));
        }
        let Some(state) = self.streams.get_mut(stream) else {
            unreachable!("the stream was inserted above");
        };
        let version = state.version + 1;
        let entry = event.with_link(LinkInfo {
            stream: stream.to_owned(),
            version,
            linked_at,
        });
        state.linked.insert(id);
        state.push_link(entry, linked_at);
        self.memory += LINK_OVERHEAD + stream.len() as u64;
        self.linked += 1;
        Ok(version)
    }

    pub(crate) fn last_position(&self) -> Result<u64, StoreError> {
        self.check_open()?;
        Ok(self.next_position - 1)
    }

    /// Removes events recorded, and links made, before `cutoff`. Returns how many events went.
    pub(crate) fn expire(&mut self, cutoff: Timestamp) -> u64 {
        if self.closed {
            return 0;
        }
        let count = self.log.partition_point(|e| e.recorded_at() < cutoff);
        if count > 0 {
            let freed: u64 = self.log[..count].iter().map(event_bytes).sum();
            self.memory = self.memory.saturating_sub(freed);
            let new_first = self.first_position + count as u64;
            self.ids
                .remove_before(new_first, self.log[..count].iter().map(RecordedEvent::id));
            self.log.drain(..count);
            self.first_position = new_first;
            for index in &mut self.types.entries {
                let gone = index.positions.partition_point(|&p| p < new_first);
                index.positions.drain(..gone);
            }
            self.expired += count as u64;
        }
        let log = Log {
            events: &self.log,
            first_position: self.first_position,
        };
        for state in self.streams.values_mut() {
            let links = state.expire(cutoff, log);
            self.memory = self
                .memory
                .saturating_sub(links * (LINK_OVERHEAD + state.name.len() as u64));
        }
        count as u64
    }

    /// Drops everything and refuses every later call.
    pub(crate) fn close(&mut self) {
        let appended = self.appended;
        let linked = self.linked;
        let expired = self.expired;
        *self = State::new();
        self.closed = true;
        self.appended = appended;
        self.linked = linked;
        self.expired = expired;
        self.ids.clear();
    }

    /// `(events, streams, memory_bytes)` now.
    pub(crate) fn sizes(&self) -> (u64, u64, u64) {
        (
            self.log.len() as u64,
            self.streams.len() as u64,
            self.memory + self.ids.memory_bytes(),
        )
    }
}
