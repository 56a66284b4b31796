//! The transactions of a group of appends.
//!
//! A group runs *locked*, in three or four round trips however many appends it holds:
//! 1. `BEGIN` and the `log_head` row lock (one simple-protocol message), with the read (2) in
//!    the same message when the group holds at least [`READ_WITH_LOCK_EVENTS`] events and no
//!    caller gave an event id (`state`);
//! 2. the read, after the lock: the head (last position, last write id and time), the server's
//!    clock, the current versions of the group's streams and the stored events of the ids its
//!    callers gave;
//! 3. one statement writing every event, every stream version and the head, and notifying the
//!    new last position (a group over 64 MiB of payloads writes its events in several
//!    statements, the last one doing the rest);
//! 4. `COMMIT`.
//!
//! Between 2 and 3 every append is decided in memory (`plan`).
//!
//! Or, when it runs alone and the chain of groups before it predicts what it would read, in
//! *one statement* (`predicted`). Or, while another group of this store runs, *pipelined*
//! (`pipeline`), in four: `BEGIN` with
//! the same read, without the lock; the events; `finalize_group`, which takes the lock and
//! writes the head and stream versions only if the head is still the one the group before it
//! wrote; `COMMIT`. Only the last two happen under the lock. A group whose callers gave event
//! ids runs locked (its idempotency checks read stored events), and so does one whose check
//! fails, again, from the start.
//!
//! Invariants:
//! - Positions come from `log_head.last_position`, read and written only under its row lock, in
//!   the same transaction as the events: they are gap-free, and position n is visible before
//!   n + 1 exists.
//! - `recorded_at` is the server's clock read in the transaction (under the lock, or for a
//!   pipelined group before it, raised to its predecessor's time and checked under the lock
//!   with the rest of the head), raised to `log_head.last_recorded_at` when the clock went
//!   back, and stored back: it never decreases along positions, across processes too.
//! - The notification (payload: the new last position in decimal) is sent only when positions
//!   were added; PostgreSQL delivers it at COMMIT, after the events are visible.
//! - A unique violation (a writer that does not take the lock) never panics and never fails the
//!   group's other appends: the group is run again one append per transaction (which now sees
//!   the foreign row, committed), and a violation of a lone append becomes
//!   [`StoreError::Conflict`] or [`StoreError::DuplicateEventId`].

use livenstore::pubsub::RetryPolicy;
use livenstore::{AppendResult, EventId, StoreError};

use crate::codec::{bigint, PgCount, PgTime};
use crate::connection::{self, prepared, write_transaction, Conn, DbFailure, End, Failure, Stage};
use crate::error;
use crate::inner::Inner;
use crate::write::columns::{execute_with_events, stream_columns, Chunks, Param};
use crate::write::group_commit::Group;
use crate::write::pipeline::{write_id, Turn};
use crate::write::plan::{plan, AppendRequest, GroupState, Plan, Row};
use crate::write::{predicted, state};

/// The operation named in errors.
const OPERATION: &str = "append";

type Outcome = Result<AppendResult, StoreError>;

/// Where a transaction's requests come from: a group (taken off the queue once the lock is
/// held) or one request run alone.
trait Requests {
    fn requests(&self) -> &[AppendRequest];
    /// Whether the requests are taken already or would make a group of at least `events`
    /// events if taken now.
    fn taken_or_at_least(&self, events: usize) -> bool;
    /// Whether `turn` could decide the requests (taken, or queued now) in one statement.
    fn predictable(&self, turn: &Turn<'_>) -> bool;
    /// The requests' events are written: what is left is the lock and the commit.
    fn written(&self);
}

impl Requests for Group<'_, AppendRequest, Outcome> {
    fn requests(&self) -> &[AppendRequest] {
        Group::requests(self)
    }

    fn taken_or_at_least(&self, events: usize) -> bool {
        Group::taken_or_at_least(self, events)
    }

    fn predictable(&self, turn: &Turn<'_>) -> bool {
        self.peek(|requests| turn.predicted(requests).is_some())
    }

    fn written(&self) {
        Group::written(self);
    }
}

impl Requests for &AppendRequest {
    fn requests(&self) -> &[AppendRequest] {
        std::slice::from_ref(*self)
    }

    fn taken_or_at_least(&self, _: usize) -> bool {
        true
    }

    fn predictable(&self, turn: &Turn<'_>) -> bool {
        turn.predicted([*self]).is_some()
    }

    fn written(&self) {}
}

/// The events a locked group must hold for its requests to be taken before the lock (its read
/// then goes with the lock, one round trip fewer). A smaller group takes its requests once it
/// holds the lock instead, so that appends queued meanwhile join it: for small appends a bigger
/// group saves more than the round trip.
const READ_WITH_LOCK_EVENTS: usize = 64;

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
    match attempt(inner, &request) {
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

/// One transaction for `source`'s requests: pipelined when it can be, else in one statement
/// when the chain predicts its state (`predicted`), else (or when a check failed) locked; run
/// again on a fresh connection when the connection was lost before the write was sent, and
/// resolved when a one-statement group lost its connection.
fn attempt(inner: &Inner, source: &impl Requests) -> Result<Vec<Outcome>, Failure> {
    let mut lost = None;
    let result = connection::run(inner, |conn| {
        let mut first = Some(inner.pipeline.enter(true));
        if let Some(turn) = first.take_if(|turn| turn.pipelined()) {
            match pipelined(conn, inner, source, turn) {
                Ok(Some(outcomes)) => return Ok(outcomes),
                // The check failed, or the group could not run pipelined.
                Ok(None) => {}
                // Rolled back before COMMIT with the connection alive (a deadlock with a writer
                // of another process, a unique violation on a row a mistaken prediction wrote):
                // nothing is stored, and the locked transaction decides afresh.
                Err(failure)
                    if !matches!(failure.stage, Stage::CommitSent | Stage::Unknown)
                        && !error::is_connection_lost(&failure.error) => {}
                Err(failure) => return Err(failure),
            }
        }
        // Requests are taken only when they can be predicted: else a small locked group takes
        // them once it holds the lock, so that more join.
        if let Some(turn) = first.as_mut().filter(|turn| {
            // Decided against the chain as the groups before it leave it.
            turn.wait_to_plan();
            turn.wait_to_lock();
            source.predictable(turn)
        }) {
            if let Some(outcomes) = predicted::run(conn, inner, source.requests(), turn, &mut lost)?
            {
                return Ok(outcomes);
            }
        }
        let mut tries = DEADLOCK_TRIES;
        loop {
            let turn = first.take().unwrap_or_else(|| inner.pipeline.enter(false));
            match locked(conn, inner, source, turn) {
                // Another process's pipelined group and this one each waited for the other,
                // and the server rolled this one back: nothing is stored.
                Err(failure) if tries > 1 && error::is_deadlock(&failure.error) => {
                    // A short pause, longer each time and drawn at random, so the two writers
                    // do not meet again in the same order at once.
                    std::thread::sleep(DEADLOCK_BACKOFF.delay(DEADLOCK_TRIES - tries + 1));
                    tries -= 1;
                }
                outcome => return outcome,
            }
        }
    });
    match (result, lost) {
        (Err(failure), Some(lost)) => predicted::resolve(inner, lost, failure),
        (result, _) => result,
    }
}

/// How many times a locked group runs when the server keeps rolling it back to break
/// deadlocks (each rollback stored nothing). Under load a pipelined group of another process and
/// this one's can meet more than twice in a row; 8 tries with growing pauses (jittered, from 2 ms)
/// outlast that without hiding a writer that deadlocks for good.
const DEADLOCK_TRIES: u32 = 8;

/// The pauses between those tries: from 2 ms, doubling up to 20 ms, each drawn between half and
/// all of it.
const DEADLOCK_BACKOFF: RetryPolicy = RetryPolicy {
    max_attempts: DEADLOCK_TRIES,
    initial_backoff: std::time::Duration::from_millis(2),
    max_backoff: std::time::Duration::from_millis(20),
    jitter: true,
};

/// Every request of the group fails with `reason` (stored data the store cannot use).
fn all_invalid(requests: &[AppendRequest], reason: &str) -> Vec<Outcome> {
    requests
        .iter()
        .map(|_| Err(error::invalid_stored(OPERATION, reason)))
        .collect()
}

/// The locked transaction: lock and read (one round trip when no caller gave an event id),
/// decide, write, commit.
fn locked(
    conn: &mut Conn,
    inner: &Inner,
    source: &impl Requests,
    mut turn: Turn<'_>,
) -> Result<Vec<Outcome>, DbFailure> {
    turn.wait_to_plan();
    turn.wait_to_lock();
    if !source.taken_or_at_least(READ_WITH_LOCK_EVENTS) {
        return locked_then_read(conn, inner, source, turn);
    }
    let requests = source.requests();
    if requests.is_empty() {
        // Other leaders took every queued request.
        return Ok(Vec::new());
    }
    let open = |conn: &mut Conn| open_and_read(conn, inner, &inner.sql.lock, requests);
    let outcomes = write_transaction(conn, open, |conn, read| {
        turn.mark_locked();
        decide_and_write(conn, inner, source, read, &mut turn)
    })?;
    turn.done();
    Ok(outcomes)
}

/// The locked transaction of a small group: lock, then take the requests (appends queued
/// while the lock was asked for join), read, decide, write, commit.
fn locked_then_read(
    conn: &mut Conn,
    inner: &Inner,
    source: &impl Requests,
    mut turn: Turn<'_>,
) -> Result<Vec<Outcome>, DbFailure> {
    let lock = |conn: &mut Conn| connection::send(conn, &inner.sql.lock);
    let outcomes = write_transaction(conn, lock, |conn, ()| {
        turn.mark_locked();
        let requests = source.requests();
        if requests.is_empty() {
            // Other leaders took every queued request.
            return Ok((Vec::new(), End::Rollback));
        }
        let read = state::read(conn, inner, requests)?;
        decide_and_write(conn, inner, source, read, &mut turn)
    })?;
    turn.done();
    Ok(outcomes)
}

/// A locked group, after its read of `source`'s (taken) requests: decides, writes, and says
/// how the transaction ends.
fn decide_and_write(
    conn: &mut Conn,
    inner: &Inner,
    source: &impl Requests,
    read: state::Read,
    turn: &mut Turn<'_>,
) -> Result<(Vec<Outcome>, End), DbFailure> {
    let requests = source.requests();
    let state = match read {
        Ok(state) => state,
        Err(reason) => return Ok((all_invalid(requests, &reason), End::Rollback)),
    };
    let plan = plan(requests, &state);
    let id = write_id();
    turn.planned_locked(&state, &plan, id);
    if plan.rows.is_empty() {
        return Ok((plan.outcomes, End::Rollback));
    }
    write(conn, inner, &plan, state.recorded_at, id)?;
    source.written();
    Ok((plan.outcomes, End::Commit))
}

/// The pipelined transaction: open and read (one round trip), decide against the chain, write
/// the events, then lock and check. `None` when the group must run locked instead (nothing of
/// it is stored).
fn pipelined(
    conn: &mut Conn,
    inner: &Inner,
    source: &impl Requests,
    mut turn: Turn<'_>,
) -> Result<Option<Vec<Outcome>>, DbFailure> {
    let requests = source.requests();
    if requests.is_empty() {
        // Other leaders took every queued request.
        return Ok(Some(Vec::new()));
    }
    if state::has_event_ids(requests) {
        return Ok(None);
    }
    let open = |conn: &mut Conn| state::open_and_read(conn, inner, &inner.sql.begin, requests);
    write_transaction(conn, open, |conn, read| {
        let Ok(read) = read else {
            return Ok((None, End::Rollback));
        };
        turn.wait_to_plan();
        let streams: Vec<&str> = requests.iter().map(|r| r.stream.as_str()).collect();
        let Some(state) = turn.predecessor(&read, &streams) else {
            return Ok((None, End::Rollback));
        };
        let plan = plan(requests, &state);
        let id = write_id();
        turn.planned_pipelined(&plan, state.recorded_at, id);
        for chunk in Chunks::new(&plan.rows) {
            insert_events(conn, inner, chunk, state.recorded_at)?;
        }
        source.written();
        turn.wait_to_lock();
        let as_planned = finalize(conn, inner, &plan, &state, id)?;
        turn.mark_locked();
        if !as_planned {
            return Ok((None, End::Rollback));
        }
        Ok((Some(plan.outcomes), End::Commit))
    })
    .inspect(|outcomes| {
        if outcomes.is_some() {
            turn.done();
        }
    })
}

/// Opens the transaction with `open` (`Sql::lock` or `Sql::begin`) and reads the group's
/// state: in the same message when no caller gave an event id.
fn open_and_read(
    conn: &mut Conn,
    inner: &Inner,
    open: &str,
    requests: &[AppendRequest],
) -> Result<state::Read, DbFailure> {
    if state::has_event_ids(requests) {
        connection::send(conn, open)?;
        state::read(conn, inner, requests)
    } else {
        state::open_and_read(conn, inner, open, requests)
    }
}

/// Step 3 of a locked group: writes the plan's events, stream versions and head (last write
/// `id`), and notifies.
fn write(
    conn: &mut Conn,
    inner: &Inner,
    plan: &Plan<'_>,
    recorded_at: PgTime,
    id: i64,
) -> Result<(), DbFailure> {
    let statement = prepared(conn, &inner.sql.write_group).map_err(DbFailure::before_write)?;
    let last_position = bigint(plan.last_position);
    let mut chunks = Chunks::new(&plan.rows).peekable();
    while let Some(chunk) = chunks.next() {
        let last_chunk = chunks.peek().is_none();
        let (stream_names, stream_versions) = if last_chunk {
            stream_columns(plan)
        } else {
            (Vec::new(), Vec::new())
        };
        let more: [Param<'_>; 6] = [
            &stream_names,
            &stream_versions,
            &last_position,
            &inner.channel,
            &last_chunk,
            &id,
        ];
        execute_with_events(conn, &statement, chunk, &recorded_at, &more)?;
    }
    Ok(())
}

/// The events of a pipelined group (some of them, when it has more than one statement's
/// worth), before its lock.
fn insert_events(
    conn: &mut Conn,
    inner: &Inner,
    rows: &[Row<'_>],
    recorded_at: PgTime,
) -> Result<(), DbFailure> {
    let statement = prepared(conn, &inner.sql.insert_events).map_err(DbFailure::before_write)?;
    execute_with_events(conn, &statement, rows, &recorded_at, &[])
}

/// The end of a pipelined group: takes the lock and, if the head is what `state` (the chain's)
/// says, writes the head (last write `id`) and the stream versions, and notifies. Returns
/// whether it did.
fn finalize(
    conn: &mut Conn,
    inner: &Inner,
    plan: &Plan<'_>,
    state: &GroupState,
    id: i64,
) -> Result<bool, DbFailure> {
    let statement = prepared(conn, &inner.sql.finalize_group).map_err(DbFailure::before_write)?;
    let (stream_names, stream_versions) = stream_columns(plan);
    let notify = !plan.rows.is_empty();
    let params: [&(dyn postgres::types::ToSql + Sync); 9] = [
        &bigint(plan.last_position),
        &state.recorded_at,
        &id,
        &state.last_write,
        &bigint(state.last_position),
        &stream_names,
        &stream_versions,
        &inner.channel,
        &notify,
    ];
    let row = conn
        .query_one(&statement, &params)
        .map_err(DbFailure::write_sent)?;
    row.try_get(0).map_err(DbFailure::write_sent)
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
