//! The read that loads an aggregate from its snapshot: the snapshot and its stream's events from
//! the snapshot's version, in one statement (`Sql::snapshot_and_tail`), so a load costs one round
//! trip to the server.
//!
//! Invariants:
//! - Keys and the stream name are validated before any SQL runs and reach the server as bound
//!   parameters.
//! - Both branches of the statement read one snapshot (the table's row) and the stream at one
//!   snapshot of the database: what is returned is consistent, the snapshot never newer than the
//!   events read beside it.
//! - The events are returned in stream-version order (the client sorts them: the statement has no
//!   outer ORDER BY, which would cost the server a sort of the whole result).

use livenstore::backend::validate_stream_name;
use livenstore::store::{validate_snapshot_key, Snapshot};
use livenstore::{RecordedEvent, StoreError};

use crate::codec::{bigint, snapshot_row, EventDecoder};
use crate::inner::Inner;
use crate::read::{query, stream_row};

/// One row of `Sql::snapshot_and_tail`: the snapshot, or an event.
enum TailRow {
    Snapshot(Snapshot),
    Event(RecordedEvent),
}

/// [`EventStore::snapshot_and_tail`](livenstore::EventStore::snapshot_and_tail) in one
/// statement: the snapshot and the stream's events from its version.
pub(crate) fn snapshot_and_tail(
    inner: &Inner,
    aggregate_type: &str,
    aggregate_id: &str,
    stream: &str,
    max_count: usize,
) -> Result<Option<(Snapshot, Vec<RecordedEvent>)>, StoreError> {
    validate_snapshot_key(aggregate_type, aggregate_id)?;
    validate_stream_name(stream)?;
    let mut decoder = EventDecoder::default();
    let limit = bigint(max_count as u64);
    let rows = query(
        inner,
        "snapshot_and_tail",
        &inner.sql.snapshot_and_tail,
        &[&aggregate_type, &aggregate_id, &stream, &limit],
        |row| {
            let kind: i32 = row.try_get(0)?;
            if kind == 1 {
                return Ok(TailRow::Event(stream_row(&mut decoder, row, 6, stream)?));
            }
            Ok(TailRow::Snapshot(snapshot_row(
                row,
                1,
                aggregate_type,
                aggregate_id,
            )?))
        },
    )?;
    let mut snapshot = None;
    let mut tail = Vec::with_capacity(rows.len());
    for row in rows {
        match row {
            TailRow::Snapshot(found) => snapshot = Some(found),
            TailRow::Event(event) => tail.push(event),
        }
    }
    // Already in order, in practice (each branch is ordered): a pass that finds it so.
    tail.sort_by_key(RecordedEvent::stream_version);
    Ok(snapshot.map(|snapshot| (snapshot, tail)))
}
