//! Groups and guards: two stores' first appends to an empty stream are both guarded, and a
//! member of a group is never answered against a version its group did not store (skipped
//! when `LIVENSTORE_NATS_URL` is unset).

use std::sync::{Arc, Barrier};
use std::time::Duration;

use livenstore::{EventStore, ExpectedVersion, Metadata, NewEvent, StoreError};
use livenstore_nats::testing::TestStream;

fn ev(i: usize) -> NewEvent {
    NewEvent::from_json("E", format!(r#"{{"i":{i}}}"#)).unwrap()
}

/// Two stores appending at once to an empty stream: both stored, at positions 1 and 2 (the
/// server honours `Nats-Expected-Last-Sequence: 0`).
#[test]
fn first_appends_of_two_stores_on_an_empty_stream() {
    for round in 0..20 {
        let Some(test) = TestStream::new() else {
            return;
        };
        let a = test.connect();
        let b = test.connect();
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = [a.clone(), b.clone()]
            .into_iter()
            .enumerate()
            .map(|(i, store)| {
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    store.append(&format!("s{i}"), ExpectedVersion::Any, vec![ev(i)])
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        std::thread::sleep(Duration::from_millis(200));
        let sa = a.sync();
        let sb = b.sync();
        let positions: Vec<_> = results
            .iter()
            .map(|r| {
                r.as_ref()
                    .map(|r| r.first_position)
                    .map_err(|e| e.to_string())
            })
            .collect();
        assert!(
            sa.is_ok() && sb.is_ok(),
            "round {round}: results {positions:?}, sync a: {sa:?}, sync b: {sb:?}"
        );
        let mut p: Vec<u64> = results
            .iter()
            .map(|r| r.as_ref().unwrap().first_position)
            .collect();
        p.sort();
        assert_eq!(p, vec![1, 2], "round {round}");
    }
}

/// A member of a group is decided against the versions of the group's earlier members before
/// the group is stored: when the group's publish then fails, the later member has already been
/// answered with a `Conflict` whose `actual` version never existed.
#[test]
fn a_conflict_is_never_reported_against_a_version_that_was_not_stored() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let store = test.connect();
    let huge = Metadata::new().with("blob", "x".repeat(1100 * 1024));
    for round in 0..50 {
        let stream = format!("s{round}");
        let busy = {
            let store = store.clone();
            std::thread::spawn(move || {
                let events = (0..2000).map(ev).collect();
                store.append("busy", ExpectedVersion::Any, events)
            })
        };
        std::thread::sleep(Duration::from_micros(200));
        let a = {
            let (store, stream, huge) = (store.clone(), stream.clone(), huge.clone());
            std::thread::spawn(move || {
                let e = NewEvent::from_json("E", "{}").unwrap().with_metadata(huge);
                store.append(&stream, ExpectedVersion::Any, vec![e])
            })
        };
        std::thread::sleep(Duration::from_micros(100));
        let b = {
            let (store, stream) = (store.clone(), stream.clone());
            std::thread::spawn(move || {
                store.append(&stream, ExpectedVersion::NoStream, vec![ev(0)])
            })
        };
        let (a, b) = (a.join().unwrap(), b.join().unwrap());
        busy.join().unwrap().unwrap();
        if let (Err(_), Err(StoreError::Conflict { actual, .. })) = (&a, &b) {
            let stored = store.stream_version(&stream).unwrap();
            panic!("round {round}: A failed, B got Conflict with actual {actual}, but {stream} is at version {stored}");
        }
    }
}
