//! Rows as statement parameters: the column arrays of the event statements (`$1`..`$8` of
//! `Sql::write_group`, `Sql::insert_events` and `Sql::write_predicted`, and the event versions,
//! their last parameter), and a group's rows split into statements.
//!
//! Invariants:
//! - The arrays are in the rows' order, one element per row, in the order the statements'
//!   `unnest(...)` lists them.
//! - The event versions are the last parameter of every event statement.
//! - A statement holds at least one row, then rows up to [`STATEMENT_BYTES`] of payload, far
//!   below PostgreSQL's 1 GB message limit.

use crate::codec::{bigint, metadata_json, JsonText, PgId, PgTime};
use crate::connection::{Conn, DbFailure};
use crate::write::plan::{Plan, Row};

/// Payload bytes per write statement: far below PostgreSQL's 1 GB message limit.
const STATEMENT_BYTES: usize = 64 * 1024 * 1024;

/// A statement parameter.
pub(crate) type Param<'a> = &'a (dyn postgres::types::ToSql + Sync);

/// Rows as the column arrays of the event statements.
pub(crate) struct EventColumns<'a> {
    positions: Vec<i64>,
    ids: Vec<PgId>,
    streams: Vec<&'a str>,
    versions: Vec<i64>,
    types: Vec<&'a str>,
    metadata: Vec<Option<String>>,
    payloads: Vec<JsonText<'a>>,
    event_versions: Vec<i32>,
}

impl<'a> EventColumns<'a> {
    pub(crate) fn new(rows: &[Row<'a>]) -> Self {
        EventColumns {
            positions: rows.iter().map(|r| bigint(r.position)).collect(),
            ids: rows.iter().map(|r| PgId(r.id)).collect(),
            streams: rows.iter().map(|r| r.stream).collect(),
            versions: rows.iter().map(|r| bigint(r.version)).collect(),
            types: rows.iter().map(|r| r.event.event_type()).collect(),
            metadata: rows
                .iter()
                .map(|r| metadata_json(r.event.metadata()))
                .collect(),
            payloads: rows
                .iter()
                .map(|r| JsonText(r.event.payload().as_str()))
                .collect(),
            event_versions: rows.iter().map(|r| event_version(r.event)).collect(),
        }
    }

    pub(crate) fn metadata(&self) -> Vec<Option<JsonText<'_>>> {
        self.metadata
            .iter()
            .map(|m| m.as_deref().map(JsonText))
            .collect()
    }

    /// `$1`..`$8` of the event statements (`metadata` from [`metadata`](Self::metadata)).
    fn params<'s>(&'s self, metadata: Param<'s>, recorded_at: &'s PgTime) -> Vec<Param<'s>> {
        let mut params = self.columns(metadata);
        params.push(recorded_at);
        params
    }

    /// The event versions: the last parameter of every event statement.
    pub(crate) fn event_versions(&self) -> Param<'_> {
        &self.event_versions
    }

    /// `$1`..`$7` of the event statements: the columns without the time.
    pub(crate) fn columns<'s>(&'s self, metadata: Param<'s>) -> Vec<Param<'s>> {
        vec![
            &self.positions,
            &self.ids,
            &self.streams,
            &self.versions,
            &self.types,
            metadata,
            &self.payloads,
        ]
    }
}

/// Rows split into statements of at least one row, then up to [`STATEMENT_BYTES`] of payload.
pub(crate) struct Chunks<'r, 'a> {
    rest: &'r [Row<'a>],
}

impl<'r, 'a> Chunks<'r, 'a> {
    pub(crate) fn new(rows: &'r [Row<'a>]) -> Self {
        Chunks { rest: rows }
    }
}

impl<'r, 'a> Iterator for Chunks<'r, 'a> {
    type Item = &'r [Row<'a>];

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let (chunk, rest) = self.rest.split_at(chunk_len(self.rest));
        self.rest = rest;
        Some(chunk)
    }
}

/// How many of `rows` go into one statement: at least one, then up to [`STATEMENT_BYTES`].
pub(crate) fn chunk_len(rows: &[Row<'_>]) -> usize {
    let mut bytes = 0;
    for (i, row) in rows.iter().enumerate() {
        bytes += row.event.payload().len();
        if bytes > STATEMENT_BYTES && i > 0 {
            return i;
        }
    }
    rows.len()
}

/// Runs a write `statement` whose parameters are the event columns of `rows` (`$1`..`$8`,
/// recorded at `recorded_at`), then `more`, then the event versions.
pub(crate) fn execute_with_events(
    conn: &mut Conn,
    statement: &postgres::Statement,
    rows: &[Row<'_>],
    recorded_at: &PgTime,
    more: &[Param<'_>],
) -> Result<(), DbFailure> {
    let columns = EventColumns::new(rows);
    let metadata = columns.metadata();
    let mut params = columns.params(&metadata, recorded_at);
    params.extend_from_slice(more);
    params.push(columns.event_versions());
    conn.execute(statement, &params)
        .map_err(DbFailure::write_sent)?;
    Ok(())
}

/// An event's version as the `integer` column stores it (a version above `i32::MAX` is refused
/// by validation before any write).
fn event_version(event: &livenstore::NewEvent) -> i32 {
    i32::try_from(event.event_version()).unwrap_or(i32::MAX)
}

/// The new stream versions of a plan, as two columns.
pub(crate) fn stream_columns<'a>(plan: &Plan<'a>) -> (Vec<&'a str>, Vec<i64>) {
    plan.stream_versions
        .iter()
        .map(|&(stream, version)| (stream, bigint(version)))
        .unzip()
}
