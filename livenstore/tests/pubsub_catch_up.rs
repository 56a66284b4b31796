//! Catch-up subscriptions over a store: history, then live, with no gap and no duplicate.

mod pubsub_support;

use std::sync::mpsc;
use std::sync::Arc;

use livenstore::pubsub::{
    subscribe_from, subscribe_from_with, CatchUpOptions, EventFilter, InMemorySubscriptionManager,
    PublishingStore, StartFrom,
};
use livenstore::{EventStore, ExpectedVersion, InMemoryStore};
use pubsub_support::{assert_quiet, new_event, recv_n, wait_until, TestResult};

type Store = PublishingStore<InMemoryStore, InMemorySubscriptionManager>;

fn store() -> Arc<Store> {
    Arc::new(PublishingStore::new(
        InMemoryStore::new(),
        InMemorySubscriptionManager::new(),
    ))
}

fn append(store: &Store, stream: &str, count: u64) -> TestResult {
    for n in 0..count {
        store.append(stream, ExpectedVersion::Any, vec![new_event("Tick", n)])?;
    }
    Ok(())
}

#[test]
fn hand_over_under_concurrent_appends_has_no_gap_and_no_duplicate() -> TestResult {
    const HISTORY: u64 = 100;
    const WRITERS: u64 = 2;
    const PER_WRITER: u64 = 100;
    // Call `n` of a writer appends 1 + n % 2 events: 150 events per writer.
    const TOTAL: u64 = HISTORY + WRITERS * (PER_WRITER + PER_WRITER / 2);
    for iteration in 0..50 {
        let store = store();
        append(&store, "history-1", HISTORY)?;
        let (tx, rx) = mpsc::channel();
        let subscription = std::thread::scope(|scope| -> Result<_, String> {
            for w in 0..WRITERS {
                let store = &store;
                scope.spawn(move || {
                    let stream = format!("writer-{w}");
                    for n in 0..PER_WRITER {
                        let events = if n % 2 == 1 {
                            vec![new_event("Tick", n), new_event("Tock", n)]
                        } else {
                            vec![new_event("Tick", n)]
                        };
                        store
                            .append(&stream, ExpectedVersion::Any, events)
                            .expect("append");
                    }
                });
            }
            subscribe_from(
                Arc::clone(&store),
                store.manager(),
                StartFrom::Beginning,
                EventFilter::all(),
                move |d| Ok(tx.send((d.event().position(), d.is_live()))?),
            )
            .map_err(|e| e.to_string())
        })?;
        let got = recv_n(&rx, TOTAL as usize)?;
        let positions: Vec<u64> = got.iter().map(|(p, _)| *p).collect();
        assert_eq!(
            positions,
            (1..=TOTAL).collect::<Vec<_>>(),
            "iteration {iteration}"
        );
        let first_live = got.iter().position(|(_, live)| *live).unwrap_or(got.len());
        assert!(
            got[first_live..].iter().all(|(_, live)| *live),
            "iteration {iteration}: live flags not monotone"
        );
        assert!(
            first_live >= HISTORY as usize,
            "stored history is historical"
        );
        // After the writers stopped, the subscription turns live and gets new events as live.
        wait_until(|| subscription.is_live())?;
        append(&store, "late-1", 1)?;
        assert_eq!(recv_n(&rx, 1)?, vec![(TOTAL + 1, true)]);
        assert!(subscription.is_live());
        drop(subscription);
        append(&store, "late-1", 1)?;
        assert_quiet(&rx);
    }
    Ok(())
}

#[test]
fn start_positions_and_filters() -> TestResult {
    let store = store();
    append(&store, "user-1", 3)?; // positions 1..=3
    append(&store, "order-1", 2)?; // 4..=5
    append(&store, "user-2", 2)?; // 6..=7

    let (tx, rx) = mpsc::channel();
    let after = subscribe_from(
        Arc::clone(&store),
        store.manager(),
        StartFrom::After(4),
        EventFilter::all(),
        move |d| Ok(tx.send(d.event().position())?),
    )?;
    assert_eq!(recv_n(&rx, 3)?, vec![5, 6, 7]);
    drop(after);

    let (tx, rx) = mpsc::channel();
    let category = subscribe_from(
        Arc::clone(&store),
        store.manager(),
        StartFrom::Beginning,
        EventFilter::category("user"),
        move |d| Ok(tx.send(d.event().position())?),
    )?;
    assert_eq!(recv_n(&rx, 5)?, vec![1, 2, 3, 6, 7]);
    drop(category);

    let (tx, rx) = mpsc::channel();
    let stream = subscribe_from(
        Arc::clone(&store),
        store.manager(),
        StartFrom::StreamAfter {
            stream: "user-1".into(),
            version: 1,
        },
        EventFilter::all(),
        move |d| Ok(tx.send((d.event().version(), d.is_live()))?),
    )?;
    assert_eq!(recv_n(&rx, 2)?, vec![(2, false), (3, false)]);
    wait_until(|| stream.is_live())?;
    append(&store, "user-1", 1)?;
    append(&store, "user-2", 1)?;
    assert_eq!(recv_n(&rx, 1)?, vec![(4, true)]);
    assert_quiet(&rx);
    drop(stream);

    let (tx, rx) = mpsc::channel();
    let now = subscribe_from(
        Arc::clone(&store),
        store.manager(),
        StartFrom::Now,
        EventFilter::all(),
        move |d| Ok(tx.send((d.event().position(), d.is_live()))?),
    )?;
    append(&store, "order-1", 1)?;
    assert_eq!(recv_n(&rx, 1)?, vec![(10, true)]);
    drop(now);

    let missing = subscribe_from(
        Arc::clone(&store),
        store.manager(),
        StartFrom::StreamAfter {
            stream: "user-1".into(),
            version: 99,
        },
        EventFilter::all(),
        |_| Ok(()),
    );
    assert!(missing.is_err());
    Ok(())
}

#[test]
fn without_a_manager_the_reader_polls() -> TestResult {
    let store = Arc::new(InMemoryStore::new());
    let (tx, rx) = mpsc::channel();
    let subscription = subscribe_from_with(
        Arc::clone(&store),
        None,
        StartFrom::Beginning,
        EventFilter::all(),
        CatchUpOptions::new().poll_interval(std::time::Duration::from_millis(5)),
        Box::new(move |d| Ok(tx.send(d.event().position())?)),
    )?;
    store.append("s-1", ExpectedVersion::Any, vec![new_event("Tick", 1)])?;
    assert_eq!(recv_n(&rx, 1)?, vec![1]);
    subscription.stop();
    Ok(())
}

#[test]
fn stopping_from_inside_the_handler_does_not_deadlock() -> TestResult {
    let store = store();
    append(&store, "s-1", 5)?;
    let slot = Arc::new(std::sync::Mutex::new(None));
    let (tx, rx) = mpsc::channel();
    let handler_slot = Arc::clone(&slot);
    let subscription = subscribe_from(
        Arc::clone(&store),
        store.manager(),
        StartFrom::Beginning,
        EventFilter::all(),
        move |d| {
            tx.send(d.event().position())?;
            if d.event().position() == 2 {
                // Wait until the test has parked the handle, then drop it from here.
                loop {
                    if let Some(own) = handler_slot.lock().map_err(|_| "poisoned")?.take() {
                        drop::<livenstore::pubsub::CatchUpSubscription>(own);
                        break;
                    }
                    std::thread::yield_now();
                }
            }
            Ok(())
        },
    )?;
    *slot.lock().map_err(|_| "poisoned")? = Some(subscription);
    assert_eq!(recv_n(&rx, 2)?, vec![1, 2]);
    assert_quiet(&rx);
    Ok(())
}
