//! Consumers resume after their checkpoint.

mod pubsub_support;

use std::sync::mpsc;
use std::sync::Arc;

use livenstore::pubsub::{
    CatchUpOptions, CheckpointPolicy, CheckpointStore, Consumer, EventFilter, FileCheckpointStore,
    InMemorySubscriptionManager, OnHandlerError, PublishingStore,
};
use livenstore::{EventStore, ExpectedVersion, InMemoryStore};
use pubsub_support::{assert_quiet, new_event, recv_n, TestResult};

type Store = PublishingStore<InMemoryStore, InMemorySubscriptionManager>;

fn append(store: &Store, stream: &str, count: u64) -> TestResult {
    for n in 0..count {
        store.append(stream, ExpectedVersion::Any, vec![new_event("Tick", n)])?;
    }
    Ok(())
}

#[test]
fn a_restarted_consumer_resumes_exactly_after_its_checkpoint() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(PublishingStore::new(
        InMemoryStore::new(),
        InMemorySubscriptionManager::new(),
    ));
    append(&store, "s-1", 10)?;

    let checkpoints = Arc::new(FileCheckpointStore::open(dir.path().join("checkpoints"))?);
    let (tx, rx) = mpsc::channel();
    let consumer = Consumer::new("projector", checkpoints.clone())?
        .checkpoint_policy(CheckpointPolicy::EveryEvent)
        .start(
            Arc::clone(&store),
            store.manager(),
            EventFilter::all(),
            move |d| Ok(tx.send((d.event().position(), d.idempotency_key()))?),
        )?;
    let first = recv_n(&rx, 10)?;
    assert_eq!(
        first.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    append(&store, "s-1", 2)?; // live: 11, 12
    assert_eq!(
        recv_n(&rx, 2)?.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        vec![11, 12]
    );
    consumer.stop();
    assert_eq!(checkpoints.load("projector")?, Some(12));

    append(&store, "s-1", 3)?; // 13..=15 while the consumer is down
                               // A "restart": a new checkpoint store over the same directory.
    let reopened = Arc::new(FileCheckpointStore::open(dir.path().join("checkpoints"))?);
    let (tx, rx) = mpsc::channel();
    let consumer = Consumer::new("projector", reopened.clone())?.start(
        Arc::clone(&store),
        store.manager(),
        EventFilter::all(),
        move |d| Ok(tx.send((d.event().position(), d.is_live()))?),
    )?;
    assert_eq!(recv_n(&rx, 3)?, vec![(13, false), (14, false), (15, false)]);
    assert_quiet(&rx);
    drop(consumer); // the default policy saves on stop
    assert_eq!(reopened.load("projector")?, Some(15));
    Ok(())
}

#[test]
fn a_consumer_stopped_by_a_failure_retries_that_event_on_restart() -> TestResult {
    let store = Arc::new(PublishingStore::new(
        InMemoryStore::new(),
        InMemorySubscriptionManager::new(),
    ));
    let (err_tx, err_rx) = mpsc::channel();
    let err_tx = std::sync::Mutex::new(err_tx);
    store.manager().on_error(move |e| {
        let _ = err_tx.lock().map(|tx| tx.send(e.stopped));
    });
    append(&store, "s-1", 5)?;
    let checkpoints = Arc::new(livenstore::pubsub::InMemoryCheckpointStore::new());
    let (tx, rx) = mpsc::channel();
    let consumer = Consumer::new("fragile", checkpoints.clone())?
        .options(CatchUpOptions::new().on_handler_error(OnHandlerError::Stop))
        .start(
            Arc::clone(&store),
            store.manager(),
            EventFilter::all(),
            move |d| {
                if d.event().position() == 3 {
                    return Err("cannot handle 3 yet".into());
                }
                Ok(tx.send(d.event().position())?)
            },
        )?;
    assert_eq!(recv_n(&rx, 2)?, vec![1, 2]);
    assert_eq!(recv_n(&err_rx, 1)?, vec![true]);
    assert_quiet(&rx);
    drop(consumer);
    assert_eq!(checkpoints.load("fragile")?, Some(2));

    let (tx, rx) = mpsc::channel();
    let _consumer = Consumer::new("fragile", checkpoints)?.start(
        Arc::clone(&store),
        store.manager(),
        EventFilter::all(),
        move |d| Ok(tx.send(d.event().position())?),
    )?;
    assert_eq!(recv_n(&rx, 3)?, vec![3, 4, 5]);
    Ok(())
}

#[test]
fn bad_consumer_names_are_refused() {
    let checkpoints = Arc::new(livenstore::pubsub::InMemoryCheckpointStore::new());
    assert!(Consumer::new("../escape", checkpoints.clone()).is_err());
    assert!(Consumer::new("a/b", checkpoints).is_err());
}

/// The whole restart with a `JsonStore`: events and the consumer's checkpoint both live in the
/// store's directory, and a consumer on the reopened store resumes after its checkpoint.
#[test]
fn a_consumer_on_a_reopened_json_store_resumes_after_its_checkpoint() -> TestResult {
    use livenstore::JsonStore;

    let dir = tempfile::tempdir()?;
    let run = |expected: Vec<u64>, then_append: u64| -> TestResult {
        let json = JsonStore::open(dir.path())?;
        let checkpoints = Arc::new(json.checkpoints()?);
        let store = Arc::new(PublishingStore::new(
            json,
            InMemorySubscriptionManager::new(),
        ));
        let (tx, rx) = mpsc::channel();
        let consumer = Consumer::new("projector", checkpoints)?
            .checkpoint_policy(CheckpointPolicy::EveryEvent)
            .start(
                Arc::clone(&store),
                store.manager(),
                EventFilter::all(),
                move |d| Ok(tx.send(d.event().position())?),
            )?;
        assert_eq!(recv_n(&rx, expected.len())?, expected);
        consumer.stop();
        for n in 0..then_append {
            store.append("s-1", ExpectedVersion::Any, vec![new_event("Tick", n)])?;
        }
        Ok(())
    };
    run(vec![], 5)?; // nothing yet; then 1..=5 appended after the consumer stopped
    run((1..=5).collect(), 2)?; // resumes from the start: 1..=5; then 6, 7
    run(vec![6, 7], 0)?; // resumes exactly after 5
    Ok(())
}
