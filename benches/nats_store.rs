//! The NATS JetStream figures: `JetStreamStore` beside a bare `async-nats` client doing the same
//! publishes with acks (or the same fetches) in the same process, on the same server.
//!
//! Rows:
//! - appends, 1 and 16 writers, batches of 1 and of 100 events of about 200 bytes of JSON: 1 or
//!   16 threads share one `JetStreamStore`, each appending to its own 1,000 streams in turn with
//!   `ExpectedVersion::Any`; beside them the bare anchor: 1 or 16 tasks on a tokio runtime of
//!   two workers (the store's runtime has two as well) sharing one client, each publishing one
//!   message and awaiting its ack before the next (`js.publish(subject, body).await?.await?`),
//!   to a stream the store's own code created (same settings: file storage, limits retention,
//!   the same duplicate window). A bare message holds what one store message holds for one
//!   append: the store's JSON layout with the same events, ids and payloads (built before the
//!   clock starts), so the bytes on the wire and on disk are the same; it carries none of the
//!   store's headers (`Nats-Msg-Id`, `Nats-Expected-Last-Sequence`). An atomic append of 100
//!   events is one message (on a 2.9 server nothing else makes 100 events all-or-nothing), so
//!   the anchor for batches of 100 is one message of 100 events; 100 separate single-event
//!   publishes sent back to back and then awaited (pipelined) are printed beside it for
//!   context. With one writer, two more anchors split the gap: the bare loop with the store's
//!   two headers (a `Nats-Msg-Id`, and `Nats-Expected-Last-Sequence` set to the previous ack's
//!   sequence), and the same with an ordered consumer of the stream running on the same client
//!   (as the store's follower);
//! - catch-up of 1,000,000 events: a new `JetStreamStore::connect_with` on a stream already
//!   holding them (it reads the whole stream into its replica before returning) plus `read_all`
//!   of every event in pages of 512, beside a bare ordered consumer (`consumer.messages()`, the
//!   same defaults as the store's follower) receiving the same messages until the last one, and,
//!   for context, the same consumer checking each body is JSON (`serde::de::IgnoredAny`). Two
//!   layouts: 100 events per message (filled by one thread appending batches of 100 through the
//!   store), and one event per message (filled by bare pipelined publishes of the store's own
//!   message layout, one event each: what 1,000,000 single-event appends from one writer leave;
//!   the store's fold checks every message of it, so a wrong layout fails the bench).
//!
//! Around the timed part of every round the bench also reads the CPU time of its own process
//! and of a local `nats-server` from `/proc` (10 ms ticks) and prints it per event.
//!
//! Every stream is a fresh `livenstore_nats::testing::TestStream`, deleted at the end. Ratios are
//! livenstore's rate over the anchor's, from medians of interleaved rounds (`support::compare`).
//! Targets (the issue's): appends ≥ 0.7x the bare rate, catch-up ≥ 0.7x.
//!
//! Run: `LIVENSTORE_NATS_URL=nats://127.0.0.1:4222 cargo bench --bench nats_store`
//! (`LIVENSTORE_BENCH_QUICK=1` for a smoke run with smaller sizes; `NATS_BENCH_EVENTS=N` sets
//! the catch-up size; `NATS_BENCH_ONLY=appends` or `catch-up` runs one part). Without the URL
//! the bench prints one line and exits.

mod support;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, Context};
use bytes::Bytes;
use futures_util::StreamExt;
use livenstore::{EventId, EventStore, ExpectedVersion, NewEvent, Timestamp};
use livenstore_nats::testing::{TestStream, URL_VAR};
use livenstore_nats::JetStreamStore;
use support::{
    compare, event, load_average, payload, print_summary, quick, rate, StoreWriter, Summary,
    Variant, STREAMS_PER_WRITER,
};

/// Writer counts.
const WRITERS: [usize; 2] = [1, 16];
/// Streams each writer appends to, in turn.
/// `read_all`'s page in the catch-up row.
const PAGE: usize = 512;
const EVENT_TYPE: &str = "UserCreated";

/// How much each row moves.
struct Sizes {
    /// Events per round for batches of 1, by writer count (as `WRITERS`).
    single: [usize; 2],
    /// Events per round for batches of 100, by writer count.
    batched: [usize; 2],
    /// Events of the catch-up streams.
    filled: usize,
    /// Rounds for the appends.
    rounds: usize,
    /// Rounds for the catch-up.
    catch_up_rounds: usize,
}

const FULL: Sizes = Sizes {
    single: [3_000, 16_000],
    batched: [30_000, 64_000],
    filled: 1_000_000,
    rounds: 5,
    catch_up_rounds: 3,
};

const QUICK: Sizes = Sizes {
    single: [300, 1_600],
    batched: [3_000, 6_400],
    filled: 20_000,
    rounds: 2,
    catch_up_rounds: 2,
};

/// CPU time (user + system) of process `pid` from `/proc` (zero when unreadable).
fn cpu_time(pid: &str) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // After the command's closing parenthesis: state (field 3), ..., utime (14), stime (15).
    let rest = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

/// The pid of a local `nats-server`, if one runs on this machine.
fn server_pid() -> Option<String> {
    static PID: OnceLock<Option<String>> = OnceLock::new();
    PID.get_or_init(|| {
        std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
            (comm.trim() == "nats-server").then_some(name)
        })
    })
    .clone()
}

/// CPU spent by this process and by the server during each timed part of a round, by variant.
static CPU: Mutex<Vec<(String, Duration, Duration)>> = Mutex::new(Vec::new());

/// The timed part of a round: wall time, and CPU of this process and of the server.
struct Span {
    start: Instant,
    client: Duration,
    server: Duration,
}

impl Span {
    fn start() -> Self {
        Span {
            client: cpu_time("self"),
            server: server_pid().map_or(Duration::ZERO, |p| cpu_time(&p)),
            start: Instant::now(),
        }
    }

    fn stop(self, key: &str) -> Duration {
        let took = self.start.elapsed();
        let client = cpu_time("self").saturating_sub(self.client);
        let server = server_pid()
            .map_or(Duration::ZERO, |p| cpu_time(&p))
            .saturating_sub(self.server);
        CPU.lock()
            .expect("lock")
            .push((key.to_owned(), client, server));
        took
    }
}

/// Prints the CPU per event of each variant since the last call (every round, warm-up
/// included), and forgets it.
fn cpu_report(items: usize) {
    let spans = std::mem::take(&mut *CPU.lock().expect("lock"));
    let mut keys: Vec<&str> = Vec::new();
    for (key, _, _) in &spans {
        if !keys.contains(&key.as_str()) {
            keys.push(key);
        }
    }
    for key in keys {
        let mine: Vec<_> = spans.iter().filter(|s| s.0 == key).collect();
        let events = (items * mine.len()) as f64;
        let client: Duration = mine.iter().map(|s| s.1).sum();
        let server: Duration = mine.iter().map(|s| s.2).sum();
        println!(
            "  CPU {key:<42} bench process {:>7.2} µs/event, nats-server {:>7.2} µs/event",
            client.as_secs_f64() * 1e6 / events,
            server.as_secs_f64() * 1e6 / events
        );
    }
}

/// The bare anchor's client: its own runtime (two workers, as the store's), client and context.
struct Bare {
    runtime: tokio::runtime::Runtime,
    js: Context,
}

impl Bare {
    fn connect(url: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let url = url.to_owned();
        let js = runtime.block_on(async move {
            let client = async_nats::connect(url).await.expect("connect");
            jetstream::new(client)
        });
        Bare { runtime, js }
    }
}

/// A body in the store's layout (`codec.rs`): one append of `count` events to `stream` at
/// `version`, the first at `position`, payloads `first..`.
fn store_body(
    position: u64,
    at: &str,
    stream: &str,
    version: u64,
    first: u64,
    count: usize,
) -> Bytes {
    use std::fmt::Write;
    let mut out = String::with_capacity(count * 300 + 128);
    let _ = write!(
        out,
        r#"{{"position":{position},"recorded_at":"{at}","appends":[{{"stream":"{stream}","version":{version},"events":["#
    );
    for k in 0..count {
        if k > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"id":"{}","type":"{EVENT_TYPE}","payload":{}}}"#,
            EventId::new(),
            payload(first + k as u64)
        );
    }
    out.push_str("]}]}");
    Bytes::from(out)
}

// ---- Appends ----

/// Bodies for one bare writer: `appends` messages of `batch` events each.
fn bare_bodies(sequence: &AtomicU64, tag: &str, appends: usize, batch: usize) -> Vec<Bytes> {
    let at = Timestamp::now().to_string();
    (0..appends)
        .map(|a| {
            let first = sequence.fetch_add(batch as u64, Ordering::Relaxed);
            let stream = format!("{tag}-{}", a % STREAMS_PER_WRITER);
            store_body(first + 1, &at, &stream, 1, first, batch)
        })
        .collect()
}

/// Publishes every body of every writer, each writer a task awaiting each ack in turn; with
/// `pipelined`, each writer sends `pipelined` bodies back to back and then awaits their acks.
fn bare_run(
    bare: &Bare,
    key: &'static str,
    subject: &str,
    work: Vec<Vec<Bytes>>,
    pipelined: usize,
) -> Duration {
    let js = bare.js.clone();
    let subject = subject.to_owned();
    bare.runtime.block_on(async move {
        let span = Span::start();
        let tasks: Vec<_> = work
            .into_iter()
            .map(|bodies| {
                let js = js.clone();
                let subject = subject.clone();
                tokio::spawn(async move {
                    if pipelined <= 1 {
                        for body in bodies {
                            js.publish(subject.clone(), body)
                                .await
                                .expect("publish")
                                .await
                                .expect("ack");
                        }
                    } else {
                        let mut bodies = bodies.into_iter().peekable();
                        while bodies.peek().is_some() {
                            let mut acks = Vec::with_capacity(pipelined);
                            for body in bodies.by_ref().take(pipelined) {
                                acks.push(
                                    js.publish(subject.clone(), body).await.expect("publish"),
                                );
                            }
                            for ack in acks {
                                ack.await.expect("ack");
                            }
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        span.stop(key)
    })
}

/// One writer publishing `bodies` with the store's headers (`Nats-Msg-Id`,
/// `Nats-Expected-Last-Sequence` = the previous ack's sequence), each ack awaited; with
/// `follow`, an ordered consumer of the stream (as the store's follower) receives every message
/// meanwhile, on the same client.
fn bare_run_guarded(
    bare: &Bare,
    stream: &str,
    subject: &str,
    bodies: Vec<Bytes>,
    follow: bool,
) -> Duration {
    let js = bare.js.clone();
    let subject = subject.to_owned();
    let stream = stream.to_owned();
    bare.runtime.block_on(async move {
        let mut handle = js.get_stream(stream).await.expect("stream");
        let mut last = handle.info().await.expect("info").state.last_sequence;
        let follower = if follow {
            let consumer = handle
                .create_consumer(pull::OrderedConfig {
                    deliver_policy: DeliverPolicy::New,
                    ..Default::default()
                })
                .await
                .expect("consumer");
            let mut messages = consumer.messages().await.expect("messages");
            Some(tokio::spawn(async move {
                while let Some(message) = messages.next().await {
                    black_box(message.expect("a message").payload.len());
                }
            }))
        } else {
            None
        };
        let key = if follow {
            "bare + headers + consumer"
        } else {
            "bare + headers"
        };
        let span = Span::start();
        for body in bodies {
            let id = EventId::new().to_string();
            let publish = PublishMessage::build()
                .payload(body)
                .message_id(id)
                .expected_last_sequence(last);
            last = js
                .send_publish(subject.clone(), publish)
                .await
                .expect("publish")
                .await
                .expect("ack")
                .sequence;
        }
        let took = span.stop(key);
        if let Some(follower) = follower {
            follower.abort();
        }
        took
    })
}

fn appends(bare: &Bare, sizes: &Sizes, summary: &mut Vec<Summary>) {
    let store_stream = TestStream::new().expect("URL is set");
    let store = store_stream.connect();
    // The anchor's stream is created by the store's own code (the same settings); the store
    // is then dropped and only the bare client writes to it.
    let bare_stream = TestStream::new().expect("URL is set");
    drop(bare_stream.connect());
    let subject = format!("{}.append", bare_stream.config().subject_prefix());
    let bare_name = bare_stream.name();
    let sequence = AtomicU64::new(0);
    let mut uid = 0;
    for batch in [1usize, 100] {
        for (w, &writers) in WRITERS.iter().enumerate() {
            let items = if batch == 1 {
                sizes.single[w]
            } else {
                sizes.batched[w]
            };
            let per_writer = items / writers;
            let appends_per_writer = per_writer / batch;
            let tag = format!("b{batch}w{writers}");
            let mut ours: Vec<StoreWriter> = (0..writers)
                .map(|_| {
                    uid += 1;
                    StoreWriter::new(&tag, uid)
                })
                .collect();
            let bare_tags: Vec<String> = (0..writers)
                .map(|_| {
                    uid += 1;
                    format!("{tag}-{uid}")
                })
                .collect();
            let (store, sequence, subject) = (&store, &sequence, subject.as_str());
            let bare_tags = &bare_tags;
            let title = format!(
                "append, {writers} writer(s), batches of {batch}, {per_writer} events each"
            );
            let mut variants = vec![
                Variant::custom("livenstore JetStreamStore::append", || {
                    let work: Vec<Vec<Vec<NewEvent>>> = (0..writers)
                        .map(|_| {
                            (0..appends_per_writer)
                                .map(|_| {
                                    (0..batch)
                                        .map(|_| event(sequence.fetch_add(1, Ordering::Relaxed)))
                                        .collect()
                                })
                                .collect()
                        })
                        .collect();
                    let span = Span::start();
                    std::thread::scope(|s| {
                        for (writer, batches) in ours.iter_mut().zip(work) {
                            s.spawn(move || writer.run(store, batches));
                        }
                    });
                    span.stop("livenstore")
                }),
                Variant::custom("bare publish + ack, a message per append", || {
                    let work = bare_tags
                        .iter()
                        .map(|t| bare_bodies(sequence, t, appends_per_writer, batch))
                        .collect();
                    bare_run(bare, "bare", subject, work, 1)
                }),
            ];
            if writers == 1 {
                for (name, follow) in [
                    ("bare + the store's two headers", false),
                    ("bare + headers + an ordered consumer", true),
                ] {
                    variants.push(Variant::custom(name, move || {
                        let bodies =
                            bare_bodies(sequence, &bare_tags[0], appends_per_writer, batch);
                        bare_run_guarded(bare, bare_name, subject, bodies, follow)
                    }));
                }
            }
            if batch > 1 {
                variants.push(Variant::custom(
                    "bare pipelined, a message per event",
                    || {
                        let work = bare_tags
                            .iter()
                            .map(|t| bare_bodies(sequence, t, per_writer, 1))
                            .collect();
                        bare_run(bare, "bare pipelined", subject, work, batch)
                    },
                ));
            }
            let medians = compare(
                &title,
                (per_writer * writers) as u64,
                sizes.rounds,
                variants,
            );
            cpu_report(per_writer * writers);
            let row = Summary::new(
                format!("append {writers} writer(s), batch {batch}"),
                per_writer * writers,
                medians[0],
                medians[1],
                Some(0.7),
            );
            row.print_ratio();
            summary.push(row);
            if batch > 1 {
                let row = Summary::new(
                    format!(
                        "append {writers} writer(s), batch {batch}, against {batch} pipelined \
                         single-event publishes"
                    ),
                    per_writer * writers,
                    medians[0],
                    medians[medians.len() - 1],
                    None,
                );
                row.print_ratio();
                summary.push(row);
            }
            if writers == 1 {
                for (k, what) in [(2, "the store's headers"), (3, "headers and a follower")] {
                    let row = Summary::new(
                        format!("append 1 writer, batch {batch}, against bare + {what}"),
                        per_writer * writers,
                        medians[0],
                        medians[k],
                        None,
                    );
                    row.print_ratio();
                    summary.push(row);
                }
            }
        }
    }
    drop(store);
}

// ---- Catch-up ----

/// Fills through the store: one thread appending batches of 100 (100 events per message).
fn fill_by_appends(stream: &TestStream, total: usize) {
    const BATCH: usize = 100;
    let store = stream.connect();
    let start = Instant::now();
    for b in 0..total / BATCH {
        let events = (0..BATCH).map(|k| event((b * BATCH + k) as u64)).collect();
        store
            .append(&format!("fill-{}", b % 1_000), ExpectedVersion::Any, events)
            .expect("fill");
    }
    let took = start.elapsed();
    assert_eq!(store.last_position().expect("last"), total as u64);
    println!(
        "\nfilled {total} events (1 writer, appends of {BATCH}, a message each) in {took:.2?}: \
         {:.0} events/s",
        rate(total as u64, took)
    );
}

/// Fills with bare pipelined publishes of the store's layout, one event per message.
fn fill_by_messages(bare: &Bare, stream: &TestStream, total: usize) {
    const WINDOW: usize = 1_000;
    const STREAMS: usize = 1_000;
    drop(stream.connect()); // creates the stream with the store's settings
    let subject = format!("{}.append", stream.config().subject_prefix());
    let js = bare.js.clone();
    let took = bare.runtime.block_on(async move {
        let at = Timestamp::now().to_string();
        let start = Instant::now();
        let mut next = 0usize;
        while next < total {
            let mut acks = Vec::with_capacity(WINDOW);
            for i in next..(next + WINDOW).min(total) {
                let body = store_body(
                    i as u64 + 1,
                    &at,
                    &format!("fill-{}", i % STREAMS),
                    (i / STREAMS) as u64 + 1,
                    i as u64,
                    1,
                );
                acks.push(js.publish(subject.clone(), body).await.expect("publish"));
            }
            next = (next + WINDOW).min(total);
            for ack in acks {
                ack.await.expect("ack");
            }
        }
        start.elapsed()
    });
    println!(
        "\nfilled {total} events (bare pipelined publishes of the store's layout, an event per \
         message) in {took:.2?}: {:.0} events/s",
        rate(total as u64, took)
    );
}

fn catch_up(url: &str, bare: &Bare, sizes: &Sizes, by_messages: bool, summary: &mut Vec<Summary>) {
    let total = sizes.filled;
    let stream = TestStream::new().expect("URL is set");
    let layout = if by_messages {
        fill_by_messages(bare, &stream, total);
        "1 event per message"
    } else {
        fill_by_appends(&stream, total);
        "100 events per message"
    };
    let messages = bare
        .runtime
        .block_on({
            let js = bare.js.clone();
            let name = stream.name().to_owned();
            async move {
                js.get_stream(name)
                    .await
                    .expect("stream")
                    .info()
                    .await
                    .map(|i| i.state.messages)
            }
        })
        .expect("info");
    let config = stream.config();
    let connect_times = std::cell::RefCell::new(Vec::new());
    let bare_fetch = |check_json: bool| {
        let js = bare.js.clone();
        let name = stream.name().to_owned();
        bare.runtime.block_on(async move {
            let span = Span::start();
            let stream = js.get_stream(name).await.expect("stream");
            let consumer = stream
                .create_consumer(pull::OrderedConfig {
                    deliver_policy: DeliverPolicy::All,
                    ..Default::default()
                })
                .await
                .expect("consumer");
            let mut received = consumer.messages().await.expect("messages");
            let (mut seen, mut bytes) = (0u64, 0usize);
            while seen < messages {
                let message = received.next().await.expect("a message").expect("ok");
                if check_json {
                    let _: serde::de::IgnoredAny =
                        serde_json::from_slice(&message.payload).expect("JSON");
                }
                bytes += message.payload.len();
                seen += 1;
            }
            black_box(bytes);
            span.stop(if check_json {
                "bare + JSON check"
            } else {
                "bare"
            })
        })
    };
    let medians = compare(
        &format!("catch-up of {total} events, {layout} ({messages} messages)"),
        total as u64,
        sizes.catch_up_rounds,
        vec![
            Variant::custom("livenstore connect_with + read_all (512)", || {
                let span = Span::start();
                let store = JetStreamStore::connect_with(url, config.clone()).expect("connect");
                let connected = span.start.elapsed();
                let mut next = 1u64;
                let mut read = 0usize;
                while read < total {
                    let page = store.read_all(next, PAGE).expect("read_all");
                    next = page.last().expect("a page").position() + 1;
                    read += page.len();
                    black_box(&page);
                }
                let took = span.stop("livenstore");
                connect_times
                    .borrow_mut()
                    .push((connected, took - connected));
                drop(store); // untimed: freeing the replica
                took
            }),
            Variant::custom("bare ordered consumer", || bare_fetch(false)),
            Variant::custom("bare ordered consumer + JSON check", || bare_fetch(true)),
        ],
    );
    cpu_report(total);
    // The warm-up round is the first; the parts' medians are taken separately.
    let parts: Vec<(Duration, Duration)> = connect_times.into_inner().into_iter().skip(1).collect();
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    println!(
        "  of livenstore's rounds (medians): connect (fold into the replica) {:.2?}, read_all {:.2?}",
        median(parts.iter().map(|p| p.0).collect()),
        median(parts.iter().map(|p| p.1).collect())
    );
    let row = Summary::new(
        format!("catch-up of {total} events, {layout}"),
        total,
        medians[0],
        medians[1],
        Some(0.7),
    );
    row.print_ratio();
    summary.push(row);
    let row = Summary::new(
        format!("catch-up of {total} events, {layout}, against the bare consumer + JSON check"),
        total,
        medians[0],
        medians[2],
        None,
    );
    row.print_ratio();
    summary.push(row);
    drop(stream);
}

fn main() {
    let Some(url) = std::env::var(URL_VAR).ok().filter(|u| !u.trim().is_empty()) else {
        println!(
            "nats_store bench: skipped: {URL_VAR} is not set (set it to a NATS server with \
             JetStream, e.g. nats://127.0.0.1:4222, to run it)"
        );
        return;
    };
    let mut sizes = if quick() { QUICK } else { FULL };
    if let Some(n) = std::env::var("NATS_BENCH_EVENTS")
        .ok()
        .and_then(|n| n.trim().parse::<usize>().ok())
    {
        sizes.filled = n.max(100) / 100 * 100;
    }
    let started = Instant::now();
    println!(
        "nats_store bench: load average at the start {}",
        load_average()
    );
    let bare = Bare::connect(&url);
    let mut summary = Vec::new();
    // `NATS_BENCH_ONLY=appends` or `=catch-up` runs one part (for profiling).
    let only = std::env::var("NATS_BENCH_ONLY").unwrap_or_default();
    if only != "catch-up" {
        appends(&bare, &sizes, &mut summary);
    }
    if only != "appends" {
        catch_up(&url, &bare, &sizes, false, &mut summary);
        catch_up(&url, &bare, &sizes, true, &mut summary);
    }
    print_summary(&summary, started);
}
