//! [`State`]: everything an [`InMemoryStore`](crate::InMemoryStore) holds, behind its one lock.
//!
//! Invariants:
//! - An event lives once, inline in its stream's chunks; `log` names it by stream number and
//!   version for every position, `ids` indexes its id, `types` lists its position under its type,
//!   and when it carries a correlation id, `correlations` lists its position under that id.
//! - `streams[n]` is the stream numbered `n`, and `stream_numbers` maps its name to `n`. Streams
//!   are never removed (a stream emptied by retention still exists), so numbers stay valid.
//! - Positions are gap-free and `next_position` is one past the last ever given.
//! - `clock` is the latest time given out; every `recorded_at` and `linked_at` is
//!   `max(coarse now, clock)`, so times never decrease along positions nor along a stream's
//!   entries, and retention always removes a prefix of the log and of each stream.
//! - Ids the store generates are larger than every id it generated before (ULID monotonic rule
//!   over `clock`, `id_generator.rs`), so the id index keeps them as runs, without memory per
//!   event (`id_index.rs`).
//! - An append checks everything (validity, idempotency, version, limits) before changing
//!   anything but the type table, so a failed call stores nothing (a new type name may keep the
//!   number it got, which no event has). A stream name or type name found in the maps was
//!   validated when it was added, so only new names are validated again.

use std::borrow::Cow;
use std::cmp::max;
use std::sync::Arc;

use super::id_generator::IdGenerator;
use super::id_index::IdIndex;
use super::log::Log;
use super::name_key::NameKey;
use super::stats::{event_bytes, metadata_bytes, EVENT_OVERHEAD, LINK_OVERHEAD, STREAM_OVERHEAD};
use super::stream::StreamState;
use super::stream_table::StreamTable;
use super::type_index::TypeIndex;
use super::Config;
use crate::backend::{
    check_idempotent, check_no_repeated_id, check_payload_size, validate_event_type,
    validate_event_version, validate_stream_name,
};
use crate::clock::CoarseClock;
use crate::store::correlation_index::CorrelationIndex;
use crate::store::{AppendResult, ExpectedVersion, LimitKind, StoreError, StreamInfo};
use crate::{EventId, LinkInfo, Metadata, NewEvent, Payload, RecordedEvent, Timestamp};

/// What an event without an id brings to the store, besides its type.
pub(crate) struct NewRecord {
    pub(crate) payload: Payload,
    /// `payload.len()`.
    pub(crate) payload_len: usize,
    /// Empty for none (then it owns no allocation).
    pub(crate) metadata: Metadata,
    /// The version of the event type's payload.
    pub(crate) event_version: u32,
}

/// Checks the limits for adding `count` entries to `stream` (`None`: a new stream) in a store of
/// `stream_count` streams. The stream's length is read only when a limit needs it.
#[inline]
fn check_limits(
    stream: Option<&StreamState>,
    stream_count: u64,
    count: usize,
    config: &Config,
) -> Result<(), StoreError> {
    if stream.is_none() && config.max_streams != 0 && stream_count >= config.max_streams {
        return Err(StoreError::LimitExceeded {
            kind: LimitKind::Streams,
            max: config.max_streams,
        });
    }
    if config.max_events_per_stream != 0 {
        let held = stream.map_or(0, StreamState::len) as u64;
        if held.saturating_add(count as u64) > config.max_events_per_stream {
            return Err(StoreError::LimitExceeded {
                kind: LimitKind::EventsPerStream,
                max: config.max_events_per_stream,
            });
        }
    }
    Ok(())
}

/// What the checks of an append decided.
enum Checked {
    /// Nothing to store: the call is answered.
    Done(AppendResult),
    /// Store the events in the stream numbered `stream` (made by the checks when new).
    Store { stream: usize },
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) closed: bool,
    streams: Vec<StreamState>,
    stream_numbers: StreamTable,
    log: Log,
    next_position: u64,
    clock: Timestamp,
    coarse_clock: CoarseClock,
    generated: IdGenerator,
    ids: IdIndex,
    types: TypeIndex,
    /// Correlation id to positions (events that carry one only).
    correlations: CorrelationIndex,
    pub(crate) appended: u64,
    pub(crate) linked: u64,
    pub(crate) expired: u64,
    memory: u64,
}

impl State {
    pub(crate) fn new() -> Self {
        State {
            closed: false,
            streams: Vec::new(),
            stream_numbers: StreamTable::default(),
            log: Log::new(),
            next_position: 1,
            clock: Timestamp::UNIX_EPOCH,
            coarse_clock: CoarseClock::default(),
            generated: IdGenerator::default(),
            ids: IdIndex::new(),
            types: TypeIndex::new(),
            correlations: CorrelationIndex::default(),
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

    /// The next time to give out: now (coarse), or the last time given when the clock went back.
    #[inline]
    fn tick(&mut self) -> Timestamp {
        self.clock = max(self.coarse_clock.now(), self.clock);
        self.clock
    }

    /// The number of stream `name`; an invalid name is an error, an unknown valid one `None`.
    #[inline]
    fn stream_number(&self, name: &str) -> Result<Option<usize>, StoreError> {
        let key = NameKey::new(name);
        let found = self.stream_numbers.find(key.hash(name), |n| {
            self.streams.get(n).is_some_and(|s| s.is_named(name, &key))
        });
        match found {
            Some(n) => Ok(Some(n)),
            None => validate_stream_name(name).map(|()| None),
        }
    }

    fn stream(&self, name: &str) -> Result<Option<&StreamState>, StoreError> {
        Ok(self.stream_number(name)?.and_then(|n| self.streams.get(n)))
    }

    /// The stream named so, made when new.
    fn stream_or_new(&mut self, name: &str) -> usize {
        let key = NameKey::new(name);
        let hash = key.hash(name);
        let streams = &self.streams;
        if let Some(n) = self.stream_numbers.find(hash, |n| {
            streams.get(n).is_some_and(|s| s.is_named(name, &key))
        }) {
            return n;
        }
        let name: Arc<str> = Arc::from(name);
        self.memory += STREAM_OVERHEAD + name.len() as u64;
        let number = self.streams.len();
        self.streams.push(StreamState::new(name));
        // Streams fit a u32 (below `u32::MAX`): each holds over 100 bytes, so 2^32 of them do not
        // fit in memory.
        let streams = &self.streams;
        self.stream_numbers.insert(hash, number as u32, |n| {
            streams
                .get(n)
                .map_or(0, |s| NameKey::new(&s.name).hash(&s.name))
        });
        number
    }

    /// The stream's own event (not a link) at `position`.
    fn recorded_at(&self, position: u64) -> Option<Timestamp> {
        let (stream, version) = self.log.get(position)?;
        self.streams.get(stream as usize)?.recorded_at(version)
    }

    fn event_at(&self, position: u64) -> Option<RecordedEvent> {
        let (stream, version) = self.log.get(position)?;
        self.streams.get(stream as usize)?.logged_event(version)
    }

    fn find(&self, id: EventId) -> Option<RecordedEvent> {
        let position = self.ids.find(id)?;
        // A stale position (removed by retention) holds no event, or another one.
        self.event_at(position).filter(|e| e.id() == id)
    }

    /// Checks an append of `events` to `stream` (input, idempotency, version, limits) without
    /// changing anything but the making of a new stream once every check passed.
    #[inline(always)]
    fn check_append(
        &mut self,
        stream: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
        config: &Config,
    ) -> Result<Checked, StoreError> {
        let number = self.stream_number(stream)?;
        if events.len() > 1 {
            check_no_repeated_id(events)?;
        }
        for event in events {
            let (name, version) = (event.event_type_cow(), event.event_version());
            self.check_event(name, version, event.payload_len(), config)?;
        }
        self.check_open()?;
        if events.iter().any(|e| e.id().is_some()) {
            if let Some(result) = check_idempotent(stream, events, |id| Ok(self.find(id)))? {
                return Ok(Checked::Done(result));
            }
        }
        let state = number.and_then(|n| self.streams.get(n));
        let version = state.map_or(0, |s| s.version);
        expected.check(stream, version)?;
        if events.is_empty() {
            return Ok(Checked::Done(AppendResult {
                stream_version: version,
                first_position: 0,
                last_position: 0,
            }));
        }
        check_limits(state, self.streams.len() as u64, events.len(), config)?;
        let stream = match number {
            Some(n) => n,
            None => self.stream_or_new(stream),
        };
        Ok(Checked::Store { stream })
    }

    /// Checks one event of an append (its type, version and payload size) and returns its type's number.
    /// A type gets its number here, before anything is stored; a number given to the type of a
    /// call that then fails is harmless (no event has it).
    // The `Cow` itself is needed: only a borrowed (`'static`) type name is cached by address.
    #[allow(clippy::ptr_arg)]
    #[inline(always)]
    fn check_event(
        &mut self,
        event_type: &Cow<'static, str>,
        event_version: u32,
        payload_len: usize,
        config: &Config,
    ) -> Result<u32, StoreError> {
        let type_number = match self.types.find(event_type, event_version) {
            Some(type_number) => type_number,
            // Only a checked pair is numbered, so a found one needs no check.
            None => {
                validate_event_type(event_type)?;
                validate_event_version(event_version)?;
                self.types.number(event_type, event_version)?
            }
        };
        check_payload_size(payload_len, config.max_payload_bytes)?;
        Ok(type_number)
    }

    /// Stores one event of a call that [`check_append`](Self::check_append) passed, in stream
    /// `number` at the next position. Nothing here fails.
    #[inline(always)]
    fn store_event(
        &mut self,
        number: usize,
        event: NewEvent,
        type_number: u32,
        recorded_at: Timestamp,
    ) {
        let payload_len = event.payload_len();
        let (id, _, payload, metadata) = event.into_parts();
        let (id, generated) = match id {
            Some(id) => (id, false),
            None => (self.generated.next(recorded_at), true),
        };
        let position = self.next_position;
        self.next_position += 1;
        self.types.push_position(type_number, position);
        self.memory += event_bytes(payload_len, &metadata);
        self.ids.push(id, position, generated);
        if !metadata.is_empty() {
            self.index_correlation(&metadata, position);
        }
        let Some(stream) = self.streams.get_mut(number) else {
            unreachable!("check_append returns existing stream numbers");
        };
        stream.push_event(
            id,
            recorded_at,
            type_number,
            payload,
            metadata,
            position,
            self.types.table(),
        );
        // See `stream_or_new` for why stream numbers fit a u32.
        self.log.push(number as u32, stream.version);
    }

    /// The result of a stored append to stream `number` whose first event got `first_position`.
    fn stored(&mut self, number: usize, first_position: u64) -> AppendResult {
        self.appended += self.next_position - first_position;
        AppendResult {
            stream_version: self.streams.get(number).map_or(0, |s| s.version),
            first_position,
            last_position: self.next_position - 1,
        }
    }

    /// Appends a call's events: everything checked, then stored.
    pub(crate) fn append(
        &mut self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        config: &Config,
    ) -> Result<AppendResult, StoreError> {
        let stream = match self.check_append(stream, expected, &events, config)? {
            Checked::Done(result) => return Ok(result),
            Checked::Store { stream } => stream,
        };
        let recorded_at = self.tick();
        let first_position = self.next_position;
        for event in events {
            let version = event.event_version();
            let Some(type_number) = self.types.find(event.event_type_cow(), version) else {
                unreachable!("check_append numbered every type of the call");
            };
            self.store_event(stream, event, type_number, recorded_at);
        }
        Ok(self.stored(stream, first_position))
    }

    /// Appends one event without an id (of type `event_type`), as `append` does a call of one:
    /// the same checks in the same order (an id's idempotency aside), then the event is stored.
    // The `Cow` itself is needed: only a borrowed (`'static`) type name is cached by address.
    #[allow(clippy::ptr_arg)]
    #[inline]
    pub(crate) fn append_new_event(
        &mut self,
        stream: &str,
        expected: ExpectedVersion,
        event_type: &Cow<'static, str>,
        record: NewRecord,
        config: &Config,
    ) -> Result<AppendResult, StoreError> {
        let number = self.stream_number(stream)?;
        let version = record.event_version;
        let type_number = self.check_event(event_type, version, record.payload_len, config)?;
        self.check_open()?;
        let state = number.and_then(|n| self.streams.get(n));
        expected.check(stream, state.map_or(0, |s| s.version))?;
        check_limits(state, self.streams.len() as u64, 1, config)?;
        let number = match number {
            Some(n) => n,
            None => self.stream_or_new(stream),
        };
        let recorded_at = self.tick();
        let id = self.generated.next(recorded_at);
        let position = self.next_position;
        let metadata_len = if record.metadata.is_empty() {
            0
        } else {
            self.index_correlation(&record.metadata, position);
            metadata_bytes(&record.metadata)
        };
        // The record first: over many streams its cache line is likely a miss, which then
        // overlaps the index updates below instead of holding up the lock's release.
        let Some(state) = self.streams.get_mut(number) else {
            unreachable!("stream numbers given above are of existing streams");
        };
        state.push_event(
            id,
            recorded_at,
            type_number,
            record.payload,
            record.metadata,
            position,
            self.types.table(),
        );
        let version = state.version;
        self.next_position += 1;
        self.appended += 1;
        self.types.push_position(type_number, position);
        self.memory += EVENT_OVERHEAD + (record.payload_len + metadata_len) as u64;
        self.ids.push(id, position, true);
        // See `stream_or_new` for why stream numbers fit a u32.
        self.log.push(number as u32, version);
        Ok(AppendResult {
            stream_version: version,
            first_position: position,
            last_position: position,
        })
    }

    /// Lists the event at `position` under its correlation id, if it has one.
    #[inline(never)]
    fn index_correlation(&mut self, metadata: &Metadata, position: u64) {
        if let Some(correlation_id) = metadata.correlation_id() {
            self.correlations.insert(correlation_id, position);
        }
    }

    pub(crate) fn read_correlated(
        &self,
        correlation_id: &str,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.check_open()?;
        Ok(self
            .correlations
            .get(correlation_id)
            .iter()
            .filter_map(|&p| self.event_at(p))
            .collect())
    }

    pub(crate) fn read(&self, id: EventId) -> Result<RecordedEvent, StoreError> {
        self.check_open()?;
        self.find(id).ok_or(StoreError::EventNotFound(id))
    }

    pub(crate) fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let state = self.stream(stream)?;
        self.check_open()?;
        Ok(state.map_or_else(Vec::new, |s| s.read(from_version, max_count)))
    }

    pub(crate) fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.check_open()?;
        Ok(self
            .log
            .positions(from_position, max_count)
            .filter_map(|p| self.event_at(p))
            .collect())
    }

    pub(crate) fn read_by_type(
        &self,
        event_type: &str,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.check_open()?;
        Ok(self
            .types
            .positions(event_type, from_position)
            .take(max_count)
            .filter_map(|p| self.event_at(p))
            .collect())
    }

    pub(crate) fn read_time_range(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.check_open()?;
        let before = |time| move |p| self.recorded_at(p).is_some_and(|t| t < time);
        let start = self.log.partition_point(before(from));
        let end = self.log.partition_point(before(to)).max(start);
        Ok((start..end).filter_map(|p| self.event_at(p)).collect())
    }

    pub(crate) fn stream_info(&self, stream: &str) -> Result<Option<StreamInfo>, StoreError> {
        let state = self.stream(stream)?;
        self.check_open()?;
        Ok(state.map(StreamState::info))
    }

    pub(crate) fn streams(&self) -> Result<Vec<StreamInfo>, StoreError> {
        self.check_open()?;
        let mut infos: Vec<StreamInfo> = self.streams.iter().map(StreamState::info).collect();
        infos.sort_unstable_by(|a, b| a.stream.cmp(&b.stream));
        Ok(infos)
    }

    pub(crate) fn link_to_stream(
        &mut self,
        id: EventId,
        stream: &str,
        config: &Config,
    ) -> Result<u64, StoreError> {
        let number = self.stream_number(stream)?;
        self.check_open()?;
        let event = self.find(id).ok_or(StoreError::EventNotFound(id))?;
        let existing = number.and_then(|n| self.streams.get(n));
        if event.stream() == stream || existing.is_some_and(|s| s.linked.contains(&id)) {
            return Err(StoreError::InvalidArgument(format!(
                "event {id} is already in stream `{stream}`"
            )));
        }
        check_limits(existing, self.streams.len() as u64, 1, config)?;
        let linked_at = self.tick();
        let number = self.stream_or_new(stream);
        let table = Arc::clone(self.types.table());
        let Some(state) = self.streams.get_mut(number) else {
            unreachable!("stream_or_new returns an existing stream number");
        };
        let version = state.version + 1;
        let entry = event.with_link(LinkInfo {
            stream: stream.to_owned(),
            version,
            linked_at,
        });
        state.linked.insert(id);
        state.push_link(entry, self.next_position, &table);
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
        let first = self.log.first_position();
        let end = self
            .log
            .partition_point(|p| self.recorded_at(p).is_some_and(|t| t < cutoff));
        let count = end - first;
        if count > 0 {
            let mut freed = 0;
            let mut ids = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
            // Taken out while the events are read (a move, no copy), then put back.
            let mut correlations = std::mem::take(&mut self.correlations);
            for event in (first..end).filter_map(|p| self.event_at(p)) {
                freed += event_bytes(event.payload().len(), event.metadata());
                ids.push(event.id());
                if let Some(correlation_id) = event.metadata().correlation_id() {
                    correlations.remove_before(correlation_id, end);
                }
            }
            self.correlations = correlations;
            self.memory = self.memory.saturating_sub(freed);
            self.ids.remove_before(end, ids.into_iter());
            self.log.remove_before(end);
            self.types.remove_before(end);
            self.expired += count;
        }
        for state in &mut self.streams {
            let links = state.expire(cutoff);
            self.memory = self
                .memory
                .saturating_sub(links * (LINK_OVERHEAD + state.name.len() as u64));
        }
        count
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
            self.memory
                + self.stream_numbers.memory_bytes()
                + self.ids.memory_bytes()
                + self.log.memory_bytes()
                + self.types.memory_bytes()
                + self.correlations.memory_bytes(),
        )
    }
}
