//! Issue 4's pub/sub targets: fan-out of 1,000,000 events to 1, 4 and 16 subscribers through
//! `InMemorySubscriptionManager`, beside bare `std::sync::mpsc` channels moving the same events
//! (one unbounded `mpsc::channel()` per subscriber, sent to in turn). Reports deliveries per
//! second, the manager/channel time ratio (target for one subscriber: ≤ 2.0x, i.e. at least
//! half the channel's rate), and publish-to-handler latency p50/p99. Bounded
//! `mpsc::sync_channel(1024)`s (the manager's default capacity) are run beside them for 1 and 4
//! subscribers, for like-for-like context; the target is against the unbounded channel.
//!
//! Latency is sampled on every 64th event: the publisher stores the time it publishes, the
//! handler reads it when the event arrives. The publisher runs flat out, so queues stay full
//! and the latency is mostly queueing time (capacity × per-event handling time); the paced
//! figure below publishes one event at a time and waits for it, which measures the wake-up.
//!
//! Context switches (voluntary: the thread slept, e.g. on a futex; involuntary: it was
//! preempted) are read from `/proc/thread-self/status` of the publisher and of every subscriber
//! thread, and reported per 1000 deliveries for the last round (Linux only).
//!
//! Run: `cargo bench --bench pubsub` (`LIVENSTORE_BENCH_QUICK=1` for a smoke run,
//! `LIVENSTORE_PUBSUB_SUBSCRIBERS=1` for the one-subscriber case only).

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
    let payload = Payload::from_json(r#"{"sku":"A-1","quantity":3}"#).expect("valid JSON");
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
                event_version: 1,
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

/// Voluntary and involuntary context switches of a thread so far.
#[derive(Debug, Clone, Copy, Default)]
struct Switches {
    voluntary: u64,
    involuntary: u64,
}

impl Switches {
    /// The calling thread's counts, or `None` where `/proc/thread-self/status` is unavailable.
    fn of_this_thread() -> Option<Self> {
        let status = std::fs::read_to_string("/proc/thread-self/status").ok()?;
        let field = |name: &str| -> Option<u64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            line[name.len()..].trim().parse().ok()
        };
        Some(Switches {
            voluntary: field("voluntary_ctxt_switches:")?,
            involuntary: field("nonvoluntary_ctxt_switches:")?,
        })
    }

    fn add(self, other: Self) -> Self {
        Switches {
            voluntary: self.voluntary + other.voluntary,
            involuntary: self.involuntary + other.involuntary,
        }
    }

    fn since(self, earlier: Self) -> Self {
        Switches {
            voluntary: self.voluntary.saturating_sub(earlier.voluntary),
            involuntary: self.involuntary.saturating_sub(earlier.involuntary),
        }
    }
}

/// What a subscriber reports once every event arrived.
struct Finished {
    checksum: u64,
    latencies: Vec<u64>,
    /// The subscriber thread's context switches over its whole life.
    switches: Option<Switches>,
}

/// What one round measured besides its time: latency samples and context switches (publisher
/// plus subscribers).
#[derive(Default)]
struct RoundStats {
    latencies: Vec<u64>,
    switches: Option<Switches>,
}

/// What each subscriber does with an event: count it, sample latency, report when all arrived.
struct Sink {
    clock: Arc<Clock>,
    seen: u64,
    checksum: u64,
    latencies: Vec<u64>,
    done: mpsc::Sender<Finished>,
}

impl Sink {
    fn new(clock: &Arc<Clock>, done: &mpsc::Sender<Finished>) -> Self {
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
            let _ = self.done.send(Finished {
                checksum: self.checksum,
                latencies: std::mem::take(&mut self.latencies),
                switches: Switches::of_this_thread(),
            });
        }
    }
}

/// Waits for every subscriber and records their latencies and context switches, plus the
/// publisher's since `publisher_start`.
fn collect(
    rx: &mpsc::Receiver<Finished>,
    subscribers: usize,
    publisher_start: Option<Switches>,
    stats: &RefCell<RoundStats>,
) {
    let mut latencies = Vec::new();
    let mut switches = Switches::of_this_thread()
        .zip(publisher_start)
        .map(|(now, start)| now.since(start));
    for _ in 0..subscribers {
        let finished = rx.recv().expect("a subscriber finished");
        std::hint::black_box(finished.checksum);
        latencies.extend(finished.latencies);
        switches = switches
            .zip(finished.switches)
            .map(|(total, sub)| total.add(sub));
    }
    *stats.borrow_mut() = RoundStats {
        latencies,
        switches,
    };
}

fn run_manager(
    events: &[RecordedEvent],
    subscribers: usize,
    stats: &RefCell<RoundStats>,
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
    let publisher_start = Switches::of_this_thread();
    let start = Instant::now();
    for i in 0..EVENTS {
        clock.stamp(i);
        manager
            .publish(&events[i as usize % RING])
            .expect("publish");
    }
    collect(&done_rx, subscribers, publisher_start, stats);
    let elapsed = start.elapsed();
    drop(subs);
    elapsed
}

/// The sending side of one bare channel.
enum ChannelTx {
    Unbounded(mpsc::Sender<RecordedEvent>),
    Bounded(mpsc::SyncSender<RecordedEvent>),
}

impl ChannelTx {
    fn send(&self, event: RecordedEvent) {
        match self {
            ChannelTx::Unbounded(tx) => tx.send(event).expect("send"),
            ChannelTx::Bounded(tx) => tx.send(event).expect("send"),
        }
    }
}

/// Bare channels, one per subscriber: unbounded `mpsc::channel()` when `bound` is `None`, else
/// `mpsc::sync_channel(bound)`.
fn run_channels(
    events: &[RecordedEvent],
    subscribers: usize,
    bound: Option<usize>,
    stats: &RefCell<RoundStats>,
) -> Duration {
    let clock = Clock::new();
    let (done_tx, done_rx) = mpsc::channel();
    let mut senders = Vec::new();
    let mut workers = Vec::new();
    for _ in 0..subscribers {
        let (tx, rx) = match bound {
            None => {
                let (tx, rx) = mpsc::channel::<RecordedEvent>();
                (ChannelTx::Unbounded(tx), rx)
            }
            Some(bound) => {
                let (tx, rx) = mpsc::sync_channel::<RecordedEvent>(bound);
                (ChannelTx::Bounded(tx), rx)
            }
        };
        let mut sink = Sink::new(&clock, &done_tx);
        workers.push(std::thread::spawn(move || {
            for event in rx {
                sink.handle(&event);
            }
        }));
        senders.push(tx);
    }
    let publisher_start = Switches::of_this_thread();
    let start = Instant::now();
    for i in 0..EVENTS {
        clock.stamp(i);
        let event = &events[i as usize % RING];
        for tx in &senders {
            tx.send(event.clone());
        }
    }
    collect(&done_rx, subscribers, publisher_start, stats);
    let elapsed = start.elapsed();
    drop(senders);
    for w in workers {
        w.join().expect("channel worker");
    }
    elapsed
}

fn percentiles(latencies: &[u64]) -> String {
    let mut l = latencies.to_vec();
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
    percentiles(&samples)
}

/// The last round's latency percentiles and context switches per 1000 deliveries.
fn describe(stats: &RefCell<RoundStats>, events: u64) -> String {
    let stats = stats.borrow();
    let switches = match stats.switches {
        Some(s) => format!(
            "; context switches per 1000 deliveries: {:.2} voluntary, {:.2} involuntary",
            s.voluntary as f64 * 1000.0 / events as f64,
            s.involuntary as f64 * 1000.0 / events as f64
        ),
        None => String::new(),
    };
    format!("{}{switches}", percentiles(&stats.latencies))
}

/// The subscriber counts to run: `LIVENSTORE_PUBSUB_SUBSCRIBERS=1,4` picks some of 1, 4, 16.
fn subscriber_counts() -> Vec<usize> {
    let all = vec![1, 4, 16];
    match std::env::var("LIVENSTORE_PUBSUB_SUBSCRIBERS") {
        Ok(list) => list
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .filter(|n| all.contains(n))
            .collect(),
        Err(_) => all,
    }
}

fn main() {
    let events = ring();
    for subscribers in subscriber_counts() {
        let unbounded = RefCell::new(RoundStats::default());
        let bounded = RefCell::new(RoundStats::default());
        let manager = RefCell::new(RoundStats::default());
        let rounds = match subscribers {
            1 => 5,
            4 => 2,
            _ => 1,
        };
        let mut variants = vec![
            Variant::custom("bare mpsc::channel() (one each)", || {
                run_channels(&events, subscribers, None, &unbounded)
            }),
            Variant::custom("InMemorySubscriptionManager", || {
                run_manager(&events, subscribers, &manager)
            }),
        ];
        // Bounded channels are slow with many subscribers on few cores (the publisher waits
        // on each full channel in turn: tens of seconds for 16); they are context for 1 and 4.
        let with_bounded = subscribers <= 4;
        if with_bounded {
            variants.push(Variant::custom(
                "bare mpsc::sync_channel(1024) (one each)",
                || run_channels(&events, subscribers, Some(1024), &bounded),
            ));
        }
        let medians = compare(
            &format!(
                "fan-out of {EVENTS} events to {subscribers} subscriber(s), items = deliveries"
            ),
            EVENTS * subscribers as u64,
            rounds,
            variants,
        );
        ratio(
            &format!("manager vs mpsc::channel(), {subscribers} subscriber(s)"),
            medians[1],
            medians[0],
            if subscribers == 1 {
                "<= 2.0x"
            } else {
                "informative"
            },
        );
        if with_bounded {
            ratio(
                &format!("manager vs mpsc::sync_channel(1024), {subscribers} subscriber(s)"),
                medians[1],
                medians[2],
                "informative",
            );
        }
        let deliveries = EVENTS * subscribers as u64;
        println!(
            "  manager        (last round): {}",
            describe(&manager, deliveries)
        );
        println!(
            "  channel()      (last round): {}",
            describe(&unbounded, deliveries)
        );
        if with_bounded {
            println!(
                "  sync_channel() (last round): {}",
                describe(&bounded, deliveries)
            );
        }
    }
    println!(
        "\n== paced publish-to-handler latency, one event in flight: {}",
        paced_latency()
    );
}
