//! Gap-free positions and version conflicts enforced by the database, across connections.
//!
//! Every writer here has its own `PostgresStore` with a pool of one connection: no in-process
//! group commit or lock is shared between them, so what holds, the database holds.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use livenstore::pubsub::{
    subscribe_from_with, CatchUpOptions, Delivery, DeliveryHandler, StartFrom,
};
use livenstore::{EventFilter, EventStore, ExpectedVersion, NewEvent, StoreError};
use livenstore_postgres::testing::TestSchema;
use livenstore_postgres::PostgresStore;

const WRITERS: usize = 16;
const ROUNDS: usize = 12;

fn event(writer: usize, n: usize) -> NewEvent {
    NewEvent::from_json("Tick", format!(r#"{{"writer":{writer},"n":{n}}}"#)).unwrap()
}

/// Sets its flag when dropped: the raw reader stops even when a writer panics.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn own_store(test: &TestSchema) -> PostgresStore {
    test.connect_with(test.config().pool_size(1))
}

/// One writer's work: single events and batches to its own stream, to a shared stream with
/// `Any`, and to a shared stream with `Exact` (retrying conflicts). Returns the events it
/// stored and the versions of `exact-1` it won.
fn write(store: &PostgresStore, writer: usize) -> (u64, Vec<u64>) {
    let own = format!("own-{writer}");
    let mut stored = 0;
    let mut won = Vec::new();
    for n in 0..ROUNDS {
        match n % 4 {
            0 => {
                let batch = (0..3).map(|i| event(writer, n * 10 + i)).collect();
                store.append(&own, ExpectedVersion::Any, batch).unwrap();
                stored += 3;
            }
            1 => {
                store
                    .append_one(&own, ExpectedVersion::Any, event(writer, n))
                    .unwrap();
                stored += 1;
            }
            2 => {
                let batch = vec![event(writer, n), event(writer, n + 100)];
                store.append("any-1", ExpectedVersion::Any, batch).unwrap();
                stored += 2;
            }
            _ => {
                for attempt in 0.. {
                    assert!(
                        attempt < 1000,
                        "writer {writer} never won a version of exact-1"
                    );
                    let current = store.stream_version("exact-1").unwrap();
                    let expected = ExpectedVersion::Exact(current);
                    match store.append("exact-1", expected, vec![event(writer, n)]) {
                        Ok(result) => {
                            assert_eq!(result.stream_version, current + 1);
                            won.push(result.stream_version);
                            stored += 1;
                            break;
                        }
                        Err(StoreError::Conflict { actual, .. }) => assert!(actual > current),
                        Err(err) => panic!("append to exact-1: {err}"),
                    }
                }
            }
        }
    }
    (stored, won)
}

#[test]
fn positions_are_gap_free_and_seen_in_order_by_every_reader() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let reader_store = Arc::new(test.connect());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler: DeliveryHandler = {
        let seen = Arc::clone(&seen);
        Box::new(move |delivery: &Delivery| {
            seen.lock().unwrap().push(delivery.event().position());
            Ok(())
        })
    };
    let subscription = subscribe_from_with(
        Arc::clone(&reader_store),
        None,
        StartFrom::Beginning,
        EventFilter::all(),
        CatchUpOptions::new().poll_interval(Duration::from_millis(1)),
        handler,
    )
    .unwrap();

    let done = AtomicBool::new(false);
    let total = AtomicU64::new(u64::MAX);
    let stores: Vec<PostgresStore> = (0..WRITERS).map(|_| own_store(&test)).collect();
    let results: Vec<(u64, Vec<u64>)> = std::thread::scope(|s| {
        // A raw reader paging through the log while it is written: every page starts at
        // `from` and has no hole.
        let raw = s.spawn(|| {
            let store = test.connect_with(test.config().pool_size(1));
            let mut from = 1;
            let mut pages = 0u64;
            while from <= total.load(Ordering::SeqCst) {
                let page = store.read_all(from, 1000).unwrap();
                for (i, event) in page.iter().enumerate() {
                    assert_eq!(event.position(), from + i as u64, "a hole in a page");
                }
                from += page.len() as u64;
                pages += 1;
                if done.load(Ordering::SeqCst) && page.is_empty() {
                    break;
                }
            }
            (from - 1, pages)
        });
        let finished = SetOnDrop(&done);
        let writers: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(w, store)| s.spawn(move || write(store, w)))
            .collect();
        let results: Vec<(u64, Vec<u64>)> =
            writers.into_iter().map(|h| h.join().unwrap()).collect();
        total.store(results.iter().map(|r| r.0).sum(), Ordering::SeqCst);
        drop(finished);
        let (raw_last, pages) = raw.join().unwrap();
        assert_eq!(raw_last, total.load(Ordering::SeqCst));
        assert!(pages > 1, "the raw reader ran while writers wrote");
        results
    });
    let total = total.load(Ordering::SeqCst);
    assert_eq!(reader_store.last_position().unwrap(), total);

    let deadline = Instant::now() + Duration::from_secs(30);
    while subscription.position() < total && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    subscription.stop();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        (1..=total).collect::<Vec<_>>(),
        "the subscriber sees every position once, in order"
    );

    // Exactly one winner per version of the stream written with `Exact`.
    let mut won: Vec<u64> = results.iter().flat_map(|r| r.1.clone()).collect();
    won.sort_unstable();
    let exact = reader_store.read_stream("exact-1", 1, usize::MAX).unwrap();
    assert_eq!(won, (1..=exact.len() as u64).collect::<Vec<_>>());
    assert_eq!(exact.len(), WRITERS * ROUNDS / 4);
    // Every stream's versions are contiguous, and every event is there once.
    let all = reader_store.read_all(1, usize::MAX).unwrap();
    let mut keys = BTreeSet::new();
    for stream in reader_store.streams().unwrap() {
        let events = reader_store
            .read_stream(&stream.stream, 1, usize::MAX)
            .unwrap();
        let versions: Vec<u64> = events.iter().map(|e| e.version()).collect();
        assert_eq!(versions, (1..=stream.last_version).collect::<Vec<_>>());
        keys.extend(events.iter().map(|e| e.id()));
    }
    assert_eq!(keys.len(), all.len());
    assert!(all
        .windows(2)
        .all(|w| w[0].recorded_at() <= w[1].recorded_at()));
}

#[test]
fn two_stores_writing_exact_versions_never_both_win() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let stores = [own_store(&test), own_store(&test)];
    const ROUNDS: u64 = 40;
    let start = Barrier::new(2);
    // Each thread keeps going whatever happens (a panic would leave the other one waiting at
    // the barrier) and reports what went wrong afterwards.
    let outcomes: Vec<(Vec<u64>, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(w, store)| {
                let start = &start;
                s.spawn(move || {
                    let (mut wins, mut errors) = (Vec::new(), Vec::new());
                    for round in 0..ROUNDS {
                        // Both read the same version, then race for the next one.
                        start.wait();
                        let current = store.stream_version("race-1");
                        start.wait();
                        let Ok(current) = current else {
                            errors.push(format!("stream_version: {current:?}"));
                            continue;
                        };
                        let e = event(w, round as usize);
                        match store.append("race-1", ExpectedVersion::Exact(current), vec![e]) {
                            Ok(result) => wins.push(result.stream_version),
                            Err(StoreError::Conflict { actual, .. }) if actual == current + 1 => {}
                            Err(err) => errors.push(format!("round {round}: {err}")),
                        }
                    }
                    (wins, errors)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let errors: Vec<&String> = outcomes.iter().flat_map(|o| &o.1).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let wins: Vec<Vec<u64>> = outcomes.into_iter().map(|o| o.0).collect();
    let mut all: Vec<u64> = wins.concat();
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=ROUNDS).collect::<Vec<_>>(),
        "exactly one winner per round"
    );
    assert_eq!(stores[0].stream_version("race-1").unwrap(), ROUNDS);
    assert_eq!(stores[1].last_position().unwrap(), ROUNDS);
}
