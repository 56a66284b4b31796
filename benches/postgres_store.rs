//! Issue 6's PostgreSQL figures: `PostgresStore` beside a bare loop of the same statements
//! through the same client library (`postgres`) with no livenstore code.
//!
//! Rows:
//! - appends, 1, 4 and 16 writer threads sharing one `PostgresStore` (a pool of 16), batches of
//!   1 and of 100 events of about 200 bytes of JSON, each writer appending to its own 1,000
//!   streams in turn with `ExpectedVersion::Any`; beside them the bare anchor: the same number
//!   of threads, each with its own `postgres::Client`, inserting into an `events` table made by
//!   the store's own migration (so columns, indexes and constraints are exactly the store's).
//!   Batch 1 is one autocommit single-row `INSERT ... VALUES` per event; batch 100 is one
//!   transaction (BEGIN, INSERT, COMMIT) holding one `INSERT ... SELECT FROM unnest(...)` of the
//!   100 events, the statement form the store writes its events with. The anchor's positions
//!   come from a client-side atomic counter shared by its threads (unique, not gap-free), its
//!   stream versions from each thread's own counters, its ids from the clock and a counter
//!   (time-ordered like the store's ULIDs), its `recorded_at` from the client's clock;
//! - a read of one 100,000-event stream (`read_stream(stream, 1, usize::MAX)`) beside a bare
//!   `SELECT ... WHERE stream = $1 ORDER BY version` decoding the same eight columns into plain
//!   Rust values;
//! - catch-up of 1,000,000 events: a catch-up subscription (`subscribe_from_with`, no manager,
//!   `StartFrom::Beginning`, default pages of 512) from position 1 until its handler has seen the
//!   last event, beside a bare paged `SELECT ... WHERE position >= $1 ORDER BY position LIMIT
//!   512` through one client, and the store's `read_all` in pages of 512 (no subscription).
//!
//! The store for the reads is filled once, by 4 threads appending batches of 1,000 (every tenth
//! batch to the 100,000-event stream); every schema is a fresh throw-away one, dropped at the
//! end. Ratios are livenstore's rate over the anchor's, from medians of interleaved rounds
//! (`support::compare`). Targets: batched appends ≥ 0.8x the bare rate, single-event appends
//! with 16 writers ≥ 0.5x.
//!
//! Run: `LIVENSTORE_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test cargo bench --bench
//! postgres_store` (`LIVENSTORE_BENCH_QUICK=1` for a smoke run with smaller sizes). Without the
//! variable the bench prints one line and exits.

mod support;

use std::error::Error;
use std::hint::black_box;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, BytesMut};
use livenstore::pubsub::{subscribe_from_with, CatchUpOptions, EventFilter, StartFrom};
use livenstore::{EventStore, ExpectedVersion, NewEvent};
use livenstore_postgres::testing::{TestSchema, URL_VAR};
use livenstore_postgres::{PostgresConfig, PostgresStore};
use postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};
use support::{
    compare, event, load_average, payload, print_summary, quick, rate, StoreWriter, Summary,
    Variant, STREAMS_PER_WRITER,
};

type BoxError = Box<dyn Error + Sync + Send>;

/// Writer thread counts.
const WRITERS: [usize; 3] = [1, 4, 16];
/// Streams each writer appends to, in turn.
/// The store's pool: at least as many connections as writers.
const POOL_SIZE: u32 = 16;
/// The catch-up reader's page (`CatchUpOptions`' default).
const PAGE: usize = 512;
const EVENT_TYPE: &str = "UserCreated";

/// How much each row moves.
struct Sizes {
    /// Events per round for batches of 1, by writer count (as `WRITERS`).
    single: [usize; 3],
    /// Events per round for batches of 100 (a multiple of 1,600: 100 × 16 writers).
    batched: usize,
    /// Events filled in for the read rows, and read by catch-up.
    filled: usize,
    /// Events of the one long stream (every tenth batch of the fill).
    long_stream: usize,
    /// Rounds for the appends and the stream read.
    rounds: usize,
    /// Rounds for the catch-up.
    catch_up_rounds: usize,
}

const FULL: Sizes = Sizes {
    single: [1_000, 2_000, 4_000],
    batched: 32_000,
    filled: 1_000_000,
    long_stream: 100_000,
    rounds: 9,
    catch_up_rounds: 3,
};

const QUICK: Sizes = Sizes {
    single: [200, 400, 800],
    batched: 3_200,
    filled: 100_000,
    long_stream: 10_000,
    rounds: 2,
    catch_up_rounds: 2,
};

// ---- The anchor's own codecs (binary formats, as the client library defines them) ----

/// A `uuid` from 16 bytes.
#[derive(Debug, Clone, Copy)]
struct BareId(u128);

impl ToSql for BareId {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        out.put_slice(&self.0.to_be_bytes());
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::UUID
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for BareId {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(BareId(u128::from_be_bytes(raw.try_into()?)))
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::UUID
    }
}

/// Microseconds since 2000-01-01 (a `timestamptz`).
#[derive(Debug, Clone, Copy)]
struct BareTime(i64);

impl BareTime {
    fn now() -> Self {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_micros() as i64;
        BareTime(unix - 946_684_800_000_000)
    }
}

impl ToSql for BareTime {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        out.put_i64(self.0);
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for BareTime {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(BareTime(i64::from_be_bytes(raw.try_into()?)))
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }
}

/// `json` text (its binary format is the text).
#[derive(Debug, Clone, Copy)]
struct BareJson<'a>(&'a str);

impl ToSql for BareJson<'_> {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        out.put_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSON
    }
    to_sql_checked!();
}

/// `json` read as its text, not parsed.
#[allow(dead_code)] // Held, not read: the anchor only decodes.
#[derive(Debug)]
struct JsonString(String);

impl<'a> FromSql<'a> for JsonString {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(JsonString(std::str::from_utf8(raw)?.to_owned()))
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSON
    }
}

/// An event row as the anchor decodes it: the eight columns into plain values.
#[allow(dead_code)] // Held, not read: the anchor only decodes.
#[derive(Debug)]
struct BareEvent {
    position: i64,
    id: BareId,
    stream: String,
    version: i64,
    event_type: String,
    recorded_at: BareTime,
    metadata: Option<JsonString>,
    payload: JsonString,
}

const COLUMNS: &str = "position, id, stream, version, event_type, recorded_at, metadata, payload";

fn bare_event(row: &postgres::Row) -> BareEvent {
    BareEvent {
        position: row.get(0),
        id: row.get(1),
        stream: row.get(2),
        version: row.get(3),
        event_type: row.get(4),
        recorded_at: row.get(5),
        metadata: row.get(6),
        payload: row.get(7),
    }
}

fn client(url: &str) -> Client {
    url.parse::<postgres::Config>()
        .expect("valid URL")
        .connect(NoTls)
        .expect("connect")
}

// ---- Appends ----

/// One writer thread of the bare anchor: its connection, statements, streams and counters.
struct BareWriter {
    client: Client,
    insert_one: Statement,
    insert_many: Statement,
    streams: Vec<String>,
    versions: Vec<i64>,
    next_stream: usize,
    ids: BareIds,
}

/// Time-ordered ids like the store's ULIDs: milliseconds, a writer number (unique per writer),
/// a counter.
struct BareIds {
    prefix: u128,
    next: u64,
}

impl BareIds {
    fn next(&mut self) -> BareId {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis();
        self.next += 1;
        BareId((millis << 80) | self.prefix | u128::from(self.next))
    }
}

impl BareWriter {
    fn new(url: &str, table: &str, tag: &str, uid: u16) -> Self {
        let mut client = client(url);
        let insert_one = client
            .prepare(&format!(
                "INSERT INTO {table} ({COLUMNS}) VALUES ($1::bigint, $2::uuid, $3::text, \
                 $4::bigint, $5::text, $6::timestamptz, $7::json, $8::json)"
            ))
            .expect("prepare");
        // The store's event insert (sql.rs, `write_group`), alone.
        let insert_many = client
            .prepare(&format!(
                "INSERT INTO {table} ({COLUMNS}) \
                 SELECT p, i, st, v, t, $8::timestamptz, m, d \
                 FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], \
                             $6::json[], $7::json[]) AS u(p, i, st, v, t, m, d)"
            ))
            .expect("prepare");
        BareWriter {
            client,
            insert_one,
            insert_many,
            streams: (0..STREAMS_PER_WRITER)
                .map(|k| format!("{tag}-{uid}-{k}"))
                .collect(),
            versions: vec![0; STREAMS_PER_WRITER],
            next_stream: 0,
            ids: BareIds {
                prefix: u128::from(uid) << 64,
                next: 0,
            },
        }
    }

    /// Appends `payloads` in batches of `batch`, each to its next stream.
    fn run(&mut self, payloads: &[String], batch: usize, positions: &AtomicI64) {
        for chunk in payloads.chunks(batch) {
            let k = self.next_stream;
            self.next_stream = (k + 1) % STREAMS_PER_WRITER;
            let first_version = self.versions[k] + 1;
            self.versions[k] += chunk.len() as i64;
            let first_position = positions.fetch_add(chunk.len() as i64, Ordering::Relaxed) + 1;
            let stream = self.streams[k].as_str();
            let now = BareTime::now();
            if batch == 1 {
                let id = self.ids.next();
                let no_metadata: Option<BareJson<'_>> = None;
                self.client
                    .execute(
                        &self.insert_one,
                        &[
                            &first_position,
                            &id,
                            &stream,
                            &first_version,
                            &EVENT_TYPE,
                            &now,
                            &no_metadata,
                            &BareJson(&chunk[0]),
                        ],
                    )
                    .expect("insert");
            } else {
                let n = chunk.len() as i64;
                let positions: Vec<i64> = (first_position..first_position + n).collect();
                let ids: Vec<BareId> = (0..n).map(|_| self.ids.next()).collect();
                let streams = vec![stream; chunk.len()];
                let versions: Vec<i64> = (first_version..first_version + n).collect();
                let types = vec![EVENT_TYPE; chunk.len()];
                let metadata: Vec<Option<BareJson<'_>>> = vec![None; chunk.len()];
                let data: Vec<BareJson<'_>> = chunk.iter().map(|p| BareJson(p)).collect();
                let mut tx = self.client.transaction().expect("begin");
                tx.execute(
                    &self.insert_many,
                    &[
                        &positions, &ids, &streams, &versions, &types, &metadata, &data, &now,
                    ],
                )
                .expect("insert");
                tx.commit().expect("commit");
            }
        }
    }
}

fn appends(url: &str, sizes: &Sizes, summary: &mut Vec<Summary>) {
    let store_schema = TestSchema::new().expect("URL is set");
    let store = store_schema.connect_with(PostgresConfig::new().pool_size(POOL_SIZE));
    // The anchor's table comes from the same migration: the same columns, indexes and
    // constraints. Only its `events` table is used.
    let bare_schema = TestSchema::new().expect("URL is set");
    drop(bare_schema.connect());
    let table = format!("\"{}\".events", bare_schema.schema());
    let positions = AtomicI64::new(0);
    let sequence = AtomicU64::new(0);
    let mut uid: u16 = 0;
    for batch in [1usize, 100] {
        for (w, &writers) in WRITERS.iter().enumerate() {
            let items = if batch == 1 {
                sizes.single[w]
            } else {
                sizes.batched
            };
            let per_writer = items / writers;
            let tag = format!("b{batch}w{writers}");
            let mut bare: Vec<BareWriter> = (0..writers)
                .map(|_| {
                    uid += 1;
                    BareWriter::new(url, &table, &tag, uid)
                })
                .collect();
            let mut ours: Vec<StoreWriter> = (0..writers)
                .map(|_| {
                    uid += 1;
                    StoreWriter::new(&tag, uid)
                })
                .collect();
            let (store, positions, sequence) = (&store, &positions, &sequence);
            let title = format!(
                "append, {writers} writer(s), batches of {batch}, {per_writer} events each"
            );
            let medians = compare(
                &title,
                (per_writer * writers) as u64,
                sizes.rounds,
                vec![
                    Variant::custom("livenstore PostgresStore::append", || {
                        let work: Vec<Vec<Vec<NewEvent>>> = (0..writers)
                            .map(|_| {
                                (0..per_writer / batch)
                                    .map(|_| {
                                        (0..batch)
                                            .map(|_| {
                                                event(sequence.fetch_add(1, Ordering::Relaxed))
                                            })
                                            .collect()
                                    })
                                    .collect()
                            })
                            .collect();
                        let start = Instant::now();
                        std::thread::scope(|s| {
                            for (writer, batches) in ours.iter_mut().zip(work) {
                                s.spawn(move || writer.run(store, batches));
                            }
                        });
                        start.elapsed()
                    }),
                    Variant::custom("bare INSERT loop, a client per thread", || {
                        let work: Vec<Vec<String>> = (0..writers)
                            .map(|_| {
                                (0..per_writer)
                                    .map(|_| payload(sequence.fetch_add(1, Ordering::Relaxed)))
                                    .collect()
                            })
                            .collect();
                        let start = Instant::now();
                        std::thread::scope(|s| {
                            for (writer, payloads) in bare.iter_mut().zip(&work) {
                                s.spawn(move || writer.run(payloads, batch, positions));
                            }
                        });
                        start.elapsed()
                    }),
                ],
            );
            let target = match (batch, writers) {
                (100, _) => Some(0.8),
                (1, 16) => Some(0.5),
                _ => None,
            };
            let row = Summary::new(
                format!("append {writers} writer(s), batch {batch}"),
                per_writer * writers,
                medians[0],
                medians[1],
                target,
            );
            row.print_ratio();
            summary.push(row);
        }
    }
}

// ---- Reads ----

/// Fills `store` with `sizes.filled` events in batches of 1,000 from 4 threads; every tenth
/// batch goes to `long`.
fn fill(store: &PostgresStore, sizes: &Sizes, long: &str) {
    const BATCH: usize = 1_000;
    const THREADS: usize = 4;
    let batches = sizes.filled / BATCH;
    let long_every = batches / (sizes.long_stream / BATCH);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                for b in (t..batches).step_by(THREADS) {
                    let events = (0..BATCH).map(|k| event((b * BATCH + k) as u64)).collect();
                    let stream = if b % long_every == 0 {
                        long.to_owned()
                    } else {
                        format!("fill-{}", b % 100)
                    };
                    store
                        .append(&stream, ExpectedVersion::Any, events)
                        .expect("fill");
                }
            });
        }
    });
    let took = start.elapsed();
    assert_eq!(store.last_position().expect("last"), sizes.filled as u64);
    println!(
        "\nfilled {} events ({THREADS} writers, batches of {BATCH}) in {took:.2?}: {:.0} events/s",
        sizes.filled,
        rate(sizes.filled as u64, took)
    );
}

fn reads(url: &str, sizes: &Sizes, summary: &mut Vec<Summary>) {
    let schema = TestSchema::new().expect("URL is set");
    let store = schema.connect_with(PostgresConfig::new().pool_size(POOL_SIZE));
    let long = "long-stream";
    fill(&store, sizes, long);
    let table = format!("\"{}\".events", schema.schema());
    let mut bare = client(url);
    let by_stream = bare
        .prepare(&format!(
            "SELECT {COLUMNS} FROM {table} WHERE stream = $1::text ORDER BY version"
        ))
        .expect("prepare");
    let by_position = bare
        .prepare(&format!(
            "SELECT {COLUMNS} FROM {table} WHERE position >= $1::bigint \
             ORDER BY position LIMIT $2::bigint"
        ))
        .expect("prepare");
    let mut bare = Some(bare);

    let n = sizes.long_stream;
    let medians = compare(
        &format!("read one {n}-event stream"),
        n as u64,
        sizes.rounds,
        vec![
            Variant::timed("livenstore read_stream(stream, 1, usize::MAX)", || {
                let events = store.read_stream(long, 1, usize::MAX).expect("read");
                assert_eq!(events.len(), n);
                black_box(events);
            }),
            Variant::timed("bare SELECT ... ORDER BY version", || {
                let client = bare.as_mut().expect("client");
                let rows = client.query(&by_stream, &[&long]).expect("select");
                let events: Vec<BareEvent> = rows.iter().map(bare_event).collect();
                assert_eq!(events.len(), n);
                black_box(events);
            }),
        ],
    );
    let row = Summary::new(
        format!("read a {n}-event stream"),
        n,
        medians[0],
        medians[1],
        None,
    );
    row.print_ratio();
    summary.push(row);

    let total = sizes.filled;
    let shared = Arc::new(store.clone());
    let medians = compare(
        &format!("catch-up of {total} events from position 1"),
        total as u64,
        sizes.catch_up_rounds,
        vec![
            Variant::timed("livenstore catch-up subscription", || {
                let (done, finished) = mpsc::channel();
                let mut expected = 1u64;
                let handler = Box::new(move |d: &livenstore::pubsub::Delivery| {
                    let position = d.event().position();
                    assert_eq!(position, expected, "positions in order, gap-free");
                    expected += 1;
                    if position == total as u64 {
                        let _ = done.send(());
                    }
                    Ok(())
                });
                let subscription = subscribe_from_with(
                    Arc::clone(&shared),
                    None,
                    StartFrom::Beginning,
                    EventFilter::all(),
                    CatchUpOptions::new().page_size(PAGE),
                    handler,
                )
                .expect("subscribe");
                finished.recv().expect("caught up");
                drop(subscription);
            }),
            Variant::timed("livenstore read_all pages of 512", || {
                let mut next = 1u64;
                while next <= total as u64 {
                    let page = store.read_all(next, PAGE).expect("read_all");
                    next = page.last().expect("a page").position() + 1;
                    black_box(page);
                }
            }),
            Variant::timed("bare paged SELECT ... ORDER BY position", || {
                let client = bare.as_mut().expect("client");
                let (mut next, mut seen) = (1i64, 0usize);
                while seen < total {
                    let rows = client
                        .query(&by_position, &[&next, &(PAGE as i64)])
                        .expect("select");
                    let page: Vec<BareEvent> = rows.iter().map(bare_event).collect();
                    next = page.last().expect("a page").position + 1;
                    seen += page.len();
                    black_box(page);
                }
            }),
        ],
    );
    let row = Summary::new(
        format!("catch-up of {total} events"),
        total,
        medians[0],
        medians[2],
        None,
    );
    row.print_ratio();
    summary.push(row);
    let row = Summary::new(
        format!("read_all pages of {PAGE}, {total} events"),
        total,
        medians[1],
        medians[2],
        None,
    );
    row.print_ratio();
    summary.push(row);
    drop(bare.take());
    drop(store);
    // Dropping the schema of a million events takes a moment; it happens here, untimed.
    drop(schema);
}

fn main() {
    let Some(url) = std::env::var(URL_VAR).ok().filter(|u| !u.trim().is_empty()) else {
        println!(
            "postgres_store bench: skipped: {URL_VAR} is not set (set it to a PostgreSQL server, \
             e.g. postgresql://postgres@127.0.0.1:5432/test, to run it)"
        );
        return;
    };
    let sizes = if quick() { &QUICK } else { &FULL };
    let started = Instant::now();
    println!(
        "postgres_store bench: load average at the start {}",
        load_average()
    );
    let mut summary = Vec::new();
    appends(&url, sizes, &mut summary);
    reads(&url, sizes, &mut summary);
    print_summary(&summary, started);
}
