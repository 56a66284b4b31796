//! Cases of concurrent appends from 8 threads.

use std::collections::BTreeSet;

use super::support::ok;
use crate::testing::fixtures::event;
use crate::{EventStore, ExpectedVersion, StoreError};

const THREADS: usize = 8;
const PER_THREAD: usize = 25;

fn thread_and_n(event: &crate::RecordedEvent) -> (u64, u64) {
    let value = ok(
        event
            .payload()
            .to_value()
            .map_err(|e| StoreError::InvalidArgument(e.to_string())),
        "payload",
    );
    (
        value["thread"].as_u64().unwrap_or(u64::MAX),
        value["n"].as_u64().unwrap_or(u64::MAX),
    )
}

/// 8 threads append to one stream with `Exact` expectations, retrying on conflict: every version
/// has exactly one winner, no event is lost or doubled, positions stay gap-free.
pub fn concurrent_appends_to_one_stream<S: EventStore + ?Sized>(store: &S) {
    let won: Vec<Vec<u64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                scope.spawn(move || {
                    let mut versions = Vec::new();
                    for n in 0..PER_THREAD {
                        loop {
                            let current = ok(store.stream_version("shared-1"), "stream_version");
                            let e = event("Tick", &format!(r#"{{"thread":{t},"n":{n}}}"#));
                            match store.append("shared-1", ExpectedVersion::Exact(current), vec![e])
                            {
                                Ok(result) => {
                                    assert_eq!(result.stream_version, current + 1);
                                    versions.push(result.stream_version);
                                    break;
                                }
                                Err(StoreError::Conflict { actual, .. }) => {
                                    assert_ne!(actual, current, "a conflict means another version");
                                }
                                Err(err) => panic!("append failed: {err}"),
                            }
                        }
                    }
                    versions
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let total = (THREADS * PER_THREAD) as u64;
    let mut all_won: Vec<u64> = won.into_iter().flatten().collect();
    all_won.sort_unstable();
    assert_eq!(
        all_won,
        (1..=total).collect::<Vec<_>>(),
        "one winner per version"
    );
    let events = ok(store.read_stream("shared-1", 1, usize::MAX), "read_stream");
    let versions: Vec<u64> = events.iter().map(|e| e.version()).collect();
    assert_eq!(versions, (1..=total).collect::<Vec<_>>());
    let positions: Vec<u64> = events.iter().map(|e| e.position()).collect();
    assert_eq!(
        positions,
        (1..=total).collect::<Vec<_>>(),
        "positions gap-free"
    );
    let seen: BTreeSet<(u64, u64)> = events.iter().map(thread_and_n).collect();
    assert_eq!(seen.len() as u64, total, "no event lost or doubled");
    for t in 0..THREADS as u64 {
        let ns: Vec<u64> = events
            .iter()
            .map(thread_and_n)
            .filter(|p| p.0 == t)
            .map(|p| p.1)
            .collect();
        assert_eq!(
            ns,
            (0..PER_THREAD as u64).collect::<Vec<_>>(),
            "thread {t} in order"
        );
    }
}

/// 8 threads append to their own streams, each at its own event version (so a backend that
/// writes concurrent appends together keeps each event's): all events present, each stream
/// contiguous and at its version, positions gap-free.
pub fn concurrent_appends_to_many_streams<S: EventStore + ?Sized>(store: &S) {
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            scope.spawn(move || {
                let stream = format!("own-{t}");
                for n in 0..PER_THREAD {
                    let e = event("Tick", &format!(r#"{{"thread":{t},"n":{n}}}"#))
                        .with_event_version(t as u32 + 1);
                    let result = store.append(&stream, ExpectedVersion::Exact(n as u64), vec![e]);
                    assert!(result.is_ok(), "append to {stream}: {result:?}");
                }
            });
        }
    });
    let total = (THREADS * PER_THREAD) as u64;
    let all = ok(store.read_all(1, usize::MAX), "read_all");
    let positions: Vec<u64> = all.iter().map(|e| e.position()).collect();
    assert_eq!(positions, (1..=total).collect::<Vec<_>>());
    for t in 0..THREADS {
        let events = ok(
            store.read_stream(&format!("own-{t}"), 1, usize::MAX),
            "read_stream",
        );
        let versions: Vec<u64> = events.iter().map(|e| e.version()).collect();
        assert_eq!(versions, (1..=PER_THREAD as u64).collect::<Vec<_>>());
        assert!(
            events.iter().all(|e| e.event_version() == t as u32 + 1),
            "own-{t}: every event keeps its event version"
        );
        let ns: Vec<u64> = events.iter().map(|e| thread_and_n(e).1).collect();
        assert_eq!(ns, (0..PER_THREAD as u64).collect::<Vec<_>>());
    }
}
