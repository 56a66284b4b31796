//! Issue 20's PostgreSQL projection figures: a `PostgresProjection` writing one read-model row
//! per event, beside bare batched INSERTs of the same rows through the same client library.
//!
//! - The store holds N events (100,000; 10,000 with `LIVENSTORE_BENCH_QUICK=1`) of about 200
//!   bytes of JSON each, spread over 1,000 streams, appended once before the rounds.
//! - **projection**: `catch_up` of a projection with batches of 100 from position 0 (its
//!   checkpoint deleted and its table emptied before each round, outside the timing). Per batch
//!   it runs one transaction: BEGIN, the statement that locks the checkpoint row and reads the
//!   100 events, the handler's one `INSERT ... SELECT FROM unnest(...)` of 100 rows (position,
//!   event id, stream, event type; sent with `execute_typed`, one round trip), the checkpoint's
//!   UPDATE, COMMIT.
//! - **bare**: one `postgres::Client` inserting the same rows (computed before the round, outside
//!   the timing) into a table of the same shape, 100 rows per transaction: BEGIN, the same
//!   `INSERT ... SELECT FROM unnest(...)` as a prepared statement, COMMIT. No read, no
//!   checkpoint.
//!
//! The ratio is the projection's rate over the bare rate (medians of interleaved rounds,
//! `support::compare`). Target: at least 0.5x.
//!
//! Run: `LIVENSTORE_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test cargo bench --bench
//! projection`. Without the variable the bench prints one line and exits.

mod support;

use std::time::{Duration, Instant};

use livenstore::{EventStore, ExpectedVersion};
use livenstore_postgres::testing::{TestSchema, URL_VAR};
use livenstore_postgres::PostgresStore;
use postgres::types::Type;
use postgres::{Client, NoTls};
use support::{compare, event, quick, rate, ratio, Variant};

/// Events read and rows written per transaction.
const BATCH: usize = 100;
/// Streams the events are spread over.
const STREAMS: u64 = 1_000;
/// Interleaved rounds (2 with `LIVENSTORE_BENCH_QUICK=1`).
const ROUNDS: usize = 5;

/// The read-model table, `{t}` its qualified name: one row per event.
const TABLE: &str = "CREATE TABLE {t} (position bigint PRIMARY KEY, event_id text NOT NULL, \
                     stream text NOT NULL, event_type text NOT NULL)";

/// The one statement that writes a batch of rows, into `{t}`.
const INSERT: &str = "INSERT INTO {t} (position, event_id, stream, event_type) \
                      SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])";

/// One batch of read-model rows, column by column.
#[derive(Default)]
struct Rows {
    positions: Vec<i64>,
    ids: Vec<String>,
    streams: Vec<String>,
    types: Vec<String>,
}

fn fill(store: &PostgresStore, events: u64) {
    let mut n = 0;
    while n < events {
        let end = (n + 1_000).min(events);
        let stream = format!("user-{}", n / 1_000 % STREAMS);
        let batch = (n..end).map(event).collect();
        store.append(&stream, ExpectedVersion::Any, batch).unwrap();
        n = end;
    }
}

fn client(url: &str) -> Client {
    url.parse::<postgres::Config>()
        .expect("valid URL")
        .connect(NoTls)
        .expect("connect")
}

fn main() {
    let Some(url) = std::env::var(URL_VAR).ok().filter(|u| !u.trim().is_empty()) else {
        println!(
            "projection bench: skipped: {URL_VAR} is not set (set it to a PostgreSQL server, \
             e.g. postgresql://postgres@127.0.0.1:5432/test, to run it)"
        );
        return;
    };
    let events: u64 = if quick() { 10_000 } else { 100_000 };
    let test = TestSchema::new().expect("the URL is set");
    let store = test.connect();
    let started = Instant::now();
    fill(&store, events);
    println!(
        "projection bench: {events} events appended in {:.1?}",
        started.elapsed()
    );
    let schema = format!("\"{}\"", test.schema());
    let (projected, bare_table) = (
        format!("{schema}.rm_projection"),
        format!("{schema}.rm_bare"),
    );
    let mut admin = client(&url);
    for table in [&projected, &bare_table] {
        admin
            .batch_execute(&TABLE.replace("{t}", table))
            .expect("create the read-model table");
    }

    // The bare anchor's rows, as the projection's handler computes them.
    let mut batches = Vec::new();
    for chunk in store.read_all(1, usize::MAX).unwrap().chunks(BATCH) {
        let mut rows = Rows::default();
        for e in chunk {
            rows.positions.push(e.position() as i64);
            rows.ids.push(e.id().to_string());
            rows.streams.push(e.stream().to_owned());
            rows.types.push(e.event_type().to_owned());
        }
        batches.push(rows);
    }

    let projection = store.projection("bench").unwrap().batch_size(BATCH);
    let insert_projected = INSERT.replace("{t}", &projected);
    let types = [
        Type::INT8_ARRAY,
        Type::TEXT_ARRAY,
        Type::TEXT_ARRAY,
        Type::TEXT_ARRAY,
    ];
    let mut reset_projection = client(&url);
    let projection_variant = Variant::custom("projection (catch_up, batches of 100)", || {
        reset_projection
            .batch_execute(&format!(
                "TRUNCATE {projected}; DELETE FROM {schema}.checkpoints WHERE consumer = 'bench'"
            ))
            .unwrap();
        let start = Instant::now();
        let progress = projection
            .catch_up(|tx, events| {
                let mut rows = Rows::default();
                for e in events {
                    rows.positions.push(e.position() as i64);
                    rows.ids.push(e.id().to_string());
                    rows.streams.push(e.stream().to_owned());
                    rows.types.push(e.event_type().to_owned());
                }
                tx.execute_typed(
                    &insert_projected,
                    &[
                        (&rows.positions, types[0].clone()),
                        (&rows.ids, types[1].clone()),
                        (&rows.streams, types[2].clone()),
                        (&rows.types, types[3].clone()),
                    ],
                )?;
                Ok(())
            })
            .unwrap();
        let took = start.elapsed();
        assert_eq!(progress.events_handled, events);
        took
    });

    let mut bare = client(&url);
    let insert_bare = bare.prepare(&INSERT.replace("{t}", &bare_table)).unwrap();
    let bare_variant = Variant::custom("bare INSERT transactions of 100 rows", || {
        bare.batch_execute(&format!("TRUNCATE {bare_table}"))
            .unwrap();
        let start = Instant::now();
        for rows in &batches {
            let mut tx = bare.transaction().unwrap();
            tx.execute(
                &insert_bare,
                &[&rows.positions, &rows.ids, &rows.streams, &rows.types],
            )
            .unwrap();
            tx.commit().unwrap();
        }
        start.elapsed()
    });

    let medians = compare(
        "projection beside bare batched INSERTs",
        events,
        ROUNDS,
        vec![projection_variant, bare_variant],
    );
    let (projected_time, bare_time): (Duration, Duration) = (medians[0], medians[1]);
    ratio(
        "projection time over bare time",
        projected_time,
        bare_time,
        "≤ 2.0x, i.e. ≥ 0.5x the bare rate",
    );
    println!(
        "  projection {:.0} events/s, bare {:.0} rows/s: the projection runs at {:.3}x the bare rate \
         (target ≥ 0.5x)",
        rate(events, projected_time),
        rate(events, bare_time),
        bare_time.as_secs_f64() / projected_time.as_secs_f64()
    );
}
