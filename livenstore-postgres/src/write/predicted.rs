//! A group of appends in one statement and one round trip, decided against a prediction.
//!
//! A locked group (`append`) costs three or four round trips: `BEGIN` with the lock and the
//! read, the write, `COMMIT`. When the group runs alone and the chain (`pipeline`) knows the
//! state its appends depend on, that read is not needed: the chain already says what the head
//! and the group's streams will be once the groups before it are committed. The group is then
//! decided in memory against that prediction and sent as one statement outside any
//! transaction (`Sql::write_predicted`): it takes the `log_head` lock, and writes only if the
//! head is still the one the chain's last write left. PostgreSQL runs the statement in a
//! transaction of its own and commits it before it answers.
//!
//! Invariants:
//! - Only a group whose every append stores events is sent (no refusal and no no-op, whose
//!   outcome would rest on a prediction the statement does not check), and only when no caller
//!   gave an event id (the idempotency rule reads stored events) and its events fit in one
//!   statement.
//! - The head check is the pipelined one (`last_write` and `last_position` as the chain says):
//!   no other write came after the chain's last one, so the versions the chain holds are the
//!   stored ones. A stream the chain does not hold is predicted absent only when its append
//!   expects it absent, and its row is written by a plain INSERT, which fails when the stream
//!   exists after all (created before the chain began, or linked to).
//! - A statement that answered with a failed check or with a server error stored nothing (its
//!   transaction rolled back, or wrote the head back unchanged): the group runs again, locked,
//!   in the same turn.
//! - A statement whose connection was lost may still be running on the server, or may have
//!   committed. On another connection, a transaction then takes the head lock and sets a fresh
//!   `last_write` (so the lost statement's check fails if it has not taken the lock yet), and
//!   reads whether the group's first event is stored: then the group committed, else it never
//!   will. Only when that transaction fails too is the outcome unknown.
//! - `recorded_at` is the server's clock read under the lock, raised to the head's
//!   `last_recorded_at`, and stored back: it never decreases along positions.

use livenstore::{AppendResult, EventId, StoreError};
use postgres::IsolationLevel;

use crate::codec::{bigint, PgId};
use crate::connection::{self, prepared, Conn, DbFailure, Failure, Stage};
use crate::error;
use crate::inner::Inner;
use crate::write::columns::{chunk_len, stream_columns, EventColumns, Param};
use crate::write::pipeline::{write_id, Turn};
use crate::write::plan::{plan, AppendRequest};
use crate::write::state;

type Outcome = Result<AppendResult, StoreError>;

/// Runs `requests` in one statement when they can be, in `turn` (a locked turn). `None` when
/// they cannot, or nothing was stored: the caller runs them locked, in the same turn. When the
/// connection is lost, `lost` says what to [`resolve`].
pub(crate) fn run(
    conn: &mut Conn,
    inner: &Inner,
    requests: &[AppendRequest],
    turn: &mut Turn<'_>,
    lost: &mut Option<Lost>,
) -> Result<Option<Vec<Outcome>>, DbFailure> {
    if requests.is_empty() || state::has_event_ids(requests) {
        return Ok(None);
    }
    turn.wait_to_plan();
    turn.wait_to_lock();
    let Some(prediction) = turn.predicted(requests) else {
        return Ok(None);
    };
    let plan = plan(requests, &prediction.state);
    let every_append_stores =
        requests.iter().all(|r| !r.events.is_empty()) && plan.outcomes.iter().all(Result::is_ok);
    if !every_append_stores || chunk_len(&plan.rows) < plan.rows.len() {
        return Ok(None);
    }
    let statement = prepared(conn, &inner.sql.write_predicted).map_err(DbFailure::before_write)?;
    let (streams, versions) = stream_columns(&plan);
    let (mut absent, mut known) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
    for (stream, version) in streams.into_iter().zip(versions) {
        let side = if prediction.absent.contains(stream) {
            &mut absent
        } else {
            &mut known
        };
        side.0.push(stream);
        side.1.push(version);
    }
    let columns = EventColumns::new(&plan.rows);
    let metadata = columns.metadata();
    let mut params = columns.columns(&metadata);
    let id = write_id();
    let state = &prediction.state;
    let (last_position, predicted_position) =
        (bigint(plan.last_position), bigint(state.last_position));
    params.extend([
        &state.last_write as Param<'_>,
        &predicted_position,
        &last_position,
        &id,
        &absent.0,
        &absent.1,
        &known.0,
        &known.1,
        &inner.channel,
        columns.event_versions(),
    ]);
    turn.deciding();
    let answer = match conn.query(&statement, &params) {
        // The server refused the statement (a stream predicted absent exists, a deadlock, a
        // unique violation by a writer that does not take the lock): its transaction rolled
        // back. The locked run decides with what it reads.
        Err(error) if error.as_db_error().is_some() && !error::is_connection_lost(&error) => {
            turn.not_stored();
            return Ok(None);
        }
        Err(error) => Err(error),
        Ok(rows) => rows
            .first()
            .map(|row| Ok::<_, postgres::Error>((row.try_get(0)?, row.try_get(1)?)))
            .transpose(),
    };
    match answer {
        Ok(Some((true, recorded_at))) => {
            turn.committed_predicted(&plan, recorded_at, id);
            Ok(Some(plan.outcomes))
        }
        // Not as predicted (the head written back unchanged), or no head row (nothing
        // written; the locked run reports it).
        Ok(Some((false, _)) | None) => {
            turn.not_stored();
            Ok(None)
        }
        // Lost with the connection, or an answer that does not decode: it may have committed,
        // and `resolve` finds out once this connection is dropped.
        Err(error) => {
            *lost = Some(Lost {
                first: plan.rows[0].id,
                outcomes: plan.outcomes,
            });
            Err(DbFailure {
                error,
                stage: Stage::CommitSent,
            })
        }
    }
}

/// A group whose statement lost its connection: what its callers get if it was stored.
#[derive(Debug)]
pub(crate) struct Lost {
    /// The group's first event.
    first: EventId,
    outcomes: Vec<Outcome>,
}

/// After the statement of `lost` failed with `failure` (its connection lost, and dropped, or
/// its answer unreadable):
/// whether it was stored, decided so that it stays so (see the module's invariants). Its
/// outcomes when it was; `failure` when it was not (the outcome known), or when that cannot be
/// found out (the outcome unknown).
pub(crate) fn resolve(
    inner: &Inner,
    lost: Lost,
    failure: Failure,
) -> Result<Vec<Outcome>, Failure> {
    let stored = connection::run(inner, |conn| {
        let mut find = || -> Result<bool, postgres::Error> {
            let mut transaction = conn
                .build_transaction()
                .isolation_level(IsolationLevel::ReadCommitted)
                .start()?;
            transaction.execute(&inner.sql.bump_write, &[&write_id()])?;
            let found = transaction.query(&inner.sql.read_by_id, &[&PgId(lost.first)])?;
            transaction.commit()?;
            Ok(!found.is_empty())
        };
        find().map_err(DbFailure::before_write)
    });
    match stored {
        Ok(true) => Ok(lost.outcomes),
        Ok(false) => Err(failure.not_stored()),
        Err(_) => Err(failure.outcome_unknown()),
    }
}

/// Against the test server (the `testing` feature): what a lone writer's statements store, and
/// how a prediction that does not hold falls back.
#[cfg(all(test, feature = "testing"))]
mod tests {
    use std::time::{Duration, Instant};

    use livenstore::{AppendResult, EventId, EventStore, ExpectedVersion, NewEvent, StoreError};

    use super::{resolve, Lost};
    use crate::connection::{Failure, Stage};
    use crate::error::ClientError;
    use crate::testing::TestSchema;
    use crate::PostgresStore;

    fn tick(n: u32) -> Vec<NewEvent> {
        vec![NewEvent::from_json("Tick", format!(r#"{{"n":{n}}}"#)).unwrap()]
    }

    fn predicted(store: &PostgresStore) -> u64 {
        store.inner.pipeline.predicted_commits()
    }

    /// (stream version, first position) of an append.
    fn append(store: &PostgresStore, stream: &str, expected: ExpectedVersion) -> (u64, u64) {
        let result = store.append(stream, expected, tick(0)).unwrap();
        (result.stream_version, result.first_position)
    }

    #[test]
    fn a_lone_writer_stores_in_one_statement_what_it_reports() {
        let Some(test) = TestSchema::new() else {
            return;
        };
        let store = test.connect();
        assert_eq!(append(&store, "a", ExpectedVersion::NoStream), (1, 1));
        assert_eq!(
            predicted(&store),
            0,
            "the first group reads: there is no chain"
        );
        assert_eq!(append(&store, "a", ExpectedVersion::Any), (2, 2));
        assert_eq!(append(&store, "b", ExpectedVersion::NoStream), (1, 3));
        assert_eq!(append(&store, "b", ExpectedVersion::Exact(1)), (2, 4));
        let several = vec![tick(1).remove(0), tick(2).remove(0)];
        let result = store
            .append("a", ExpectedVersion::Exact(2), several)
            .unwrap();
        assert_eq!((result.stream_version, result.first_position), (4, 5));
        assert_eq!(predicted(&store), 4);
        let all = store.read_all(1, usize::MAX).unwrap();
        let stored: Vec<(&str, u64, u64)> = all
            .iter()
            .map(|e| (e.stream(), e.version(), e.position()))
            .collect();
        assert_eq!(
            stored,
            [
                ("a", 1, 1),
                ("a", 2, 2),
                ("b", 1, 3),
                ("b", 2, 4),
                ("a", 3, 5),
                ("a", 4, 6)
            ]
        );
        assert!(all
            .windows(2)
            .all(|w| w[0].recorded_at() <= w[1].recorded_at()));
        assert_eq!(store.stream_version("a").unwrap(), 4);
        assert_eq!(store.last_position().unwrap(), 6);
        // A conflict by the chain's own knowledge is decided by a locked run.
        assert!(matches!(
            store.append("a", ExpectedVersion::Exact(1), tick(3)),
            Err(StoreError::Conflict { actual: 4, .. })
        ));
        assert_eq!(predicted(&store), 4);
    }

    #[test]
    fn a_write_of_another_store_in_between_sends_the_group_locked() {
        let Some(test) = TestSchema::new() else {
            return;
        };
        let (store, other) = (test.connect(), test.connect());
        append(&store, "s", ExpectedVersion::NoStream);
        append(&store, "s", ExpectedVersion::Any);
        assert_eq!(predicted(&store), 1);
        assert_eq!(append(&other, "t", ExpectedVersion::NoStream), (1, 3));
        assert_eq!(append(&other, "s", ExpectedVersion::Any), (3, 4));
        // The chain says version 2 and position 2: the head check fails, the locked run reads.
        assert_eq!(append(&store, "s", ExpectedVersion::Any), (4, 5));
        assert_eq!(predicted(&store), 1);
        assert_eq!(append(&store, "s", ExpectedVersion::Exact(4)), (5, 6));
        assert_eq!(
            predicted(&store),
            2,
            "the chain goes on from the locked run"
        );
        // A link moves no position, only the last write (and the stream's version).
        let id = other.read_all(3, 1).unwrap()[0].id();
        other.link_to_stream(id, "s").unwrap();
        assert_eq!(append(&store, "s", ExpectedVersion::Any), (7, 7));
        assert_eq!(predicted(&store), 2);
        let versions: Vec<u64> = store
            .read_stream("s", 1, usize::MAX)
            .unwrap()
            .iter()
            .map(|e| e.link().map_or(e.version(), |link| link.version))
            .collect();
        assert_eq!(versions, [1, 2, 3, 4, 5, 6, 7]);
    }

    #[test]
    fn a_stream_predicted_absent_that_exists_is_a_conflict() {
        let Some(test) = TestSchema::new() else {
            return;
        };
        let earlier = test.connect();
        append(&earlier, "old", ExpectedVersion::NoStream);
        let id = earlier.read_all(1, 1).unwrap()[0].id();
        earlier.link_to_stream(id, "linked").unwrap();
        // A store whose chain begins after both streams exist, and does not hold them.
        let store = test.connect();
        append(&store, "mine", ExpectedVersion::NoStream);
        for stream in ["old", "linked"] {
            for expected in [ExpectedVersion::NoStream, ExpectedVersion::Exact(0)] {
                match store.append(stream, expected, tick(1)) {
                    Err(StoreError::Conflict { actual: 1, .. }) => {}
                    other => panic!("{stream}, {expected:?}: {other:?}"),
                }
            }
        }
        assert_eq!(predicted(&store), 0);
        assert_eq!(store.last_position().unwrap(), 2, "nothing more stored");
        // A new stream predicted absent is stored in one statement.
        assert_eq!(append(&store, "new", ExpectedVersion::NoStream), (1, 3));
        assert_eq!(predicted(&store), 1);
    }

    #[test]
    fn a_missing_head_row_stores_nothing_and_is_reported_by_the_locked_run() {
        let Some(test) = TestSchema::new() else {
            return;
        };
        let store = test.connect();
        append(&store, "s", ExpectedVersion::NoStream);
        append(&store, "s", ExpectedVersion::Any);
        assert_eq!(predicted(&store), 1);
        let sql = format!("DELETE FROM \"{}\".log_head", test.schema());
        store.pool().get().unwrap().batch_execute(&sql).unwrap();
        assert!(matches!(
            store.append("s", ExpectedVersion::Any, tick(3)),
            Err(StoreError::Backend { .. })
        ));
        assert_eq!(predicted(&store), 1);
        assert_eq!(
            store.read_all(1, usize::MAX).unwrap().len(),
            2,
            "nothing stored"
        );
        assert_eq!(store.stream_version("s").unwrap(), 2);
    }

    /// A failure of a lost connection, as the statement would get it.
    fn lost_failure(store: &PostgresStore) -> Failure {
        let mut conn = store.pool().get().unwrap();
        let error = conn.batch_execute("SELEC 1").unwrap_err();
        Failure::Db {
            error: ClientError::new(error),
            stage: Stage::CommitSent,
        }
    }

    #[test]
    fn a_lost_statement_is_resolved_by_whether_its_first_event_is_stored() {
        let Some(test) = TestSchema::new() else {
            return;
        };
        let store = test.connect();
        append(&store, "s", ExpectedVersion::NoStream);
        let stored = store.read_all(1, 1).unwrap()[0].id();
        let result = AppendResult {
            stream_version: 1,
            first_position: 1,
            last_position: 1,
        };
        let found = Lost {
            first: stored,
            outcomes: vec![Ok(result)],
        };
        match resolve(&store.inner, found, lost_failure(&store)) {
            Ok(outcomes) => assert!(matches!(outcomes[..], [Ok(r)] if r == result)),
            Err(failure) => panic!("{failure:?}"),
        }
        let missing = Lost {
            first: EventId::new(),
            outcomes: vec![Ok(result)],
        };
        match resolve(&store.inner, missing, lost_failure(&store)) {
            Err(
                failure @ Failure::Db {
                    stage: Stage::WriteSent,
                    ..
                },
            ) => assert!(matches!(
                failure.to_store_error("append", "here"),
                StoreError::Backend {
                    outcome_unknown: false,
                    ..
                }
            )),
            other => panic!("{other:?}"),
        }
        // When even that cannot be found out, the outcome is unknown, whatever the error.
        assert!(matches!(
            lost_failure(&store)
                .outcome_unknown()
                .to_store_error("append", "here"),
            StoreError::Backend {
                outcome_unknown: true,
                ..
            }
        ));
        // The fresh last write broke the chain's prediction: the next append runs locked.
        let before = predicted(&store);
        assert_eq!(append(&store, "s", ExpectedVersion::Any), (2, 2));
        assert_eq!(predicted(&store), before);
    }

    #[test]
    fn a_statement_that_lost_its_connection_reports_that_nothing_was_stored() {
        let Some(test) = TestSchema::new() else {
            return;
        };
        let name = format!("{}_lost", test.schema());
        let separator = if test.url().contains('?') { '&' } else { '?' };
        let url = format!("{}{separator}application_name={name}", test.url());
        let store = PostgresStore::connect_with(&url, test.config().pool_size(1)).unwrap();
        let admin = test.connect();
        append(&store, "s", ExpectedVersion::NoStream);
        let last_write = |admin: &PostgresStore| -> i64 {
            let sql = format!("SELECT last_write FROM \"{}\".log_head", test.schema());
            admin
                .pool()
                .get()
                .unwrap()
                .query_one(&sql, &[])
                .unwrap()
                .get(0)
        };
        let written = last_write(&admin);
        // The statement takes the head lock, then waits for the stream's row.
        let mut blocker = admin.pool().get().unwrap();
        blocker
            .batch_execute(&format!(
                "BEGIN; SELECT 1 FROM \"{}\".streams WHERE stream = 's' FOR UPDATE",
                test.schema()
            ))
            .unwrap();
        let outcome = std::thread::scope(|s| {
            let append = s.spawn(|| store.append("s", ExpectedVersion::Any, tick(2)));
            let deadline = Instant::now() + Duration::from_secs(10);
            let waiting: Vec<i32> = loop {
                let mut client = admin.pool().get().unwrap();
                let pids: Vec<i32> = client
                    .query(
                        "SELECT pid FROM pg_stat_activity \
                         WHERE application_name = $1 AND wait_event_type = 'Lock'",
                        &[&name],
                    )
                    .unwrap()
                    .iter()
                    .map(|row| row.get(0))
                    .collect();
                if !pids.is_empty() || Instant::now() > deadline {
                    break pids;
                }
                std::thread::sleep(Duration::from_millis(10));
            };
            assert_eq!(waiting.len(), 1, "the statement waits for the row lock");
            let mut client = admin.pool().get().unwrap();
            client
                .execute("SELECT pg_terminate_backend($1)", &[&waiting[0]])
                .unwrap();
            blocker.batch_execute("ROLLBACK").unwrap();
            append.join().unwrap()
        });
        match outcome {
            Err(StoreError::Backend {
                outcome_unknown, ..
            }) => assert!(!outcome_unknown, "resolved: not stored"),
            other => panic!("expected a backend error, got {other:?}"),
        }
        assert!(
            !store.inner.pipeline.has_chain(),
            "the lost group voided the chain"
        );
        assert_ne!(
            last_write(&admin),
            written,
            "the one statement ran, then was resolved"
        );
        assert_eq!(predicted(&store), 0);
        assert_eq!(admin.last_position().unwrap(), 1, "nothing stored");
        assert_eq!(append(&store, "s", ExpectedVersion::Exact(1)), (2, 2));
    }
}
