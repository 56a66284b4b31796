//! The follower without a server: an in-memory store, polling only.

use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use livenstore::pubsub::{
    EventFilter, QueueFullPolicy, SubscriptionErrorKind, SubscriptionManager, SubscriptionOptions,
};
use livenstore::{
    AppendResult, EventId, EventStore, ExpectedVersion, InMemoryStore, NewEvent, RecordedEvent,
    StoreError, StreamInfo, Timestamp,
};

use super::*;

const WAIT: Duration = Duration::from_secs(5);

fn event(n: usize) -> NewEvent {
    NewEvent::from_json("Counted", format!(r#"{{"n":{n}}}"#)).unwrap()
}

fn poll_only(interval: Duration) -> FollowerOptions {
    FollowerOptions::new().listen(false).poll_interval(interval)
}

fn follow(store: Arc<dyn EventStore>, options: FollowerOptions) -> PostgresSubscriptionManager {
    PostgresSubscriptionManager::spawn(store, None, options, "test-follower".into()).unwrap()
}

/// Receives `count` positions from `rx`, failing after [`WAIT`].
fn receive(rx: &mpsc::Receiver<u64>, count: usize) -> Vec<u64> {
    (0..count)
        .map(|i| {
            rx.recv_timeout(WAIT)
                .unwrap_or_else(|_| panic!("event {i} of {count} did not arrive"))
        })
        .collect()
}

#[test]
fn publishes_what_is_appended_after_start_once_in_order() {
    let store = Arc::new(InMemoryStore::new());
    store
        .append("old-1", ExpectedVersion::Any, vec![event(0), event(1)])
        .unwrap();
    let manager = follow(
        store.clone(),
        poll_only(Duration::from_millis(10)).page_size(3),
    );
    assert_eq!(manager.position(), 2);
    assert!(!manager.is_listening());
    let (tx, rx) = mpsc::channel();
    let _sub = manager
        .subscribe(EventFilter::all(), move |e| {
            tx.send(e.position())?;
            Ok(())
        })
        .unwrap();
    // A batch bigger than a page, then singles on several streams.
    store
        .append(
            "new-1",
            ExpectedVersion::Any,
            (0..7).map(event).collect::<Vec<_>>(),
        )
        .unwrap();
    for i in 0..5 {
        store
            .append_one(&format!("new-{}", i % 2), ExpectedVersion::Any, event(i))
            .unwrap();
    }
    assert_eq!(receive(&rx, 12), (3..=14).collect::<Vec<_>>());
    assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
    assert_eq!(manager.position(), 14);
}

#[test]
fn close_stops_the_follower_and_refuses_more() {
    let store = Arc::new(InMemoryStore::new());
    // A poll interval far beyond the test: close must not wait for it.
    let manager = follow(store.clone(), poll_only(Duration::from_secs(3600)));
    let started = Instant::now();
    manager.close();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(manager.is_closed());
    assert!(manager.subscribe(EventFilter::all(), |_| Ok(())).is_err());
    store
        .append_one("s", ExpectedVersion::Any, event(0))
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(manager.position(), 0);
    manager.close(); // idempotent
}

#[test]
fn dropping_the_last_handle_stops_the_follower() {
    let store = Arc::new(InMemoryStore::new());
    let manager = follow(store.clone(), poll_only(Duration::from_millis(5)));
    let clone = manager.clone();
    drop(manager);
    assert!(!clone.is_closed());
    drop(clone);
    // The follower held the only other reference to the store.
    let deadline = Instant::now() + WAIT;
    while Arc::strong_count(&store) > 1 {
        assert!(
            Instant::now() < deadline,
            "the follower still holds the store"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A store whose `read_all` fails a given number of times before working.
struct Flaky {
    inner: InMemoryStore,
    failures_left: AtomicUsize,
}

impl EventStore for Flaky {
    fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        self.inner.append(stream, expected, events)
    }
    fn read(&self, id: EventId) -> Result<RecordedEvent, StoreError> {
        self.inner.read(id)
    }
    fn read_stream(
        &self,
        s: &str,
        from: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_stream(s, from, max)
    }
    fn read_all(&self, from: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        let failing = self
            .failures_left
            .fetch_update(AtomicOrdering::SeqCst, AtomicOrdering::SeqCst, |n| {
                n.checked_sub(1)
            })
            .is_ok();
        if failing {
            return Err(StoreError::Closed);
        }
        self.inner.read_all(from, max)
    }
    fn read_by_type(
        &self,
        t: &str,
        from: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_by_type(t, from, max)
    }
    fn read_time_range(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_time_range(from, to)
    }
    fn stream_info(&self, s: &str) -> Result<Option<StreamInfo>, StoreError> {
        self.inner.stream_info(s)
    }
    fn streams(&self) -> Result<Vec<StreamInfo>, StoreError> {
        self.inner.streams()
    }
    fn link_to_stream(&self, id: EventId, s: &str) -> Result<u64, StoreError> {
        self.inner.link_to_stream(id, s)
    }
    fn last_position(&self) -> Result<u64, StoreError> {
        self.inner.last_position()
    }
}

#[test]
fn failed_reads_are_reported_and_retried_without_loss() {
    let store = Arc::new(Flaky {
        inner: InMemoryStore::new(),
        failures_left: AtomicUsize::new(usize::MAX),
    });
    // Polls far apart: only the retries of the failed first read can deliver in time.
    let manager = follow(
        store.clone(),
        poll_only(Duration::from_secs(3600)).max_retry_delay(Duration::from_millis(20)),
    );
    let reports = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&reports);
    manager.on_error(move |e| {
        let is_store = matches!(e.kind, SubscriptionErrorKind::Store(StoreError::Closed));
        seen.lock()
            .unwrap()
            .push((e.subscription.clone(), is_store));
    });
    let (tx, rx) = mpsc::channel();
    let _sub = manager
        .subscribe(EventFilter::all(), move |e| {
            tx.send(e.position())?;
            Ok(())
        })
        .unwrap();
    store
        .append("s", ExpectedVersion::Any, (0..3).map(event).collect())
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while reports.lock().unwrap().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the failed reads were not reported"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(rx.try_recv().is_err(), "nothing can be read yet");
    store.failures_left.store(0, AtomicOrdering::SeqCst);
    assert_eq!(receive(&rx, 3), vec![1, 2, 3]);
    let reports = reports.lock().unwrap();
    assert!(reports
        .iter()
        .all(|(name, is_store)| name == "test-follower" && *is_store));
}

#[test]
fn a_full_failing_queue_is_reported_and_the_others_still_receive() {
    let store = Arc::new(InMemoryStore::new());
    let manager = follow(store.clone(), poll_only(Duration::from_millis(5)));
    let reports = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&reports);
    manager.on_error(move |e| {
        if let SubscriptionErrorKind::Publish(p) = &e.kind {
            seen.lock().unwrap().push(p.to_string());
        }
    });
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let gate_rx = Mutex::new(gate_rx);
    let _stuck = manager
        .subscribe_with(
            EventFilter::all(),
            SubscriptionOptions::new()
                .name("stuck")
                .capacity(1)
                .when_full(QueueFullPolicy::Fail),
            move |_| {
                let _ = gate_rx.lock().unwrap().recv_timeout(WAIT);
                Ok(())
            },
        )
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let _fine = manager
        .subscribe(EventFilter::all(), move |e| {
            tx.send(e.position())?;
            Ok(())
        })
        .unwrap();
    store
        .append("s", ExpectedVersion::Any, (0..5).map(event).collect())
        .unwrap();
    assert_eq!(receive(&rx, 5), vec![1, 2, 3, 4, 5]);
    let deadline = Instant::now() + WAIT;
    while reports.lock().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the refused publication was not reported"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(reports.lock().unwrap()[0].contains("stuck"));
    drop(gate_tx);
}

#[test]
fn options_are_validated() {
    let store: Arc<dyn EventStore> = Arc::new(InMemoryStore::new());
    for bad in [
        FollowerOptions::new().poll_interval(Duration::ZERO),
        FollowerOptions::new().page_size(0),
        FollowerOptions::new().max_retry_delay(Duration::ZERO),
    ] {
        let err =
            PostgresSubscriptionManager::spawn(store.clone(), None, bad, "x".into()).unwrap_err();
        assert!(matches!(err, StoreError::InvalidArgument(_)), "{err}");
    }
}
