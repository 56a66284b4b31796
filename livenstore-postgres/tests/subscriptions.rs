//! `PostgresSubscriptionManager`: subscriptions that follow events appended by other store
//! instances and other processes, through `LISTEN`/`NOTIFY` or polling.

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use livenstore::pubsub::{
    subscribe_from_with, CatchUpOptions, CheckpointPolicy, CheckpointStore, Consumer, EventFilter,
    StartFrom, SubscriptionErrorKind, SubscriptionManager,
};
use livenstore::{EventStore, ExpectedVersion, NewEvent, RecordedEvent, StoreError};
use livenstore_postgres::testing::TestSchema;
use livenstore_postgres::{
    FollowerOptions, PostgresConfig, PostgresStore, PostgresSubscriptionManager,
    LISTENER_APPLICATION_NAME,
};

/// How long any single expected delivery may take before the test fails.
const WAIT: Duration = Duration::from_secs(10);
/// Longer than any test: with it, only notifications can wake the follower.
const NEVER: Duration = Duration::from_secs(3600);

fn event(n: u64) -> NewEvent {
    NewEvent::from_json("Counted", format!(r#"{{"n":{n}}}"#)).unwrap()
}

/// The `n` of a payload written by [`event`].
fn number(event: &RecordedEvent) -> u64 {
    let value: serde_json::Value = serde_json::from_str(event.payload().as_str()).unwrap();
    value["n"].as_u64().unwrap()
}

/// Appends events `first..first + count` (payload `n`), as singles and batches over three
/// streams.
fn append_numbered(store: &dyn EventStore, first: u64, count: u64) {
    const SIZES: [u64; 6] = [1, 1, 3, 1, 7, 2];
    let mut done = 0;
    let mut round = 0;
    while done < count {
        let size = SIZES[round % SIZES.len()].min(count - done);
        let stream = format!("counter-{}", round % 3);
        let events: Vec<NewEvent> = (first + done..first + done + size).map(event).collect();
        store
            .append(&stream, ExpectedVersion::Any, events)
            .unwrap_or_else(|e| panic!("append of {size} to {stream} failed: {e}"));
        done += size;
        round += 1;
    }
}

/// Receives `count` items from `rx`, failing after [`WAIT`] without one.
fn receive<T>(rx: &mpsc::Receiver<T>, count: usize) -> Vec<T> {
    (0..count)
        .map(|i| {
            rx.recv_timeout(WAIT)
                .unwrap_or_else(|_| panic!("delivery {} of {count} did not arrive", i + 1))
        })
        .collect()
}

/// Fails unless nothing more arrives for a while (no duplicates).
fn assert_quiet<T: std::fmt::Debug>(rx: &mpsc::Receiver<T>) {
    if let Ok(extra) = rx.recv_timeout(Duration::from_millis(200)) {
        panic!("unexpected extra delivery: {extra:?}");
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A live subscription sending `(position, n)` of each event.
fn positions_and_numbers(
    manager: &PostgresSubscriptionManager,
) -> (livenstore::pubsub::Subscription, mpsc::Receiver<(u64, u64)>) {
    let (tx, rx) = mpsc::channel();
    let subscription = manager
        .subscribe(EventFilter::all(), move |e| {
            tx.send((e.position(), number(e)))?;
            Ok(())
        })
        .unwrap();
    (subscription, rx)
}

#[test]
fn notifications_bring_events_appended_through_another_store_instance() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let here = test.connect();
    let elsewhere = test.connect(); // its own pool and connections
    append_numbered(&elsewhere, 0, 4); // before the manager starts: not delivered live
    let manager = PostgresSubscriptionManager::with_options(
        &here,
        FollowerOptions::new().poll_interval(NEVER),
    )
    .unwrap();
    assert_eq!(manager.position(), 4);
    assert!(manager.is_listening());
    let (_subscription, rx) = positions_and_numbers(&manager);
    append_numbered(&elsewhere, 4, 40);
    let received = receive(&rx, 40);
    let expected: Vec<(u64, u64)> = (5..=44).map(|p| (p, p - 1)).collect();
    assert_eq!(received, expected);
    assert_quiet(&rx);
    assert_eq!(manager.position(), 44);
}

#[test]
fn polling_alone_delivers_when_the_manager_does_not_listen() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let here = test.connect();
    let elsewhere = test.connect();
    let manager = PostgresSubscriptionManager::with_options(
        &here,
        FollowerOptions::new()
            .listen(false)
            .poll_interval(Duration::from_millis(20))
            .page_size(5),
    )
    .unwrap();
    assert!(!manager.is_listening());
    assert_eq!(manager.listener_backend_pid(), None);
    let (_subscription, rx) = positions_and_numbers(&manager);
    append_numbered(&elsewhere, 0, 23);
    let received = receive(&rx, 23);
    assert_eq!(received, (1..=23).map(|p| (p, p - 1)).collect::<Vec<_>>());
    assert_quiet(&rx);
}

#[test]
fn the_listener_reconnects_after_its_connection_is_terminated() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let here = test.connect();
    let elsewhere = test.connect();
    let manager = PostgresSubscriptionManager::with_options(
        &here,
        FollowerOptions::new()
            .poll_interval(NEVER)
            .max_retry_delay(Duration::from_millis(100)),
    )
    .unwrap();
    let reports = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&reports);
    manager.on_error(move |e| {
        if let SubscriptionErrorKind::Store(StoreError::Backend { operation, .. }) = &e.kind {
            seen.lock().unwrap().push(*operation);
        }
    });
    let (_subscription, rx) = positions_and_numbers(&manager);
    append_numbered(&elsewhere, 0, 3);
    assert_eq!(receive(&rx, 3), vec![(1, 0), (2, 1), (3, 2)]);

    let pid = manager.listener_backend_pid().unwrap();
    let mut admin = elsewhere.pool().get().unwrap();
    let name: String = admin
        .query_one(
            "SELECT application_name FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        )
        .unwrap()
        .get(0);
    assert_eq!(name, LISTENER_APPLICATION_NAME);
    let terminated: bool = admin
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    assert!(terminated);
    // Appended while the listener is down or reconnecting: read after the reconnection.
    append_numbered(&elsewhere, 3, 5);
    assert_eq!(
        receive(&rx, 5),
        (4..=8).map(|p| (p, p - 1)).collect::<Vec<_>>()
    );
    wait_until("the listener is back", || {
        manager.listener_backend_pid().is_some_and(|new| new != pid)
    });
    // The new connection is notified (polling is off).
    append_numbered(&elsewhere, 8, 4);
    assert_eq!(
        receive(&rx, 4),
        (9..=12).map(|p| (p, p - 1)).collect::<Vec<_>>()
    );
    assert_quiet(&rx);
    assert!(
        reports.lock().unwrap().contains(&"listen"),
        "the lost connection was not reported: {:?}",
        reports.lock().unwrap()
    );
}

#[test]
fn stray_notifications_on_the_channel_change_nothing() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let here = test.connect();
    let elsewhere = test.connect();
    let manager = PostgresSubscriptionManager::with_options(
        &here,
        FollowerOptions::new().poll_interval(NEVER),
    )
    .unwrap();
    let (_subscription, rx) = positions_and_numbers(&manager);
    let mut admin = elsewhere.pool().get().unwrap();
    for payload in ["not a position", "999999999", "", "-1"] {
        admin
            .execute(
                "SELECT pg_notify($1, $2)",
                &[&elsewhere.notification_channel(), &payload],
            )
            .unwrap();
    }
    append_numbered(&elsewhere, 0, 5);
    assert_eq!(
        receive(&rx, 5),
        (1..=5).map(|p| (p, p - 1)).collect::<Vec<_>>()
    );
    assert_quiet(&rx);
    append_numbered(&elsewhere, 5, 2);
    assert_eq!(receive(&rx, 2), vec![(6, 5), (7, 6)]);
    assert!(manager.is_listening());
}

#[test]
fn close_stops_the_follower_and_its_connection() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let here = test.connect();
    let manager = PostgresSubscriptionManager::start(&here).unwrap();
    let pid = manager.listener_backend_pid().unwrap();
    let started = Instant::now();
    manager.close();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(manager.listener_backend_pid(), None);
    assert!(manager.subscribe(EventFilter::all(), |_| Ok(())).is_err());
    let mut admin = here.pool().get().unwrap();
    wait_until("the listening backend is gone", || {
        admin
            .query_opt("SELECT 1 FROM pg_stat_activity WHERE pid = $1", &[&pid])
            .unwrap()
            .is_none()
    });
}

#[test]
fn a_store_made_with_a_pool_listens_on_a_pooled_connection() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let config: postgres::Config = test.url().parse().unwrap();
    let pool = r2d2::Pool::builder()
        .max_size(2)
        .build(r2d2_postgres::PostgresConnectionManager::new(
            config,
            postgres::NoTls,
        ))
        .unwrap();
    let here = PostgresStore::with_pool_and_config(pool.clone(), test.config()).unwrap();
    // A pool of one: the listener would starve the store.
    let tiny = r2d2::Pool::builder()
        .max_size(1)
        .build(r2d2_postgres::PostgresConnectionManager::new(
            test.url().parse().unwrap(),
            postgres::NoTls,
        ))
        .unwrap();
    let starved = PostgresStore::with_pool_and_config(tiny, test.config()).unwrap();
    let err = PostgresSubscriptionManager::start(&starved).unwrap_err();
    assert!(matches!(err, StoreError::InvalidArgument(_)), "{err}");
    drop(
        PostgresSubscriptionManager::with_options(&starved, FollowerOptions::new().listen(false))
            .unwrap(),
    );
    let elsewhere = test.connect();
    let manager = PostgresSubscriptionManager::with_options(
        &here,
        FollowerOptions::new().poll_interval(NEVER),
    )
    .unwrap();
    assert!(manager.is_listening());
    let (_subscription, rx) = positions_and_numbers(&manager);
    append_numbered(&elsewhere, 0, 10);
    assert_eq!(
        receive(&rx, 10),
        (1..=10).map(|p| (p, p - 1)).collect::<Vec<_>>()
    );
    manager.close();
    // The connection went back to the pool listening to nothing, with its own name again.
    let mut first = pool.get().unwrap();
    let mut second = pool.get().unwrap();
    for client in [&mut *first, &mut *second] {
        let listening: i64 = client
            .query_one("SELECT count(*) FROM pg_listening_channels()", &[])
            .unwrap()
            .get(0);
        assert_eq!(listening, 0);
        let name: String = client
            .query_one("SELECT current_setting('application_name')", &[])
            .unwrap()
            .get(0);
        assert_ne!(name, LISTENER_APPLICATION_NAME);
    }
}

const CHILD_URL: &str = "LIVENSTORE_TEST_CHILD_URL";
const CHILD_SCHEMA: &str = "LIVENSTORE_TEST_CHILD_SCHEMA";
const CHILD_FIRST: &str = "LIVENSTORE_TEST_CHILD_FIRST";
const CHILD_COUNT: &str = "LIVENSTORE_TEST_CHILD_COUNT";

/// The other process of [`catch_up_and_consumers_follow_another_process`]: appends numbered
/// events through a store of its own.
#[test]
#[ignore = "the child process of catch_up_and_consumers_follow_another_process, which runs it"]
fn child_appends() {
    let var = |name| std::env::var(name).ok();
    let (Some(url), Some(schema), Some(first), Some(count)) = (
        var(CHILD_URL),
        var(CHILD_SCHEMA),
        var(CHILD_FIRST),
        var(CHILD_COUNT),
    ) else {
        eprintln!("child_appends: not started by its parent test; nothing to do");
        return;
    };
    let (first, count): (u64, u64) = (first.parse().unwrap(), count.parse().unwrap());
    let store =
        PostgresStore::connect_with(&url, PostgresConfig::new().schema(schema).pool_size(1))
            .unwrap();
    // In slices, so the parent's subscribers see events while others are still coming.
    let mut done = 0;
    while done < count {
        let slice = 20.min(count - done);
        append_numbered(&store, first + done, slice);
        done += slice;
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Starts [`child_appends`] in a new process of this test binary.
fn spawn_child(test: &TestSchema, first: u64, count: u64) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child_appends",
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_URL, test.url())
        .env(CHILD_SCHEMA, test.schema())
        .env(CHILD_FIRST, first.to_string())
        .env(CHILD_COUNT, count.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for the child, failing with its output when it failed.
fn finish_child(child: std::process::Child) {
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the appending process failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    // The filter matched the child test and it ran (a typo would run nothing and pass).
    assert!(stdout.contains("1 passed"), "{stdout}");
}

#[test]
fn catch_up_and_consumers_follow_another_process() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    const HISTORY: u64 = 6;
    const CHILD: u64 = 200;
    const TOTAL: u64 = HISTORY + CHILD;
    let here = Arc::new(test.connect());
    append_numbered(&*here, 0, HISTORY);
    // No polling anywhere: only notifications (through the manager's follower) wake readers.
    let manager = PostgresSubscriptionManager::with_options(
        &here,
        FollowerOptions::new().poll_interval(NEVER),
    )
    .unwrap();
    let quiet = CatchUpOptions::new().poll_interval(NEVER);

    let (live_tx, live_rx) = mpsc::channel();
    let _live = manager
        .subscribe(EventFilter::all(), move |e| {
            live_tx.send((e.position(), number(e)))?;
            Ok(())
        })
        .unwrap();
    let (catch_up_tx, catch_up_rx) = mpsc::channel();
    let catch_up = subscribe_from_with(
        Arc::clone(&here),
        Some(&manager),
        StartFrom::Beginning,
        EventFilter::all(),
        quiet.clone(),
        Box::new(move |d| {
            catch_up_tx.send((d.event().position(), number(d.event()), d.is_live()))?;
            Ok(())
        }),
    )
    .unwrap();
    let checkpoints = Arc::new(here.checkpoints());
    let (first_tx, first_rx) = mpsc::channel();
    let consumer = Consumer::new("cross-process", checkpoints.clone())
        .unwrap()
        .checkpoint_policy(CheckpointPolicy::Every {
            events: 25,
            interval: NEVER,
        })
        .options(quiet.clone())
        .start(Arc::clone(&here), &manager, EventFilter::all(), move |d| {
            first_tx.send(d.event().position())?;
            Ok(())
        })
        .unwrap();
    wait_until("the catch-up subscription is live", || catch_up.is_live());

    let child = spawn_child(&test, HISTORY, CHILD);

    // The first consumer stops part-way through the child's appends.
    let mut first_seen = receive(&first_rx, (HISTORY + CHILD / 2) as usize);
    consumer.stop();
    first_seen.extend(first_rx.try_iter());
    let saved = checkpoints.load("cross-process").unwrap().unwrap();
    assert_eq!(
        saved,
        *first_seen.last().unwrap(),
        "stop saves what was processed"
    );
    assert_eq!(first_seen, (1..=saved).collect::<Vec<_>>());

    // Restarted with the same name on a new store and manager (a new process would do this).
    let restarted_store = Arc::new(test.connect());
    let restarted_manager = PostgresSubscriptionManager::with_options(
        &restarted_store,
        FollowerOptions::new().poll_interval(NEVER),
    )
    .unwrap();
    let (second_tx, second_rx) = mpsc::channel();
    let restarted = Consumer::new("cross-process", Arc::new(restarted_store.checkpoints()))
        .unwrap()
        .options(quiet)
        .start(
            Arc::clone(&restarted_store),
            &restarted_manager,
            EventFilter::all(),
            move |d| {
                second_tx.send(d.event().position())?;
                Ok(())
            },
        )
        .unwrap();

    let live = receive(&live_rx, CHILD as usize);
    let catch_up_seen = receive(&catch_up_rx, TOTAL as usize);
    let second_seen = receive(&second_rx, (TOTAL - saved) as usize);
    finish_child(child);
    assert_quiet(&live_rx);
    assert_quiet(&catch_up_rx);
    assert_quiet(&second_rx);

    // Live: exactly the child's events, in order, each once.
    assert_eq!(
        live,
        (HISTORY + 1..=TOTAL)
            .map(|p| (p, p - 1))
            .collect::<Vec<_>>()
    );
    // Catch-up: history (not live), then the child's events (live), in order, each once.
    let expected: Vec<(u64, u64, bool)> = (1..=TOTAL).map(|p| (p, p - 1, p > HISTORY)).collect();
    assert_eq!(catch_up_seen, expected);
    // The restarted consumer resumed right after the checkpoint: nothing again, nothing skipped.
    assert_eq!(second_seen, (saved + 1..=TOTAL).collect::<Vec<_>>());
    let all: HashSet<u64> = first_seen.iter().chain(&second_seen).copied().collect();
    assert_eq!(all.len() as u64, TOTAL);
    restarted.stop();
    assert_eq!(
        restarted_store.checkpoints().load("cross-process").unwrap(),
        Some(TOTAL)
    );
}
