//! A store with a subscription manager attached publishes what it appends.

mod pubsub_support;

use std::sync::mpsc;

use livenstore::pubsub::{EventFilter, InMemorySubscriptionManager, PublishingStore};
use livenstore::{EventStore, ExpectedVersion, InMemoryStore, SubscriptionManager};
use pubsub_support::{assert_quiet, new_event, recv_n, TestResult};

#[test]
fn appends_are_published_in_position_order_to_every_subscription() -> TestResult {
    let store = PublishingStore::new(InMemoryStore::new(), InMemorySubscriptionManager::new());
    let mut receivers = Vec::new();
    let mut subs = Vec::new();
    for _ in 0..2 {
        let (tx, rx) = mpsc::channel();
        subs.push(
            store
                .manager()
                .subscribe(EventFilter::all(), move |e| Ok(tx.send(e.position())?))?,
        );
        receivers.push(rx);
    }
    std::thread::scope(|scope| {
        for w in 0..4 {
            let store = &store;
            scope.spawn(move || {
                for n in 0..250 {
                    let events = vec![new_event("Tick", n), new_event("Tock", n)];
                    store
                        .append(&format!("w-{w}"), ExpectedVersion::Any, events)
                        .expect("append");
                }
            });
        }
    });
    for rx in &receivers {
        assert_eq!(recv_n(rx, 2000)?, (1..=2000).collect::<Vec<_>>());
    }
    Ok(())
}

#[test]
fn a_failed_append_notifies_nobody_and_a_repeat_is_not_republished() -> TestResult {
    let store = PublishingStore::new(InMemoryStore::new(), InMemorySubscriptionManager::new());
    let (tx, rx) = mpsc::channel();
    let _sub = store
        .manager()
        .subscribe(EventFilter::event_type_names(["Created"]), move |e| {
            Ok(tx.send((e.stream().to_owned(), e.version()))?)
        })?;
    let created = new_event("Created", 1);
    let result = store.publish("user-1", ExpectedVersion::NoStream, vec![created.clone()])?;
    assert_eq!(result.first_position, 1);
    assert_eq!(recv_n(&rx, 1)?, vec![("user-1".to_owned(), 1)]);

    let conflict = store.append(
        "user-1",
        ExpectedVersion::NoStream,
        vec![new_event("Created", 2)],
    );
    assert!(conflict.is_err());
    assert_quiet(&rx);

    // The same event id again: an idempotent no-op, not published twice.
    let stored = store.read_all(1, 1)?;
    let again = created.with_id(stored[0].id());
    let before = store.last_position()?;
    let _ = store.append("user-1", ExpectedVersion::Any, vec![again]);
    assert_eq!(store.last_position()?, before);
    assert_quiet(&rx);
    Ok(())
}

/// Appends run outside the publication lock (so a `JsonStore` under `Durability::Always` can
/// share fsyncs between writers); every event is still published once, in position order.
#[test]
fn concurrent_appends_to_a_json_store_are_published_once_in_order() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = PublishingStore::new(
        livenstore::JsonStore::open(dir.path())?,
        InMemorySubscriptionManager::new(),
    );
    let (tx, rx) = mpsc::channel();
    let _sub = store
        .manager()
        .subscribe(EventFilter::all(), move |e| Ok(tx.send(e.position())?))?;
    std::thread::scope(|scope| {
        for w in 0..4 {
            let store = &store;
            scope.spawn(move || {
                for n in 0..50 {
                    store
                        .append(
                            &format!("w-{w}"),
                            ExpectedVersion::Any,
                            vec![new_event("Tick", n)],
                        )
                        .expect("append");
                }
            });
        }
    });
    assert_eq!(recv_n(&rx, 200)?, (1..=200).collect::<Vec<_>>());
    assert_quiet(&rx);
    Ok(())
}

/// Events appended to the inner store directly go out, in order, with the next append through
/// the wrapper.
#[test]
fn direct_appends_are_published_with_the_next_wrapped_append() -> TestResult {
    let store = PublishingStore::new(InMemoryStore::new(), InMemorySubscriptionManager::new());
    let (tx, rx) = mpsc::channel();
    let _sub = store
        .manager()
        .subscribe(EventFilter::all(), move |e| Ok(tx.send(e.position())?))?;
    store.append("s", ExpectedVersion::Any, vec![new_event("Tick", 1)])?;
    assert_eq!(recv_n(&rx, 1)?, vec![1]);
    store
        .inner()
        .append("s", ExpectedVersion::Any, vec![new_event("Tick", 2)])?;
    store.append("s", ExpectedVersion::Any, vec![new_event("Tick", 3)])?;
    assert_eq!(recv_n(&rx, 2)?, vec![2, 3]);
    assert_quiet(&rx);
    Ok(())
}
