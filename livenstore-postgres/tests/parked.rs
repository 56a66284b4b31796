//! Parked events on PostgreSQL: a consumer parks a poison event in the schema's table and goes
//! on; a replay asked from another connection re-delivers it once the handler is fixed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use livenstore::pubsub::{CatchUpOptions, Consumer, EventFilter, ParkedEventStore, RetryPolicy};
use livenstore::{EventStore, ExpectedVersion, InMemorySubscriptionManager, NewEvent};
use livenstore_postgres::testing::TestSchema;

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_poison_event_is_parked_in_the_schema_and_replayed_on_request() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let store = Arc::new(test.connect());
    for body in ["1", "\"poison\"", "2"] {
        let event = NewEvent::from_json("Counted", body).unwrap();
        store
            .append("counter", ExpectedVersion::Any, vec![event])
            .unwrap();
    }
    let total = Arc::new(AtomicU64::new(0));
    let fixed = Arc::new(AtomicBool::new(false));
    let (sum, ok) = (Arc::clone(&total), Arc::clone(&fixed));
    let running = Consumer::new("sum", Arc::new(store.checkpoints()))
        .unwrap()
        .options(CatchUpOptions::new().poll_interval(Duration::from_millis(10)))
        .retry(RetryPolicy::new(2).backoff(Duration::ZERO, Duration::ZERO))
        .park_to(Arc::new(store.parked()))
        .start(
            Arc::clone(&store),
            &InMemorySubscriptionManager::new(),
            EventFilter::all(),
            move |d| {
                let value = d.event().payload().to_value()?;
                let n = match value.as_u64() {
                    Some(n) => n,
                    None if ok.load(Ordering::SeqCst) => 100,
                    None => return Err("not a number".into()),
                };
                sum.fetch_add(n, Ordering::SeqCst);
                Ok(())
            },
        )
        .unwrap();
    wait_for("the events after the poison", || {
        total.load(Ordering::SeqCst) == 3
    });
    // Another connection (the CLI) sees it and asks for a replay.
    let other = test.connect().parked();
    let parked = other.list(None).unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(
        (
            parked[0].consumer.as_str(),
            parked[0].position,
            parked[0].attempts
        ),
        ("sum", 2, 2)
    );
    fixed.store(true, Ordering::SeqCst);
    other.request_replay("sum").unwrap();
    wait_for("the replay", || total.load(Ordering::SeqCst) == 103);
    wait_for("the record removed", || {
        other.list(Some("sum")).unwrap().is_empty() && !other.replay_requested("sum").unwrap()
    });
    running.stop();
}
