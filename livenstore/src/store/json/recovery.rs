//! Opening a store: listing segments and scanning their lines into the [`Index`].
//!
//! Recovery policy (fjall's "tolerate corrupt tail"):
//! - A batch counts only when its last record (`batch: [n, n]`) has been read.
//! - Damage (a line without newline, a bad checksum, a line that does not decode, a batch marker
//!   out of sequence) after which no complete batch follows in the last segment is a torn tail:
//!   the writer cuts the file back to the end of the last complete batch (`set_len` + `sync_all`)
//!   and reports it in [`RecoveryReport`]; a read-only open just stops there.
//! - Damage followed by a complete batch, or in any segment but the last, is
//!   [`StoreError::Corrupted`] naming the file and 1-based line. So is a well-formed line that
//!   breaks a log rule (position or version out of sequence, duplicate id).
//! - Segment ids must be contiguous; a missing segment is `Corrupted`.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::format::{decode_line, Record};
use super::index::{Cursor, EventEntry, Index, SegmentFile};
use super::io_err;
use crate::{EventId, StoreError, Timestamp};

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

/// A torn final batch that an open found (and, for a writable store, cut off).
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
}

/// What opening the store found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The torn tail cut off (writable open) or ignored (read-only open), if any.
    pub torn_tail: Option<TornTail>,
}

enum Pending {
    Event(u64, EventEntry),
    Link(EventId, u32, u64, Timestamp),
}

/// Scans segment `cursor.segment` of `index` from the cursor on, adding every complete batch.
/// Returns the torn tail found at its end, if any (the cursor stays at the end of the last
/// complete batch).
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
    let mut reader = BufReader::with_capacity(1 << 20, &*file);
    let Cursor {
        mut offset,
        mut line,
        ..
    } = index.cursor;
    reader
        .seek(SeekFrom::Start(offset))
        .map_err(io_err(&path))?;
    let corrupted = |line: u64, reason: String| StoreError::Corrupted {
        path: path.clone(),
        line,
        reason,
    };
    let mut buf = Vec::with_capacity(4096);
    let mut pending: Vec<Pending> = Vec::new();
    let mut damage: Option<(u64, String)> = None;
    let mut pending_total = 0u32;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io_err(&path))?;
        if n == 0 {
            break;
        }
        line += 1;
        let line_start = offset;
        offset += n as u64;
        let complete = buf.last() == Some(&b'\n');
        let text = if complete { &buf[..n - 1] } else { &buf[..] };
        let decoded = if complete {
            decode_line(text)
        } else {
            Err("the last line has no newline (write cut short)".into())
        };
        if let Some((damage_line, reason)) = &damage {
            // Past damage: only a complete batch after it turns the damage into corruption.
            if matches!(&decoded, Ok(r) if r.batch().0 == r.batch().1) {
                return Err(corrupted(*damage_line, reason.clone()));
            }
            continue;
        }
        let record = match decoded {
            Ok(record) => record,
            Err(reason) => {
                damage = Some((line, reason));
                continue;
            }
        };
        let (i, total) = record.batch();
        let expected_i = pending.len() as u32 + 1;
        if pending.is_empty() {
            pending_total = total;
        }
        if i != expected_i || total != pending_total {
            if i == total {
                // A complete batch right after an unfinished one: not a torn tail.
                return Err(corrupted(
                    line - pending.len() as u64,
                    format!("unfinished batch before a complete one at line {line}"),
                ));
            }
            damage = Some((line, format!("batch marker [{i},{total}] out of sequence")));
            continue;
        }
        match record {
            Record::Event { header, .. } => {
                let stream = index.intern_stream(&header.stream);
                let event_type = index.intern_type(&header.event_type);
                let len = u32::try_from(n).map_err(|_| corrupted(line, "line too long".into()))?;
                pending.push(Pending::Event(
                    header.position,
                    EventEntry {
                        id: header.id.to_u128(),
                        recorded_at: header.recorded_at.as_unix_nanos(),
                        version: header.version,
                        offset: line_start,
                        segment: seg_id,
                        len,
                        stream,
                        event_type,
                    },
                ));
            }
            Record::Link(link) => {
                let stream = index.intern_stream(&link.stream);
                pending.push(Pending::Link(link.id, stream, link.version, link.linked_at));
            }
        }
        if i == total {
            let first_line = line + 1 - u64::from(total);
            for (k, p) in pending.drain(..).enumerate() {
                let result = match p {
                    Pending::Event(position, entry) => index.push_event(position, entry),
                    Pending::Link(id, stream, version, at) => {
                        index.push_link(id, stream, version, at)
                    }
                };
                result.map_err(|reason| corrupted(first_line + k as u64, reason))?;
            }
            index.cursor.offset = offset;
            index.cursor.line = line;
        }
    }
    let cursor = index.cursor;
    if damage.is_none() && pending.is_empty() {
        return Ok(None);
    }
    let (damage_line, reason) =
        damage.unwrap_or_else(|| (line + 1, "the last batch is incomplete".into()));
    if !is_last {
        return Err(corrupted(damage_line, reason));
    }
    Ok(Some(TornTail {
        path,
        line: cursor.line + 1,
        offset: cursor.offset,
        bytes: offset - cursor.offset,
        reason: format!("line {damage_line}: {reason}"),
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
