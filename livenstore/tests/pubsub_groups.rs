//! Consumer groups: `n` members split a store's streams by a stable hash of the stream name,
//! every event is handled by exactly one member, each stream's events stay in order on it, and
//! a member that stops leaves its share until it is back.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use livenstore::pubsub::{
    stream_member, CheckpointStore, Consumer, EventFilter, InMemoryCheckpointStore,
    RunningConsumer, SubscribeError,
};
use livenstore::{
    EventStore, ExpectedVersion, InMemoryStore, InMemorySubscriptionManager, JsonStore, NewEvent,
    PublishingStore,
};

type Seen = Arc<Mutex<Vec<(String, u64)>>>;

fn start_member<S: EventStore + 'static>(
    store: &Arc<S>,
    manager: &InMemorySubscriptionManager,
    checkpoints: &Arc<dyn CheckpointStore>,
    index: u32,
    seen: &Seen,
) -> RunningConsumer {
    let seen = Arc::clone(seen);
    Consumer::new("indexer", Arc::clone(checkpoints))
        .unwrap()
        .member(index, 3)
        .start(Arc::clone(store), manager, EventFilter::all(), move |d| {
            let event = d.event();
            seen.lock()
                .unwrap()
                .push((event.stream().to_owned(), event.version()));
            Ok(())
        })
        .unwrap()
}

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

fn members_split_the_streams<S: EventStore + 'static>(
    store: S,
    checkpoints: Arc<dyn CheckpointStore>,
) {
    let manager = InMemorySubscriptionManager::new();
    let store = Arc::new(PublishingStore::new(store, manager.clone()));
    let append_round = |round: u64| {
        for s in 0..30 {
            let event = NewEvent::from_json("Touched", round.to_string()).unwrap();
            store
                .append(&format!("item-{s}"), ExpectedVersion::Any, vec![event])
                .unwrap();
        }
    };
    for round in 0..5 {
        append_round(round);
    }
    let seen: Vec<Seen> = (0..3).map(|_| Seen::default()).collect();
    let mut members: Vec<Option<RunningConsumer>> = (0..3)
        .map(|i| {
            Some(start_member(
                &store,
                &manager,
                &checkpoints,
                i,
                &seen[i as usize],
            ))
        })
        .collect();
    let total = |seen: &[Seen]| seen.iter().map(|s| s.lock().unwrap().len()).sum::<usize>();
    wait_for("150 events", || total(&seen) == 150);

    // Member 2 stops: its share waits; the others go on.
    let stopped_share = members[2].take().unwrap();
    stopped_share.stop();
    let before = seen[2].lock().unwrap().len();
    append_round(5);
    let owned_by_2 = (0..30)
        .filter(|s| stream_member(&format!("item-{s}"), 3) == 2)
        .count();
    wait_for("the running members' share", || {
        total(&seen) == 180 - owned_by_2
    });
    assert_eq!(seen[2].lock().unwrap().len(), before);
    // Back: it resumes after its own checkpoint.
    members[2] = Some(start_member(&store, &manager, &checkpoints, 2, &seen[2]));
    wait_for("everything", || total(&seen) == 180);
    for member in members.into_iter().flatten() {
        member.stop();
    }

    let mut owner = BTreeMap::new();
    for (index, member) in seen.iter().enumerate() {
        let mut last = BTreeMap::<String, u64>::new();
        for (stream, version) in member.lock().unwrap().iter() {
            assert_eq!(
                *owner.entry(stream.clone()).or_insert(index),
                index,
                "{stream}"
            );
            assert_eq!(stream_member(stream, 3) as usize, index);
            let previous = last.insert(stream.clone(), *version).unwrap_or(0);
            assert_eq!(*version, previous + 1, "{stream} in order, once each");
        }
    }
    assert_eq!(owner.len(), 30);
    let names: Vec<String> = checkpoints
        .list()
        .unwrap()
        .into_iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(
        names,
        [
            "indexer.member-0-of-3",
            "indexer.member-1-of-3",
            "indexer.member-2-of-3"
        ]
    );
}

#[test]
fn in_memory_members_split_the_streams() {
    members_split_the_streams(
        InMemoryStore::new(),
        Arc::new(InMemoryCheckpointStore::new()),
    );
}

#[test]
fn json_members_split_the_streams() {
    let dir = tempfile::tempdir().unwrap();
    let store = JsonStore::open(dir.path()).unwrap();
    let checkpoints = Arc::new(store.checkpoints().unwrap());
    members_split_the_streams(store, checkpoints);
}

#[test]
fn a_member_outside_its_group_is_refused() {
    for (index, count) in [(3, 3), (0, 0)] {
        let started = Consumer::new("g", Arc::new(InMemoryCheckpointStore::new()))
            .unwrap()
            .member(index, count)
            .start(
                Arc::new(InMemoryStore::new()),
                &InMemorySubscriptionManager::new(),
                EventFilter::all(),
                |_| Ok(()),
            );
        assert!(matches!(started, Err(SubscribeError::InvalidOption(_))));
    }
}
