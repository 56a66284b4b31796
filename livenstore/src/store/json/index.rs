//! The in-memory index: what the store knows without reading payloads.
//!
//! Invariants:
//! - `events[p - 1]` describes global position `p`; positions are contiguous from 1.
//! - `streams[s].entries[v - 1]` is version `v` of stream `s`; a link entry carries `linked_at`.
//! - `by_id` maps every stored event id to its position (see `id_index.rs`); ids are unique in
//!   the store.
//! - `recorded_at` never decreases along `events`.
//! - Gaps: a position or a stream version whose record was lost is still taken, so nothing after
//!   it is renumbered and it is never given out again (as far as the gap is known: see
//!   `resolve.rs`). A lost position is an entry of `events`
//!   whose [`EntryKind`] is not `Event` (a `Hole` that `repair` recorded, or a `Damaged` record
//!   of a damaged store opened read-only); a lost stream version whose position is unknown is a
//!   stream entry with position 0, its kind in `missing`. Reads skip holes and fail on damage
//!   (or skip it, when asked to). Only events are in `by_type` and `by_id`, but for damaged
//!   records whose id could be read.
//! - Payloads and metadata are never held here: about 100 bytes per event (entry, stream entry,
//!   type list, id map), so a million events take about 100 MB. Lines are read from the segment files on demand.
//!   The one piece of metadata kept is the correlation id: `correlations` lists each one's
//!   positions (events that carry one only; see `store/correlation_index.rs`), filled wherever
//!   an event enters the index (the open scan, the survey of a damaged store, an append, an
//!   import), so it is built with the rest of the index on open, from headers the scan parses
//!   anyway.
//! - Streams and types may be interned before their batch is complete; a stream with no entries
//!   does not exist for readers.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use super::entry::{EntryKind, EventEntry, UNKNOWN};
use super::format::HoleRecord;
use super::id_index::IdIndex;
use crate::store::correlation_index::CorrelationIndex;
use crate::{EventId, StoreError, Timestamp};

/// What a gap is: a recorded hole, or damage (its index in [`Index::damage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GapKind {
    Hole,
    Damaged(u32),
}

/// One lost record, as [`Index::push_gap`] takes it: the position and the stream version it
/// held, each when known.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gap {
    pub position: Option<u64>,
    pub stream: Option<u32>,
    pub version: Option<u64>,
    /// The lost event's id, when it could be read (damage only: a hole's id may be stored again).
    pub id: Option<u128>,
    pub kind: GapKind,
}

/// Where a damaged record is, for the errors of reads that reach it.
#[derive(Debug, Clone)]
pub(crate) struct DamageRef {
    pub path: PathBuf,
    pub line: u64,
    pub reason: String,
}

/// One version of a stream: the event's position, and when it is a link, when it was linked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamEntry {
    pub position: u64,
    pub linked_at: Option<u64>,
}

/// One stream.
#[derive(Debug)]
pub(crate) struct StreamState {
    pub name: Arc<str>,
    /// Version `v` is `entries[v - 1]`, gaps included.
    pub entries: Vec<StreamEntry>,
    /// How many of the entries are gaps.
    pub gaps: u32,
}

/// An open segment file, for positioned reads.
#[derive(Debug)]
pub(crate) struct SegmentFile {
    pub id: u32,
    pub path: PathBuf,
    pub file: Arc<File>,
}

/// Where a scan of the log stopped: the end of the last complete batch.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cursor {
    /// Index into `Index::segments` of the segment being scanned.
    pub segment: usize,
    pub offset: u64,
    pub line: u64,
}

/// The whole index.
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub events: Vec<EventEntry>,
    pub streams: Vec<StreamState>,
    pub stream_ids: HashMap<Arc<str>, u32>,
    pub types: Vec<Arc<str>>,
    pub type_ids: HashMap<Arc<str>, u32>,
    pub by_type: Vec<Vec<u64>>,
    pub by_id: IdIndex,
    /// Correlation id to positions (events that carry one only).
    pub correlations: CorrelationIndex,
    pub links: HashSet<(u32, u64)>,
    pub segments: Vec<SegmentFile>,
    pub cursor: Cursor,
    /// The damaged records a read-only open found, for the errors of reads that reach them.
    pub damage: Vec<DamageRef>,
    /// The kinds of the lost stream versions whose position is unknown (position 0 entries).
    pub missing: HashMap<(u32, u64), GapKind>,
    /// Every gap, in the order pushed.
    pub gaps: Vec<Gap>,
    /// The stream and type interned last: a batch repeats them, so a run of equal names skips
    /// the hash lookup (on append and on the open scan).
    last_interned: (Option<u32>, Option<u32>),
}

impl Index {
    pub fn intern_stream(&mut self, name: &str) -> u32 {
        if let Some(id) = self.last_interned.0 {
            if *self.streams[id as usize].name == *name {
                return id;
            }
        }
        let id = self.intern_stream_uncached(name);
        self.last_interned.0 = Some(id);
        id
    }

    fn intern_stream_uncached(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.stream_ids.get(name) {
            return id;
        }
        let id = self.streams.len() as u32;
        let name: Arc<str> = name.into();
        self.streams.push(StreamState {
            name: Arc::clone(&name),
            entries: Vec::new(),
            gaps: 0,
        });
        self.stream_ids.insert(name, id);
        id
    }

    pub fn intern_type(&mut self, name: &str) -> u32 {
        if let Some(id) = self.last_interned.1 {
            if *self.types[id as usize] == *name {
                return id;
            }
        }
        let id = self.intern_type_uncached(name);
        self.last_interned.1 = Some(id);
        id
    }

    fn intern_type_uncached(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.type_ids.get(name) {
            return id;
        }
        let id = self.types.len() as u32;
        let name: Arc<str> = name.into();
        self.types.push(Arc::clone(&name));
        self.by_type.push(Vec::new());
        self.type_ids.insert(name, id);
        id
    }

    pub fn stream_id(&self, name: &str) -> Option<u32> {
        self.stream_ids.get(name).copied()
    }

    pub fn stream_version(&self, stream: u32) -> u64 {
        self.streams
            .get(stream as usize)
            .map_or(0, |s| s.entries.len() as u64)
    }

    pub fn last_position(&self) -> u64 {
        self.events.len() as u64
    }

    pub fn last_recorded_at(&self) -> Timestamp {
        Timestamp::from_unix_nanos(self.events.last().map_or(0, |e| e.recorded_at))
    }

    pub fn entry(&self, position: u64) -> Option<&EventEntry> {
        position
            .checked_sub(1)
            .and_then(|i| self.events.get(usize::try_from(i).ok()?))
    }

    pub fn position_of(&self, id: EventId) -> Option<u64> {
        self.by_id.get(id.to_u128(), &self.events)
    }

    /// Whether the event at `position` is in stream `stream`, appended there or linked.
    pub fn in_stream(&self, position: u64, stream: u32) -> bool {
        self.entry(position).is_some_and(|e| e.stream == stream)
            || self.links.contains(&(stream, position))
    }

    /// Adds the next event (whose metadata holds `correlation_id`, if any), checking what the
    /// log must guarantee.
    ///
    /// # Errors
    ///
    /// The broken rule, for a `Corrupted` error.
    pub fn push_event(
        &mut self,
        position: u64,
        entry: EventEntry,
        correlation_id: Option<&str>,
    ) -> Result<(), String> {
        let expected = self.last_position() + 1;
        if position != expected {
            return Err(format!("position {position}, expected {expected}"));
        }
        let current = self.stream_version(entry.stream);
        if entry.version != current + 1 {
            return Err(format!(
                "stream version {}, expected {}",
                entry.version,
                current + 1
            ));
        }
        if entry.recorded_at < self.last_recorded_at().as_unix_nanos() {
            return Err("recorded_at goes back in time".into());
        }
        if !self.by_id.insert(entry.id, position, &self.events) {
            return Err(format!(
                "event id {} is stored twice",
                EventId::from_u128(entry.id)
            ));
        }
        self.by_type[entry.event_type as usize].push(position);
        if let Some(correlation_id) = correlation_id {
            self.correlations.insert(correlation_id, position);
        }
        self.streams[entry.stream as usize]
            .entries
            .push(StreamEntry {
                position,
                linked_at: None,
            });
        self.events.push(entry);
        Ok(())
    }

    /// Adds a lost record: its position (the next one) and its stream version (the stream's
    /// next), each when known.
    ///
    /// # Errors
    ///
    /// The broken rule, for a `Corrupted` error.
    pub fn push_gap(&mut self, gap: Gap) -> Result<(), String> {
        let slot = match (gap.stream, gap.version) {
            (Some(stream), Some(version)) => {
                let current = self.stream_version(stream);
                if version != current + 1 {
                    return Err(format!(
                        "lost record at stream version {version}, expected {}",
                        current + 1
                    ));
                }
                Some((stream, version))
            }
            _ => None,
        };
        if let Some(position) = gap.position {
            let expected = self.last_position() + 1;
            if position != expected {
                return Err(format!(
                    "lost record at position {position}, expected {expected}"
                ));
            }
            let (kind, offset) = match gap.kind {
                GapKind::Hole => (EntryKind::Hole, 0),
                GapKind::Damaged(at) => (EntryKind::Damaged, u64::from(at)),
            };
            let id = gap.id.filter(|_| kind == EntryKind::Damaged);
            self.events.push(EventEntry {
                id: id.unwrap_or(0),
                recorded_at: self.last_recorded_at().as_unix_nanos(),
                version: slot.map_or(0, |(_, v)| v),
                offset,
                segment: 0,
                len: 0,
                stream: slot.map_or(UNKNOWN, |(s, _)| s),
                event_type: UNKNOWN,
                event_version: 0,
                kind,
            });
            if let Some(id) = id {
                // A damaged id that is stored elsewhere too stays out of the map (the other
                // one is the event).
                let events = &self.events[..self.events.len() - 1];
                let _ = self.by_id.insert(id, position, events);
            }
        }
        if let Some((stream, _)) = slot {
            let state = &mut self.streams[stream as usize];
            let position = gap.position.unwrap_or(0);
            state.entries.push(StreamEntry {
                position,
                linked_at: None,
            });
            state.gaps += 1;
            if position == 0 {
                self.missing
                    .insert((stream, state.entries.len() as u64), gap.kind);
            }
        }
        self.gaps.push(gap);
        Ok(())
    }

    /// Adds the lost record a hole line of the log records (`repair` wrote it).
    ///
    /// # Errors
    ///
    /// The broken rule, for a `Corrupted` error.
    pub fn push_hole(&mut self, hole: &HoleRecord) -> Result<(), String> {
        let stream = hole.stream.as_deref().map(|s| self.intern_stream(s));
        self.push_gap(Gap {
            position: hole.position,
            stream,
            version: hole.version,
            id: None,
            kind: GapKind::Hole,
        })
    }

    /// The error of a read that reaches gap `kind`: `None` for a hole (reads skip it), the
    /// damaged record's `Corrupted` error otherwise.
    pub fn gap_error(&self, kind: GapKind) -> Option<StoreError> {
        let GapKind::Damaged(at) = kind else {
            return None;
        };
        let damage = self.damage.get(at as usize)?;
        Some(StoreError::Corrupted {
            path: damage.path.clone(),
            line: damage.line,
            reason: format!(
                "{} (the record is damaged: reads that reach it fail until `repair` moves it to \
                 a quarantine file)",
                damage.reason
            ),
        })
    }

    /// The kind of the gap at `position`, `None` for an event (or an unknown position).
    pub fn gap_at(&self, position: u64) -> Option<GapKind> {
        let entry = self.entry(position)?;
        match entry.kind {
            EntryKind::Event => None,
            EntryKind::Hole => Some(GapKind::Hole),
            EntryKind::Damaged => Some(GapKind::Damaged(entry.offset as u32)),
        }
    }

    /// Adds a link of event `id` into `stream` at `version`.
    ///
    /// # Errors
    ///
    /// The broken rule, for a `Corrupted` error.
    pub fn push_link(
        &mut self,
        id: EventId,
        stream: u32,
        version: u64,
        linked_at: Timestamp,
    ) -> Result<(), String> {
        let position = self
            .position_of(id)
            .ok_or_else(|| format!("link to unknown event {id}"))?;
        if self.in_stream(position, stream) {
            return Err(format!("event {id} is linked twice into one stream"));
        }
        let current = self.stream_version(stream);
        if version != current + 1 {
            return Err(format!("link version {version}, expected {}", current + 1));
        }
        self.links.insert((stream, position));
        self.streams[stream as usize].entries.push(StreamEntry {
            position,
            linked_at: Some(linked_at.as_unix_nanos()),
        });
        Ok(())
    }
}
