//! `read_correlated` on PostgreSQL beyond the conformance cases: a schema made before the
//! correlation index (version 4) is upgraded in place and finds the events it already held, the
//! lookup is an index scan of a grown table (no sequential scan), it works across stores
//! (processes) and reconnects, and metadata the JSON operators cannot read (a NUL character)
//! is still appended and found.

use livenstore::trace::trace;
use livenstore::{EventStore, ExpectedVersion, Metadata, NewEvent, RecordedEvent};
use livenstore_postgres::testing::TestSchema;
use livenstore_postgres::{schema, PostgresStore};

type R = Result<(), Box<dyn std::error::Error>>;

fn said(n: u64, correlation_id: &str) -> NewEvent {
    NewEvent::from_json("Said", format!(r#"{{"n":{n}}}"#))
        .expect("valid json")
        .with_metadata(Metadata::new().with_correlation_id(correlation_id))
}

fn positions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(RecordedEvent::position).collect()
}

fn client(test: &TestSchema) -> Result<postgres::Client, postgres::Error> {
    test.url()
        .parse::<postgres::Config>()?
        .connect(postgres::NoTls)
}

#[test]
fn a_version_4_schema_is_upgraded_in_place_and_finds_what_it_held() -> R {
    let Some(test) = TestSchema::new() else {
        return Ok(());
    };
    let store = test.connect();
    store.append(
        "a-1",
        ExpectedVersion::Any,
        vec![said(1, "x"), said(2, "y")],
    )?;
    store.append("b-1", ExpectedVersion::Any, vec![said(3, "x")])?;
    drop(store);
    // Back to version 4, as a schema made before the index was.
    let mut admin = client(&test)?;
    let s = test.schema();
    admin.batch_execute(&format!(
        "DROP INDEX \"{s}\".events_correlation_id; \
         DROP TABLE \"{s}\".parked_events, \"{s}\".parked_replays; \
         DELETE FROM \"{s}\".livenstore_migrations WHERE version >= 5"
    ))?;
    let store = test.connect();
    let expected: Vec<i32> = schema::MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(test.applied_migrations(), expected);
    assert_eq!(positions(&store.read_correlated("x")?), [1, 3]);
    store.append("c-1", ExpectedVersion::Any, vec![said(4, "x")])?;
    // Another store (another process) sees it, and so does this one after a reconnect.
    let other = test.connect();
    assert_eq!(positions(&other.read_correlated("x")?), [1, 3, 4]);
    drop(store);
    let store = test.connect();
    assert_eq!(positions(&store.read_correlated("x")?), [1, 3, 4]);
    assert_eq!(positions(&store.read_correlated("y")?), [2]);
    Ok(())
}

/// Sequential scans of `events` and scans of the correlation index so far, counted by the
/// server (the store's one connection reports when it goes idle after the first statement).
fn scans(store: &PostgresStore) -> Result<(i64, i64), postgres::Error> {
    let mut conn = store.pool().get().expect("a connection");
    conn.batch_execute("SELECT pg_stat_force_next_flush()")?;
    let table: i64 = conn
        .query_one(
            "SELECT seq_scan FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'events'",
            &[&store.schema()],
        )?
        .get(0);
    let index: i64 = conn
        .query_one(
            "SELECT idx_scan FROM pg_stat_user_indexes \
             WHERE schemaname = $1 AND indexrelname = 'events_correlation_id'",
            &[&store.schema()],
        )?
        .get(0);
    Ok((table, index))
}

#[test]
fn a_lookup_in_a_grown_table_is_an_index_scan() -> R {
    let Some(test) = TestSchema::new() else {
        return Ok(());
    };
    let store = test.connect_with(test.config().pool_size(1));
    for batch in 0..20u64 {
        let events = (0..500)
            .map(|k| said(batch * 500 + k, &format!("conversation-{}", k % 250)))
            .collect();
        store.append(&format!("s-{batch}"), ExpectedVersion::Any, events)?;
    }
    client(&test)?.batch_execute(&format!("ANALYZE \"{}\".events", test.schema()))?;
    let before = scans(&store)?;
    for _ in 0..10 {
        assert_eq!(store.read_correlated("conversation-7")?.len(), 40);
    }
    let after = scans(&store)?;
    assert_eq!(after.0, before.0, "no sequential scan of events");
    assert!(
        after.1 >= before.1 + 10,
        "index scans: {before:?} then {after:?}"
    );
    Ok(())
}

#[test]
fn metadata_the_json_operators_cannot_read_is_appended_and_found() -> R {
    let Some(test) = TestSchema::new() else {
        return Ok(());
    };
    let store = test.connect();
    // PostgreSQL's `->>` fails on a `json` value holding `\u0000`; the index does not use it.
    let nul = Metadata::new()
        .with_correlation_id("c\0nul")
        .with("user", "a\0b");
    let event = NewEvent::from_json("Said", "{}")?.with_metadata(nul);
    store.append("s-1", ExpectedVersion::Any, vec![event])?;
    store.append("s-1", ExpectedVersion::Any, vec![said(2, "c\0nul")])?;
    assert_eq!(positions(&store.read_correlated("c\0nul")?), [1, 2]);
    assert!(store.read_correlated("c")?.is_empty());
    // And `trace` of such an event works end to end.
    let first = store.read_all(1, 1)?[0].id();
    assert_eq!(trace(&store, first)?.len(), 2);
    Ok(())
}
