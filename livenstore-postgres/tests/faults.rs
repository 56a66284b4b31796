//! Faults: connections killed by the server, and writers that bypass the store's lock.
//!
//! Each store here gets an `application_name` of its own, so the test finds its server-side
//! connections in `pg_stat_activity` and terminates exactly those.

use std::time::{Duration, Instant};

use livenstore::{EventId, EventStore, ExpectedVersion, NewEvent, StoreError};
use livenstore_postgres::testing::TestSchema;
use livenstore_postgres::PostgresStore;

fn tick(n: u32) -> NewEvent {
    NewEvent::from_json("Tick", format!(r#"{{"n":{n}}}"#)).unwrap()
}

/// A store in `test`'s schema whose connections are named `name`.
fn named_store(test: &TestSchema, name: &str, pool_size: u32) -> PostgresStore {
    let separator = if test.url().contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}application_name={name}", test.url());
    PostgresStore::connect_with(&url, test.config().pool_size(pool_size)).unwrap()
}

/// The server process ids of the connections named `name` that match `condition`.
fn backends(admin: &PostgresStore, name: &str, condition: &str) -> Vec<i32> {
    let mut client = admin.pool().get().unwrap();
    let sql =
        format!("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND {condition}");
    client
        .query(&sql, &[&name])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

fn terminate(admin: &PostgresStore, pids: &[i32]) {
    let mut client = admin.pool().get().unwrap();
    for pid in pids {
        let done: bool = client
            .query_one("SELECT pg_terminate_backend($1)", &[pid])
            .unwrap()
            .get(0);
        assert!(done, "terminate {pid}");
    }
}

/// Waits up to 10 s for `find` to return something.
fn wait_for(mut find: impl FnMut() -> Vec<i32>) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = find();
        if !found.is_empty() || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_connection_lost_during_an_append_stores_nothing_and_the_next_append_reconnects() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let name = format!("{}_lost", test.schema());
    let store = named_store(&test, &name, 1);
    let admin = test.connect();
    store
        .append("s-1", ExpectedVersion::NoStream, vec![tick(1)])
        .unwrap();

    // Hold the stream's row: the append locks log_head, inserts its events, then waits for
    // this row in the same statement.
    let mut blocker = admin.pool().get().unwrap();
    blocker
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM \"{}\".streams WHERE stream = 's-1' FOR UPDATE",
            test.schema()
        ))
        .unwrap();
    let outcome = std::thread::scope(|s| {
        let append = s.spawn(|| store.append("s-1", ExpectedVersion::Any, vec![tick(2), tick(3)]));
        let waiting = wait_for(|| backends(&admin, &name, "wait_event_type = 'Lock'"));
        assert_eq!(waiting.len(), 1, "the append waits for the row lock");
        terminate(&admin, &waiting);
        blocker.batch_execute("ROLLBACK").unwrap();
        append.join().unwrap()
    });
    drop(blocker);
    match outcome {
        Err(StoreError::Backend {
            outcome_unknown, ..
        }) => assert!(!outcome_unknown, "the commit was never sent"),
        other => panic!("expected a backend error, got {other:?}"),
    }
    assert_eq!(store.stream_version("s-1").unwrap(), 1, "nothing stored");
    assert_eq!(admin.last_position().unwrap(), 1);
    assert_eq!(admin.read_all(1, usize::MAX).unwrap().len(), 1);

    // The same store works again, with the next gap-free position.
    let next = store
        .append("s-1", ExpectedVersion::Exact(1), vec![tick(4)])
        .unwrap();
    assert_eq!(
        (next.stream_version, next.first_position, next.last_position),
        (2, 2, 2)
    );
    let positions: Vec<u64> = store
        .read_all(1, usize::MAX)
        .unwrap()
        .iter()
        .map(|e| e.position())
        .collect();
    assert_eq!(positions, [1, 2]);
}

#[test]
fn calls_succeed_after_every_pooled_connection_was_terminated() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let name = format!("{}_all", test.schema());
    let store = named_store(&test, &name, 4);
    let admin = test.connect();
    store
        .append("s-1", ExpectedVersion::NoStream, vec![tick(1)])
        .unwrap();
    // Fill the pool with four idle connections, then kill them all.
    let held: Vec<_> = (0..4).map(|_| store.pool().get().unwrap()).collect();
    drop(held);
    let pids = backends(&admin, &name, "true");
    assert_eq!(pids.len(), 4);
    terminate(&admin, &pids);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !backends(&admin, &name, "true").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(backends(&admin, &name, "true").is_empty());

    // A read first: it meets a dead connection and runs again on a live one.
    assert_eq!(store.read_all(1, usize::MAX).unwrap().len(), 1);
    terminate(&admin, &backends(&admin, &name, "true"));
    // An append whose connection is dead before it writes is run again too.
    let result = store
        .append("s-1", ExpectedVersion::Exact(1), vec![tick(2)])
        .unwrap();
    assert_eq!((result.stream_version, result.first_position), (2, 2));
    let id = store.read_all(2, 1).unwrap()[0].id();
    assert_eq!(store.link_to_stream(id, "audit-1").unwrap(), 1);
    assert_eq!(store.stream_info("s-1").unwrap().unwrap().last_version, 2);
    assert_eq!(store.last_position().unwrap(), 2);
}

#[test]
fn a_version_taken_by_a_writer_that_skips_the_lock_is_a_conflict() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let store = test.connect();
    store
        .append("f-1", ExpectedVersion::NoStream, vec![tick(1)])
        .unwrap();
    // A foreign writer stores version 2 without updating `streams` or `log_head`.
    let mut foreign = store.pool().get().unwrap();
    foreign
        .batch_execute(&format!(
            "INSERT INTO \"{}\".events \
                 (position, id, stream, version, event_type, recorded_at, payload) \
             VALUES (1000, gen_random_uuid(), 'f-1', 2, 'Tick', now(), '{{}}')",
            test.schema()
        ))
        .unwrap();
    drop(foreign);
    match store.append("f-1", ExpectedVersion::Exact(1), vec![tick(2)]) {
        Err(StoreError::Conflict {
            stream,
            expected,
            actual,
        }) => {
            assert_eq!(stream, "f-1");
            assert_eq!(expected, ExpectedVersion::Exact(1));
            assert_eq!(actual, 2, "the version the events table holds");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(store.last_position().unwrap(), 1, "nothing stored");
}

#[test]
fn an_id_stored_meanwhile_by_a_writer_that_skips_the_lock_is_a_duplicate() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let name = format!("{}_dup", test.schema());
    let store = named_store(&test, &name, 1);
    let admin = test.connect();
    let id = EventId::new();
    // A foreign transaction inserts an event with `id` and keeps it uncommitted while the store
    // appends the same id: the store's insert waits for it, then violates the unique id.
    let mut foreign = admin.pool().get().unwrap();
    foreign
        .batch_execute(&format!(
            "BEGIN; INSERT INTO \"{}\".events \
                 (position, id, stream, version, event_type, recorded_at, payload) \
             VALUES (5000, '{}', 'g-1', 1, 'Tick', now(), '{{\"n\":9}}')",
            test.schema(),
            uuid_text(id)
        ))
        .unwrap();
    let outcome = std::thread::scope(|s| {
        let append =
            s.spawn(|| store.append("h-1", ExpectedVersion::Any, vec![tick(1).with_id(id)]));
        // The append reached its insert and waits for the uncommitted row.
        let waiting = wait_for(|| backends(&admin, &name, "wait_event_type = 'Lock'"));
        assert_eq!(waiting.len(), 1);
        foreign.batch_execute("COMMIT").unwrap();
        append.join().unwrap()
    });
    match outcome {
        Err(StoreError::DuplicateEventId { id: got, .. }) => assert_eq!(got, id),
        other => panic!("expected a duplicate id, got {other:?}"),
    }
    assert!(store.stream_info("h-1").unwrap().is_none());
    // The store's own appends go on.
    store
        .append("h-1", ExpectedVersion::NoStream, vec![tick(2)])
        .unwrap();
}

/// An id in PostgreSQL's uuid text form.
fn uuid_text(id: EventId) -> String {
    let hex = format!("{:032x}", id.to_u128());
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Runs `sql` (with `{s}` for the quoted schema) through the store's pool.
fn execute(store: &PostgresStore, sql: &str) {
    let sql = sql.replace("{s}", &format!("\"{}\"", store.schema()));
    store.pool().get().unwrap().batch_execute(&sql).unwrap();
}

/// The error's text with its sources.
fn full_text(err: &StoreError) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[test]
fn a_missing_or_broken_head_row_fails_writes_with_an_error_and_stores_nothing() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let store = test.connect();
    let first = store
        .append("s", ExpectedVersion::Any, vec![tick(0)])
        .unwrap();
    let id = store.read_all(first.first_position, 1).unwrap()[0].id();
    // One event: read after the lock; 64: read in the lock's message. Both ways must refuse.
    let small = || vec![tick(1)];
    let large = || (0..64).map(tick).collect::<Vec<_>>();

    execute(&store, "DELETE FROM {s}.log_head");
    for events in [small(), large()] {
        let err = store.append("s", ExpectedVersion::Any, events).unwrap_err();
        assert!(matches!(err, StoreError::Backend { .. }), "{err:?}");
        assert!(full_text(&err).contains("log_head"), "{}", full_text(&err));
    }
    let err = store.link_to_stream(id, "other").unwrap_err();
    assert!(matches!(err, StoreError::Backend { .. }), "{err:?}");

    // A head whose time no event can have.
    execute(
        &store,
        "INSERT INTO {s}.log_head (id, last_position, last_recorded_at) VALUES (1, 1, 'infinity')",
    );
    for events in [small(), large()] {
        let err = store.append("s", ExpectedVersion::Any, events).unwrap_err();
        assert!(matches!(err, StoreError::Backend { .. }), "{err:?}");
    }
    assert_eq!(
        store.read_all(1, usize::MAX).unwrap().len(),
        1,
        "nothing stored"
    );
}
