//! A small harness for same-process comparisons: a baseline and a candidate run in alternating
//! rounds (so machine noise hits both alike), and the medians are compared.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use livenstore::{EventStore, ExpectedVersion, NewEvent};

/// About 200 bytes of JSON, numbered `i` (the store benches' payload).
pub fn payload(i: u64) -> String {
    format!(
        r#"{{"user_id":"user-{i:08}","username":"ada lovelace {i}","email":"ada{i}@example.org","plan":"premium","tags":["alpha","beta","gamma"],"counter":{i},"note":"the quick brown fox jumps"}}"#
    )
}

/// A `UserCreated` event with [`payload`] `i`.
pub fn event(i: u64) -> NewEvent {
    NewEvent::from_json("UserCreated", payload(i)).expect("valid json")
}

/// `items` per second over `time`.
pub fn rate(items: u64, time: Duration) -> f64 {
    items as f64 / time.as_secs_f64()
}

/// One measured variant: a name and a function that processes `items` items per call.
pub struct Variant<'a> {
    /// What is printed.
    pub name: &'a str,
    /// Runs one round and returns the time it took (setup excluded by the function itself).
    pub run: Box<dyn FnMut() -> Duration + 'a>,
}

impl<'a> Variant<'a> {
    /// A variant timed around the whole call.
    pub fn timed(name: &'a str, mut f: impl FnMut() + 'a) -> Self {
        Variant {
            name,
            run: Box::new(move || {
                let start = Instant::now();
                f();
                start.elapsed()
            }),
        }
    }

    /// A variant that times itself (to exclude setup).
    pub fn custom(name: &'a str, f: impl FnMut() -> Duration + 'a) -> Self {
        Variant {
            name,
            run: Box::new(f),
        }
    }
}

/// Median round times of each variant, after `rounds` interleaved rounds (one warm-up round is
/// discarded). Prints a line per variant with items/s.
pub fn compare(
    title: &str,
    items: u64,
    rounds: usize,
    mut variants: Vec<Variant<'_>>,
) -> Vec<Duration> {
    let rounds = if quick() { 2 } else { rounds };
    for v in variants.iter_mut() {
        (v.run)();
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); variants.len()];
    for _ in 0..rounds {
        for (i, v) in variants.iter_mut().enumerate() {
            times[i].push((v.run)());
        }
    }
    println!("\n== {title} ({items} items, median of {rounds} interleaved rounds)");
    let medians: Vec<Duration> = times
        .into_iter()
        .map(|mut t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect();
    for (v, m) in variants.iter().zip(&medians) {
        println!(
            "  {:<44} {:>10.2} ms  {:>12.0} items/s  {:>8.1} ns/item",
            v.name,
            m.as_secs_f64() * 1e3,
            items as f64 / m.as_secs_f64(),
            m.as_nanos() as f64 / items as f64
        );
    }
    medians
}

/// Prints `candidate / baseline` time ratio with a target.
pub fn ratio(what: &str, candidate: Duration, baseline: Duration, target: &str) {
    let r = candidate.as_secs_f64() / baseline.as_secs_f64();
    println!("  RATIO {what}: {r:.3}x the baseline's time (target {target})");
}

/// `LIVENSTORE_BENCH_QUICK=1` runs two rounds only (a smoke run).
pub fn quick() -> bool {
    std::env::var_os("LIVENSTORE_BENCH_QUICK").is_some()
}

/// The load average of the last 1, 5 and 15 minutes (`unknown` when `/proc` cannot tell).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// The streams each writer thread of the server-store benches appends to, in turn.
pub const STREAMS_PER_WRITER: usize = 1_000;

/// One writer thread of a store bench: its streams, appended to in turn with
/// `ExpectedVersion::Any`.
pub struct StoreWriter {
    streams: Vec<String>,
    next_stream: usize,
}

impl StoreWriter {
    /// Writer `uid`'s streams, named `<tag>-<uid>-<k>`.
    pub fn new(tag: &str, uid: impl std::fmt::Display) -> Self {
        StoreWriter {
            streams: (0..STREAMS_PER_WRITER)
                .map(|k| format!("{tag}-{uid}-{k}"))
                .collect(),
            next_stream: 0,
        }
    }

    /// Appends each batch to the next stream.
    pub fn run(&mut self, store: &dyn EventStore, batches: Vec<Vec<NewEvent>>) {
        for events in batches {
            let k = self.next_stream;
            self.next_stream = (k + 1) % STREAMS_PER_WRITER;
            store
                .append(&self.streams[k], ExpectedVersion::Any, events)
                .expect("append");
        }
    }
}

/// One line of a bench's summary: livenstore's rate beside its bare anchor's.
pub struct Summary {
    /// What was measured.
    pub row: String,
    /// livenstore's rate (items per second).
    pub store: f64,
    /// The bare anchor's rate.
    pub bare: f64,
    /// The least ratio the issue asks for, if any.
    pub target: Option<f64>,
}

impl Summary {
    /// A line from `items` processed in `store` and in `bare` time.
    pub fn new(
        row: String,
        items: usize,
        store: Duration,
        bare: Duration,
        target: Option<f64>,
    ) -> Self {
        Summary {
            row,
            store: rate(items as u64, store),
            bare: rate(items as u64, bare),
            target,
        }
    }

    /// livenstore's rate over the anchor's.
    pub fn ratio(&self) -> f64 {
        self.store / self.bare
    }

    /// Prints the `SPEED` line.
    pub fn print_ratio(&self) {
        let verdict = match self.target {
            Some(t) if self.ratio() >= t => format!("target ≥ {t}x: met"),
            Some(t) => format!("target ≥ {t}x: NOT met"),
            None => "no target: context".to_owned(),
        };
        println!(
            "  SPEED {}: livenstore {:.3}x the bare rate ({verdict})",
            self.row,
            self.ratio()
        );
    }
}

/// Prints the summary table of `rows` (markdown), after a line with the load average and
/// the time since `started`.
pub fn print_summary(rows: &[Summary], started: Instant) {
    println!(
        "\n== summary (medians; load average at the end {}; {:.0?} in all)",
        load_average(),
        started.elapsed()
    );
    println!("| row | livenstore events/s | bare events/s | livenstore / bare | target |");
    println!("|---|---:|---:|---:|---|");
    for row in rows {
        let target = match row.target {
            Some(t) if row.ratio() >= t => format!("≥ {t}x: met"),
            Some(t) => format!("≥ {t}x: **not met**"),
            None => String::new(),
        };
        println!(
            "| {} | {:.0} | {:.0} | {:.3}x | {target} |",
            row.row,
            row.store,
            row.bare,
            row.ratio()
        );
    }
}
