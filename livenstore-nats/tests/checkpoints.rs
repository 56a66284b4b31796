//! `JetStreamCheckpointStore`: consumer checkpoints in the stream's key-value bucket, shared by
//! every store on the stream, and a `Consumer` resuming from one.

mod support;

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use livenstore::pubsub::{CatchUpOptions, CheckpointError, CheckpointStore, Consumer, EventFilter};
use livenstore::testing::scenarios;
use livenstore::{EventStore, ExpectedVersion, InMemorySubscriptionManager, NewEvent};
use livenstore_nats::testing::TestStream;

#[test]
fn save_load_overwrite_list_and_delete() {
    let Some(test) = TestStream::new() else {
        return;
    };
    // Names with dots, the key separator, must not meet in the bucket.
    scenarios::checkpoints_save_load_overwrite_list_and_delete(
        &test.connect().checkpoints(),
        u64::MAX,
    );
}

#[test]
fn checkpoints_survive_a_new_store_and_stay_in_their_stream() {
    let (Some(test), Some(elsewhere)) = (TestStream::new(), TestStream::new()) else {
        return;
    };
    scenarios::checkpoints_survive_a_new_handle(
        || test.connect().checkpoints(),
        &elsewhere.connect().checkpoints(),
    );
}

#[test]
fn invalid_names_are_refused() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let checkpoints = test.connect().checkpoints();
    for bad in ["", "a/b", "a b", ".hidden", "é", "*", ">"] {
        for result in [
            checkpoints.save(bad, 1).map(drop),
            checkpoints.load(bad).map(drop),
            checkpoints.delete(bad).map(drop),
        ] {
            assert!(
                matches!(result, Err(CheckpointError::InvalidName { .. })),
                "{bad:?}: {result:?}"
            );
        }
    }
}

#[test]
fn a_damaged_value_is_a_corrupted_error_naming_the_key() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let checkpoints = test.connect().checkpoints();
    checkpoints.save("c", 1).unwrap();
    support::put_raw(&test, "checkpoints", "c", b"seven".to_vec());
    match checkpoints.load("c") {
        Err(CheckpointError::Corrupted { path, reason }) => {
            let path = path.to_string_lossy().into_owned();
            assert!(path.ends_with("_checkpoints/c"), "{path}");
            assert!(reason.contains("seven"), "{reason}");
        }
        other => panic!("expected a corrupted checkpoint, got {other:?}"),
    }
    assert!(matches!(
        checkpoints.list(),
        Err(CheckpointError::Corrupted { .. })
    ));
    // A key no store writes (not an encoded name) fails the listing, it is not skipped.
    checkpoints.save("c", 2).unwrap();
    support::put_raw(&test, "checkpoints", "not=valid", b"1".to_vec());
    assert!(matches!(
        checkpoints.list(),
        Err(CheckpointError::Corrupted { .. })
    ));
    assert_eq!(checkpoints.load("c").unwrap(), Some(2));
}

#[test]
fn a_consumer_resumes_from_its_checkpoint_in_a_new_store() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let append = |store: &dyn EventStore, n: u64| {
        let event = NewEvent::from_json("Counted", n.to_string()).unwrap();
        store
            .append("counter", ExpectedVersion::Any, vec![event])
            .unwrap();
    };
    let options = CatchUpOptions::new().poll_interval(Duration::from_millis(10));
    let receive = |rx: &mpsc::Receiver<u64>, count: usize| -> Vec<u64> {
        (0..count)
            .map(|_| rx.recv_timeout(Duration::from_secs(20)).unwrap())
            .collect()
    };

    let store = Arc::new(test.connect());
    for n in 1..=5 {
        append(&*store, n);
    }
    let (tx, rx) = mpsc::channel();
    let running = Consumer::new("counter.sum", Arc::new(store.checkpoints()))
        .unwrap()
        .options(options.clone())
        .start(
            Arc::clone(&store),
            &InMemorySubscriptionManager::new(),
            EventFilter::all(),
            move |d| {
                tx.send(d.event().position())?;
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(receive(&rx, 5), [1, 2, 3, 4, 5]);
    running.stop();
    assert_eq!(store.checkpoints().load("counter.sum").unwrap(), Some(5));
    drop(store);

    // A new process: a new store on the stream, the same consumer name.
    let store = Arc::new(test.connect());
    for n in 6..=8 {
        append(&*store, n);
    }
    let (tx, rx) = mpsc::channel();
    let resumed = Consumer::new("counter.sum", Arc::new(store.checkpoints()))
        .unwrap()
        .options(options)
        .start(
            Arc::clone(&store),
            &InMemorySubscriptionManager::new(),
            EventFilter::all(),
            move |d| {
                tx.send(d.event().position())?;
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(receive(&rx, 3), [6, 7, 8], "nothing again, nothing skipped");
    resumed.stop();
    assert!(rx.try_recv().is_err());
    assert_eq!(store.checkpoints().load("counter.sum").unwrap(), Some(8));
}

/// Stores of several processes opening the same bucket for the first time at once: each finds
/// or creates it (the server refuses all creates but one, as overlapping the first).
#[test]
fn many_stores_open_a_new_bucket_at_once() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let stores: Vec<_> = (0..6).map(|_| test.connect()).collect();
    let barrier = std::sync::Barrier::new(stores.len());
    std::thread::scope(|scope| {
        for (n, store) in stores.iter().enumerate() {
            let barrier = &barrier;
            scope.spawn(move || {
                barrier.wait();
                store
                    .checkpoints()
                    .save(&format!("consumer-{n}"), n as u64 + 1)
                    .unwrap();
            });
        }
    });
    let all = stores[0].checkpoints().list().unwrap();
    assert_eq!(all.len(), stores.len(), "{all:?}");
}

/// Reads and deletes of the key-value stores create no bucket: a missing one reads as empty.
#[test]
fn reads_of_a_store_without_buckets_create_none() {
    use livenstore::pubsub::ParkedEventStore;
    let Some(test) = TestStream::new() else {
        return;
    };
    let store = test.connect();
    let checkpoints = store.checkpoints();
    assert_eq!(checkpoints.load("c").unwrap(), None);
    assert!(checkpoints.list().unwrap().is_empty());
    assert!(!checkpoints.delete("c").unwrap());
    let parked = store.parked();
    assert!(parked.list(None).unwrap().is_empty());
    assert_eq!(parked.remove("c", None).unwrap(), 0);
    assert!(!parked.replay_requested("c").unwrap());
    let snapshots = store.snapshots().unwrap();
    assert!(snapshots.load_snapshot("T", "1").unwrap().is_none());
    assert!(snapshots.list_snapshots(None).unwrap().is_empty());
    assert_eq!(snapshots.delete_snapshots("T").unwrap(), 0);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let buckets: Vec<String> = ["checkpoints", "parked", "snapshots"]
        .iter()
        .map(|what| format!("KV_{}", test.config().bucket_name(what)))
        .collect();
    let url = test.url().to_owned();
    let found: Vec<bool> = runtime.block_on(async move {
        let js = async_nats::jetstream::new(async_nats::connect(url).await.unwrap());
        let mut found = Vec::new();
        for bucket in &buckets {
            found.push(js.get_stream(bucket).await.is_ok());
        }
        found
    });
    assert_eq!(found, [false, false, false], "no bucket was created");
    // A write creates its bucket, and reads then see it.
    checkpoints.save("c", 3).unwrap();
    assert_eq!(checkpoints.load("c").unwrap(), Some(3));
}
