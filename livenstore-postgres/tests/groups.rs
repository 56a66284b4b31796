//! A consumer group on PostgreSQL across processes: each member has its own connection pool
//! (as a process of its own would), checkpoints in the schema's table, and they split the
//! streams with no stream seen by two members.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use livenstore::pubsub::{stream_member, CatchUpOptions, CheckpointStore, Consumer, EventFilter};
use livenstore::{EventStore, ExpectedVersion, InMemorySubscriptionManager, NewEvent};
use livenstore_postgres::testing::TestSchema;

#[test]
fn members_in_separate_processes_split_the_streams() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let writer = test.connect();
    for round in 0..4 {
        for s in 0..20 {
            let event = NewEvent::from_json("Touched", format!("{round}")).unwrap();
            writer
                .append(&format!("item-{s}"), ExpectedVersion::Any, vec![event])
                .unwrap();
        }
    }
    let seen: Arc<Mutex<Vec<(u32, String, u64)>>> = Arc::default();
    let members: Vec<_> = (0..2u32)
        .map(|index| {
            let store = Arc::new(test.connect());
            let seen = Arc::clone(&seen);
            Consumer::new("indexer", Arc::new(store.checkpoints()))
                .unwrap()
                .member(index, 2)
                .options(CatchUpOptions::new().poll_interval(Duration::from_millis(10)))
                .start(
                    Arc::clone(&store),
                    &InMemorySubscriptionManager::new(),
                    EventFilter::all(),
                    move |d| {
                        let e = d.event();
                        seen.lock()
                            .unwrap()
                            .push((index, e.stream().to_owned(), e.version()));
                        Ok(())
                    },
                )
                .unwrap()
        })
        .collect();
    let start = Instant::now();
    while seen.lock().unwrap().len() < 80 {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out");
        std::thread::sleep(Duration::from_millis(5));
    }
    for member in members {
        member.stop();
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 80, "each event once");
    let mut owner = BTreeMap::new();
    let mut last = BTreeMap::new();
    for (index, stream, version) in seen.iter() {
        assert_eq!(*owner.entry(stream.clone()).or_insert(*index), *index);
        assert_eq!(stream_member(stream, 2), *index);
        let previous = last.insert(stream.clone(), *version).unwrap_or(0);
        assert_eq!(*version, previous + 1);
    }
    let checkpoints = writer.checkpoints().list().unwrap();
    assert_eq!(checkpoints.len(), 2);
    assert!(checkpoints.iter().all(|(_, position)| *position == 80));
}
