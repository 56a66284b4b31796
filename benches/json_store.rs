//! JsonStore throughput against a file-per-event layout with a symlink per stream (the layout
//! livenstore's JSON store replaced) and a bare write+fsync loop.
//!
//! The large figures (1,000,000 events) are measured once and printed with their ratios; the
//! criterion group then times a small `Never` append for regression tracking. All data lives in
//! temporary directories.

mod support;

use std::fs::OpenOptions;
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use livenstore::store::json::{Durability, JsonStoreOptions};
use livenstore::{EventStore, ExpectedVersion, JsonStore, NewEvent};
use support::{event, payload, rate};

fn append_never(dir: &std::path::Path, total: u64, streams: u64) -> Duration {
    let store = JsonStore::open_with(dir, JsonStoreOptions::new().durability(Durability::Never))
        .expect("open");
    let batches: Vec<Vec<NewEvent>> = (0..total / 100)
        .map(|b| (0..100).map(|k| event(b * 100 + k)).collect())
        .collect();
    let start = Instant::now();
    for (b, batch) in batches.into_iter().enumerate() {
        let stream = format!("stream-{}", b as u64 % streams);
        store
            .append(&stream, ExpectedVersion::Any, batch)
            .expect("append");
    }
    start.elapsed()
}

/// Four threads appending with `Durability::Always`. As in `append_never`, the events are built
/// before the clock starts (building and validating a payload is the caller's cost, not the
/// store's), so both JsonStore figures time `append` alone.
fn append_always_4(dir: &std::path::Path, per_thread: u64) -> Duration {
    let store = Arc::new(JsonStore::open(dir).expect("open"));
    let mut work: Vec<Vec<Vec<NewEvent>>> = (0..4u64)
        .map(|_| {
            (0..per_thread / 100)
                .map(|b| (0..100).map(|k| event(b * 100 + k)).collect())
                .collect()
        })
        .collect();
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let store = Arc::clone(&store);
            let batches = work.pop().expect("four threads' batches");
            s.spawn(move || {
                for (b, batch) in batches.into_iter().enumerate() {
                    store
                        .append(&format!("w-{t}-{}", b % 10), ExpectedVersion::Any, batch)
                        .expect("append");
                }
            });
        }
    });
    start.elapsed()
}

fn go_style(dir: &std::path::Path, n: u64) -> Duration {
    let events = dir.join("events");
    let streams = dir.join("streams");
    std::fs::create_dir_all(&events).expect("dir");
    let start = Instant::now();
    for i in 0..n {
        let id = livenstore::EventId::new();
        let file = events.join(format!("{id}.json"));
        let body = format!(
            r#"{{"id":"{id}","type":"UserCreated","timestamp":"2026-01-01T00:00:00Z","data":{}}}"#,
            payload(i)
        );
        std::fs::write(&file, body).expect("write");
        let stream_dir = streams.join(format!("stream-{}", i % 1000));
        std::fs::create_dir_all(&stream_dir).expect("dir");
        std::os::unix::fs::symlink(&file, stream_dir.join(format!("{id}.json"))).expect("link");
    }
    start.elapsed()
}

fn fsync_loop(dir: &std::path::Path, n: u64) -> Duration {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("loop.jsonl"))
        .expect("open");
    let line = format!("{}\n", payload(0));
    let start = Instant::now();
    for _ in 0..n {
        file.write_all(line.as_bytes()).expect("write");
        file.sync_data().expect("fsync");
    }
    start.elapsed()
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct BareHeader {
    position: u64,
    id: String,
    stream: String,
    version: u64,
    event_type: String,
    recorded_at: String,
    metadata: std::collections::BTreeMap<String, String>,
    batch: [u32; 2],
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct BareLine {
    crc: String,
    event: BareHeader,
    payload: Box<serde_json::value::RawValue>,
}

fn read_vs_bare(dir: &std::path::Path) -> (Duration, Duration) {
    let n = 100_000u64;
    {
        let store =
            JsonStore::open_with(dir, JsonStoreOptions::new().durability(Durability::Never))
                .expect("open");
        for b in 0..n / 100 {
            let batch = (0..100).map(|k| event(b * 100 + k)).collect();
            store
                .append("big", ExpectedVersion::Any, batch)
                .expect("append");
        }
    }
    let store = JsonStore::open_read_only(dir).expect("open");
    let start = Instant::now();
    let events = store.read_stream("big", 1, usize::MAX).expect("read");
    let read = start.elapsed();
    assert_eq!(events.len() as u64, n);
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            let file = std::fs::File::open(&path).expect("open");
            lines.extend(
                std::io::BufReader::new(file)
                    .split(b'\n')
                    .map(|l| l.expect("line")),
            );
        }
    }
    let start = Instant::now();
    let parsed: Vec<BareLine> = lines
        .iter()
        .map(|l| serde_json::from_slice(l).expect("parse"))
        .collect();
    let bare = start.elapsed();
    assert_eq!(parsed.len() as u64, n);
    (read, bare)
}

fn headline(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let big = tmp.path().join("big");

    let total = 1_000_000u64;
    let d = append_never(&big, total, 1000);
    let never_rate = rate(total, d);
    println!("append Never, 1,000,000 events / 1,000 streams, batches of 100: {d:?} = {never_rate:.0} events/s");

    let start = Instant::now();
    let store = JsonStore::open(&big).expect("open");
    let open = start.elapsed();
    assert_eq!(store.last_position().expect("last"), total);
    drop(store);
    println!("open a 1,000,000-event store: {open:?}");

    let per_thread = 50_000u64;
    let d = append_always_4(&tmp.path().join("always"), per_thread);
    let always_rate = rate(4 * per_thread, d);
    println!("append Always, 4 threads, batches of 100, 200,000 events built before timing: {d:?} = {always_rate:.0} events/s");

    let (read, bare) = read_vs_bare(&tmp.path().join("read"));
    println!(
        "read one 100,000-event stream: {read:?}; bare serde_json of the same lines: {bare:?}; \
         JsonStore speed = {:.2}x bare",
        bare.as_secs_f64() / read.as_secs_f64()
    );

    let go_n = 20_000u64;
    let d = go_style(&tmp.path().join("go"), go_n);
    let go_rate = rate(go_n, d);
    println!("Go-style file per event + symlink, {go_n} events: {d:?} = {go_rate:.0} events/s");

    let loop_n = 2_000u64;
    std::fs::create_dir_all(tmp.path().join("loop")).expect("dir");
    let d = fsync_loop(&tmp.path().join("loop"), loop_n);
    let loop_rate = rate(loop_n, d);
    println!("write+fsync per event, {loop_n} events: {d:?} = {loop_rate:.0} events/s");

    println!(
        "RATIOS: Never append / Go-style = {:.1}x (target >= 50x); Always x4 / fsync loop = {:.1}x (target >= 10x)",
        never_rate / go_rate,
        always_rate / loop_rate
    );

    let small = tmp.path().join("small");
    let store = JsonStore::open_with(
        &small,
        JsonStoreOptions::new().durability(Durability::Never),
    )
    .expect("open");
    let mut group = c.benchmark_group("json_store");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(2));
    group.bench_function("append_never_batch_100", |b| {
        b.iter_custom(|iters| {
            let batches: Vec<Vec<NewEvent>> = (0..iters)
                .map(|i| (0..100).map(|k| event(i * 100 + k)).collect())
                .collect();
            let start = Instant::now();
            for batch in batches {
                store
                    .append("s", ExpectedVersion::Any, batch)
                    .expect("append");
            }
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, headline);
criterion_main!(benches);
