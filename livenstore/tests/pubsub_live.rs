//! Live subscriptions of the in-memory subscription manager.

mod pubsub_support;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use livenstore::pubsub::{
    EventFilter, InMemorySubscriptionManager, OnHandlerError, PublishError, QueueFullPolicy,
    Subscription, SubscriptionErrorKind, SubscriptionManager, SubscriptionOptions,
};
use livenstore::RecordedEvent;
use pubsub_support::{assert_quiet, event, recv_n, TestResult, WAIT};

#[test]
fn each_subscription_sees_each_publishers_order_under_concurrent_publishers() -> TestResult {
    const PUBLISHERS: u64 = 4;
    const PER_PUBLISHER: u64 = 2_000;
    let manager = InMemorySubscriptionManager::new();
    let mut receivers = Vec::new();
    let mut subscriptions = Vec::new();
    for _ in 0..3 {
        let (tx, rx) = mpsc::channel();
        subscriptions.push(manager.subscribe_with(
            EventFilter::all(),
            SubscriptionOptions::new().capacity(64),
            move |e: &RecordedEvent| {
                tx.send((e.stream().to_owned(), e.position()))?;
                Ok(())
            },
        )?);
        receivers.push(rx);
    }
    std::thread::scope(|scope| {
        for p in 0..PUBLISHERS {
            let manager = &manager;
            scope.spawn(move || {
                let stream = format!("publisher-{p}");
                for seq in 1..=PER_PUBLISHER {
                    manager
                        .publish(&event(seq, "Tick", &stream))
                        .expect("publish");
                }
            });
        }
    });
    for rx in &receivers {
        let got = recv_n(rx, (PUBLISHERS * PER_PUBLISHER) as usize)?;
        for p in 0..PUBLISHERS {
            let stream = format!("publisher-{p}");
            let seqs: Vec<u64> = got
                .iter()
                .filter(|(s, _)| *s == stream)
                .map(|(_, n)| *n)
                .collect();
            assert_eq!(seqs, (1..=PER_PUBLISHER).collect::<Vec<_>>(), "{stream}");
        }
        assert_quiet(rx);
    }
    Ok(())
}

#[test]
fn filters_route_events() -> TestResult {
    let manager = InMemorySubscriptionManager::new();
    let (tx, rx) = mpsc::channel();
    let _by_type = manager.subscribe(EventFilter::event_type_names(["A"]), {
        let tx = tx.clone();
        move |e| Ok(tx.send(("type", e.position()))?)
    })?;
    let _by_category = manager.subscribe(EventFilter::category("user"), {
        let tx = tx.clone();
        move |e| Ok(tx.send(("category", e.position()))?)
    })?;
    let _by_stream = manager.subscribe(EventFilter::stream("order-1"), move |e| {
        Ok(tx.send(("stream", e.position()))?)
    })?;
    manager.publish_batch(&[
        event(1, "A", "user-1"),
        event(2, "B", "order-1"),
        event(3, "B", "x"),
    ])?;
    let mut got = recv_n(&rx, 3)?;
    got.sort();
    assert_eq!(got, vec![("category", 1), ("stream", 2), ("type", 1)]);
    assert_quiet(&rx);
    Ok(())
}

#[test]
fn a_slow_subscriber_does_not_stall_the_others() -> TestResult {
    let manager = InMemorySubscriptionManager::new();
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let (slow_tx, slow_rx) = mpsc::channel();
    let _slow = manager.subscribe(EventFilter::all(), move |e| {
        gate_rx.recv()?; // held until the test opens the gate
        Ok(slow_tx.send(e.position())?)
    })?;
    let (fast_tx, fast_rx) = mpsc::channel();
    let _fast = manager.subscribe(EventFilter::all(), move |e| Ok(fast_tx.send(e.position())?))?;
    for n in 1..=100 {
        manager.publish(&event(n, "Tick", "s"))?;
    }
    assert_eq!(recv_n(&fast_rx, 100)?, (1..=100).collect::<Vec<_>>());
    assert_quiet(&slow_rx);
    for _ in 0..100 {
        gate_tx.send(())?;
    }
    assert_eq!(recv_n(&slow_rx, 100)?, (1..=100).collect::<Vec<_>>());
    Ok(())
}

#[test]
fn unsubscribe_from_another_thread_during_delivery_stops_it() -> TestResult {
    let manager = InMemorySubscriptionManager::new();
    let (entered_tx, entered_rx) = mpsc::channel();
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel();
    let subscription = manager.subscribe(EventFilter::all(), move |e| {
        entered_tx.send(())?;
        gate_rx.recv_timeout(WAIT)?;
        Ok(done_tx.send(e.position())?)
    })?;
    for n in 1..=10 {
        manager.publish(&event(n, "Tick", "s"))?;
    }
    entered_rx.recv_timeout(WAIT)?;
    let (unsubscribed_tx, unsubscribed_rx) = mpsc::channel();
    let unsubscriber = std::thread::spawn(move || {
        subscription.unsubscribe(); // joins: returns once the handler call in progress ends
        let _ = unsubscribed_tx.send(());
    });
    // The call in progress holds the worker, so unsubscribe cannot have returned yet.
    assert!(unsubscribed_rx
        .recv_timeout(Duration::from_millis(30))
        .is_err());
    gate_tx.send(())?;
    unsubscribed_rx.recv_timeout(WAIT)?;
    unsubscriber.join().map_err(|_| "unsubscriber panicked")?;
    assert_eq!(recv_n(&done_rx, 1)?, vec![1]);
    manager.publish(&event(11, "Tick", "s"))?;
    assert_eq!(manager.subscription_count(), 0);
    assert!(done_rx.recv_timeout(Duration::from_millis(30)).is_err());
    Ok(())
}

#[test]
fn unsubscribe_from_inside_the_handler_does_not_deadlock() -> TestResult {
    let manager = InMemorySubscriptionManager::new();
    let slot: Arc<Mutex<Option<Subscription>>> = Arc::new(Mutex::new(None));
    let (tx, rx) = mpsc::channel();
    let handler_slot = Arc::clone(&slot);
    let subscription = manager.subscribe(EventFilter::all(), move |e| {
        tx.send(e.position())?;
        if e.position() == 3 {
            let own = handler_slot.lock().map_err(|_| "poisoned")?.take();
            drop(own); // unsubscribes from inside the handler
        }
        Ok(())
    })?;
    *slot.lock().map_err(|_| "poisoned")? = Some(subscription);
    for n in 1..=10 {
        manager.publish(&event(n, "Tick", "s"))?;
    }
    assert_eq!(recv_n(&rx, 3)?, vec![1, 2, 3]);
    assert_quiet(&rx);
    assert_eq!(manager.subscription_count(), 0);
    manager.close();
    Ok(())
}

#[test]
fn a_panicking_handler_is_reported_and_delivery_goes_on() -> TestResult {
    let manager = InMemorySubscriptionManager::new();
    let (err_tx, err_rx) = mpsc::channel();
    let err_tx = Mutex::new(err_tx);
    manager.on_error(move |error| {
        let kind = match &error.kind {
            SubscriptionErrorKind::Panicked(m) => format!("panic: {m}"),
            SubscriptionErrorKind::Handler(e) => format!("error: {e}"),
            other => format!("{other:?}"),
        };
        let position = error.event.as_ref().map(|e| e.position());
        let _ = err_tx
            .lock()
            .map(|tx| tx.send((error.subscription.clone(), position, kind, error.stopped)));
    });
    let (tx, rx) = mpsc::channel();
    let _flaky = manager.subscribe_with(
        EventFilter::all(),
        SubscriptionOptions::new().name("flaky"),
        move |e| {
            match e.position() {
                2 => panic!("boom at 2"),
                4 => return Err("refused 4".into()),
                _ => {}
            }
            Ok(tx.send(e.position())?)
        },
    )?;
    let (stop_tx, stop_rx) = mpsc::channel();
    let stopper = manager.subscribe_with(
        EventFilter::all(),
        SubscriptionOptions::new()
            .name("stopper")
            .on_handler_error(OnHandlerError::Stop),
        move |e| {
            stop_tx.send(e.position())?;
            if e.position() == 2 {
                return Err("stop here".into());
            }
            Ok(())
        },
    )?;
    for n in 1..=5 {
        manager.publish(&event(n, "Tick", "s"))?;
    }
    assert_eq!(recv_n(&rx, 3)?, vec![1, 3, 5]);
    assert_eq!(recv_n(&stop_rx, 2)?, vec![1, 2]);
    let mut errors = recv_n(&err_rx, 3)?;
    errors.sort_by_key(|e| (e.0.clone(), e.1));
    assert_eq!(
        errors,
        vec![
            (
                "flaky".to_owned(),
                Some(2),
                "panic: boom at 2".to_owned(),
                false
            ),
            (
                "flaky".to_owned(),
                Some(4),
                "error: refused 4".to_owned(),
                false
            ),
            (
                "stopper".to_owned(),
                Some(2),
                "error: stop here".to_owned(),
                true
            ),
        ]
    );
    assert!(!stopper.is_active());
    manager.publish(&event(6, "Tick", "s"))?;
    assert_eq!(recv_n(&rx, 1)?, vec![6]);
    assert_quiet(&stop_rx);
    Ok(())
}

#[test]
fn a_full_queue_with_the_fail_policy_errors_instead_of_dropping() -> TestResult {
    let manager = InMemorySubscriptionManager::new();
    let (entered_tx, entered_rx) = mpsc::channel();
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let (tx, rx) = mpsc::channel();
    let _sub = manager.subscribe_with(
        EventFilter::all(),
        SubscriptionOptions::new()
            .name("tiny")
            .capacity(2)
            .when_full(QueueFullPolicy::Fail),
        move |e| {
            entered_tx.send(())?;
            gate_rx.recv_timeout(WAIT)?;
            Ok(tx.send(e.position())?)
        },
    )?;
    let (other_tx, other_rx) = mpsc::channel();
    let _other = manager.subscribe(
        EventFilter::all(),
        move |e| Ok(other_tx.send(e.position())?),
    )?;
    manager.publish(&event(1, "Tick", "s"))?;
    entered_rx.recv_timeout(WAIT)?; // the worker holds event 1; the queue is empty
    manager.publish(&event(2, "Tick", "s"))?;
    manager.publish(&event(3, "Tick", "s"))?;
    match manager.publish(&event(4, "Tick", "s")) {
        Err(PublishError::QueueFull { subscriptions }) => assert_eq!(subscriptions, vec!["tiny"]),
        other => panic!("expected QueueFull, got {other:?}"),
    }
    // The other subscription got event 4 all the same.
    assert_eq!(recv_n(&other_rx, 4)?, vec![1, 2, 3, 4]);
    for _ in 0..3 {
        gate_tx.send(())?;
    }
    assert_eq!(recv_n(&rx, 3)?, vec![1, 2, 3]);
    Ok(())
}

#[test]
fn a_full_queue_with_block_for_times_out() -> TestResult {
    let manager = InMemorySubscriptionManager::new();
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let (entered_tx, entered_rx) = mpsc::channel();
    let _sub = manager.subscribe_with(
        EventFilter::all(),
        SubscriptionOptions::new()
            .name("patient")
            .capacity(1)
            .when_full(QueueFullPolicy::BlockFor(Duration::from_millis(20))),
        move |_| {
            entered_tx.send(())?;
            Ok(gate_rx.recv_timeout(WAIT)?)
        },
    )?;
    manager.publish(&event(1, "Tick", "s"))?;
    entered_rx.recv_timeout(WAIT)?;
    manager.publish(&event(2, "Tick", "s"))?;
    assert!(matches!(
        manager.publish(&event(3, "Tick", "s")),
        Err(PublishError::QueueFull { .. })
    ));
    gate_tx.send(())?;
    gate_tx.send(())?;
    Ok(())
}

#[test]
fn a_handler_publishing_into_its_own_full_queue_gets_an_error() -> TestResult {
    let manager = InMemorySubscriptionManager::new();
    let (tx, rx) = mpsc::channel();
    let inner = manager.clone();
    let _sub = manager.subscribe_with(
        EventFilter::event_type_names(["Start"]),
        SubscriptionOptions::new().name("echo").capacity(1),
        move |_| {
            let first = inner.publish(&event(2, "Start", "s"));
            let second = inner.publish(&event(3, "Start", "s"));
            tx.send((
                first.is_ok(),
                matches!(second, Err(PublishError::WouldDeadlock { .. })),
            ))?;
            Ok(())
        },
    )?;
    manager.publish(&event(1, "Start", "s"))?;
    assert_eq!(recv_n(&rx, 1)?, vec![(true, true)]);
    Ok(())
}

#[test]
fn close_drains_queued_events_then_refuses_more() -> TestResult {
    let manager = InMemorySubscriptionManager::new();
    let (tx, rx) = mpsc::channel();
    let subscription = manager.subscribe_with(
        EventFilter::all(),
        SubscriptionOptions::new().capacity(100),
        move |e| {
            std::thread::sleep(Duration::from_micros(200)); // simulated work
            Ok(tx.send(e.position())?)
        },
    )?;
    for n in 1..=50 {
        manager.publish(&event(n, "Tick", "s"))?;
    }
    manager.close();
    // close returned: everything was handled already.
    let got: Vec<u64> = rx.try_iter().collect();
    assert_eq!(got, (1..=50).collect::<Vec<_>>());
    assert!(matches!(
        manager.publish(&event(51, "Tick", "s")),
        Err(PublishError::Closed)
    ));
    assert!(manager.subscribe(EventFilter::all(), |_| Ok(())).is_err());
    assert!(!subscription.is_active());
    drop(subscription);
    Ok(())
}

#[test]
fn dropping_the_last_manager_handle_closes_it() -> TestResult {
    let manager = InMemorySubscriptionManager::new();
    let (tx, rx) = mpsc::channel();
    let subscription =
        manager.subscribe(EventFilter::all(), move |e| Ok(tx.send(e.position())?))?;
    manager.publish(&event(1, "Tick", "s"))?;
    drop(manager);
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![1]);
    assert!(!subscription.is_active());
    Ok(())
}
