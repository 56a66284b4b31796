//! The survey of a store: every line of every segment read and classified, for what must not
//! stop at the first damage: a read-only open of a damaged store, `verify` and `repair`.
//!
//! Steps:
//! 1. Read every line. A line that decodes is a record (event, link or hole); one that does not
//!    is damaged, and [`salvage`] reads what it can of it.
//! 2. The torn tail: the longest run at the end of the last segment of lines that an
//!    interrupted append can leave (records of an unfinished batch, a cut-short line, unwritten
//!    blocks; see `recovery.rs`). It is set apart, never counted.
//! 3. Batch markers, per segment (`batch.rs`, damaged lines and holes being gaps): a record out
//!    of sequence, and the records of a batch that was interrupted or that a segment ends in the
//!    middle of, are damaged too.
//! 4. Log rules, in order: positions increase, each stream's versions increase, times never go
//!    back, an id is stored once, a link points to an earlier event of another stream and is
//!    not made twice. A record that breaks one is damaged (the earlier records stand).
//! 5. Gaps (`resolve.rs`): the positions and stream versions the intact records leave out are
//!    given to the damaged lines between them, so that what follows keeps its numbers.
//!
//! Invariant: the intact records that step 4 keeps, with a gap for each lost position and
//! version, satisfy every rule of [`Index`]: [`Survey::build_index`] and the log that `repair`
//! writes from a survey are accepted as they are.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::batch::{BatchError, BatchTracker, End};
use super::entry::{EntryKind, EventEntry};
use super::format::Record;
use super::index::{Cursor, DamageRef, Gap, GapKind, Index};
use super::io::io_err;
use super::line_reader::{LineReader, SegmentLine};
use super::lines::{Damaged, EventFields, Line, LineKind, LinkFields, Names};
use super::recovery::{
    has_unwritten_run, list_segments, open_segment, DamagedRecord, RecoveryReport, TornTail,
};
use super::resolve::{resolve, SurveyGap};
use super::salvage::{salvage, Salvage, SalvagedKind};
use crate::{EventId, StoreError, Timestamp};

/// The torn tail a survey set apart.
#[derive(Debug, Clone)]
pub(crate) struct TornRegion {
    /// Index of its first line in [`Survey::lines`].
    pub first: usize,
    pub reason: String,
}

/// A whole store, line by line (see the module docs).
#[derive(Debug)]
pub(crate) struct Survey {
    pub segments: Vec<(u32, PathBuf)>,
    pub lines: Vec<Line>,
    pub torn: Option<TornRegion>,
    pub streams: Names,
    pub types: Names,
    /// The lost positions and versions, ordered by the line they go before (or replace).
    pub gaps: Vec<SurveyGap>,
}

impl Survey {
    /// Reads and classifies every line of the store in `dir`.
    ///
    /// # Errors
    ///
    /// `Io`; `Corrupted` when a segment is missing from the sequence.
    pub fn take(dir: &Path) -> Result<Survey, StoreError> {
        let segments = list_segments(dir)?;
        let mut survey = Survey {
            segments,
            lines: Vec::new(),
            torn: None,
            streams: Names::default(),
            types: Names::default(),
            gaps: Vec::new(),
        };
        for k in 0..survey.segments.len() {
            survey.read_segment(k)?;
        }
        survey.find_torn_tail();
        let end = survey.counted_end();
        for k in 0..survey.segments.len() {
            survey.check_batches(k, end);
        }
        survey.check_rules(end);
        survey.gaps =
            resolve(&survey.lines[..end], &mut survey.streams).map_err(|(i, reason)| {
                let line = &survey.lines[i];
                StoreError::Corrupted {
                    path: survey.segments[line.segment].1.clone(),
                    line: line.number,
                    reason,
                }
            })?;
        Ok(survey)
    }

    fn read_segment(&mut self, k: usize) -> Result<(), StoreError> {
        let path = self.segments[k].1.clone();
        let file = std::fs::File::open(&path).map_err(io_err(&path))?;
        let mut lines = LineReader::new(file, &path, 0, 0);
        while let Some(line) = lines.next_line()? {
            let decoded = line.decode();
            let SegmentLine {
                number,
                start,
                len,
                complete,
                text,
                ..
            } = line;
            let kind = match decoded {
                Ok(Record::Event { header, .. }) => LineKind::Event(EventFields {
                    position: header.position,
                    id: header.id.to_u128(),
                    stream: self.streams.intern(&header.stream),
                    version: header.version,
                    event_type: self.types.intern(&header.event_type),
                    event_version: header.event_version,
                    recorded_at: header.recorded_at.as_unix_nanos(),
                    batch: (header.batch[0], header.batch[1]),
                    correlation_id: header.metadata.correlation_id().map(Box::from),
                }),
                Ok(Record::Link(link)) => LineKind::Link(LinkFields {
                    id: link.id.to_u128(),
                    stream: self.streams.intern(&link.stream),
                    version: link.version,
                    linked_at: link.linked_at.as_unix_nanos(),
                }),
                Ok(Record::Hole(hole)) => {
                    if let Some(stream) = &hole.stream {
                        self.streams.intern(stream);
                    }
                    LineKind::Hole(hole)
                }
                Err(reason) => LineKind::Damaged(Box::new(Damaged {
                    reason,
                    salvage: salvage(text),
                    torn_like: !complete || has_unwritten_run(text),
                })),
            };
            self.lines.push(Line {
                segment: k,
                number,
                offset: start,
                len: len as u64,
                kind,
            });
        }
        Ok(())
    }

    /// The lines of segment `k`: a range of [`Survey::lines`] (they are in segment order).
    pub fn segment_lines(&self, k: usize) -> std::ops::Range<usize> {
        let start = self.lines.partition_point(|l| l.segment < k);
        let end = self.lines.partition_point(|l| l.segment <= k);
        start..end
    }

    /// Step 2: the torn tail of the last segment: the longest run of lines at its end that an
    /// interrupted append can leave (see `recovery.rs`): the first records of one batch, in
    /// order, and lines cut short or never written, starting where a batch can start.
    fn find_torn_tail(&mut self) {
        let Some(last) = self.segments.len().checked_sub(1) else {
            return;
        };
        let lines = self.segment_lines(last);
        let torn_like = |l: &Line| match &l.kind {
            LineKind::Event(e) => e.batch.0 < e.batch.1,
            LineKind::Damaged(d) => d.torn_like,
            LineKind::Link(_) | LineKind::Hole(_) => false,
        };
        let mut first = lines.end;
        while first > lines.start && torn_like(&self.lines[first - 1]) {
            first -= 1;
        }
        while first < lines.end && !self.is_unfinished_batch(first, lines.start) {
            first += 1;
        }
        if first == lines.end {
            return;
        }
        let reason = self.lines[first..]
            .iter()
            .find_map(|l| l.damaged().map(|d| (l.number, d.reason.clone())))
            .map_or_else(
                || "the last batch is incomplete".to_owned(),
                |(n, r)| format!("line {n}: {r}"),
            );
        self.torn = Some(TornRegion { first, reason });
    }

    /// Whether the lines from `first` to the end are what an unfinished append leaves: a batch
    /// may start there (`segment_start`, after a complete batch, a hole or damage), and the
    /// records among them are `[1, n]`, `[2, n]`, ... in order.
    fn is_unfinished_batch(&self, first: usize, segment_start: usize) -> bool {
        let boundary = first == segment_start
            || match &self.lines[first - 1].kind {
                LineKind::Event(e) => e.batch.0 == e.batch.1,
                LineKind::Link(_) | LineKind::Hole(_) | LineKind::Damaged(_) => true,
            };
        let mut next = (1, None);
        boundary
            && self.lines[first..].iter().all(|l| match &l.kind {
                LineKind::Event(e) => {
                    let fits = e.batch.0 == next.0 && next.1.is_none_or(|n| n == e.batch.1);
                    next = (e.batch.0 + 1, Some(e.batch.1));
                    fits
                }
                _ => true,
            })
    }

    /// The lines before the torn tail: those that count.
    pub fn counted_end(&self) -> usize {
        self.torn.as_ref().map_or(self.lines.len(), |t| t.first)
    }

    /// Marks line `i` damaged for `reason`, keeping what it said as its salvage.
    fn mark_damaged(&mut self, i: usize, reason: String) {
        let line = &mut self.lines[i];
        let name = |names: &Names, id: u32| names.names.get(id as usize).cloned();
        let salvage = match &line.kind {
            LineKind::Event(e) => Salvage {
                kind: SalvagedKind::Event,
                position: Some(e.position),
                id: Some(EventId::from_u128(e.id)),
                stream: name(&self.streams, e.stream),
                version: Some(e.version),
                batch: Some(e.batch),
            },
            LineKind::Link(l) => Salvage {
                kind: SalvagedKind::Link,
                position: None,
                id: Some(EventId::from_u128(l.id)),
                stream: name(&self.streams, l.stream),
                version: Some(l.version),
                batch: Some((1, 1)),
            },
            LineKind::Hole(h) => Salvage {
                kind: SalvagedKind::Hole,
                position: h.position,
                id: h.id,
                stream: h.stream.clone(),
                version: h.version,
                batch: None,
            },
            LineKind::Damaged(_) => return,
        };
        line.kind = LineKind::Damaged(Box::new(Damaged {
            reason,
            salvage,
            torn_like: false,
        }));
    }

    /// Step 3: batch markers of segment `k` (lines before `end` only). A batch still open at
    /// the end of the last segment counts only if a hole or a damaged line that was its last
    /// (`[n, n]`) follows it: nothing else shows that its append finished.
    fn check_batches(&mut self, k: usize, end: usize) {
        let mut tracker = BatchTracker::default();
        let mut open: Vec<usize> = Vec::new();
        let mut gaps_since: Vec<usize> = Vec::new();
        let range = self.segment_lines(k);
        for i in range.start..range.end.min(end) {
            let (at, of) = match &self.lines[i].kind {
                LineKind::Event(e) => e.batch,
                LineKind::Link(_) => (1, 1),
                LineKind::Hole(_) | LineKind::Damaged(_) => {
                    tracker.gap();
                    gaps_since.push(i);
                    continue;
                }
            };
            gaps_since.clear();
            let step = match tracker.record(at, of) {
                Ok(step) => step,
                Err(BatchError::Interrupted) => {
                    for j in open.drain(..) {
                        let reason = format!(
                            "part of an append whose last line is missing (line {} starts \
                             another)",
                            self.lines[i].number
                        );
                        self.mark_damaged(j, reason);
                    }
                    tracker = BatchTracker::default();
                    tracker.gap();
                    match tracker.record(at, of) {
                        Ok(step) => step,
                        Err(e) => {
                            self.mark_damaged(i, e.reason(at, of));
                            tracker.gap();
                            continue;
                        }
                    }
                }
                Err(e) => {
                    self.mark_damaged(i, e.reason(at, of));
                    tracker.gap();
                    continue;
                }
            };
            if step.closes_previous || step.completes {
                open.clear();
            }
            if !step.completes {
                open.push(i);
            }
        }
        let is_last = k + 1 == self.segments.len();
        let finished = match tracker.finish() {
            End::Clean => true,
            End::Unfinished => false,
            End::ClosedByGap => !is_last || gaps_since.iter().any(|&g| self.ends_a_batch(g)),
        };
        if !finished {
            for j in open {
                let reason = "part of an append whose last line is missing (nothing after it \
                              shows that the append finished)";
                self.mark_damaged(j, reason.to_owned());
            }
        }
    }

    /// Whether gap line `i` shows a batch's end: a hole (`repair` decided), or a damaged line
    /// whose marker still reads `[n, n]`.
    fn ends_a_batch(&self, i: usize) -> bool {
        match &self.lines[i].kind {
            LineKind::Hole(_) => true,
            LineKind::Damaged(d) => d.salvage.batch.is_some_and(|(at, of)| at == of),
            _ => false,
        }
    }

    /// Step 4: the log rules, in order (lines before `end` only).
    fn check_rules(&mut self, end: usize) {
        let mut last_position = 0u64;
        let mut versions: Vec<u64> = vec![0; self.streams.names.len()];
        let mut last_time = 0u64;
        let mut homes: HashMap<u128, u32> = HashMap::new();
        let mut links: HashSet<(u32, u128)> = HashSet::new();
        for i in 0..end {
            let broken = match &self.lines[i].kind {
                LineKind::Event(e) => {
                    let last = versions[e.stream as usize];
                    if e.position <= last_position {
                        Some(format!("position {}, after {last_position}", e.position))
                    } else if e.version <= last {
                        Some(format!("stream version {}, after {last}", e.version))
                    } else if e.recorded_at < last_time {
                        Some("recorded_at goes back in time".to_owned())
                    } else if let Entry::Vacant(home) = homes.entry(e.id) {
                        home.insert(e.stream);
                        last_position = e.position;
                        versions[e.stream as usize] = e.version;
                        last_time = e.recorded_at;
                        None
                    } else {
                        Some(format!(
                            "event id {} is stored twice",
                            EventId::from_u128(e.id)
                        ))
                    }
                }
                LineKind::Link(l) => {
                    let last = versions[l.stream as usize];
                    let id = EventId::from_u128(l.id);
                    match homes.get(&l.id) {
                        None => Some(format!("link to event {id}, which no intact line holds")),
                        Some(&home) if home == l.stream || links.contains(&(l.stream, l.id)) => {
                            Some(format!("event {id} is linked twice into one stream"))
                        }
                        Some(_) if l.version <= last => {
                            Some(format!("link version {}, after {last}", l.version))
                        }
                        Some(_) => {
                            versions[l.stream as usize] = l.version;
                            links.insert((l.stream, l.id));
                            None
                        }
                    }
                }
                LineKind::Hole(h) => {
                    let stream = h.stream.as_deref().and_then(|s| self.streams.get(s));
                    let last = stream.map_or(0, |s| versions[s as usize]);
                    match (h.position, stream.zip(h.version)) {
                        (Some(p), _) if p <= last_position => {
                            Some(format!("hole at position {p}, after {last_position}"))
                        }
                        (_, Some((_, v))) if v <= last => {
                            Some(format!("hole at stream version {v}, after {last}"))
                        }
                        (position, slot) => {
                            last_position = position.unwrap_or(last_position);
                            if let Some((s, v)) = slot {
                                versions[s as usize] = v;
                            }
                            None
                        }
                    }
                }
                LineKind::Damaged(_) => None,
            };
            if let Some(reason) = broken {
                self.mark_damaged(i, reason);
            }
        }
    }

    /// The damaged records: each damaged line with what it was found to hold, and each gap no
    /// line explains, in log order.
    pub fn damaged_records(&self) -> Vec<DamagedRecord> {
        let mut out = Vec::new();
        let mut gaps = self.gaps.iter().peekable();
        for (i, line) in self.lines[..self.counted_end()].iter().enumerate() {
            let path = &self.segments[line.segment].1;
            let mut mine = None;
            while let Some(gap) = gaps.next_if(|g| g.line == i) {
                match gap.cause {
                    Some(_) => mine = mine.or(Some(gap)),
                    None => out.push(self.record(path, line, gap.orphan_reason(), Some(gap))),
                }
            }
            if let Some(d) = line.damaged() {
                let mut record = self.record(path, line, d.reason.clone(), mine);
                record.id = record.id.or(d.salvage.id);
                out.push(record);
            }
        }
        out
    }

    fn record(
        &self,
        path: &Path,
        line: &Line,
        reason: String,
        gap: Option<&SurveyGap>,
    ) -> DamagedRecord {
        let (offset, bytes) = match line.kind {
            LineKind::Damaged(_) if gap.is_none_or(|g| g.cause.is_some()) => {
                (line.offset, line.len)
            }
            _ => (line.offset, 0),
        };
        DamagedRecord {
            path: path.to_path_buf(),
            line: line.number,
            offset,
            bytes,
            reason,
            position: gap.and_then(|g| g.position),
            stream: gap
                .and_then(|g| g.stream)
                .and_then(|s| self.streams.names.get(s as usize).cloned()),
            version: gap.and_then(|g| g.version),
            id: gap.and_then(|g| g.id).map(EventId::from_u128),
        }
    }

    /// The torn tail, as an open reports it (never cut: the survey writes nothing).
    pub fn torn_tail(&self) -> Option<TornTail> {
        let torn = self.torn.as_ref()?;
        let first = &self.lines[torn.first];
        let path = self.segments[first.segment].1.clone();
        let bytes = self.lines[torn.first..].iter().map(|l| l.len).sum();
        Some(TornTail {
            path,
            line: first.number,
            offset: first.offset,
            bytes,
            reason: torn.reason.clone(),
            quarantine: None,
        })
    }

    /// What a read-only open of the surveyed store reports.
    pub fn report(&self) -> RecoveryReport {
        RecoveryReport {
            torn_tail: self.torn_tail(),
            damaged: self.damaged_records(),
        }
    }

    /// The index of the surveyed store: the intact records, a `Damaged` gap for each lost
    /// position and version (a `Hole` for each hole line), the cursor at the end of what counts.
    ///
    /// # Errors
    ///
    /// `Io` when a segment cannot be opened; `Corrupted` if the survey broke its invariant.
    pub fn build_index(&self) -> Result<Index, StoreError> {
        let mut index = Index::default();
        for (id, path) in &self.segments {
            index.segments.push(open_segment(*id, path.clone())?);
        }
        let end = self.counted_end();
        let mut gaps = self.gaps.iter().peekable();
        let mut damage_of_line: HashMap<usize, u32> = HashMap::new();
        for (i, line) in self.lines[..end].iter().enumerate() {
            let path = &self.segments[line.segment].1;
            let broken = |reason: String| StoreError::Corrupted {
                path: path.clone(),
                line: line.number,
                reason: format!("the survey of the damaged store went wrong: {reason}"),
            };
            while let Some(gap) = gaps.next_if(|g| g.line == i) {
                let reason = match gap.cause {
                    Some(_) => line.damaged().map(|d| d.reason.clone()).unwrap_or_default(),
                    None => gap.orphan_reason(),
                };
                let at = match gap.cause {
                    Some(cause) => *damage_of_line.entry(cause).or_insert_with(|| {
                        index.damage.push(DamageRef {
                            path: path.clone(),
                            line: line.number,
                            reason: reason.clone(),
                        });
                        index.damage.len() as u32 - 1
                    }),
                    None => {
                        index.damage.push(DamageRef {
                            path: path.clone(),
                            line: line.number,
                            reason,
                        });
                        index.damage.len() as u32 - 1
                    }
                };
                let stream = gap
                    .stream
                    .map(|s| index.intern_stream(&self.streams.names[s as usize]));
                index
                    .push_gap(Gap {
                        position: gap.position,
                        stream,
                        version: gap.version,
                        id: gap.id,
                        kind: GapKind::Damaged(at),
                    })
                    .map_err(broken)?;
            }
            let result = match &line.kind {
                LineKind::Event(e) => {
                    let stream = index.intern_stream(&self.streams.names[e.stream as usize]);
                    let event_type = index.intern_type(&self.types.names[e.event_type as usize]);
                    let entry = EventEntry {
                        id: e.id,
                        recorded_at: e.recorded_at,
                        version: e.version,
                        offset: line.offset,
                        segment: self.segments[line.segment].0,
                        len: u32::try_from(line.len).unwrap_or(u32::MAX),
                        stream,
                        event_type,
                        event_version: e.event_version,
                        kind: EntryKind::Event,
                    };
                    index.push_event(e.position, entry, e.correlation_id.as_deref())
                }
                LineKind::Link(l) => {
                    let stream = index.intern_stream(&self.streams.names[l.stream as usize]);
                    let at = Timestamp::from_unix_nanos(l.linked_at);
                    index.push_link(EventId::from_u128(l.id), stream, l.version, at)
                }
                LineKind::Hole(h) => index.push_hole(h),
                LineKind::Damaged(_) => Ok(()),
            };
            result.map_err(broken)?;
        }
        if let Some(last) = self.segments.len().checked_sub(1) {
            // Scanning (a refresh) goes on at the end of what counts in the last segment.
            let (offset, line) = match &self.torn {
                Some(torn) => {
                    let first = &self.lines[torn.first];
                    (first.offset, first.number - 1)
                }
                None => self.lines[..end]
                    .iter()
                    .rev()
                    .find(|l| l.segment == last)
                    .map_or((0, 0), |l| (l.offset + l.len, l.number)),
            };
            index.cursor = Cursor {
                segment: last,
                offset,
                line,
            };
        }
        Ok(index)
    }
}
