//! Appends stay index lookups as the tables grow: a prepared statement keeps the plan it got
//! first, and a plan made while `events` and `streams` were nearly empty must not be a
//! sequential scan that every later append pays for (see the invariants of `src/sql.rs`).

use livenstore::{EventStore, ExpectedVersion, NewEvent};
use livenstore_postgres::testing::TestSchema;
use livenstore_postgres::PostgresStore;

fn event(n: usize) -> NewEvent {
    NewEvent::from_json("Tick", format!(r#"{{"n":{n}}}"#)).unwrap()
}

/// Sequential scans of each of the store's tables so far (`events`, then `streams`), counted by
/// the server.
fn sequential_scans(store: &PostgresStore) -> (i64, i64) {
    let mut conn = store.pool().get().unwrap();
    // The store's connection reports its counts when it goes idle after this statement.
    conn.batch_execute("SELECT pg_stat_force_next_flush()")
        .unwrap();
    let count = |conn: &mut postgres::Client, table: &str| -> i64 {
        conn.query_one(
            "SELECT seq_scan FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2",
            &[&store.schema(), &table],
        )
        .unwrap()
        .get(0)
    };
    (count(&mut conn, "events"), count(&mut conn, "streams"))
}

#[test]
fn appends_to_grown_tables_scan_no_table() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    // One connection: every append below runs on the connection that planned the first ones.
    let store = test.connect_with(test.config().pool_size(1));
    // Plans are made (and cached) while the tables hold a few rows...
    for n in 0..10 {
        store
            .append(&format!("early-{n}"), ExpectedVersion::Any, vec![event(n)])
            .unwrap();
    }
    // ...then the tables grow...
    for batch in 0..40 {
        let events = (0..100).map(|k| event(batch * 100 + k)).collect();
        store
            .append(&format!("grown-{batch}"), ExpectedVersion::Any, events)
            .unwrap();
    }
    // (groups of many appends, whose arrays of stream names are longer)
    std::thread::scope(|s| {
        for thread in 0..16 {
            let store = &store;
            s.spawn(move || {
                for n in 0..40 {
                    store
                        .append(
                            &format!("stream-{thread}-{n}"),
                            ExpectedVersion::Any,
                            vec![event(n)],
                        )
                        .unwrap();
                }
            });
        }
    });
    // ...and appends to them look rows up by index only.
    let before = sequential_scans(&store);
    for n in 0..20 {
        store
            .append(
                &format!("stream-{}-{n}", n % 16),
                ExpectedVersion::Any,
                vec![event(n)],
            )
            .unwrap();
    }
    assert_eq!(
        sequential_scans(&store),
        before,
        "appends scanned events or streams sequentially (events, streams)"
    );
}
