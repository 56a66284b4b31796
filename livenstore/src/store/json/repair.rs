//! [`repair`]: moves damaged lines and a torn tail out of the log into quarantine files, leaving
//! a hole record for each lost position and version, so that the store opens and verifies and
//! nothing it held is renumbered or discarded.
//!
//! Nothing repairs a store by itself: `repair` is explicit (`livenstore DIR repair`).
//!
//! Invariants:
//! - Intact lines are copied byte for byte: every intact event keeps its id, position, version,
//!   time, metadata and payload, and its checksum.
//! - Every byte taken out of a segment is in a quarantine file first (written, synced, directory
//!   synced; see `quarantine.rs`), and a segment is replaced only by a rename of a complete,
//!   synced copy. A crash at any point leaves each segment old or new, never torn; running
//!   `repair` again finishes the work (the bytes of a segment that was not replaced yet may then
//!   be in two quarantine files).
//! - The new log is scanned as an open would scan it before any segment is replaced; if it would
//!   not open (a bug), nothing is replaced and the quarantine files just written are removed.
//! - It holds the store's lock throughout, so no writer appends meanwhile.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::encode::encode_hole;
use super::format::{HoleRecord, QuarantineRef};
use super::index::Index;
use super::io::{io_err, sync_dir};
use super::lines::LineKind;
use super::lock::DirLock;
use super::quarantine::{write_quarantine, QuarantineKind};
use super::recovery::{open_segment, scan_segments, DamagedRecord, TornTail};
use super::resolve::SurveyGap;
use super::survey::Survey;
use super::JsonStoreOptions;
use crate::{EventId, StoreError, Timestamp};

/// A lost record that a store keeps on record: the global position and the stream version it
/// held (each when known), which stay taken so that nothing after them is renumbered. `repair`
/// writes one (a hole line) for each record it moves to a quarantine file;
/// [`JsonStore::holes`](super::JsonStore::holes) lists them, and
/// [`JsonImporter::hole`](super::JsonImporter::hole) writes them into a copy.
///
/// # Examples
///
/// ```
/// use livenstore::store::json::repair;
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
/// repair(dir.path()).unwrap();
/// let store = JsonStore::open(dir.path()).unwrap();
/// let holes = store.holes();
/// assert_eq!(holes.len(), 1);
/// assert_eq!((holes[0].position, holes[0].version), (Some(2), Some(2)));
/// assert_eq!(holes[0].stream.as_deref(), Some("counter"));
/// assert!(!holes[0].damaged, "repaired, not merely found");
/// assert!(store.has_gaps("counter").unwrap());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hole {
    /// The global position it held (`None`: a link, or unknown).
    pub position: Option<u64>,
    /// The stream it was in (`None`: unknown).
    pub stream: Option<String>,
    /// Its version in that stream (with `stream`).
    pub version: Option<u64>,
    /// Whether it is damage that has not been repaired (a read-only open of a damaged store)
    /// rather than a hole that `repair` recorded.
    pub damaged: bool,
}

/// What [`repair`] did.
///
/// # Examples
///
/// ```
/// use livenstore::store::json::repair;
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
/// let report = repair(dir.path()).unwrap();
/// assert!(!report.is_empty());
/// assert_eq!((report.quarantined.len(), report.holes), (1, 1));
/// assert_eq!(report.quarantine_files.len(), 1);
/// assert_eq!(report.segments.len(), 1);
/// assert!(report.segments[0].ends_with("segment-00000001.jsonl"));
/// assert!(repair(dir.path()).unwrap().is_empty(), "a second run finds nothing to do");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// The damaged records moved to quarantine files, with what they were found to hold (and
    /// the records missing from the log altogether, recorded as holes with no bytes).
    pub quarantined: Vec<DamagedRecord>,
    /// The torn tail moved to a quarantine file, if there was one.
    pub torn_tail: Option<TornTail>,
    /// The quarantine files written.
    pub quarantine_files: Vec<PathBuf>,
    /// The hole records written.
    pub holes: u64,
    /// The segments rewritten.
    pub segments: Vec<PathBuf>,
}

impl RepairReport {
    /// Whether the store needed no repair.
    pub fn is_empty(&self) -> bool {
        self.quarantined.is_empty() && self.torn_tail.is_none()
    }
}

/// Repairs the store in `dir`: damaged lines go to `segment-*.jsonl.damaged-*` files and a torn
/// tail to a `segment-*.jsonl.torn-*` file, with a hole record in the log for each lost position
/// and stream version. Afterwards the store opens, [`verify`](super::verify) finds it healthy
/// (listing the holes and quarantine files), and reads skip the holes; a stream that lost a
/// version shows the gap in its events' versions.
///
/// Intact lines are copied byte for byte, so every intact event keeps its id, position, version,
/// time, metadata and payload. The position and stream version of a lost record come from the
/// intact records around it (and from what can still be read of the damaged line); when its
/// stream cannot be told, the report says so (`stream: None`). The bytes moved are in a synced
/// quarantine file before a segment is replaced, and a segment is replaced by renaming a
/// complete, synced copy that has been scanned as an open would: a crash leaves every segment
/// old or new, and running `repair` again finishes the work. It holds the store's lock
/// throughout, and nothing calls it but its user (`livenstore DIR repair`).
///
/// # Errors
///
/// [`StoreError::Locked`] when another process has the store open, [`StoreError::Io`],
/// [`StoreError::Corrupted`] when the damage cannot be repaired (a segment file is missing, or
/// positions jump further than the damaged lines can explain).
///
/// # Examples
///
/// ```
/// use livenstore::store::json::{repair, verify};
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
/// assert!(JsonStore::open(dir.path()).is_err(), "a writer must not build on damage");
///
/// let report = repair(dir.path()).unwrap();
/// assert_eq!(report.quarantined.len(), 1);
/// assert_eq!(report.quarantined[0].position, Some(2));
/// assert!(verify(dir.path()).unwrap().is_healthy());
/// let store = JsonStore::open(dir.path()).unwrap();
/// let versions: Vec<u64> = store.read_stream("counter", 1, 10).unwrap().iter().map(|e| e.version()).collect();
/// assert_eq!(versions, [1, 3], "version 2 stays taken");
/// ```
pub fn repair(dir: impl AsRef<Path>) -> Result<RepairReport, StoreError> {
    repair_with(dir, &JsonStoreOptions::default())
}

/// [`repair`], waiting for the store's lock as long as `options` say
/// ([`JsonStoreOptions::wait_for_lock`]).
///
/// # Errors
///
/// As [`repair`].
pub fn repair_with(
    dir: impl AsRef<Path>,
    options: &JsonStoreOptions,
) -> Result<RepairReport, StoreError> {
    let dir = dir.as_ref();
    if !dir.is_dir() {
        return Err(StoreError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no store directory"),
        });
    }
    let _lock = DirLock::acquire_within(dir, options.lock_timeout)?;
    let survey = Survey::take(dir)?;
    let mut report = RepairReport {
        quarantined: survey.damaged_records(),
        torn_tail: survey.torn_tail(),
        ..RepairReport::default()
    };
    if report.is_empty() {
        return Ok(report);
    }
    let mut plans = Vec::new();
    let result = (0..survey.segments.len())
        .try_for_each(|k| plan_segment(&survey, k, &mut plans, &mut report));
    let result = result.and_then(|()| check_new_log(&survey, &plans));
    if let Err(e) = result {
        for plan in &plans {
            let _ = std::fs::remove_file(&plan.temp);
        }
        for file in &report.quarantine_files {
            let _ = std::fs::remove_file(file);
        }
        return Err(e);
    }
    for plan in &plans {
        std::fs::rename(&plan.temp, &plan.segment).map_err(io_err(&plan.segment))?;
        report.segments.push(plan.segment.clone());
    }
    sync_dir(dir)?;
    if let (Some(torn), Some(file)) = (&mut report.torn_tail, torn_file(&report.quarantine_files)) {
        torn.quarantine = Some(file);
    }
    Ok(report)
}

/// The torn-tail quarantine file among those written.
fn torn_file(files: &[PathBuf]) -> Option<PathBuf> {
    files
        .iter()
        .find(|f| f.to_string_lossy().contains(".jsonl.torn-"))
        .cloned()
}

/// A segment to replace: its new content is complete and synced in `temp`.
struct Plan {
    id: u32,
    segment: PathBuf,
    temp: PathBuf,
}

/// Writes the quarantine files of segment `k` and its new content beside it, when it needs
/// any change.
fn plan_segment(
    survey: &Survey,
    k: usize,
    plans: &mut Vec<Plan>,
    report: &mut RepairReport,
) -> Result<(), StoreError> {
    let end = survey.counted_end();
    let (id, path) = &survey.segments[k];
    let lines = survey.segment_lines(k);
    let counted = lines.start..lines.end.min(end).max(lines.start);
    let torn = end.max(lines.start)..lines.end;
    let damaged: Vec<usize> = counted
        .clone()
        .filter(|&i| survey.lines[i].damaged().is_some())
        .collect();
    // The survey's gaps are in line order: this segment's are a slice of them.
    let gaps_here = &survey.gaps[survey.gaps.partition_point(|g| g.line < lines.start)
        ..survey.gaps.partition_point(|g| g.line < lines.end)];
    let orphans = gaps_here.iter().any(|g| g.cause.is_none());
    if torn.is_empty() && damaged.is_empty() && !orphans {
        return Ok(());
    }
    let bytes = read_file(path)?;
    let slice = |i: usize| {
        let line = &survey.lines[i];
        &bytes[line.offset as usize..(line.offset + line.len) as usize]
    };
    if !torn.is_empty() {
        let from = survey.lines[torn.start].offset as usize;
        let file = write_quarantine(path, QuarantineKind::TornTail, &bytes[from..])?;
        report.quarantine_files.push(file);
    }
    // The damaged lines, one after the other, and where each one landed.
    let mut moved = Vec::new();
    let mut places = std::collections::HashMap::new();
    for &i in &damaged {
        places.insert(i, (moved.len() as u64, survey.lines[i].len));
        moved.extend_from_slice(slice(i));
    }
    let quarantine = if damaged.is_empty() {
        None
    } else {
        let file = write_quarantine(path, QuarantineKind::Damaged, &moved)?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        report.quarantine_files.push(file);
        Some(name)
    };
    let repaired_at = Timestamp::now();
    let mut out = Vec::with_capacity(bytes.len());
    let mut gaps = gaps_here.iter().peekable();
    for i in counted {
        let line = &survey.lines[i];
        let quarantined = match (&quarantine, places.get(&i)) {
            (Some(file), Some(&(offset, bytes))) => Some(QuarantineRef {
                file: file.clone(),
                offset,
                bytes,
            }),
            _ => None,
        };
        let mut wrote_hole = false;
        while let Some(gap) = gaps.next_if(|g| g.line == i) {
            let hole = hole_record(survey, gap, line.number, quarantined.clone(), repaired_at);
            push_hole(&mut out, &hole, path)?;
            report.holes += 1;
            wrote_hole |= gap.cause.is_some();
        }
        match &line.kind {
            LineKind::Damaged(d) if !wrote_hole => {
                // A damaged line that held no position or version (a link to an unknown
                // stream, say): its hole only says where its bytes went.
                let hole = HoleRecord {
                    position: None,
                    stream: None,
                    version: None,
                    id: d.salvage.id,
                    quarantine: quarantined,
                    line: line.number,
                    reason: d.reason.clone(),
                    repaired_at,
                };
                push_hole(&mut out, &hole, path)?;
                report.holes += 1;
            }
            LineKind::Damaged(_) => {}
            _ => out.extend_from_slice(slice(i)),
        }
    }
    let temp = path.with_extension("jsonl.repair-tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temp)
        .map_err(io_err(&temp))?;
    file.write_all(&out).map_err(io_err(&temp))?;
    file.sync_all().map_err(io_err(&temp))?;
    plans.push(Plan {
        id: *id,
        segment: path.clone(),
        temp,
    });
    Ok(())
}

/// The hole record for `gap` at the line numbered `line`.
fn hole_record(
    survey: &Survey,
    gap: &SurveyGap,
    line: u64,
    quarantine: Option<QuarantineRef>,
    repaired_at: Timestamp,
) -> HoleRecord {
    let reason = match gap.cause {
        Some(cause) => survey.lines[cause]
            .damaged()
            .map(|d| d.reason.clone())
            .unwrap_or_default(),
        None => gap.orphan_reason(),
    };
    HoleRecord {
        position: gap.position,
        stream: gap
            .stream
            .and_then(|s| survey.streams.names.get(s as usize).cloned()),
        version: gap.version,
        id: gap.id.map(EventId::from_u128),
        quarantine: quarantine.filter(|_| gap.cause.is_some()),
        line,
        reason,
        repaired_at,
    }
}

fn push_hole(out: &mut Vec<u8>, hole: &HoleRecord, path: &Path) -> Result<(), StoreError> {
    encode_hole(out, hole).map_err(|e| StoreError::Corrupted {
        path: path.to_path_buf(),
        line: hole.line,
        reason: format!("cannot encode the hole record: {e}"),
    })
}

fn read_file(path: &Path) -> Result<Vec<u8>, StoreError> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(io_err(path))?;
    Ok(bytes)
}

/// Scans the log as it will be (the new content of the planned segments, the others as they
/// are) as a writable open would: it must open, with no torn tail left.
fn check_new_log(survey: &Survey, plans: &[Plan]) -> Result<(), StoreError> {
    let mut index = Index::default();
    for (id, path) in &survey.segments {
        let path = plans
            .iter()
            .find(|p| p.id == *id)
            .map_or_else(|| path.clone(), |p| p.temp.clone());
        index.segments.push(open_segment(*id, path)?);
    }
    let bug = |reason: String, path: PathBuf, line: u64| StoreError::Corrupted {
        path,
        line,
        reason: format!(
            "repair would leave a log that does not open ({reason}); nothing was changed"
        ),
    };
    match scan_segments(&mut index) {
        Ok(None) => Ok(()),
        Ok(Some(torn)) => Err(bug(torn.reason, torn.path, torn.line)),
        Err(StoreError::Corrupted { path, line, reason }) => Err(bug(reason, path, line)),
        Err(e) => Err(e),
    }
}
