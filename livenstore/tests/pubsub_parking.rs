//! Consumers that survive bad events: a poison event is retried, parked, and the consumer goes
//! on; once the bug is fixed a replay re-delivers it; a checkpoint reset rebuilds a read model;
//! statuses list position, lag and parked count. On the in-memory and JSON stores.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use livenstore::pubsub::{
    consumer_statuses, CheckpointStore, Consumer, EventFilter, InMemoryCheckpointStore,
    InMemoryParkedStore, ParkedEventStore, RetryPolicy, RunningConsumer,
};
use livenstore::{
    EventStore, ExpectedVersion, InMemoryStore, InMemorySubscriptionManager, JsonStore, NewEvent,
    PublishingStore,
};

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn append<S: EventStore + ?Sized>(store: &S, body: &str) {
    let event = NewEvent::from_json("Counted", body).unwrap();
    store
        .append("counter", ExpectedVersion::Any, vec![event])
        .unwrap();
}

/// The read model: the sum of the numbers seen. A string body is a poison event while `fixed`
/// is false (and counts as 100 once it is).
struct Sum {
    total: Mutex<u64>,
    fixed: AtomicBool,
    calls: AtomicU32,
}

impl Sum {
    fn new() -> Arc<Self> {
        Arc::new(Sum {
            total: Mutex::new(0),
            fixed: AtomicBool::new(false),
            calls: AtomicU32::new(0),
        })
    }

    fn total(&self) -> u64 {
        *self.total.lock().unwrap()
    }
}

fn start<S: EventStore + 'static>(
    store: &Arc<S>,
    manager: &InMemorySubscriptionManager,
    checkpoints: Arc<dyn CheckpointStore>,
    parked: Arc<dyn ParkedEventStore>,
    sum: &Arc<Sum>,
) -> RunningConsumer {
    let sum = Arc::clone(sum);
    Consumer::new("sum", checkpoints)
        .unwrap()
        .retry(RetryPolicy::new(3).backoff(Duration::from_millis(1), Duration::from_millis(4)))
        .park_to(parked)
        .start(Arc::clone(store), manager, EventFilter::all(), move |d| {
            sum.calls.fetch_add(1, Ordering::Relaxed);
            let value = d.event().payload().to_value()?;
            let n = match value.as_u64() {
                Some(n) => n,
                None if sum.fixed.load(Ordering::Relaxed) => 100,
                None => return Err(format!("not a number: {value}").into()),
            };
            *sum.total.lock().unwrap() += n;
            Ok(())
        })
        .unwrap()
}

fn poison_is_parked_then_replayed<S: EventStore + 'static>(
    store: S,
    checkpoints: Arc<dyn CheckpointStore>,
    parked: Arc<dyn ParkedEventStore>,
) {
    let manager = InMemorySubscriptionManager::new();
    let store = Arc::new(PublishingStore::new(store, manager.clone()));
    for body in ["1", "\"poison\"", "2"] {
        append(&*store, body);
    }
    let sum = Sum::new();
    let running = start(
        &store,
        &manager,
        Arc::clone(&checkpoints),
        Arc::clone(&parked),
        &sum,
    );
    wait_for("the events after the poison", || sum.total() == 3);
    let list = parked.list(Some("sum")).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].position, list[0].attempts), (2, 3));
    assert_eq!(list[0].stream, "counter");
    assert!(
        list[0].error.contains("not a number: \"poison\""),
        "{}",
        list[0].error
    );
    assert_eq!(
        sum.calls.load(Ordering::Relaxed),
        5,
        "1, then 3 attempts, then 1"
    );

    // Live events keep flowing past the parked one.
    append(&*store, "4");
    wait_for("a live event", || sum.total() == 7);

    // The bug is fixed; a replay (from the CLI, another process) re-delivers the parked event.
    sum.fixed.store(true, Ordering::Relaxed);
    parked.request_replay("sum").unwrap();
    append(&*store, "8"); // wakes the consumer; it replays once caught up
    wait_for("the replay", || sum.total() == 115);
    wait_for("the record removed", || {
        parked.list(Some("sum")).unwrap().is_empty() && !parked.replay_requested("sum").unwrap()
    });
    running.stop();

    let status = consumer_statuses(&*store, &*checkpoints, Some(&*parked)).unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(
        (status[0].position, status[0].lag, status[0].parked),
        (5, 0, 0)
    );
}

/// A reset to the beginning replays everything into a fresh read model; a deleted checkpoint
/// does the same; the statuses show the lag meanwhile.
fn a_checkpoint_reset_rebuilds_a_read_model<S: EventStore + 'static>(
    store: S,
    checkpoints: Arc<dyn CheckpointStore>,
    parked: Arc<dyn ParkedEventStore>,
) {
    let manager = InMemorySubscriptionManager::new();
    let store = Arc::new(PublishingStore::new(store, manager.clone()));
    for n in 1..=10 {
        append(&*store, &n.to_string());
    }
    let sum = Sum::new();
    let running = start(
        &store,
        &manager,
        Arc::clone(&checkpoints),
        Arc::clone(&parked),
        &sum,
    );
    wait_for("every event", || sum.total() == 55);
    running.stop();
    assert_eq!(checkpoints.load("sum").unwrap(), Some(10));

    checkpoints.save("sum", 4).unwrap();
    let status = consumer_statuses(&*store, &*checkpoints, Some(&*parked)).unwrap();
    assert_eq!((status[0].position, status[0].lag), (4, 6));
    let rebuilt = Sum::new();
    let running = start(
        &store,
        &manager,
        Arc::clone(&checkpoints),
        Arc::clone(&parked),
        &rebuilt,
    );
    wait_for("events after 4", || rebuilt.total() == 45);
    running.stop();

    assert!(checkpoints.delete("sum").unwrap());
    assert!(!checkpoints.delete("sum").unwrap());
    assert!(consumer_statuses(&*store, &*checkpoints, None)
        .unwrap()
        .is_empty());
    let again = Sum::new();
    let running = start(&store, &manager, checkpoints, parked, &again);
    wait_for("everything", || again.total() == 55);
    running.stop();
}

#[test]
fn in_memory_poison_is_parked_then_replayed() {
    poison_is_parked_then_replayed(
        InMemoryStore::new(),
        Arc::new(InMemoryCheckpointStore::new()),
        Arc::new(InMemoryParkedStore::new()),
    );
}

#[test]
fn json_poison_is_parked_then_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let store = JsonStore::open(dir.path()).unwrap();
    let checkpoints = Arc::new(store.checkpoints().unwrap());
    let parked = Arc::new(store.parked().unwrap());
    poison_is_parked_then_replayed(store, checkpoints, parked);
    // What was parked and replayed left the directory as it found it.
    assert!(dir
        .path()
        .join("parked")
        .read_dir()
        .unwrap()
        .next()
        .is_none());
}

#[test]
fn in_memory_checkpoint_reset_rebuilds_a_read_model() {
    a_checkpoint_reset_rebuilds_a_read_model(
        InMemoryStore::new(),
        Arc::new(InMemoryCheckpointStore::new()),
        Arc::new(InMemoryParkedStore::new()),
    );
}

#[test]
fn json_checkpoint_reset_rebuilds_a_read_model() {
    let dir = tempfile::tempdir().unwrap();
    let store = JsonStore::open(dir.path()).unwrap();
    let checkpoints = Arc::new(store.checkpoints().unwrap());
    let parked = Arc::new(store.parked().unwrap());
    a_checkpoint_reset_rebuilds_a_read_model(store, checkpoints, parked);
}

#[test]
fn a_consumer_without_parking_tries_once_and_keeps_its_old_policy() {
    let store = Arc::new(InMemoryStore::new());
    append(&*store, "\"poison\"");
    append(&*store, "1");
    let calls = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&calls);
    let running = Consumer::new("plain", Arc::new(InMemoryCheckpointStore::new()))
        .unwrap()
        .start(
            Arc::clone(&store),
            &InMemorySubscriptionManager::new(),
            EventFilter::all(),
            move |d| {
                counted.fetch_add(1, Ordering::Relaxed);
                d.event().payload().to_value()?.as_u64().ok_or("nan")?;
                Ok(())
            },
        )
        .unwrap();
    wait_for("both events", || running.position() == 2);
    running.stop();
    assert_eq!(
        calls.load(Ordering::Relaxed),
        2,
        "no retry: skipped and reported"
    );
}

#[test]
fn a_parked_event_that_can_no_longer_be_read_stays_parked_and_the_others_are_replayed() {
    let manager = InMemorySubscriptionManager::new();
    let store = Arc::new(PublishingStore::new(InMemoryStore::new(), manager.clone()));
    for body in ["\"poison\"", "2"] {
        append(&*store, body);
    }
    // A record of an event this store never held (retention removed it, or another store's).
    let elsewhere = InMemoryStore::new();
    append(&elsewhere, "1");
    let gone = &elsewhere.read_all(1, 1).unwrap()[0];
    let parked = Arc::new(InMemoryParkedStore::new());
    parked
        .park(&livenstore::pubsub::ParkedEvent::new(
            "sum",
            gone,
            "old".into(),
            1,
        ))
        .unwrap();
    let sum = Sum::new();
    let checkpoints: Arc<dyn CheckpointStore> = Arc::new(InMemoryCheckpointStore::new());
    let running = start(&store, &manager, checkpoints, parked.clone(), &sum);
    wait_for("the poison parked", || {
        parked.list(Some("sum")).unwrap().len() == 2
    });
    sum.fixed.store(true, Ordering::Relaxed);
    parked.request_replay("sum").unwrap();
    append(&*store, "4");
    wait_for("the replay", || !parked.replay_requested("sum").unwrap());
    running.stop();
    assert_eq!(sum.total(), 106, "2 and 4, and the poison replayed as 100");
    let left = parked.list(Some("sum")).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].event_id, gone.id());
    assert!(
        left[0].error.starts_with("cannot be read for a replay: "),
        "{}",
        left[0].error
    );
}
