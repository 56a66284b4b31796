//! A small harness for same-process comparisons: a baseline and a candidate run in alternating
//! rounds (so machine noise hits both alike), and the medians are compared.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use livenstore::NewEvent;

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
