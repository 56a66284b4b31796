//! [`Replica`]: the store's in-memory copy of its JetStream stream, and every read.
//!
//! The replica folds the stream's messages in sequence order, checking each against what came
//! before, and answers all reads. It is what makes the write path's checks (expected versions,
//! event ids) complete: a group is published only with `Nats-Expected-Last-Sequence` equal to
//! [`Replica::sequence`], so the server refuses it unless the replica had seen every message.
//!
//! Invariants (checked on every fold; a message that breaks one is reported as
//! [`StoreError::Corrupted`] and the replica stops there, it never skips):
//! 1. Messages are folded in sequence order, each once; `sequence` is the last folded.
//! 2. Positions are contiguous: a message's first position is the last position + 1, except the
//!    first message folded when the server's limits removed older ones (`first_sequence > 1`).
//! 3. Versions are contiguous per stream, the same exception applying to a stream's first
//!    record seen after removal.
//! 4. Event ids are unique; `recorded_at` and `linked_at` never decrease along the log.
//! 5. A link names a stored event and a stream that does not hold it yet.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use livenstore::backend::{LinkInfo, RecordedEventParts, StreamInfo};
use livenstore::{EventId, RecordedEvent, Timestamp};

use crate::codec::{AppendMessage, LinkMessage, Message};

/// One record of a stream: its own event, or a link to an event of another stream.
#[derive(Debug, Clone)]
enum Record {
    Event(u64),
    Link {
        position: u64,
        info: Arc<LinkInfo>,
    },
    /// A link to an event the server's limits removed: the version stays taken, reads skip it.
    Removed,
}

/// A stream's records, from `first_version` on.
#[derive(Debug, Clone)]
struct StreamEntry {
    name: Arc<str>,
    first_version: u64,
    records: Vec<Record>,
    times: Vec<Timestamp>,
    linked: HashSet<u64>,
}

impl StreamEntry {
    fn last_version(&self) -> u64 {
        self.first_version + self.records.len() as u64 - 1
    }
}

/// The folded log (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct Replica {
    sequence: u64,
    /// Position of `events[0]`, minus one (0 unless limits removed the oldest events).
    base: u64,
    events: Vec<RecordedEvent>,
    ids: HashMap<EventId, u64>,
    streams: HashMap<Arc<str>, StreamEntry>,
    types: HashMap<Arc<str>, Vec<u64>>,
    correlations: HashMap<Box<str>, Vec<u64>>,
    last_time: Timestamp,
    /// The first message folded was not the stream's first (the server's limits had removed
    /// older ones): streams and events the replica has not seen may have earlier records.
    truncated: bool,
}

impl Replica {
    /// The sequence of the last message folded (0 when none).
    pub(crate) fn sequence(&self) -> u64 {
        self.sequence
    }

    /// The last global position (0 when empty).
    pub(crate) fn last_position(&self) -> u64 {
        self.base + self.events.len() as u64
    }

    /// The latest `recorded_at` or `linked_at` in the log.
    pub(crate) fn last_time(&self) -> Timestamp {
        self.last_time
    }

    /// The current version of `stream` (0 when it has no record).
    pub(crate) fn version(&self, stream: &str) -> u64 {
        self.streams
            .get(stream)
            .map_or(0, StreamEntry::last_version)
    }

    /// The stored event with this id.
    pub(crate) fn find(&self, id: EventId) -> Option<RecordedEvent> {
        self.ids.get(&id).and_then(|&p| self.at(p)).cloned()
    }

    /// Whether `stream` holds event `id` (as its own or linked).
    pub(crate) fn holds(&self, stream: &str, id: EventId) -> bool {
        let Some(&position) = self.ids.get(&id) else {
            return false;
        };
        self.at(position).is_some_and(|e| e.stream() == stream)
            || self
                .streams
                .get(stream)
                .is_some_and(|s| s.linked.contains(&position))
    }

    fn at(&self, position: u64) -> Option<&RecordedEvent> {
        let index = position.checked_sub(self.base + 1)?;
        self.events.get(usize::try_from(index).ok()?)
    }

    /// Folds message `sequence` (see the module invariants); `first_sequence` is the oldest
    /// sequence the server holds. Returns the number of events it added.
    ///
    /// # Errors
    ///
    /// A description of the broken invariant; the replica is unchanged.
    pub(crate) fn fold(
        &mut self,
        sequence: u64,
        first_sequence: u64,
        message: &Message,
    ) -> Result<u64, String> {
        if sequence <= self.sequence {
            return Ok(0); // already folded (the writer folds its own messages first)
        }
        let after_removal = self.sequence == 0 && first_sequence > 1 && sequence >= first_sequence;
        if sequence != self.sequence + 1 && !after_removal {
            return Err(format!(
                "message {sequence} follows message {} (the server lost messages in between)",
                self.sequence
            ));
        }
        let truncated = self.truncated || after_removal;
        let added = match message {
            Message::Append(append) => {
                self.check_append(append, truncated)?;
                self.apply_append(append);
                append.event_count()
            }
            Message::Link(link) => {
                self.check_link(link, truncated)?;
                self.apply_link(link);
                0
            }
        };
        self.truncated = truncated;
        self.sequence = sequence;
        Ok(added)
    }

    /// Whether `message` may follow the replica's last message (the fold's rules, without
    /// folding), for imports.
    ///
    /// # Errors
    ///
    /// The rule it breaks.
    pub(crate) fn check(&self, message: &Message) -> Result<(), String> {
        match message {
            Message::Append(append) => self.check_append(append, self.truncated),
            Message::Link(link) => self.check_link(link, self.truncated),
        }
    }

    fn check_append(&self, append: &AppendMessage, truncated: bool) -> Result<(), String> {
        let first_seen = truncated && self.events.is_empty() && self.base == 0;
        if append.position == 0 || (append.position != self.last_position() + 1 && !first_seen) {
            return Err(format!(
                "its first position is {}, but the last position is {}",
                append.position,
                self.last_position()
            ));
        }
        if append.position.checked_add(append.event_count()).is_none() {
            return Err(format!("its positions from {} overflow", append.position));
        }
        if append.recorded_at < self.last_time {
            return Err(format!(
                "its time {} is before the log's latest {}",
                append.recorded_at, self.last_time
            ));
        }
        // The versions this message moves its streams to, and its ids, for a message of more
        // than one append or event (a map allocates only once something is inserted).
        let many_parts = append.appends.len() > 1;
        let mut bumped: HashMap<&str, u64> = HashMap::new();
        let mut ids: HashSet<EventId> = HashSet::new();
        let many_ids = append.event_count() > 1;
        for part in &append.appends {
            if part.events.is_empty() {
                return Err(format!("its append to {} holds no event", part.stream));
            }
            let known = bumped.get(&*part.stream).copied().or_else(|| {
                self.streams
                    .get(&*part.stream)
                    .map(StreamEntry::last_version)
            });
            // A stream first seen after the limits removed messages may start anywhere.
            let expected = match known {
                Some(current) => Some(current + 1),
                None if truncated => None,
                None => Some(1),
            };
            let last = (part.version as u128) + part.events.len() as u128 - 1;
            if part.version == 0
                || last > u64::MAX as u128
                || expected.is_some_and(|v| v != part.version)
            {
                return Err(format!(
                    "its append to {} starts at version {}, but the stream is at {}",
                    part.stream,
                    part.version,
                    known.unwrap_or(0)
                ));
            }
            if many_parts {
                bumped.insert(&part.stream, last as u64);
            }
            for event in &part.events {
                if self.ids.contains_key(&event.id) || (many_ids && !ids.insert(event.id)) {
                    return Err(format!("event id {} is stored twice", event.id));
                }
            }
        }
        Ok(())
    }

    fn apply_append(&mut self, append: &AppendMessage) {
        if self.events.is_empty() && self.base == 0 {
            self.base = append.position - 1;
        }
        let mut position = append.position;
        for part in &append.appends {
            let stream = self.entry(&part.stream, part.version);
            let name = stream.name.clone();
            let first = position;
            for _ in &part.events {
                stream.records.push(Record::Event(position));
                stream.times.push(append.recorded_at);
                position += 1;
            }
            for (offset, event) in (0u64..).zip(&part.events) {
                let at = first + offset;
                self.ids.insert(event.id, at);
                self.types
                    .entry(event.event_type.clone())
                    .or_default()
                    .push(at);
                if let Some(correlation) = event.metadata.correlation_id() {
                    self.correlations
                        .entry(correlation.into())
                        .or_default()
                        .push(at);
                }
                self.events
                    .push(RecordedEvent::from_parts(RecordedEventParts {
                        id: event.id,
                        event_type: event.event_type.clone(),
                        stream: name.clone(),
                        version: part.version + offset,
                        position: at,
                        recorded_at: append.recorded_at,
                        metadata: event.metadata.clone(),
                        payload: event.payload.clone(),
                        event_version: event.event_version,
                    }));
            }
        }
        self.last_time = append.recorded_at;
    }

    /// The entry of `stream`, created with `first_version` when new.
    fn entry(&mut self, stream: &Arc<str>, first_version: u64) -> &mut StreamEntry {
        self.streams
            .entry(stream.clone())
            .or_insert_with(|| StreamEntry {
                name: stream.clone(),
                first_version,
                records: Vec::new(),
                times: Vec::new(),
                linked: HashSet::new(),
            })
    }

    fn check_link(&self, link: &LinkMessage, truncated: bool) -> Result<(), String> {
        if link.linked_at < self.last_time {
            return Err(format!(
                "its time {} is before the log's latest {}",
                link.linked_at, self.last_time
            ));
        }
        let known = self
            .streams
            .get(&*link.stream)
            .map(StreamEntry::last_version);
        let fits = match known {
            Some(current) => current.checked_add(1) == Some(link.version),
            None => link.version == 1 || (truncated && link.version >= 1),
        };
        if !fits {
            return Err(format!(
                "it links into {} at version {}, but the stream is at {}",
                link.stream,
                link.version,
                known.unwrap_or(0)
            ));
        }
        if !self.ids.contains_key(&link.id) && !truncated {
            return Err(format!("it links event {}, which is not stored", link.id));
        }
        if self.holds(&link.stream, link.id) {
            return Err(format!(
                "stream {} already holds event {}",
                link.stream, link.id
            ));
        }
        Ok(())
    }

    fn apply_link(&mut self, link: &LinkMessage) {
        self.last_time = link.linked_at;
        let position = self.ids.get(&link.id).copied();
        let stream = self.entry(&link.stream, link.version);
        stream.times.push(link.linked_at);
        let Some(position) = position else {
            // The event was removed by the server's limits: the version stays taken.
            stream.records.push(Record::Removed);
            return;
        };
        let info = Arc::new(LinkInfo {
            stream: link.stream.to_string(),
            version: link.version,
            linked_at: link.linked_at,
        });
        stream.records.push(Record::Link { position, info });
        stream.linked.insert(position);
    }

    /// The version at which `stream` holds event `id` through a link.
    pub(crate) fn link_version(&self, stream: &str, id: EventId) -> Option<u64> {
        let position = *self.ids.get(&id)?;
        let entry = self.streams.get(stream)?;
        let index = entry.records.iter().rposition(
            |record| matches!(record, Record::Link { position: p, .. } if *p == position),
        )?;
        Some(entry.first_version + index as u64)
    }

    /// Events of `stream` from `from_version` on, at most `max`.
    pub(crate) fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        max: usize,
    ) -> Vec<RecordedEvent> {
        let Some(entry) = self.streams.get(stream) else {
            return Vec::new();
        };
        let skip = from_version.max(1).saturating_sub(entry.first_version);
        let skip = usize::try_from(skip).unwrap_or(usize::MAX);
        entry
            .records
            .iter()
            .skip(skip)
            .take(max)
            .filter_map(|record| match record {
                Record::Event(position) => self.at(*position).cloned(),
                Record::Link { position, info } => {
                    self.at(*position).map(|e| e.with_link((**info).clone()))
                }
                Record::Removed => None,
            })
            .collect()
    }

    /// Events from `from_position` on, at most `max`.
    pub(crate) fn read_all(&self, from_position: u64, max: usize) -> Vec<RecordedEvent> {
        let start = from_position.max(self.base + 1) - self.base - 1;
        let start = usize::try_from(start).unwrap_or(usize::MAX);
        self.events.iter().skip(start).take(max).cloned().collect()
    }

    /// Events of one type from `from_position` on, at most `max`.
    pub(crate) fn read_by_type(
        &self,
        event_type: &str,
        from_position: u64,
        max: usize,
    ) -> Vec<RecordedEvent> {
        let Some(positions) = self.types.get(event_type) else {
            return Vec::new();
        };
        let start = positions.partition_point(|&p| p < from_position);
        positions[start..]
            .iter()
            .take(max)
            .filter_map(|&p| self.at(p).cloned())
            .collect()
    }

    /// Events recorded at or after `from` and before `to`.
    pub(crate) fn read_time_range(&self, from: Timestamp, to: Timestamp) -> Vec<RecordedEvent> {
        let start = self.events.partition_point(|e| e.recorded_at() < from);
        let end = self.events.partition_point(|e| e.recorded_at() < to);
        self.events
            .get(start..end.max(start))
            .unwrap_or_default()
            .to_vec()
    }

    /// Events whose metadata carries `correlation_id`, in position order.
    pub(crate) fn read_correlated(&self, correlation_id: &str) -> Vec<RecordedEvent> {
        self.correlations
            .get(correlation_id)
            .map(|positions| {
                positions
                    .iter()
                    .filter_map(|&p| self.at(p).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What the replica knows of `stream`.
    pub(crate) fn stream_info(&self, stream: &str) -> Option<StreamInfo> {
        self.streams.get(stream).map(info)
    }

    /// Every stream, sorted by name.
    pub(crate) fn streams(&self) -> Vec<StreamInfo> {
        let mut all: Vec<StreamInfo> = self.streams.values().map(info).collect();
        all.sort_by(|a, b| a.stream.cmp(&b.stream));
        all
    }
}

fn info(entry: &StreamEntry) -> StreamInfo {
    StreamInfo {
        stream: entry.name.to_string(),
        event_count: entry.records.len() as u64,
        first_version: entry.first_version,
        last_version: entry.last_version(),
        first_recorded_at: entry.times.first().copied().unwrap_or_default(),
        last_recorded_at: entry.times.last().copied().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{AppendPart, EventPart};
    use livenstore::{Metadata, Payload};

    fn event(id: EventId, metadata: Metadata) -> EventPart {
        EventPart {
            id,
            event_type: "Ticked".into(),
            event_version: 1,
            metadata,
            payload: Payload::from_json("{}").unwrap(),
        }
    }

    fn append(position: u64, at: u64, parts: Vec<(&str, u64, usize)>) -> Message {
        Message::Append(AppendMessage {
            position,
            recorded_at: Timestamp::from_unix_nanos(at),
            appends: parts
                .into_iter()
                .map(|(stream, version, count)| AppendPart {
                    stream: stream.into(),
                    version,
                    events: (0..count)
                        .map(|_| event(EventId::new(), Metadata::new()))
                        .collect(),
                })
                .collect(),
        })
    }

    #[test]
    fn folds_groups_into_positions_versions_and_indexes() {
        let mut replica = Replica::default();
        replica
            .fold(1, 1, &append(1, 10, vec![("a", 1, 2), ("b", 1, 1)]))
            .unwrap();
        replica
            .fold(2, 1, &append(4, 10, vec![("a", 3, 1)]))
            .unwrap();
        assert_eq!((replica.sequence(), replica.last_position()), (2, 4));
        assert_eq!(replica.version("a"), 3);
        let a = replica.read_stream("a", 2, usize::MAX);
        let positions: Vec<u64> = a.iter().map(RecordedEvent::position).collect();
        assert_eq!(positions, [2, 4]);
        assert_eq!(replica.read_by_type("Ticked", 3, 10).len(), 2);
        let info = replica.stream_info("b").unwrap();
        assert_eq!(
            (info.first_version, info.last_version, info.event_count),
            (1, 1, 1)
        );
        // A message folded twice (the writer's own, then the follower's) changes nothing.
        replica
            .fold(2, 1, &append(4, 10, vec![("a", 3, 1)]))
            .unwrap();
        assert_eq!(replica.last_position(), 4);
    }

    #[test]
    fn every_broken_rule_is_refused_and_changes_nothing() {
        let mut replica = Replica::default();
        replica
            .fold(1, 1, &append(1, 10, vec![("a", 1, 1)]))
            .unwrap();
        let cases = [
            (3, append(2, 10, vec![("a", 2, 1)]), "lost messages"),
            (2, append(3, 10, vec![("a", 2, 1)]), "first position"),
            (2, append(2, 10, vec![("a", 3, 1)]), "version"),
            (2, append(2, 9, vec![("a", 2, 1)]), "before"),
            (2, append(2, 10, vec![("a", 2, 0)]), "no event"),
        ];
        for (sequence, message, expected) in cases {
            let error = replica.fold(sequence, 1, &message).unwrap_err();
            assert!(
                error.contains(expected),
                "{error} should mention {expected}"
            );
            assert_eq!((replica.sequence(), replica.last_position()), (1, 1));
        }
        let stored = replica.read_all(1, 1)[0].id();
        let repeat = Message::Append(AppendMessage {
            position: 2,
            recorded_at: Timestamp::from_unix_nanos(10),
            appends: vec![AppendPart {
                stream: "b".into(),
                version: 1,
                events: vec![event(stored, Metadata::new())],
            }],
        });
        assert!(replica.fold(2, 1, &repeat).unwrap_err().contains("twice"));
    }

    #[test]
    fn links_need_a_stored_event_and_a_stream_without_it() {
        let mut replica = Replica::default();
        replica
            .fold(1, 1, &append(1, 10, vec![("a", 1, 1)]))
            .unwrap();
        let id = replica.read_all(1, 1)[0].id();
        let link = |stream: &str, version, id| {
            Message::Link(LinkMessage {
                id,
                stream: stream.into(),
                version,
                linked_at: Timestamp::from_unix_nanos(11),
            })
        };
        assert!(
            replica.fold(2, 1, &link("a", 2, id)).is_err(),
            "its own stream"
        );
        assert!(
            replica.fold(2, 1, &link("b", 1, EventId::new())).is_err(),
            "unknown event"
        );
        replica.fold(2, 1, &link("b", 1, id)).unwrap();
        assert!(replica.holds("b", id));
        assert!(
            replica.fold(3, 1, &link("b", 2, id)).is_err(),
            "linked twice"
        );
        let linked = replica.read_stream("b", 1, 10);
        assert_eq!(linked[0].link().map(|l| l.version), Some(1));
        assert_eq!(
            replica.read_all(1, 10).len(),
            1,
            "links are not repeated in read_all"
        );
    }

    #[test]
    fn a_stream_whose_oldest_messages_were_removed_starts_where_it_is() {
        let mut replica = Replica::default();
        // The server holds messages from 7 on: the first folded starts at position 40.
        replica
            .fold(7, 7, &append(40, 10, vec![("a", 12, 2)]))
            .unwrap();
        assert_eq!(replica.last_position(), 41);
        assert_eq!(replica.version("a"), 13);
        assert_eq!(replica.read_all(1, 10).len(), 2);
        assert_eq!(replica.read_stream("a", 1, 10).len(), 2);
        assert_eq!(replica.stream_info("a").unwrap().first_version, 12);
        replica
            .fold(8, 7, &append(42, 10, vec![("a", 14, 1)]))
            .unwrap();
        assert!(replica
            .fold(10, 7, &append(43, 10, vec![("a", 15, 1)]))
            .is_err());
    }

    #[test]
    fn correlated_events_and_time_ranges() {
        let mut replica = Replica::default();
        let message = Message::Append(AppendMessage {
            position: 1,
            recorded_at: Timestamp::from_unix_nanos(10),
            appends: vec![AppendPart {
                stream: "a".into(),
                version: 1,
                events: vec![
                    event(EventId::new(), Metadata::new().with_correlation_id("c")),
                    event(EventId::new(), Metadata::new()),
                ],
            }],
        });
        replica.fold(1, 1, &message).unwrap();
        replica
            .fold(2, 1, &append(3, 20, vec![("a", 3, 1)]))
            .unwrap();
        assert_eq!(replica.read_correlated("c").len(), 1);
        assert!(replica.read_correlated("d").is_empty());
        let range = |from, to| {
            replica
                .read_time_range(
                    Timestamp::from_unix_nanos(from),
                    Timestamp::from_unix_nanos(to),
                )
                .len()
        };
        assert_eq!(
            (range(0, 10), range(10, 20), range(10, 21), range(30, 5)),
            (0, 2, 3, 0)
        );
    }

    #[test]
    fn position_zero_after_removal_is_an_error() {
        let mut replica = Replica::default();
        assert!(replica
            .fold(7, 7, &append(0, 10, vec![("a", 1, 1)]))
            .is_err());
    }

    #[test]
    fn version_overflow_after_removal_is_an_error() {
        let mut replica = Replica::default();
        assert!(replica
            .fold(7, 7, &append(5, 10, vec![("a", u64::MAX, 2)]))
            .is_err());
    }

    #[test]
    fn the_oldest_kept_message_may_be_a_link_to_a_removed_event() {
        let mut replica = Replica::default();
        let link = Message::Link(LinkMessage {
            id: EventId::new(), // an event the limits removed
            stream: "audit".into(),
            version: 5,
            linked_at: Timestamp::from_unix_nanos(10),
        });
        replica.fold(7, 7, &link).unwrap();
        replica
            .fold(8, 7, &append(40, 20, vec![("a", 12, 1)]))
            .unwrap();
        assert_eq!(replica.last_position(), 40);
        assert_eq!(
            replica.version("audit"),
            5,
            "the removed event's link keeps its version"
        );
        assert!(replica.read_stream("audit", 1, 10).is_empty());
        // A stream seen before must go on from its version, truncated or not.
        assert!(replica
            .fold(9, 7, &append(41, 20, vec![("a", 14, 1)]))
            .is_err());
    }
}
