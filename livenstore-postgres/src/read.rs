//! Reads: events by id, stream, position, type, time and correlation id; stream information; the
//! last position.
//!
//! Invariants:
//! - Every read is one statement, so it sees one snapshot. Appends commit one after another and
//!   each is visible before the next can commit, so a snapshot holds a prefix of the log: a read
//!   by position never sees a hole that a later read fills, and `last_position` (read from
//!   `log_head`, written in the same transaction as the events) is never ahead of what reads
//!   return.
//! - Stream names are checked ([`validate_stream_name`]) before any query.
//! - A read that loses its connection is run once more on a fresh one (reads write nothing).
//! - Rows are decoded by `codec`, which refuses stored values that break its rules.

use livenstore::backend::{validate_correlation_id, validate_event_type, validate_stream_name};
use livenstore::{EventId, LinkInfo, RecordedEvent, StoreError, StreamInfo, Timestamp};
use postgres::types::ToSql;
use postgres::Row;

use crate::codec::{bigint, correlation_id_key, EventDecoder, PgCount, PgId, PgTime};
use crate::connection;
use crate::error::{self, MISSING_HEAD};
use crate::inner::Inner;
use crate::sql::EVENT_COLUMN_COUNT;

/// Runs the statement `text` with `params` (once more after a lost connection) and decodes
/// each row with `decode`.
pub(crate) fn query<T>(
    inner: &Inner,
    operation: &'static str,
    text: &str,
    params: &[&(dyn ToSql + Sync)],
    mut decode: impl FnMut(&Row) -> Result<T, postgres::Error>,
) -> Result<Vec<T>, StoreError> {
    connection::run_statement(inner, operation, text, |conn, statement| {
        conn.query(statement, params)?
            .iter()
            .map(&mut decode)
            .collect()
    })
}

/// Events decoded from rows whose first columns are `sql::EVENT_COLUMNS`.
fn events(
    inner: &Inner,
    operation: &'static str,
    text: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut decoder = EventDecoder::default();
    query(inner, operation, text, params, |row| decoder.decode(row, 0))
}

/// The event with `id`, as appended.
pub(crate) fn read(inner: &Inner, id: EventId) -> Result<RecordedEvent, StoreError> {
    events(inner, "read", &inner.sql.read_by_id, &[&PgId(id)])?
        .pop()
        .ok_or(StoreError::EventNotFound(id))
}

/// Events and links of `stream` from `from_version`, in version order.
pub(crate) fn read_stream(
    inner: &Inner,
    stream: &str,
    from_version: u64,
    max_count: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    validate_stream_name(stream)?;
    if max_count == 0 {
        return Ok(Vec::new());
    }
    let mut decoder = EventDecoder::default();
    let params: [&(dyn ToSql + Sync); 3] =
        [&stream, &bigint(from_version), &bigint(max_count as u64)];
    query(
        inner,
        "read_stream",
        &inner.sql.read_stream,
        &params,
        |row| stream_row(&mut decoder, row, 0, stream),
    )
}

/// The event in a row of `read_stream`'s columns from column `first` (the event's, then the
/// link's version and time), with its link into `stream` when it was read through one.
pub(crate) fn stream_row(
    decoder: &mut EventDecoder,
    row: &Row,
    first: usize,
    stream: &str,
) -> Result<RecordedEvent, postgres::Error> {
    let event = decoder.decode(row, first)?;
    let link_version: Option<PgCount> = row.try_get(first + EVENT_COLUMN_COUNT)?;
    let linked_at: Option<PgTime> = row.try_get(first + EVENT_COLUMN_COUNT + 1)?;
    Ok(match (link_version, linked_at) {
        (Some(version), Some(linked_at)) => event.with_link(LinkInfo {
            stream: stream.to_owned(),
            version: version.0,
            linked_at: linked_at.timestamp(),
        }),
        _ => event,
    })
}

/// Events from `from_position`, in position order.
pub(crate) fn read_all(
    inner: &Inner,
    from_position: u64,
    max_count: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    if max_count == 0 {
        return Ok(Vec::new());
    }
    let params: [&(dyn ToSql + Sync); 2] = [&bigint(from_position), &bigint(max_count as u64)];
    events(inner, "read_all", &inner.sql.read_all, &params)
}

/// Events of `event_type` from `from_position`, in position order.
pub(crate) fn read_by_type(
    inner: &Inner,
    event_type: &str,
    from_position: u64,
    max_count: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    // No event of an invalid type can be stored (and a NUL byte cannot even be sent).
    if max_count == 0 || validate_event_type(event_type).is_err() {
        return Ok(Vec::new());
    }
    let params: [&(dyn ToSql + Sync); 3] = [
        &event_type,
        &bigint(from_position),
        &bigint(max_count as u64),
    ];
    events(inner, "read_by_type", &inner.sql.read_by_type, &params)
}

/// Events recorded in `[from, to)`. Stored times are whole microseconds, so both bounds are
/// rounded up to the next microsecond (see `codec::PgTime::ceil`).
pub(crate) fn read_time_range(
    inner: &Inner,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let (from, to) = (PgTime::ceil(from), PgTime::ceil(to));
    if from >= to {
        return Ok(Vec::new());
    }
    let params: [&(dyn ToSql + Sync); 2] = [&from, &to];
    events(
        inner,
        "read_time_range",
        &inner.sql.read_time_range,
        &params,
    )
}

/// Events whose metadata's correlation id is `correlation_id`, in position order: one lookup of
/// the index of migration 5 by the id's key, keeping the rows whose id is the one asked for
/// (ids with a quote may share a key).
pub(crate) fn read_correlated(
    inner: &Inner,
    correlation_id: &str,
) -> Result<Vec<RecordedEvent>, StoreError> {
    validate_correlation_id(correlation_id)?;
    let key = correlation_id_key(correlation_id);
    let mut found = events(
        inner,
        "read_correlated",
        &inner.sql.read_correlated,
        &[&key],
    )?;
    found.retain(|e| e.metadata().correlation_id() == Some(correlation_id));
    Ok(found)
}

fn stream_info_row(row: &Row) -> Result<StreamInfo, postgres::Error> {
    let version: PgCount = row.try_get(1)?;
    let first: PgTime = row.try_get(2)?;
    let last: PgTime = row.try_get(3)?;
    Ok(StreamInfo {
        stream: row.try_get(0)?,
        event_count: version.0,
        first_version: 1,
        last_version: version.0,
        first_recorded_at: first.timestamp(),
        last_recorded_at: last.timestamp(),
    })
}

/// What is known of `stream`.
pub(crate) fn stream_info(inner: &Inner, stream: &str) -> Result<Option<StreamInfo>, StoreError> {
    validate_stream_name(stream)?;
    Ok(query(
        inner,
        "stream_info",
        &inner.sql.stream_info,
        &[&stream],
        stream_info_row,
    )?
    .pop())
}

/// Every stream, sorted by name.
pub(crate) fn streams(inner: &Inner) -> Result<Vec<StreamInfo>, StoreError> {
    query(inner, "streams", &inner.sql.streams, &[], stream_info_row)
}

/// The last position (0 when the store is empty).
pub(crate) fn last_position(inner: &Inner) -> Result<u64, StoreError> {
    let positions = query(
        inner,
        "last_position",
        &inner.sql.last_position,
        &[],
        |row| row.try_get::<_, PgCount>(0),
    )?;
    match positions.first() {
        Some(position) => Ok(position.0),
        None => Err(error::invalid_stored("last_position", MISSING_HEAD)),
    }
}
