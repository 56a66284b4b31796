//! Opening a store: listing segments and scanning their lines into the [`Index`].
//!
//! # Torn tail or corruption: the rule
//!
//! An interrupted append can leave only these after the last complete batch of the last
//! segment: lines of one batch whose last line (`batch: [n, n]`) is missing, a final line cut
//! short (no newline), and blocks the file system allocated but never wrote before a power loss
//! (runs of at least [`UNWRITTEN_RUN`] zero bytes). That is a *torn tail*: it was never
//! acknowledged, so a writable open moves its bytes to a quarantine file and cuts the segment
//! back (`set_len` + `sync_all`), and reports it; a read-only open leaves it alone.
//!
//! Everything else is *corruption*, wherever it is: a complete line (ending in a newline) that
//! fails its checksum or does not decode, a batch that completes after damage, a batch marker
//! out of sequence, a well-formed line that breaks a log rule (position or version out of
//! sequence, an id twice), damage in any segment but the last. A bit flipped in the last line of
//! the store is corruption, not a torn tail: the append that wrote it was acknowledged. A
//! writable open fails with [`StoreError::Corrupted`] naming the file and line (a writer must
//! not build on damage); a read-only open surveys the whole log instead (`survey.rs`), so that
//! reads that do not reach the damage work; `repair` moves the damage to a quarantine file.
//!
//! Other rules:
//! - A batch counts only when its last record has been read; hole lines (left by `repair`)
//!   stand outside batches (`batch.rs`).
//! - Segment ids must be contiguous; a missing segment is `Corrupted`.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::batch::{BatchTracker, End};
use super::entry::{EntryKind, EventEntry};
use super::format::{HoleRecord, Record};
use super::index::{Cursor, Index, SegmentFile};
use super::io::io_err;
use super::line_reader::{LineReader, SegmentLine};
use crate::{EventId, StoreError, Timestamp};

/// The shortest run of zero bytes that counts as a block never written (a power loss) rather
/// than damage: file systems allocate whole blocks of 512 bytes or more, and no bit flip makes
/// such a run.
pub(crate) const UNWRITTEN_RUN: usize = 512;

/// Whether `line` holds a run of at least [`UNWRITTEN_RUN`] zero bytes.
pub(crate) fn has_unwritten_run(line: &[u8]) -> bool {
    let mut run = 0;
    for &b in line {
        run = if b == 0 { run + 1 } else { 0 };
        if run >= UNWRITTEN_RUN {
            return true;
        }
    }
    false
}

/// File name of segment `id`.
pub(crate) fn segment_name(id: u32) -> String {
    format!("segment-{id:08}.jsonl")
}

/// The segment id a file name stands for, or `None` for files that are not segments.
pub(crate) fn parse_segment_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("segment-")?.strip_suffix(".jsonl")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Every segment of `dir`, sorted by id. Other files (and names that are not UTF-8) are ignored.
///
/// # Errors
///
/// `Io` when the directory cannot be listed; `Corrupted` when a segment id is missing.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u32, PathBuf)>, StoreError> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        if let Some(id) = entry.file_name().to_str().and_then(parse_segment_name) {
            found.push((id, entry.path()));
        }
    }
    found.sort_unstable_by_key(|(id, _)| *id);
    for pair in found.windows(2) {
        if pair[1].0 != pair[0].0 + 1 {
            return Err(StoreError::Corrupted {
                path: dir.join(segment_name(pair[0].0 + 1)),
                line: 0,
                reason: "this segment is missing (segment ids must be contiguous)".into(),
            });
        }
    }
    Ok(found)
}

/// A torn final batch that an open found (and, for a writable store, moved to a quarantine file
/// and cut off).
///
/// # Examples
///
/// ```
/// use livenstore::{EventStore, ExpectedVersion, JsonStore, NewEvent};
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = JsonStore::open(dir.path()).unwrap();
/// let event = NewEvent::from_json("Counted", r#"{"n":1}"#).unwrap();
/// store.append("counter", ExpectedVersion::NoStream, vec![event]).unwrap();
/// drop(store);
/// // A crash in the middle of the next append: its line is cut short.
/// let segment = dir.path().join("segment-00000001.jsonl");
/// let intact = std::fs::metadata(&segment).unwrap().len();
/// let mut bytes = std::fs::read(&segment).unwrap();
/// bytes.extend_from_slice(br#"{"crc":"9a0b"#);
/// std::fs::write(&segment, bytes).unwrap();
///
/// let store = JsonStore::open(dir.path()).unwrap();
/// let torn = store.recovery().torn_tail.unwrap();
/// assert_eq!((torn.line, torn.offset, torn.bytes), (2, intact, 12));
/// assert!(torn.quarantine.unwrap().exists(), "the bytes were moved, not discarded");
/// assert_eq!(std::fs::metadata(&segment).unwrap().len(), intact);
/// assert_eq!(store.last_position().unwrap(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The segment file.
    pub path: PathBuf,
    /// The 1-based line where the incomplete batch starts.
    pub line: u64,
    /// The byte offset the file was (or would be) cut back to.
    pub offset: u64,
    /// How many bytes follow that offset.
    pub bytes: u64,
    /// What was wrong with the first damaged line.
    pub reason: String,
    /// The quarantine file holding the bytes that were cut off (a writable open), `None` when
    /// they were left in place (a read-only open).
    pub quarantine: Option<PathBuf>,
}

/// A damaged record a read-only open found (see [`RecoveryReport::damaged`]), or one that
/// `repair` moved to a quarantine file (see [`RepairReport`](super::RepairReport)).
///
/// # Examples
///
/// ```
/// use livenstore::{EventStore, ExpectedVersion, JsonStore, NewEvent};
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = JsonStore::open(dir.path()).unwrap();
/// for n in 1..=3 {
///     let event = NewEvent::from_json("Counted", format!(r#"{{"n":{n}}}"#)).unwrap();
///     store.append("counter", ExpectedVersion::Any, vec![event]).unwrap();
/// }
/// drop(store);
/// // Bit rot in the second line.
/// let segment = dir.path().join("segment-00000001.jsonl");
/// let text = std::fs::read_to_string(&segment).unwrap();
/// std::fs::write(&segment, text.replacen(r#"{"n":2}"#, r#"{"n":7}"#, 1)).unwrap();
///
/// let store = JsonStore::open_read_only(dir.path()).unwrap();
/// let damaged = &store.recovery().damaged[0];
/// assert_eq!((damaged.line, damaged.position, damaged.version), (2, Some(2), Some(2)));
/// assert_eq!(damaged.stream.as_deref(), Some("counter"));
/// assert!(damaged.to_string().contains("segment-00000001.jsonl:2: "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedRecord {
    /// The segment file.
    pub path: PathBuf,
    /// The 1-based line.
    pub line: u64,
    /// The line's byte offset in the segment.
    pub offset: u64,
    /// The line's length in bytes (0 for a record missing from the log altogether).
    pub bytes: u64,
    /// What is wrong with it.
    pub reason: String,
    /// The global position the record held, when known (from what could still be read of the
    /// line, checked against its neighbours).
    pub position: Option<u64>,
    /// The stream the record was in, when known.
    pub stream: Option<String>,
    /// Its version in that stream, when known.
    pub version: Option<u64>,
    /// The event's id, when it could be read.
    pub id: Option<EventId>,
}

impl std::fmt::Display for DamagedRecord {
    /// `FILE:LINE: REASON (position P, stream `S` version V)`, saying what is known.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.reason)?;
        let mut known = Vec::new();
        if let Some(p) = self.position {
            known.push(format!("position {p}"));
        }
        match (&self.stream, self.version) {
            (Some(s), Some(v)) => known.push(format!("stream `{s}` version {v}")),
            (Some(s), None) => known.push(format!("stream `{s}`")),
            _ => {}
        }
        if let Some(id) = self.id {
            known.push(format!("id {id}"));
        }
        if known.is_empty() {
            f.write_str(" (which record it held is unknown)")
        } else {
            write!(f, " ({})", known.join(", "))
        }
    }
}

/// What opening the store (or the last refresh of a read-only one) found.
///
/// # Examples
///
/// ```
/// use livenstore::{EventStore, ExpectedVersion, JsonStore, NewEvent};
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = JsonStore::open(dir.path()).unwrap();
/// for n in 1..=3 {
///     let event = NewEvent::from_json("Counted", format!(r#"{{"n":{n}}}"#)).unwrap();
///     store.append("counter", ExpectedVersion::Any, vec![event]).unwrap();
/// }
/// drop(store);
/// // Bit rot in the second line.
/// let segment = dir.path().join("segment-00000001.jsonl");
/// let text = std::fs::read_to_string(&segment).unwrap();
/// std::fs::write(&segment, text.replacen(r#"{"n":2}"#, r#"{"n":7}"#, 1)).unwrap();
///
/// assert!(JsonStore::open(dir.path()).is_err(), "a writer refuses a damaged store");
/// let store = JsonStore::open_read_only(dir.path()).unwrap();
/// let report = store.recovery();
/// assert!(!report.is_empty() && report.torn_tail.is_none());
/// assert_eq!(report.damaged.len(), 1);
/// // Reads that do not reach the damage work.
/// assert_eq!(store.read_stream("counter", 3, 1).unwrap()[0].version(), 3);
/// assert!(store.read_stream("counter", 1, 3).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The torn tail cut off and quarantined (writable open) or left alone (read-only open), if
    /// any.
    pub torn_tail: Option<TornTail>,
    /// The damaged records a read-only open found (a writable open refuses a damaged store).
    /// Reads that reach one fail with [`StoreError::Corrupted`], unless the store was opened
    /// with [`JsonStoreOptions::skip_damaged`](super::JsonStoreOptions::skip_damaged).
    pub damaged: Vec<DamagedRecord>,
}

impl RecoveryReport {
    /// Whether the open found nothing to report.
    pub fn is_empty(&self) -> bool {
        self.torn_tail.is_none() && self.damaged.is_empty()
    }
}

/// A record read but not yet counted (its batch is still open).
enum Pending {
    /// The position, the entry and the event's correlation id. Only the id is kept: the rest
    /// of the metadata is freed as the line is read, so its memory is reused by the next line's
    /// (keeping it to the end of the batch cost the scan 12 % more instructions in `malloc`).
    Event(u64, EventEntry, Option<String>),
    Link(EventId, u32, u64, Timestamp),
    Hole(Box<HoleRecord>),
}

/// Adds `pending` to the index, in order (each record with the line it came from, for errors),
/// and moves the cursor to `to`: the offset and line just after the last line counted.
fn flush(
    index: &mut Index,
    pending: &mut Vec<(u64, Pending)>,
    to: (u64, u64),
    corrupted: &impl Fn(u64, String) -> StoreError,
) -> Result<(), StoreError> {
    for (line, p) in pending.drain(..) {
        let result = match p {
            Pending::Event(position, entry, correlation_id) => {
                index.push_event(position, entry, correlation_id.as_deref())
            }
            Pending::Link(id, stream, version, at) => index.push_link(id, stream, version, at),
            Pending::Hole(hole) => index.push_hole(&hole),
        };
        result.map_err(|reason| corrupted(line, reason))?;
    }
    (index.cursor.offset, index.cursor.line) = to;
    Ok(())
}

/// Scans segment `cursor.segment` of `index` from the cursor on, adding every complete batch.
/// Returns the torn tail found at its end, if any. Afterwards the cursor is just after the last
/// line counted: the last complete batch, or a hole that ends the batch it sits in.
///
/// # Errors
///
/// `Io`, or `Corrupted` for damage that is not a torn tail (`is_last` says whether later
/// segments exist).
pub(crate) fn scan_segment(
    index: &mut Index,
    is_last: bool,
) -> Result<Option<TornTail>, StoreError> {
    let seg = &index.segments[index.cursor.segment];
    let (path, seg_id, file) = (seg.path.clone(), seg.id, Arc::clone(&seg.file));
    let Cursor { offset, line, .. } = index.cursor;
    (&*file)
        .seek(SeekFrom::Start(offset))
        .map_err(io_err(&path))?;
    let mut lines = LineReader::new(&*file, &path, offset, line);
    let corrupted = |line: u64, reason: String| StoreError::Corrupted {
        path: path.clone(),
        line,
        reason,
    };
    let mut tracker = BatchTracker::default();
    let mut pending: Vec<(u64, Pending)> = Vec::new();
    // The first damage of what may be a torn tail: a cut-short line or unwritten blocks.
    let mut damage: Option<(u64, String)> = None;
    while let Some(next) = lines.next_line()? {
        let decoded = next.decode();
        let SegmentLine {
            number: line,
            start: line_start,
            end: offset,
            len: n,
            complete,
            text,
        } = next;
        // A complete line that does not decode can only be damage, unless it holds blocks
        // that were never written.
        let corrupt = |reason: String| {
            if complete && !has_unwritten_run(text) {
                Err(corrupted(line, reason))
            } else {
                Ok(reason)
            }
        };
        if let Some((damage_line, reason)) = &damage {
            // Past the first damage: only what an unfinished append leaves may follow.
            match decoded {
                Err(reason) => {
                    corrupt(reason)?;
                }
                Ok(record) if record.batch().is_some_and(|(i, n)| i < n) => {}
                Ok(_) => {
                    return Err(corrupted(
                        *damage_line,
                        format!("{reason}; a complete record follows it at line {line}"),
                    ))
                }
            }
            continue;
        }
        let record = match decoded {
            Ok(record) => record,
            Err(reason) => {
                damage = Some((line, corrupt(reason)?));
                // What came before the damage is settled now: a batch that holes closed
                // counts; an unfinished one is part of the torn tail.
                if tracker.finish() == End::ClosedByGap {
                    flush(index, &mut pending, (line_start, line - 1), &corrupted)?;
                }
                continue;
            }
        };
        let Some((i, total)) = record.batch() else {
            // A hole: outside batches, counted with the batch it sits in, if any.
            let Record::Hole(hole) = record else {
                unreachable!("only holes stand outside batches")
            };
            tracker.gap();
            pending.push((line, Pending::Hole(hole)));
            if !tracker.is_open() {
                flush(index, &mut pending, (offset, line), &corrupted)?;
            }
            continue;
        };
        let step = tracker
            .record(i, total)
            .map_err(|e| corrupted(line, e.reason(i, total)))?;
        if step.closes_previous {
            flush(index, &mut pending, (line_start, line - 1), &corrupted)?;
        }
        match record {
            Record::Event { header, .. } => {
                let stream = index.intern_stream(&header.stream);
                let event_type = index.intern_type(&header.event_type);
                let len = u32::try_from(n).map_err(|_| corrupted(line, "line too long".into()))?;
                let entry = EventEntry {
                    id: header.id.to_u128(),
                    recorded_at: header.recorded_at.as_unix_nanos(),
                    version: header.version,
                    offset: line_start,
                    segment: seg_id,
                    len,
                    stream,
                    event_type,
                    event_version: header.event_version,
                    kind: EntryKind::Event,
                };
                let correlation_id = if header.metadata.is_empty() {
                    None
                } else {
                    header.metadata.into_correlation_id()
                };
                let event = Pending::Event(header.position, entry, correlation_id);
                pending.push((line, event));
            }
            Record::Link(link) => {
                let stream = index.intern_stream(&link.stream);
                let record = Pending::Link(link.id, stream, link.version, link.linked_at);
                pending.push((line, record));
            }
            Record::Hole(_) => unreachable!("holes have no batch marker"),
        }
        if step.completes {
            flush(index, &mut pending, (offset, line), &corrupted)?;
        }
    }
    let (offset, line) = (lines.offset, lines.number);
    if damage.is_none() {
        match tracker.finish() {
            End::Clean => return Ok(None),
            End::ClosedByGap => {
                // The last records of the last batch were lost (and recorded as holes).
                flush(index, &mut pending, (offset, line), &corrupted)?;
                return Ok(None);
            }
            End::Unfinished => {}
        }
    }
    let cursor = index.cursor;
    let (damage_line, reason) =
        damage.unwrap_or_else(|| (cursor.line + 1, "the last batch is incomplete".into()));
    if !is_last {
        return Err(corrupted(damage_line, reason));
    }
    Ok(Some(TornTail {
        path,
        line: cursor.line + 1,
        offset: cursor.offset,
        bytes: offset - cursor.offset,
        reason: format!("line {damage_line}: {reason}"),
        quarantine: None,
    }))
}

/// Opens segment `id` at `path` for reading.
///
/// # Errors
///
/// `Io` with the path.
pub(crate) fn open_segment(id: u32, path: PathBuf) -> Result<SegmentFile, StoreError> {
    let file = File::open(&path).map_err(io_err(&path))?;
    Ok(SegmentFile {
        id,
        path,
        file: Arc::new(file),
    })
}

/// Scans every segment not yet scanned (from `index.cursor` on), adding segments that appeared
/// in `dir` since. Returns the torn tail of the last segment, if any.
///
/// # Errors
///
/// As [`scan_segment`] and [`list_segments`].
pub(crate) fn scan_dir(dir: &Path, index: &mut Index) -> Result<Option<TornTail>, StoreError> {
    let listed = list_segments(dir)?;
    let known_last = index.segments.last().map(|s| s.id);
    for (id, path) in listed {
        if known_last.is_some_and(|last| id <= last) {
            continue;
        }
        if let Some(last) = index.segments.last() {
            if id != last.id + 1 {
                return Err(StoreError::Corrupted {
                    path,
                    line: 0,
                    reason: format!("segment {id} does not follow segment {}", last.id),
                });
            }
        }
        index.segments.push(open_segment(id, path)?);
    }
    scan_segments(index)
}

/// Scans the segments of `index` from its cursor on. Returns the torn tail of the last
/// segment, if any.
///
/// # Errors
///
/// As [`scan_segment`].
pub(crate) fn scan_segments(index: &mut Index) -> Result<Option<TornTail>, StoreError> {
    loop {
        if index.segments.is_empty() {
            return Ok(None);
        }
        let is_last = index.cursor.segment + 1 == index.segments.len();
        let torn = scan_segment(index, is_last)?;
        if is_last {
            return Ok(torn);
        }
        index.cursor = Cursor {
            segment: index.cursor.segment + 1,
            offset: 0,
            line: 0,
        };
    }
}
