//! Appending and linking: the rules, the lines, the write ([`Writer`]) and the durability step
//! after each write.
//!
//! Invariants:
//! - All writes happen under the writer mutex, in the order the index gives positions; a batch's
//!   lines go to the file in one write (`writer.rs`) and the index learns of them only after it
//!   succeeded.
//! - The idempotency check runs before the version check (see [`EventStore`](crate::EventStore)).
//! - The durability wait happens after the writer mutex is released, so other appenders can
//!   write while one `fsync` runs (group commit). An append holds an `AppendTicket` from its
//!   start until its write, so a leader about to `fsync` can wait briefly for it to join
//!   (see `durability.rs`).

use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use super::encode::{encode_event, encode_link, json_string, BatchHeader, EventLine};
use super::entry::{EntryKind, EventEntry};
use super::format::LinkRecord;
use super::index::Index;
use super::shared::Shared;
use super::writer::Writer;
use super::{read, Durability};
use crate::backend::{check_idempotent, validate_append, validate_stream_name};
use crate::store::{AppendResult, ExpectedVersion, LimitKind};
use crate::{EventId, NewEvent, RecordedEvent, StoreError, StreamInfo, Timestamp};

/// A record written to `path` that the index then refused: the index and the log disagree
/// (a bug), so the open that rescans the log must decide.
fn written_but_refused(path: &std::path::Path, reason: String) -> StoreError {
    StoreError::Corrupted {
        path: path.to_path_buf(),
        line: 0,
        reason: format!("the index refused a record just written ({reason}); reopen the store"),
    }
}

fn lock_writer(shared: &Shared) -> Result<MutexGuard<'_, Writer>, StoreError> {
    let writer = shared.writer.as_ref().ok_or_else(|| StoreError::ReadOnly {
        path: shared.dir.clone(),
    })?;
    let guard = writer
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    shared.syncer.check_failed(&guard.path)?;
    if let Some(reason) = &guard.broken {
        return Err(StoreError::Io {
            path: guard.path.clone(),
            source: std::io::Error::other(reason.clone()),
        });
    }
    Ok(guard)
}

fn snapshot(writer: &Mutex<Writer>) -> (u64, Arc<File>, PathBuf) {
    let w = writer
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    (w.written, Arc::clone(&w.file), w.path.clone())
}

/// Waits until batch `target` is durable as the durability mode asks.
fn after_write(shared: &Shared, target: u64) -> Result<(), StoreError> {
    let Some(writer) = &shared.writer else {
        return Ok(());
    };
    let due = match shared.options.durability {
        Durability::Always => true,
        Durability::Batch(interval) => shared.syncer.since_last_sync() >= interval,
        Durability::Never => false,
    };
    if due {
        shared.syncer.wait_durable(target, || snapshot(writer))?;
    }
    Ok(())
}

/// Makes every batch written so far durable.
pub(crate) fn sync_all_written(shared: &Shared) -> Result<(), StoreError> {
    let Some(writer) = &shared.writer else {
        return Ok(());
    };
    let (written, _, _) = snapshot(writer);
    if shared.syncer.synced() >= written {
        return Ok(());
    }
    shared.syncer.wait_durable(written, || snapshot(writer))
}

/// What the store knows of stream `sid`, `None` when it has no entries. Gaps count towards the
/// versions, not the events; the times are those of the first and last events.
pub(crate) fn stream_info(index: &Index, sid: u32) -> Option<StreamInfo> {
    let state = index.streams.get(sid as usize)?;
    let time = |e: &super::index::StreamEntry| {
        Timestamp::from_unix_nanos(
            e.linked_at
                .unwrap_or_else(|| index.entry(e.position).map_or(0, |entry| entry.recorded_at)),
        )
    };
    let last_version = state.entries.len() as u64;
    if last_version == 0 {
        return None;
    }
    let is_event = |e: &&super::index::StreamEntry| {
        e.linked_at.is_some() || index.entry(e.position).is_some_and(|x| x.is_event())
    };
    let (first_version, first, last) = if state.gaps == 0 {
        (1, state.entries.first(), state.entries.last())
    } else {
        let first = state.entries.iter().position(|e| is_event(&e));
        let version = first.map_or(last_version + 1, |i| i as u64 + 1);
        let first = first.map(|i| &state.entries[i]);
        (version, first, state.entries.iter().rev().find(is_event))
    };
    let none = Timestamp::from_unix_nanos(0);
    Some(StreamInfo {
        stream: state.name.to_string(),
        event_count: last_version - u64::from(state.gaps),
        first_version,
        last_version,
        first_recorded_at: first.map_or(none, time),
        last_recorded_at: last.map_or(none, time),
    })
}

/// Looks a stored event up by id for the shared idempotency rule.
fn find_stored(shared: &Shared, id: EventId) -> Result<Option<RecordedEvent>, StoreError> {
    let index = shared.index();
    let Some(position) = index.position_of(id) else {
        return Ok(None);
    };
    let (wants, ctx) = shared.plan(&index, std::iter::once(position), 1)?;
    drop(index);
    Ok(read::load(wants, &ctx)?.pop())
}

/// Appends `events` to `stream` (the [`EventStore::append`](crate::EventStore::append) rules).
pub(crate) fn append(
    shared: &Shared,
    stream: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Result<AppendResult, StoreError> {
    validate_append(stream, &events, shared.options.max_payload_bytes)?;
    let ticket = shared.syncer.begin_append();
    let mut w = lock_writer(shared)?;
    if let Some(result) = check_idempotent(stream, &events, |id| find_stored(shared, id))? {
        return Ok(result);
    }
    let index = shared.index();
    let sid = index.stream_id(stream);
    let current = sid.map_or(0, |s| index.stream_version(s));
    expected.check(stream, current)?;
    if events.is_empty() {
        return Ok(AppendResult {
            stream_version: current,
            first_position: 0,
            last_position: 0,
        });
    }
    let first_position = index.last_position() + 1;
    let recorded_at = Timestamp::now().max(index.last_recorded_at());
    drop(index);
    let total = u32::try_from(events.len()).map_err(|_| StoreError::LimitExceeded {
        kind: LimitKind::EventsPerAppend,
        max: u64::from(u32::MAX),
    })?;
    let mut buf = std::mem::take(&mut w.buf);
    buf.clear();
    let mut lines = Vec::with_capacity(events.len());
    let encode_err = |source| StoreError::Encode {
        record: "event",
        source,
    };
    let batch = BatchHeader::new(stream, recorded_at, total).map_err(encode_err)?;
    // Ids for the events that come without one: made here, under the writer lock, so ids
    // ascend along positions (what the index's id map is fastest with).
    let mut fresh =
        EventId::new_batch(events.iter().filter(|e| e.id().is_none()).count()).into_iter();
    // Batches mostly hold one type: it is escaped again only when it changes.
    let mut type_json: Option<(&str, Vec<u8>)> = None;
    for (i, event) in events.iter().enumerate() {
        let start = buf.len();
        let id = event
            .id()
            .or_else(|| fresh.next())
            .unwrap_or_else(EventId::new);
        let event_type = event.event_type();
        let type_json = match &mut type_json {
            Some((name, json)) if *name == event_type => json,
            slot => {
                &slot
                    .insert((event_type, json_string(event_type).map_err(encode_err)?))
                    .1
            }
        };
        let line = EventLine {
            position: first_position + i as u64,
            id,
            version: current + 1 + i as u64,
            event_type_json: type_json,
            event_version: event.event_version(),
            metadata: event.metadata(),
            index: i as u32 + 1,
            payload: event.payload().as_str(),
        };
        encode_event(&mut buf, &batch, &line).map_err(encode_err)?;
        lines.push((id, start, buf.len() - start));
    }
    w.buf = buf;
    let (segment, offset) = w.write_batch(shared.options.segment_size, |rolled| {
        shared.index_mut().segments.push(rolled);
    })?;
    drop(ticket);
    let target = w.written;
    {
        let mut index = shared.index_mut();
        let sid = index.intern_stream(stream);
        for (i, ((id, start, len), event)) in lines.into_iter().zip(&events).enumerate() {
            let event_type = index.intern_type(event.event_type());
            let entry = EventEntry {
                id: id.to_u128(),
                recorded_at: recorded_at.as_unix_nanos(),
                version: current + 1 + i as u64,
                offset: offset + start as u64,
                segment,
                len: u32::try_from(len).unwrap_or(u32::MAX),
                stream: sid,
                event_type,
                event_version: event.event_version(),
                kind: EntryKind::Event,
            };
            index
                .push_event(
                    first_position + i as u64,
                    entry,
                    event.metadata().correlation_id(),
                )
                .map_err(|reason| written_but_refused(&w.path, reason))?;
        }
    }
    drop(w);
    after_write(shared, target)?;
    Ok(AppendResult {
        stream_version: current + events.len() as u64,
        first_position,
        last_position: first_position + events.len() as u64 - 1,
    })
}

/// Links event `id` into `stream` (the [`EventStore::link_to_stream`](crate::EventStore) rules).
pub(crate) fn link(shared: &Shared, id: EventId, stream: &str) -> Result<u64, StoreError> {
    validate_stream_name(stream)?;
    let mut w = lock_writer(shared)?;
    let index = shared.index();
    let position = index.position_of(id).ok_or(StoreError::EventNotFound(id))?;
    let sid = index.stream_id(stream);
    if sid.is_some_and(|s| index.in_stream(position, s)) {
        return Err(StoreError::InvalidArgument(format!(
            "event {id} is already in stream `{stream}`"
        )));
    }
    let version = sid.map_or(0, |s| index.stream_version(s)) + 1;
    drop(index);
    let linked_at = Timestamp::now();
    let mut buf = std::mem::take(&mut w.buf);
    buf.clear();
    let record = LinkRecord {
        id,
        stream: stream.into(),
        version,
        linked_at,
    };
    encode_link(&mut buf, &record).map_err(|source| StoreError::Encode {
        record: "link",
        source,
    })?;
    w.buf = buf;
    w.write_batch(shared.options.segment_size, |rolled| {
        shared.index_mut().segments.push(rolled);
    })?;
    let target = w.written;
    {
        let mut index = shared.index_mut();
        let sid = index.intern_stream(stream);
        index
            .push_link(id, sid, version, linked_at)
            .map_err(|reason| written_but_refused(&w.path, reason))?;
    }
    drop(w);
    after_write(shared, target)?;
    Ok(version)
}
