//! The transaction of a group of appends.
//!
//! Four round trips, however many appends the group holds:
//! 1. `BEGIN` and the `log_head` row lock (one simple-protocol message);
//! 2. one statement reading, after the lock, the head (last position and time), the server's
//!    clock, the current versions of the group's streams and the stored events of the ids its
//!    callers gave;
//! 3. one statement writing every event, every stream version and the head, and notifying the
//!    new last position (a group over 64 MiB of payloads writes its events in several
//!    statements, the last one doing the rest);
//! 4. `COMMIT`.
//!
//! Between 2 and 3 every append is decided in memory (`plan`).
//!
//! Invariants:
//! - Positions come from `log_head.last_position`, read and written only under its row lock, in
//!   the same transaction as the events: they are gap-free, and position n is visible before
//!   n + 1 exists.
//! - `recorded_at` is the server's clock read under the lock, raised to `log_head.
//!   last_recorded_at` when the clock went back, and stored back: it never decreases along
//!   positions, across processes too.
//! - The notification (payload: the new last position in decimal) is sent only when positions
//!   were added; PostgreSQL delivers it at COMMIT, after the events are visible.
//! - A unique violation (a writer that does not take the lock) never panics and never fails the
//!   group's other appends: the group is run again one append per transaction (which now sees
//!   the foreign row, committed), and a violation of a lone append becomes
//!   [`StoreError::Conflict`] or [`StoreError::DuplicateEventId`].

use std::collections::HashMap;

use livenstore::{AppendResult, EventId, StoreError};

use crate::codec::{bigint, metadata_json, EventDecoder, JsonText, PgCount, PgId, PgTime};
use crate::connection::{self, locked_transaction, prepared, Conn, DbFailure, End, Failure};
use crate::error::{self, MISSING_HEAD};
use crate::group_commit::Group;
use crate::plan::{plan, AppendRequest, GroupState, Plan, Row};
use crate::store::Inner;

/// The operation named in errors.
const OPERATION: &str = "append";

/// Payload bytes per write statement: far below PostgreSQL's 1 GB message limit.
const STATEMENT_BYTES: usize = 64 * 1024 * 1024;

type Outcome = Result<AppendResult, StoreError>;

/// Where a transaction's requests come from: a group (taken off the queue once the lock is
/// held) or one request run alone.
trait Requests {
    fn requests(&mut self) -> &[AppendRequest];
}

impl Requests for Group<'_, AppendRequest, Outcome> {
    fn requests(&mut self) -> &[AppendRequest] {
        Group::requests(self)
    }
}

impl Requests for &AppendRequest {
    fn requests(&mut self) -> &[AppendRequest] {
        std::slice::from_ref(*self)
    }
}

/// Runs a group: one outcome per request, in order.
pub(crate) fn run_group(
    inner: &Inner,
    group: &mut Group<'_, AppendRequest, Outcome>,
) -> Vec<Outcome> {
    let failure = match attempt(inner, group) {
        Ok(outcomes) => return outcomes,
        Err(failure) => failure,
    };
    let requests = group.requests();
    if failure.unique_violation().is_some() {
        // Run again, each append alone: the others succeed, and the one that met the foreign
        // row now sees it (committed) and gets the error the rules give, or a mapped one.
        return requests
            .iter()
            .map(|request| alone(inner, request))
            .collect();
    }
    requests
        .iter()
        .map(|_| Err(failure.to_store_error(OPERATION, &inner.endpoint)))
        .collect()
}

/// Runs one request in a transaction of its own, turning a unique violation into the typed
/// error it means.
fn alone(inner: &Inner, request: &AppendRequest) -> Outcome {
    match attempt(inner, &mut &*request) {
        Ok(mut outcomes) => outcomes.pop().unwrap_or_else(|| {
            Err(error::invalid_stored(
                OPERATION,
                "the group gave no outcome",
            ))
        }),
        Err(failure) => match failure.unique_violation() {
            Some(constraint) => violation(inner, request, constraint, &failure),
            None => Err(failure.to_store_error(OPERATION, &inner.endpoint)),
        },
    }
}

/// The error a unique violation of `constraint` means for `request`.
fn violation(
    inner: &Inner,
    request: &AppendRequest,
    constraint: &str,
    failure: &Failure,
) -> Outcome {
    match constraint {
        "events_stream_version_key" | "links_pkey" => {
            let actual = connection::run(inner, |conn| {
                let statement =
                    prepared(conn, &inner.sql.stored_version).map_err(DbFailure::before_write)?;
                let row = conn
                    .query_one(&statement, &[&request.stream])
                    .map_err(DbFailure::before_write)?;
                row.try_get::<_, PgCount>(0)
                    .map_err(DbFailure::before_write)
            })
            .map_err(|f| f.to_store_error(OPERATION, &inner.endpoint))?;
            Err(StoreError::Conflict {
                stream: request.stream.clone(),
                expected: request.expected,
                actual: actual.0,
            })
        }
        "events_id_key" => {
            let detail = match failure {
                Failure::Db { error, .. } => error.get().as_db_error().and_then(|d| d.detail()),
                Failure::Pool(_) => None,
            };
            let id = detail
                .and_then(id_in_detail)
                .or_else(|| request.events.iter().find_map(|e| e.id()));
            match id {
                Some(id) => Err(StoreError::DuplicateEventId {
                    id,
                    reason: "a concurrent writer stored it",
                }),
                None => Err(failure.to_store_error(OPERATION, &inner.endpoint)),
            }
        }
        _ => Err(failure.to_store_error(OPERATION, &inner.endpoint)),
    }
}

/// The uuid in a unique violation's detail: `Key (id)=(0190...-...) already exists.`
fn id_in_detail(detail: &str) -> Option<EventId> {
    let start = detail.find(")=(")? + 3;
    let text = &detail[start..];
    let text = &text[..text.find(')')?];
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    u128::from_str_radix(&hex, 16).ok().map(EventId::from_u128)
}

/// One transaction for `source`'s requests, asked for once the lock is held (run again on a
/// fresh connection when the connection was lost before the write was sent).
fn attempt(inner: &Inner, source: &mut impl Requests) -> Result<Vec<Outcome>, Failure> {
    connection::run(inner, |conn| {
        locked_transaction(conn, &inner.sql.lock, |conn| {
            let requests = source.requests();
            let Some(state) = read_state(conn, inner, requests)? else {
                let outcomes = requests
                    .iter()
                    .map(|_| Err(error::invalid_stored(OPERATION, MISSING_HEAD)))
                    .collect();
                return Ok((outcomes, End::Rollback));
            };
            let plan = plan(requests, &state);
            if plan.rows.is_empty() {
                return Ok((plan.outcomes, End::Rollback));
            }
            write(conn, inner, &plan, state.recorded_at)?;
            Ok((plan.outcomes, End::Commit))
        })
    })
}

/// Step 2: what the group's decisions depend on, or `None` when the head row is missing.
fn read_state(
    conn: &mut Conn,
    inner: &Inner,
    requests: &[AppendRequest],
) -> Result<Option<GroupState>, DbFailure> {
    let mut streams: Vec<&str> = requests.iter().map(|r| r.stream.as_str()).collect();
    streams.sort_unstable();
    streams.dedup();
    let ids: Vec<PgId> = requests
        .iter()
        .flat_map(|r| r.events.iter().filter_map(|e| e.id()))
        .map(PgId)
        .collect();
    let statement = prepared(conn, &inner.sql.group_state).map_err(DbFailure::before_write)?;
    let rows = conn
        .query(&statement, &[&streams, &ids])
        .map_err(DbFailure::before_write)?;
    let mut state = GroupState {
        versions: HashMap::with_capacity(streams.len()),
        ..GroupState::default()
    };
    let mut head = false;
    let mut decoder = EventDecoder::default();
    for row in &rows {
        let kind: i32 = row.try_get(0).map_err(DbFailure::before_write)?;
        match kind {
            1 => {
                let position: PgCount = row.try_get(1).map_err(DbFailure::before_write)?;
                let last: PgTime = row.try_get(6).map_err(DbFailure::before_write)?;
                let now: PgTime = row.try_get(9).map_err(DbFailure::before_write)?;
                state.last_position = position.0;
                state.recorded_at = now.max(last);
                head = true;
            }
            2 => {
                let stream: String = row.try_get(3).map_err(DbFailure::before_write)?;
                let version: PgCount = row.try_get(4).map_err(DbFailure::before_write)?;
                state.versions.insert(stream, version.0);
            }
            _ => {
                let event = decoder.decode(row, 1).map_err(DbFailure::before_write)?;
                state.stored.insert(event.id(), event);
            }
        }
    }
    Ok(head.then_some(state))
}

/// Step 3: writes the plan's events, stream versions and head, and notifies.
fn write(
    conn: &mut Conn,
    inner: &Inner,
    plan: &Plan<'_>,
    recorded_at: PgTime,
) -> Result<(), DbFailure> {
    let statement = prepared(conn, &inner.sql.write_group).map_err(DbFailure::before_write)?;
    let last_position = bigint(plan.last_position);
    let mut rest: &[Row<'_>] = &plan.rows;
    while !rest.is_empty() {
        let (chunk, after) = rest.split_at(chunk_len(rest));
        rest = after;
        let last_chunk = rest.is_empty();
        let metadata: Vec<Option<String>> = chunk
            .iter()
            .map(|r| metadata_json(r.event.metadata()))
            .collect();
        let (stream_names, stream_versions): (Vec<&str>, Vec<i64>) = if last_chunk {
            plan.stream_versions
                .iter()
                .map(|&(stream, version)| (stream, bigint(version)))
                .unzip()
        } else {
            (Vec::new(), Vec::new())
        };
        let params: [&(dyn postgres::types::ToSql + Sync); 13] = [
            &chunk
                .iter()
                .map(|r| bigint(r.position))
                .collect::<Vec<i64>>(),
            &chunk.iter().map(|r| PgId(r.id)).collect::<Vec<PgId>>(),
            &chunk.iter().map(|r| r.stream).collect::<Vec<&str>>(),
            &chunk
                .iter()
                .map(|r| bigint(r.version))
                .collect::<Vec<i64>>(),
            &chunk
                .iter()
                .map(|r| r.event.event_type())
                .collect::<Vec<&str>>(),
            &metadata
                .iter()
                .map(|m| m.as_deref().map(JsonText))
                .collect::<Vec<_>>(),
            &chunk
                .iter()
                .map(|r| JsonText(r.event.payload().as_str()))
                .collect::<Vec<_>>(),
            &recorded_at,
            &stream_names,
            &stream_versions,
            &last_position,
            &inner.channel,
            &last_chunk,
        ];
        conn.execute(&statement, &params)
            .map_err(DbFailure::write_sent)?;
    }
    Ok(())
}

/// How many of `rows` go into one statement: at least one, then up to [`STATEMENT_BYTES`].
fn chunk_len(rows: &[Row<'_>]) -> usize {
    let mut bytes = 0;
    for (i, row) in rows.iter().enumerate() {
        bytes += row.event.payload().len();
        if bytes > STATEMENT_BYTES && i > 0 {
            return i;
        }
    }
    rows.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_of_a_unique_violation_is_read_from_its_detail() {
        let id = EventId::from_u128(0x0190_0a5d_ac96_774b_bcce_b302_099a_8057);
        let detail = "Key (id)=(01900a5d-ac96-774b-bcce-b302099a8057) already exists.";
        assert_eq!(id_in_detail(detail), Some(id));
        assert_eq!(id_in_detail("Key (id)=(nonsense) already exists."), None);
        assert_eq!(id_in_detail("no key here"), None);
    }
}
