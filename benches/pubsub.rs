//! Issue 4's pub/sub targets: fan-out of 1,000,000 events to 1, 4 and 16 subscribers through
//! `InMemorySubscriptionManager`, beside bare `std::sync::mpsc` channels moving the same events
//! (one channel per subscriber, sent to in turn). Reports deliveries per second, the
//! manager/channel time ratio (target for one subscriber: ≤ 2.0x, i.e. at least half the
//! channel's rate), and publish-to-handler latency p50/p99.
//!
//! Latency is sampled on every 64th event: the publisher stores the time it publishes, the
//! handler reads it when the event arrives. The publisher runs flat out, so queues stay full
//! and the latency is mostly queueing time (capacity × per-event handling time); the paced
//! figure below publishes one event at a time and waits for it, which measures the wake-up.
//!
//! Run: `cargo bench --bench pubsub` (`LIVENSTORE_BENCH_QUICK=1` for a smoke run).

mod support;

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use livenstore::pubsub::{EventFilter, InMemorySubscriptionManager, SubscriptionManager};
use livenstore::{EventId, Metadata, Payload, RecordedEvent, RecordedEventParts, Timestamp};
use support::{compare, ratio, Variant};

const EVENTS: u64 = 1_000_000;
const SAMPLE_EVERY: u64 = 64;
const RING: usize = 1024;

fn ring() -> Vec<RecordedEvent> {
    let payload = Payload::from_trusted_json(r#"{"sku":"A-1","quantity":3}"#);
    (0..RING as u64)
        .map(|i| {
            RecordedEvent::from_parts(RecordedEventParts {
                id: EventId::new(),
                event_type: "ItemAdded".into(),
                stream: format!("cart-{}", i % 16).into(),
                version: i + 1,
                position: i + 1,
                recorded_at: Timestamp::now(),
                metadata: Metadata::new(),
                payload: payload.clone(),
            })
        })
        .collect()
}

/// Publish times of sampled events, in ns since `base`.
struct Clock {
    base: Instant,
    published: Vec<AtomicU64>,
}

impl Clock {
    fn new() -> Arc<Self> {
        Arc::new(Clock {
            base: Instant::now(),
            published: (0..EVENTS / SAMPLE_EVERY + 1)
                .map(|_| AtomicU64::new(0))
                .collect(),
        })
    }

    #[inline]
    fn stamp(&self, i: u64) {
        if i.is_multiple_of(SAMPLE_EVERY) {
            let ns = self.base.elapsed().as_nanos() as u64;
            self.published[(i / SAMPLE_EVERY) as usize].store(ns, Ordering::Relaxed);
        }
    }
}

/// What each subscriber does with an event: count it, sample latency, report when all arrived.
struct Sink {
    clock: Arc<Clock>,
    seen: u64,
    checksum: u64,
    latencies: Vec<u64>,
    done: mpsc::Sender<(u64, Vec<u64>)>,
}

impl Sink {
    fn new(clock: &Arc<Clock>, done: &mpsc::Sender<(u64, Vec<u64>)>) -> Self {
        Sink {
            clock: Arc::clone(clock),
            seen: 0,
            checksum: 0,
            latencies: Vec::with_capacity((EVENTS / SAMPLE_EVERY + 1) as usize),
            done: done.clone(),
        }
    }

    #[inline]
    fn handle(&mut self, event: &RecordedEvent) {
        if self.seen.is_multiple_of(SAMPLE_EVERY) {
            let now = self.clock.base.elapsed().as_nanos() as u64;
            let published =
                self.clock.published[(self.seen / SAMPLE_EVERY) as usize].load(Ordering::Relaxed);
            self.latencies.push(now.saturating_sub(published));
        }
        self.checksum = self.checksum.wrapping_add(event.position());
        self.seen += 1;
        if self.seen == EVENTS {
            let _ = self
                .done
                .send((self.checksum, std::mem::take(&mut self.latencies)));
        }
    }
}

fn collect(
    rx: &mpsc::Receiver<(u64, Vec<u64>)>,
    subscribers: usize,
    latencies: &RefCell<Vec<u64>>,
) {
    let mut all = Vec::new();
    for _ in 0..subscribers {
        let (checksum, l) = rx.recv().expect("a subscriber finished");
        std::hint::black_box(checksum);
        all.extend(l);
    }
    *latencies.borrow_mut() = all;
}

fn run_manager(
    events: &[RecordedEvent],
    subscribers: usize,
    latencies: &RefCell<Vec<u64>>,
) -> Duration {
    let manager = InMemorySubscriptionManager::new();
    let clock = Clock::new();
    let (done_tx, done_rx) = mpsc::channel();
    let subs: Vec<_> = (0..subscribers)
        .map(|_| {
            let mut sink = Sink::new(&clock, &done_tx);
            manager
                .subscribe(EventFilter::all(), move |e| {
                    sink.handle(e);
                    Ok(())
                })
                .expect("subscribe")
        })
        .collect();
    let start = Instant::now();
    for i in 0..EVENTS {
        clock.stamp(i);
        manager
            .publish(&events[i as usize % RING])
            .expect("publish");
    }
    collect(&done_rx, subscribers, latencies);
    let elapsed = start.elapsed();
    drop(subs);
    elapsed
}

fn run_channels(
    events: &[RecordedEvent],
    subscribers: usize,
    latencies: &RefCell<Vec<u64>>,
) -> Duration {
    let clock = Clock::new();
    let (done_tx, done_rx) = mpsc::channel();
    let mut senders = Vec::new();
    let mut workers = Vec::new();
    for _ in 0..subscribers {
        let (tx, rx) = mpsc::channel::<RecordedEvent>();
        let mut sink = Sink::new(&clock, &done_tx);
        workers.push(std::thread::spawn(move || {
            for event in rx {
                sink.handle(&event);
            }
        }));
        senders.push(tx);
    }
    let start = Instant::now();
    for i in 0..EVENTS {
        clock.stamp(i);
        let event = &events[i as usize % RING];
        for tx in &senders {
            tx.send(event.clone()).expect("send");
        }
    }
    collect(&done_rx, subscribers, latencies);
    let elapsed = start.elapsed();
    drop(senders);
    for w in workers {
        w.join().expect("channel worker");
    }
    elapsed
}

fn percentiles(latencies: &RefCell<Vec<u64>>) -> String {
    let mut l = latencies.borrow().clone();
    if l.is_empty() {
        return "no samples".into();
    }
    l.sort_unstable();
    let p = |q: f64| l[((l.len() - 1) as f64 * q) as usize] as f64 / 1e3;
    format!(
        "p50 {:.1} µs, p99 {:.1} µs ({} samples)",
        p(0.5),
        p(0.99),
        l.len()
    )
}

/// One event at a time, waiting for its delivery: the latency of an idle subscriber.
fn paced_latency() -> String {
    let manager = InMemorySubscriptionManager::new();
    let (tx, rx) = mpsc::channel();
    let _sub = manager
        .subscribe(EventFilter::all(), move |e| {
            let _ = tx.send(e.recorded_at());
            Ok(())
        })
        .expect("subscribe");
    let events = ring();
    let mut samples = Vec::new();
    for i in 0..2_000 {
        let start = Instant::now();
        manager.publish(&events[i % RING]).expect("publish");
        rx.recv().expect("delivery");
        samples.push(start.elapsed().as_nanos() as u64);
    }
    percentiles(&RefCell::new(samples))
}

fn main() {
    let events = ring();
    for subscribers in [1usize, 4, 16] {
        let manager_latency = RefCell::new(Vec::new());
        let channel_latency = RefCell::new(Vec::new());
        let rounds = match subscribers {
            1 => 5,
            4 => 2,
            _ => 1,
        };
        let medians = compare(
            &format!(
                "fan-out of {EVENTS} events to {subscribers} subscriber(s), items = deliveries"
            ),
            EVENTS * subscribers as u64,
            rounds,
            vec![
                Variant::custom("bare std::sync::mpsc (one channel each)", || {
                    run_channels(&events, subscribers, &channel_latency)
                }),
                Variant::custom("InMemorySubscriptionManager", || {
                    run_manager(&events, subscribers, &manager_latency)
                }),
            ],
        );
        ratio(
            &format!("manager vs channels, {subscribers} subscriber(s)"),
            medians[1],
            medians[0],
            if subscribers == 1 {
                "<= 2.0x"
            } else {
                "informative"
            },
        );
        println!(
            "  latency manager  (last round): {}",
            percentiles(&manager_latency)
        );
        println!(
            "  latency channels (last round): {}",
            percentiles(&channel_latency)
        );
    }
    println!(
        "\n== paced publish-to-handler latency, one event in flight: {}",
        paced_latency()
    );
}
