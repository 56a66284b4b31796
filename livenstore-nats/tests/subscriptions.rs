//! Subscriptions across processes: a manager on one store receives what another store (another
//! process's handle on the same JetStream stream) appends, live and through a catch-up
//! subscription (skipped when `LIVENSTORE_NATS_URL` is unset).

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use livenstore::pubsub::{subscribe_from, EventFilter, StartFrom, SubscriptionManager};
use livenstore::{EventStore, ExpectedVersion, NewEvent};
use livenstore_nats::testing::TestStream;
use livenstore_nats::JetStreamSubscriptionManager;

fn event(n: u32) -> NewEvent {
    NewEvent::from_json("Ticked", format!(r#"{{"n":{n}}}"#)).unwrap()
}

#[test]
fn live_subscriptions_receive_other_processes_appends_in_order() {
    let Some(stream) = TestStream::new() else {
        return;
    };
    let here = stream.connect();
    let there = stream.connect();
    here.append("before", ExpectedVersion::Any, vec![event(0)])
        .unwrap();
    let manager = JetStreamSubscriptionManager::start(&here).unwrap();
    let (tx, rx) = mpsc::channel();
    let _subscription = manager
        .subscribe(EventFilter::category("clock"), move |e| {
            tx.send((e.position(), e.stream().to_owned())).unwrap();
            Ok(())
        })
        .unwrap();
    for n in 1..=20 {
        let writer = if n % 2 == 0 { &here } else { &there };
        writer
            .append(
                &format!("clock-{}", n % 3),
                ExpectedVersion::Any,
                vec![event(n)],
            )
            .unwrap();
    }
    let got: Vec<(u64, String)> = (0..20)
        .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
        .collect();
    let positions: Vec<u64> = got.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        positions,
        (2..=21).collect::<Vec<_>>(),
        "each once, in order, none before the start"
    );
    assert!(
        rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "nothing more"
    );
    assert_eq!(manager.position(), 21);
    manager.close();
    assert!(manager.is_closed());
}

#[test]
fn catch_up_subscriptions_read_history_then_follow_other_processes() {
    let Some(stream) = TestStream::new() else {
        return;
    };
    let reader = stream.connect();
    let writer = stream.connect();
    for n in 1..=5 {
        writer
            .append("orders-1", ExpectedVersion::Any, vec![event(n)])
            .unwrap();
    }
    reader.sync().unwrap();
    let manager = JetStreamSubscriptionManager::start(&reader).unwrap();
    let (tx, rx) = mpsc::channel();
    let _subscription = subscribe_from(
        Arc::new(reader.clone()),
        &manager,
        StartFrom::Beginning,
        EventFilter::all(),
        move |delivery| {
            tx.send(delivery.event().position()).unwrap();
            Ok(())
        },
    )
    .unwrap();
    for n in 6..=10 {
        writer
            .append("orders-1", ExpectedVersion::Any, vec![event(n)])
            .unwrap();
    }
    let got: Vec<u64> = (0..10)
        .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
        .collect();
    assert_eq!(got, (1..=10).collect::<Vec<_>>());
}
