//! Issue 18's speed target: `trace` of an event (`livenstore::trace::trace`, what `livenstore
//! DIR trace ID` runs: the event's read, `read_correlated` and the tree) beside reading the same
//! 20 events by id (`EventStore::read`, one call each), in interleaved rounds, on a store of
//! 1,000,000 events (target: at most 3x the reads' time); then the same on a store ten times
//! the size, and `trace` on the large store beside `trace` on the small one (it should be no
//! slower: the lookup is an index lookup, whatever the store's size).
//!
//! The stores: `JsonStore` with `Durability::Never`, and `PostgresStore` when
//! `LIVENSTORE_POSTGRES_URL` is set (filled with the store's own batch appends of 5,000 events
//! per call, then `ANALYZE`d: a steady state). Every event carries a correlation id and a
//! causation id (the worst case for the indexes): conversations of 10 events, one causal tree
//! of 20 events (one correlation id, a binary tree by causation over four streams) planted at
//! 20 points spread over the log. Both stores are kept open together, so the last comparison
//! is interleaved too.
//!
//! Run: `cargo bench --bench trace` (`LIVENSTORE_BENCH_QUICK=1`: 20,000 and 200,000 events,
//! two rounds).

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use livenstore::store::json::{Durability, JsonStoreOptions};
use livenstore::trace::trace;
use livenstore::{EventId, EventStore, ExpectedVersion, JsonStore, Metadata, NewEvent};
use livenstore_postgres::testing::TestSchema;
use support::{compare, quick, ratio, Variant};

/// The events of the planted tree.
const TREE: usize = 20;
/// Its correlation id.
const TREE_ID: &str = "trace-target";
/// Events per append while filling.
const BATCH: usize = 5_000;

/// What `fill` planted: the tree's ids (in position order) and the one `trace` is asked about.
struct Planted {
    ids: Vec<EventId>,
    asked: EventId,
}

/// Event `n` of the background: conversation `n / 10`, caused by its command.
fn background(n: u64) -> NewEvent {
    let conversation = n / 10;
    let metadata = Metadata::new()
        .with_correlation_id(format!("conversation-{conversation}"))
        .with_causation_id(format!("command-{conversation}"));
    NewEvent::from_json(
        "Happened",
        format!(r#"{{"n":{n},"note":"background event"}}"#),
    )
    .expect("valid json")
    .with_metadata(metadata)
}

/// Event `i` of the tree: a binary tree by causation (event `i` caused by event `(i - 1) / 2`).
fn tree_event(i: usize, ids: &[EventId]) -> NewEvent {
    let cause = match i {
        0 => "command-checkout".to_owned(),
        _ => ids[(i - 1) / 2].to_string(),
    };
    let metadata = Metadata::new()
        .with_correlation_id(TREE_ID)
        .with_causation_id(cause);
    NewEvent::from_json("Traced", format!(r#"{{"step":{i}}}"#))
        .expect("valid json")
        .with_id(ids[i])
        .with_metadata(metadata)
}

/// Appends `total` events (the tree's 20 among them) to `store` in batches of [`BATCH`] over
/// 1,000 streams, the tree's events one by one to four streams at 20 points spread over the
/// log. Prints how long it took.
fn fill(label: &str, store: &dyn EventStore, total: u64) -> Planted {
    let ids: Vec<EventId> = (0..TREE).map(|_| EventId::new()).collect();
    let others = total - TREE as u64;
    // Tree event `i` goes in once `others * (i + 1) / (TREE + 1)` background events are in.
    let plant_at: Vec<u64> = (1..=TREE as u64)
        .map(|k| others * k / (TREE as u64 + 1))
        .collect();
    let start = Instant::now();
    let (mut next, mut planted, mut batch_number) = (0u64, 0usize, 0u64);
    loop {
        while planted < TREE && next >= plant_at[planted] {
            let stream = format!("order-{}", planted % 4);
            store
                .append(
                    &stream,
                    ExpectedVersion::Any,
                    vec![tree_event(planted, &ids)],
                )
                .expect("append a tree event");
            planted += 1;
        }
        if next >= others {
            break;
        }
        let limit = plant_at.get(planted).copied().unwrap_or(others);
        let end = (next + BATCH as u64).min(limit);
        let events: Vec<NewEvent> = (next..end).map(background).collect();
        let stream = format!("stream-{}", batch_number % 1000);
        store
            .append(&stream, ExpectedVersion::Any, events)
            .expect("append a batch");
        next = end;
        batch_number += 1;
    }
    let took = start.elapsed();
    assert_eq!(store.last_position().expect("last position"), total);
    println!(
        "{label}: filled {total} events in {:.1} s ({:.0} events/s)",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64()
    );
    Planted {
        asked: ids[TREE - 1],
        ids,
    }
}

/// One round of (a): `reps` traces.
fn traces(store: &dyn EventStore, planted: &Planted, reps: usize) {
    for _ in 0..reps {
        let tree = trace(store, planted.asked).expect("trace");
        assert_eq!(tree.len(), TREE);
        black_box(tree);
    }
}

/// One round of (b): `reps` times, the tree's 20 events read by id.
fn reads_by_id(store: &dyn EventStore, planted: &Planted, reps: usize) {
    for _ in 0..reps {
        for &id in &planted.ids {
            black_box(store.read(id).expect("read"));
        }
    }
}

/// (a) beside (b) on one store; returns the per-trace and per-20-reads medians.
fn trace_vs_reads(
    label: &str,
    store: &dyn EventStore,
    planted: &Planted,
    reps: usize,
) -> (Duration, Duration) {
    let times = compare(
        &format!("{label}: trace of a 20-event tree vs its 20 events read by id, x{reps}"),
        reps as u64,
        15,
        vec![
            Variant::timed("(a) trace (read_correlated + tree)", || {
                traces(store, planted, reps)
            }),
            Variant::timed("(b) the 20 events read by id", || {
                reads_by_id(store, planted, reps)
            }),
        ],
    );
    ratio(
        &format!("{label}: trace / 20 reads by id"),
        times[0],
        times[1],
        "<= 3",
    );
    (times[0] / reps as u32, times[1] / reps as u32)
}

/// `trace` on the large store beside `trace` on the small one, interleaved.
fn large_vs_small(
    label: &str,
    small: (&dyn EventStore, &Planted),
    large: (&dyn EventStore, &Planted),
    sizes: (u64, u64),
    reps: usize,
) {
    let times = compare(
        &format!(
            "{label}: trace on {} vs {} events, x{reps}",
            sizes.1, sizes.0
        ),
        reps as u64,
        15,
        vec![
            Variant::timed("trace, small store", || traces(small.0, small.1, reps)),
            Variant::timed("trace, large store", || traces(large.0, large.1, reps)),
        ],
    );
    ratio(
        &format!("{label}: trace on the large store / on the small one"),
        times[1],
        times[0],
        "<= ~1 (no slower)",
    );
}

/// Both sizes on one kind of store: fill, `settle` (after the fills), (a) vs (b) on each, then
/// large vs small.
fn run_sizes(
    label: &str,
    stores: (&dyn EventStore, &dyn EventStore),
    sizes: (u64, u64),
    reps: usize,
    settle: &dyn Fn(),
) {
    let (small, large) = stores;
    let planted_small = fill(&format!("{label} {}", sizes.0), small, sizes.0);
    let planted_large = fill(&format!("{label} {}", sizes.1), large, sizes.1);
    settle();
    let a = trace_vs_reads(&format!("{label} {}", sizes.0), small, &planted_small, reps);
    let b = trace_vs_reads(&format!("{label} {}", sizes.1), large, &planted_large, reps);
    large_vs_small(
        label,
        (small, &planted_small),
        (large, &planted_large),
        sizes,
        reps,
    );
    println!(
        "  {label}: one trace {:.1} µs, 20 reads by id {:.1} µs ({} events); {:.1} µs, {:.1} µs \
         ({} events)",
        a.0.as_secs_f64() * 1e6,
        a.1.as_secs_f64() * 1e6,
        sizes.0,
        b.0.as_secs_f64() * 1e6,
        b.1.as_secs_f64() * 1e6,
        sizes.1,
    );
}

fn analyze(test: &TestSchema) {
    let mut client = test
        .url()
        .parse::<postgres::Config>()
        .expect("URL")
        .connect(postgres::NoTls)
        .expect("connect");
    client
        .batch_execute(&format!("ANALYZE \"{}\".events", test.schema()))
        .expect("ANALYZE");
}

fn main() {
    let sizes: (u64, u64) = if quick() {
        (20_000, 200_000)
    } else {
        (1_000_000, 10_000_000)
    };
    let root = tempfile::tempdir().expect("temp dir");
    let options = || JsonStoreOptions::new().durability(Durability::Never);
    {
        let small = JsonStore::open_with(root.path().join("small"), options()).expect("open");
        let large = JsonStore::open_with(root.path().join("large"), options()).expect("open");
        run_sizes("JsonStore", (&small, &large), sizes, 200, &|| {});
    }
    match (TestSchema::new(), TestSchema::new()) {
        (Some(a), Some(b)) => {
            let (small, large) = (a.connect(), b.connect());
            // A steady state: the server has statistics of the filled tables (as autovacuum
            // gives a live database), not the guesses it plans a just-filled schema with.
            let settle = || {
                analyze(&a);
                analyze(&b);
            };
            run_sizes("PostgresStore", (&small, &large), sizes, 20, &settle);
        }
        _ => println!("\n(PostgresStore skipped: LIVENSTORE_POSTGRES_URL is not set)"),
    }
}
