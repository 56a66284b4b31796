//! Issue 20's speed targets for consumers:
//! (a) a consumer catching up on a `JsonStore` of 1,000,000 events with a checkpoint every
//!     1,000 (`CheckpointPolicy::Every`), beside the store's own `read_all` of the same events
//!     in pages of the same size, in the same run (target: at least 0.7x the read rate);
//! (b) the same consumer with retries and parking configured (no event fails), beside it
//!     without (target: within noise: parking costs nothing while no event fails).
//!
//! Run: `cargo bench --bench consumers` (`LIVENSTORE_BENCH_QUICK=1` for 100,000 events).

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use livenstore::pubsub::{
    CatchUpOptions, CheckpointPolicy, Consumer, EventFilter, InMemoryCheckpointStore,
    InMemoryParkedStore, RetryPolicy,
};
use livenstore::store::json::{Durability, JsonStoreOptions};
use livenstore::{EventStore, ExpectedVersion, InMemorySubscriptionManager, JsonStore};
use support::{compare, event, quick, ratio, Variant};

const PAGE: usize = 1_000;

fn fill(store: &JsonStore, events: u64) {
    let mut i = 0;
    while i < events {
        let batch: Vec<_> = (i..(i + 1_000).min(events)).map(event).collect();
        let stream = format!("user-{}", i % 1_000);
        i += batch.len() as u64;
        store
            .append(&stream, ExpectedVersion::Any, batch)
            .expect("append");
    }
}

/// Reads every event with `read_all`, touching each payload.
fn read_all(store: &JsonStore, events: u64) -> Duration {
    let start = Instant::now();
    let (mut from, mut seen, mut bytes) = (1, 0u64, 0usize);
    loop {
        let page = store.read_all(from, PAGE).expect("read");
        let Some(last) = page.last() else { break };
        from = last.position() + 1;
        seen += page.len() as u64;
        bytes += page.iter().map(|e| e.payload().len()).sum::<usize>();
    }
    assert_eq!(seen, events);
    std::hint::black_box(bytes);
    start.elapsed()
}

/// A fresh consumer from the beginning until it has handled every event, touching each
/// payload; with `parking`, retries and a parked store are configured.
fn consume(store: &Arc<JsonStore>, events: u64, parking: bool) -> Duration {
    let handled = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&handled);
    let policy = CheckpointPolicy::Every {
        events: 1_000,
        interval: Duration::from_secs(3600),
    };
    let mut consumer = Consumer::new("bench", Arc::new(InMemoryCheckpointStore::new()))
        .expect("name")
        .checkpoint_policy(policy)
        .options(CatchUpOptions::new().page_size(PAGE));
    if parking {
        consumer = consumer
            .retry(RetryPolicy::default())
            .park_to(Arc::new(InMemoryParkedStore::new()));
    }
    let manager = InMemorySubscriptionManager::new();
    let start = Instant::now();
    let running = consumer
        .start(Arc::clone(store), &manager, EventFilter::all(), move |d| {
            std::hint::black_box(d.event().payload().len());
            counter.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
        .expect("start");
    while handled.load(Ordering::Relaxed) < events {
        std::thread::sleep(Duration::from_micros(200));
    }
    let elapsed = start.elapsed();
    running.stop();
    elapsed
}

fn main() {
    let events = if quick() { 100_000 } else { 1_000_000 };
    let dir = tempfile::tempdir().expect("temporary directory");
    let options = JsonStoreOptions::new().durability(Durability::Never);
    let store = Arc::new(JsonStore::open_with(dir.path(), options).expect("open"));
    fill(&store, events);
    let times = compare(
        &format!("JsonStore: catch-up of {events} events, pages of {PAGE}"),
        events,
        7,
        vec![
            Variant::custom("read_all", || read_all(&store, events)),
            Variant::custom("consumer, checkpoint every 1,000", || {
                consume(&store, events, false)
            }),
            Variant::custom("consumer with retries and parking", || {
                consume(&store, events, true)
            }),
        ],
    );
    ratio(
        "consumer / read_all time",
        times[1],
        times[0],
        "<= 1/0.7 = 1.43",
    );
    ratio(
        "consumer with parking / without",
        times[2],
        times[1],
        "within noise",
    );
}
