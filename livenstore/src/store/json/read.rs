//! Reading events back: positioned reads of whole lines, coalesced when lines are adjacent.
//!
//! Invariants:
//! - Reads take a copy of the index entries they need and release the index lock before any
//!   disk I/O, so a long read never blocks appenders.
//! - Every line read is checked again (checksum, position) before it becomes a
//!   [`RecordedEvent`]; a mismatch is `Corrupted` naming the file and byte offset's line.
//! - The payload text is taken from the line as is (the checksum vouches for it), never parsed.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use super::entry::EventEntry;
use super::format::{decode_line, Record};
use super::index::{GapKind, Index, SegmentFile};
use super::io::io_err;
use crate::{EventId, LinkInfo, Payload, RecordedEvent, RecordedEventParts, StoreError, Timestamp};

/// Largest single read when adjacent lines are read together.
const MAX_COALESCED: u64 = 4 << 20;

/// What to load: a position, and the link it was reached through.
pub(crate) struct Want {
    pub position: u64,
    pub entry: EventEntry,
    pub link: Option<LinkInfo>,
}

/// A snapshot of what [`load`] needs besides the entries: the segments, stream names and type
/// names that the wanted entries name, and nothing else, so a read costs what it reads and not
/// what the store holds.
pub(crate) struct ReadCtx {
    segments: Vec<(u32, std::path::PathBuf, Arc<std::fs::File>)>,
    streams: HashMap<u32, Arc<str>>,
    types: HashMap<u32, Arc<str>>,
}

impl ReadCtx {
    fn for_wants(index: &Index, wants: &[Want]) -> Self {
        let mut ctx = ReadCtx {
            segments: Vec::new(),
            streams: HashMap::new(),
            types: HashMap::new(),
        };
        // Consecutive entries mostly share all three; skip the lookups when they do.
        let mut last: Option<(u32, u32, u32)> = None;
        for want in wants {
            let e = &want.entry;
            let key = (e.segment, e.stream, e.event_type);
            if last == Some(key) {
                continue;
            }
            last = Some(key);
            if !ctx.segments.iter().any(|(id, _, _)| *id == e.segment) {
                if let Some(SegmentFile { id, path, file }) =
                    index.segments.iter().find(|s| s.id == e.segment)
                {
                    ctx.segments.push((*id, path.clone(), Arc::clone(file)));
                }
            }
            if let Some(stream) = index.streams.get(e.stream as usize) {
                ctx.streams
                    .entry(e.stream)
                    .or_insert_with(|| Arc::clone(&stream.name));
            }
            if let Some(name) = index.types.get(e.event_type as usize) {
                ctx.types
                    .entry(e.event_type)
                    .or_insert_with(|| Arc::clone(name));
            }
        }
        ctx
    }
}

/// One entry a read asks for.
pub(crate) enum Slot {
    /// The record at a position, and the link it was reached through.
    At(u64, Option<LinkInfo>),
    /// A stream version whose record was lost and whose position is unknown.
    Missing(u32, u64),
}

impl From<u64> for Slot {
    fn from(position: u64) -> Self {
        Slot::At(position, None)
    }
}

/// Collects the entries for the first `max` events of `slots` (skipping unknown positions and
/// holes, and damage when `skip_damaged`) and a read context.
///
/// # Errors
///
/// The damaged record's `Corrupted` error when a slot reaches one and `skip_damaged` is off.
pub(crate) fn plan<S: Into<Slot>>(
    index: &Index,
    slots: impl Iterator<Item = S>,
    max: usize,
    skip_damaged: bool,
) -> Result<(Vec<Want>, ReadCtx), StoreError> {
    let mut wants: Vec<Want> = Vec::with_capacity(slots.size_hint().0.min(max));
    for slot in slots {
        if wants.len() >= max {
            break;
        }
        let (position, link) = match slot.into() {
            Slot::At(position, link) => (position, link),
            Slot::Missing(stream, version) => {
                if let Some(&kind) = index.missing.get(&(stream, version)) {
                    check_gap(index, kind, skip_damaged)?;
                }
                continue;
            }
        };
        let Some(entry) = index.entry(position) else {
            continue;
        };
        if !entry.is_event() {
            if let Some(kind) = index.gap_at(position) {
                check_gap(index, kind, skip_damaged)?;
            }
            continue;
        }
        wants.push(Want {
            position,
            entry: *entry,
            link,
        });
    }
    let ctx = ReadCtx::for_wants(index, &wants);
    Ok((wants, ctx))
}

/// Fails for damage a read may not skip.
fn check_gap(index: &Index, kind: GapKind, skip_damaged: bool) -> Result<(), StoreError> {
    match index.gap_error(kind) {
        Some(error) if !skip_damaged => Err(error),
        _ => Ok(()),
    }
}

/// Reads and decodes the lines of `wants`, in order.
///
/// # Errors
///
/// `Io` with the segment path, `Corrupted` when a line no longer matches its index entry.
pub(crate) fn load(mut wants: Vec<Want>, ctx: &ReadCtx) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut out = Vec::with_capacity(wants.len());
    let mut buf = Vec::new();
    let mut i = 0;
    while i < wants.len() {
        // Extend the run while the next line follows this one in the same segment.
        let first = wants[i].entry;
        let mut end = first.offset + u64::from(first.len);
        let mut j = i + 1;
        while j < wants.len() {
            let e = wants[j].entry;
            if e.segment != first.segment || e.offset != end || end - first.offset > MAX_COALESCED {
                break;
            }
            end += u64::from(e.len);
            j += 1;
        }
        let (_, path, file) = ctx
            .segments
            .iter()
            .find(|(id, _, _)| *id == first.segment)
            .ok_or_else(|| StoreError::Corrupted {
                path: std::path::PathBuf::from(format!("segment {}", first.segment)),
                line: 0,
                reason: "the index names a segment that is not open".into(),
            })?;
        let size = usize::try_from(end - first.offset).map_err(|_| StoreError::Corrupted {
            path: path.clone(),
            line: 0,
            reason: "the index names a run of lines larger than memory can hold".into(),
        })?;
        buf.resize(size, 0);
        file.read_exact_at(&mut buf, first.offset)
            .map_err(io_err(path))?;
        let mut at = 0usize;
        for want in wants[i..j].iter_mut() {
            let len = want.entry.len as usize;
            let line = &buf[at..at + len];
            at += len;
            out.push(decode_event(line, want, ctx, path)?);
        }
        i = j;
    }
    Ok(out)
}

fn decode_event(
    line: &[u8],
    want: &mut Want,
    ctx: &ReadCtx,
    path: &std::path::Path,
) -> Result<RecordedEvent, StoreError> {
    let corrupted = |reason: String| StoreError::Corrupted {
        path: path.to_path_buf(),
        line: 0,
        reason: format!("line at byte {}: {reason}", want.entry.offset),
    };
    let text = line
        .strip_suffix(b"\n")
        .ok_or_else(|| corrupted("the line has no newline".into()))?;
    let (header, payload) = match decode_line(text).map_err(&corrupted)? {
        Record::Event { header, payload } => (header, payload),
        Record::Link(_) => return Err(corrupted("expected an event, found a link".into())),
        Record::Hole(_) => return Err(corrupted("expected an event, found a hole".into())),
    };
    let e = want.entry;
    if header.position != want.position || header.id.to_u128() != e.id {
        return Err(corrupted(format!(
            "expected position {}, found {}",
            want.position, header.position
        )));
    }
    let stream = ctx.streams.get(&e.stream).cloned();
    let event_type = ctx.types.get(&e.event_type).cloned();
    let (Some(stream), Some(event_type)) = (stream, event_type) else {
        return Err(corrupted("unknown stream or type id".into()));
    };
    let event = RecordedEvent::from_parts(RecordedEventParts {
        id: EventId::from_u128(e.id),
        event_type,
        stream,
        version: e.version,
        position: want.position,
        recorded_at: Timestamp::from_unix_nanos(e.recorded_at),
        metadata: header.metadata,
        payload: Payload::from_trusted_json(payload),
        event_version: e.event_version,
    });
    Ok(match want.link.take() {
        Some(link) => event.with_link(link),
        None => event,
    })
}
