//! The conformance suite and the InMemoryStore-specific behaviour: limits, retention, stats,
//! close, immutability of what reads hand out, and random append sequences.

use std::time::Duration;

use livenstore::store::memory::Config;
use livenstore::testing::event;
use livenstore::{
    EventId, EventStore, ExpectedVersion, InMemoryStore, LimitKind, NewEvent, StoreError,
};

mod conformance {
    livenstore::conformance_tests!(livenstore::InMemoryStore::new);
}

mod conformance_with_config {
    // A configured store (generous limits, long retention) must behave the same.
    fn make() -> livenstore::InMemoryStore {
        livenstore::InMemoryStore::with_config(
            livenstore::store::memory::Config::default()
                .max_streams(1000)
                .max_events_per_stream(100_000)
                .retention(std::time::Duration::from_secs(3600)),
        )
    }
    livenstore::conformance_tests!(make);
}

mod conformance_with_guard {
    fn make() -> (livenstore::InMemoryStore, ()) {
        (livenstore::InMemoryStore::new(), ())
    }
    livenstore::conformance_tests!(with_guard make);
}

fn ticks(n: usize) -> Vec<NewEvent> {
    (0..n)
        .map(|i| event("Tick", &format!(r#"{{"n":{i}}}"#)))
        .collect()
}

#[test]
fn events_per_stream_limit_refuses_a_single_event() -> Result<(), StoreError> {
    // One event takes `append_one`'s path, with its own copy of the checks.
    let store = InMemoryStore::with_config(Config::default().max_events_per_stream(3));
    store.append("s-1", ExpectedVersion::Any, ticks(3))?;
    for refused in [
        store.append_one("s-1", ExpectedVersion::Any, ticks(1).remove(0)),
        store.append("s-1", ExpectedVersion::Any, ticks(1)),
    ] {
        assert!(matches!(
            refused,
            Err(StoreError::LimitExceeded {
                kind: LimitKind::EventsPerStream,
                max: 3
            })
        ));
    }
    assert_eq!(store.stream_version("s-1")?, 3, "nothing stored");
    Ok(())
}

#[test]
fn events_per_stream_limit_refuses_whole_batch() -> Result<(), StoreError> {
    let store = InMemoryStore::with_config(Config::default().max_events_per_stream(3));
    store.append("s-1", ExpectedVersion::Any, ticks(2))?;
    let err = store
        .append("s-1", ExpectedVersion::Any, ticks(2))
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::LimitExceeded {
            kind: LimitKind::EventsPerStream,
            max: 3
        }
    ));
    assert_eq!(
        store.stream_version("s-1")?,
        2,
        "nothing of the batch stored"
    );
    store.append("s-1", ExpectedVersion::Any, ticks(1))?;
    let id = store
        .append("s-2", ExpectedVersion::Any, ticks(1))
        .map(|r| r.first_position)?;
    let id = store.read_all(id, 1)?[0].id();
    assert!(matches!(
        store.link_to_stream(id, "s-1"),
        Err(StoreError::LimitExceeded {
            kind: LimitKind::EventsPerStream,
            ..
        })
    ));
    Ok(())
}

#[test]
fn stream_limit_counts_new_streams_only() -> Result<(), StoreError> {
    let store = InMemoryStore::with_config(Config::default().max_streams(2));
    store.append("a-1", ExpectedVersion::Any, ticks(1))?;
    store.append("b-1", ExpectedVersion::Any, ticks(1))?;
    let err = store
        .append("c-1", ExpectedVersion::Any, ticks(1))
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::LimitExceeded {
            kind: LimitKind::Streams,
            max: 2
        }
    ));
    store.append("a-1", ExpectedVersion::Any, ticks(5))?;
    assert_eq!(store.streams()?.len(), 2);
    let id = store.read_all(1, 1)?[0].id();
    assert!(matches!(
        store.link_to_stream(id, "c-1"),
        Err(StoreError::LimitExceeded {
            kind: LimitKind::Streams,
            ..
        })
    ));
    Ok(())
}

#[test]
fn zero_limits_mean_unlimited() -> Result<(), StoreError> {
    let store =
        InMemoryStore::with_config(Config::default().max_streams(0).max_events_per_stream(0));
    for i in 0..50 {
        store.append(&format!("s-{i}"), ExpectedVersion::Any, ticks(20))?;
    }
    assert_eq!(store.stats().events, 1000);
    Ok(())
}

#[test]
fn smaller_payload_limit_is_enforced() {
    let store = InMemoryStore::with_config(Config::default().max_payload_bytes(8));
    let err = store
        .append(
            "s-1",
            ExpectedVersion::Any,
            vec![event("Tick", r#"{"n":123456}"#)],
        )
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::PayloadTooLarge { size: 12, limit: 8 }
    ));
}

#[test]
fn purge_expired_removes_old_events_and_keeps_numbering() -> Result<(), StoreError> {
    let store = InMemoryStore::with_config(
        Config::default()
            .retention(Duration::from_millis(40))
            .cleanup_interval(Duration::from_secs(3600)),
    );
    store.append("old-1", ExpectedVersion::Any, ticks(3))?;
    store.append("mixed-1", ExpectedVersion::Any, ticks(2))?;
    let old_id = store.read_all(1, 1)?[0].id();
    let old_times = store.stream_info("old-1")?.expect("appended");
    assert_eq!(
        old_times.last_recorded_at,
        store.read_stream("old-1", 3, 1)?[0].recorded_at()
    );
    std::thread::sleep(Duration::from_millis(60));
    store.append("mixed-1", ExpectedVersion::Exact(2), ticks(2))?;
    store.link_to_stream(old_id, "links-1")?;
    assert_eq!(store.purge_expired()?, 5);

    assert!(matches!(
        store.read(old_id),
        Err(StoreError::EventNotFound(_))
    ));
    let all = store.read_all(0, usize::MAX)?;
    assert_eq!(all.iter().map(|e| e.position()).collect::<Vec<_>>(), [6, 7]);
    let mixed = store.read_stream("mixed-1", 1, usize::MAX)?;
    assert_eq!(
        mixed.iter().map(|e| e.version()).collect::<Vec<_>>(),
        [3, 4]
    );
    assert!(store.read_stream("old-1", 1, usize::MAX)?.is_empty());
    let info = store
        .stream_info("old-1")?
        .expect("an emptied stream still exists");
    assert_eq!(
        (info.event_count, info.first_version, info.last_version),
        (0, 4, 3)
    );
    // An emptied stream keeps the time of its last event.
    assert_eq!(
        (info.first_recorded_at, info.last_recorded_at),
        (old_times.last_recorded_at, old_times.last_recorded_at)
    );
    let mixed_info = store.stream_info("mixed-1")?.expect("appended");
    assert_eq!(mixed_info.first_recorded_at, mixed[0].recorded_at());
    assert_eq!(mixed_info.last_recorded_at, mixed[1].recorded_at());
    // The fresh link keeps its event visible in the linking stream.
    assert_eq!(store.read_stream("links-1", 1, usize::MAX)?.len(), 1);
    assert!(store
        .read_by_type("Tick", 1, usize::MAX)?
        .iter()
        .all(|e| e.position() >= 6));
    let result = store.append("old-1", ExpectedVersion::Exact(3), ticks(1))?;
    assert_eq!((result.stream_version, result.first_position), (4, 8));
    assert_eq!(store.stats().expired, 5);
    assert_eq!(store.stats().events, 3);
    Ok(())
}

#[test]
fn background_cleanup_runs_and_stops_on_close() -> Result<(), StoreError> {
    let store = InMemoryStore::with_config(
        Config::default()
            .retention(Duration::from_millis(20))
            .cleanup_interval(Duration::from_millis(5)),
    );
    store.append("s-1", ExpectedVersion::Any, ticks(10))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while store.stats().events > 0 {
        assert!(std::time::Instant::now() < deadline, "cleanup never ran");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(store.stats().expired, 10);
    assert_eq!(store.last_position()?, 10, "positions are not reused");
    store.close();
    assert!(store.is_closed());
    Ok(())
}

#[test]
fn stats_count_events_streams_reads_and_memory() -> Result<(), StoreError> {
    let store = InMemoryStore::new();
    assert_eq!(store.stats(), Default::default());
    store.append("a-1", ExpectedVersion::Any, ticks(3))?;
    store.append("b-1", ExpectedVersion::Any, ticks(2))?;
    let empty = store.stats().memory_bytes;
    store.read_stream("a-1", 1, usize::MAX)?;
    store.read_all(1, 2)?;
    let id = store.read_all(1, 1)?[0].id();
    store.link_to_stream(id, "b-1")?;
    let stats = store.stats();
    assert_eq!(
        (stats.events, stats.streams, stats.appended, stats.linked),
        (5, 2, 5, 1)
    );
    assert_eq!(stats.read, 3 + 2 + 1);
    assert!(stats.memory_bytes >= empty && empty > 5 * 8);
    store.append(
        "a-1",
        ExpectedVersion::Any,
        vec![event("Blob", &format!("\"{}\"", "x".repeat(10_000)))],
    )?;
    assert!(store.stats().memory_bytes > stats.memory_bytes + 10_000);
    Ok(())
}

#[test]
fn close_refuses_every_call() -> Result<(), StoreError> {
    let store = InMemoryStore::new();
    store.append("s-1", ExpectedVersion::Any, ticks(2))?;
    let id = store.read_all(1, 1)?[0].id();
    store.close();
    store.close();
    let closed = |r: Result<(), StoreError>| assert!(matches!(r, Err(StoreError::Closed)), "{r:?}");
    closed(
        store
            .append("s-1", ExpectedVersion::Any, ticks(1))
            .map(drop),
    );
    closed(
        store
            .append("s-1", ExpectedVersion::Any, Vec::new())
            .map(drop),
    );
    closed(store.read(id).map(drop));
    closed(store.read_stream("s-1", 1, 10).map(drop));
    closed(store.read_all(1, 10).map(drop));
    closed(store.read_by_type("Tick", 1, 10).map(drop));
    closed(
        store
            .read_time_range(
                livenstore::Timestamp::UNIX_EPOCH,
                livenstore::Timestamp::MAX,
            )
            .map(drop),
    );
    closed(store.stream_info("s-1").map(drop));
    closed(store.stream_version("s-1").map(drop));
    closed(store.streams().map(drop));
    closed(store.link_to_stream(id, "t-1").map(drop));
    closed(store.last_position().map(drop));
    closed(store.purge_expired().map(drop));
    assert_eq!(store.stats().events, 0, "memory released");
    Ok(())
}

#[test]
fn reads_cannot_alter_stored_data() -> Result<(), StoreError> {
    let store = InMemoryStore::new();
    store.append(
        "s-1",
        ExpectedVersion::Any,
        vec![event("Tick", r#"{"n":1}"#)],
    )?;
    let mut first = store.read_stream("s-1", 1, usize::MAX)?;
    let id = first[0].id();
    // Everything a caller can do with what it got: drop, replace, relink its own copy.
    first[0] = first[0].with_link(livenstore::LinkInfo {
        stream: "elsewhere".into(),
        version: 99,
        linked_at: livenstore::Timestamp::MAX,
    });
    first.clear();
    let again = store.read(id)?;
    assert!(again.link().is_none());
    assert_eq!(
        (again.stream(), again.version(), again.payload().as_str()),
        ("s-1", 1, r#"{"n":1}"#)
    );
    assert_eq!(store.read_stream("s-1", 1, usize::MAX)?.len(), 1);
    Ok(())
}

#[test]
fn caller_ids_out_of_order_are_found() -> Result<(), StoreError> {
    let store = InMemoryStore::new();
    let early = EventId::new();
    store.append("s-1", ExpectedVersion::Any, ticks(3))?;
    store.append(
        "s-1",
        ExpectedVersion::Any,
        vec![event("Tick", "{}").with_id(early)],
    )?;
    let tiny = EventId::from_u128(1);
    store.append(
        "s-2",
        ExpectedVersion::Any,
        vec![event("Tick", "{}").with_id(tiny)],
    )?;
    store.append("s-2", ExpectedVersion::Any, ticks(2))?;
    assert_eq!(store.read(early)?.position(), 4);
    assert_eq!(store.read(tiny)?.position(), 5);
    for e in store.read_all(1, usize::MAX)? {
        assert_eq!(store.read(e.id())?, e);
    }
    Ok(())
}

mod random_sequences {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Append {
            stream: u8,
            count: usize,
            exact: bool,
            stale: bool,
        },
        Link {
            event: usize,
            stream: u8,
        },
        Retry {
            event: usize,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..5, 0usize..4, any::<bool>(), any::<bool>())
                .prop_map(|(stream, count, exact, stale)| Op::Append { stream, count, exact, stale }),
            1 => (any::<usize>(), 0u8..5).prop_map(|(event, stream)| Op::Link { event, stream }),
            1 => any::<usize>().prop_map(|event| Op::Retry { event }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn invariants_hold(ops in proptest::collection::vec(op(), 1..40)) {
            let store = InMemoryStore::new();
            let mut appended = 0u64;
            for op in ops {
                match op {
                    Op::Append { stream, count, exact, stale } => {
                        let name = format!("s-{stream}");
                        let version = store.stream_version(&name).unwrap();
                        let expected = match (exact, stale) {
                            (true, false) => ExpectedVersion::Exact(version),
                            (true, true) => ExpectedVersion::Exact(version + 1),
                            _ => ExpectedVersion::Any,
                        };
                        let events: Vec<NewEvent> =
                            ticks(count).into_iter().map(|e| e.with_id(EventId::new())).collect();
                        match store.append(&name, expected, events) {
                            Ok(r) => {
                                prop_assert!(!(exact && stale));
                                appended += count as u64;
                                prop_assert_eq!(r.stream_version, version + count as u64);
                            }
                            Err(StoreError::Conflict { actual, .. }) => {
                                prop_assert!(exact && stale);
                                prop_assert_eq!(actual, version);
                            }
                            Err(e) => prop_assert!(false, "unexpected {}", e),
                        }
                    }
                    Op::Link { event, stream } => {
                        let all = store.read_all(1, usize::MAX).unwrap();
                        if all.is_empty() { continue; }
                        let e = &all[event % all.len()];
                        let name = format!("s-{stream}");
                        let before = store.stream_version(&name).unwrap();
                        match store.link_to_stream(e.id(), &name) {
                            Ok(v) => prop_assert_eq!(v, before + 1),
                            Err(StoreError::InvalidArgument(_)) => {}
                            Err(err) => prop_assert!(false, "unexpected {}", err),
                        }
                    }
                    Op::Retry { event } => {
                        let all = store.read_all(1, usize::MAX).unwrap();
                        if all.is_empty() { continue; }
                        let e = &all[event % all.len()];
                        let retry = NewEvent::new("Tick", e.payload().clone()).with_id(e.id());
                        let r = store.append(e.stream(), ExpectedVersion::NoStream, vec![retry]).unwrap();
                        prop_assert_eq!((r.stream_version, r.first_position), (e.version(), e.position()));
                    }
                }
            }
            let all = store.read_all(1, usize::MAX).unwrap();
            prop_assert_eq!(all.len() as u64, appended);
            prop_assert!(all.iter().enumerate().all(|(i, e)| e.position() == i as u64 + 1));
            prop_assert!(all.windows(2).all(|w| w[0].recorded_at() <= w[1].recorded_at()));
            for info in store.streams().unwrap() {
                let events = store.read_stream(&info.stream, 1, usize::MAX).unwrap();
                prop_assert_eq!(events.len() as u64, info.last_version);
                let versions: Vec<u64> =
                    events.iter().map(|e| e.link().map_or(e.version(), |l| l.version)).collect();
                prop_assert_eq!(versions, (1..=info.last_version).collect::<Vec<_>>());
            }
            for e in &all {
                prop_assert_eq!(&store.read(e.id()).unwrap(), e);
            }
        }
    }
}

/// Runs of appends to one stream and switches between streams: names of the same length that
/// differ only in their last byte, and a run followed by a new or an invalid name, must still land
/// where their names say.
#[test]
fn runs_of_appends_to_one_stream_and_switches_land_in_the_named_stream() -> Result<(), StoreError> {
    let store = InMemoryStore::new();
    let pattern = [
        "s-1", "s-1", "s-1", "s-2", "s-2", "s-1", "s-3", "s-3", "s-1",
    ];
    for (i, name) in pattern.iter().enumerate() {
        let n = pattern[..=i].iter().filter(|&&s| s == *name).count() as u64;
        let result = store.append_one(name, ExpectedVersion::Exact(n - 1), event("Tick", "{}"))?;
        assert_eq!(result.stream_version, n, "append {i} to {name}");
    }
    assert!(matches!(
        store.append_one("", ExpectedVersion::Any, event("Tick", "{}")),
        Err(StoreError::InvalidStreamName { .. })
    ));
    for (name, count) in [("s-1", 5), ("s-2", 2), ("s-3", 2)] {
        let events = store.read_stream(name, 1, usize::MAX)?;
        assert_eq!(events.len(), count, "{name}");
        assert!(events.iter().all(|e| e.stream() == name));
    }
    assert_eq!(store.stats().streams, 3);
    Ok(())
}

/// Streams are found through a table keyed by a hash of two words of the name, compared by those
/// words for names of up to 16 bytes and by bytes beyond (`name_key.rs`, `stream_table.rs`):
/// thousands of names (the table grows many times) of every length up to 60 bytes, differing in
/// one byte anywhere (the middle of a long name is outside its key), each keep their own events.
#[test]
fn names_differing_in_any_one_byte_are_different_streams() -> Result<(), StoreError> {
    let store = InMemoryStore::new();
    let mut names = Vec::new();
    for len in 1..=60usize {
        let base: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        names.push(base.clone());
        for at in 0..len {
            let mut bytes = base.clone().into_bytes();
            bytes[at] = b'Z';
            names.push(String::from_utf8(bytes).expect("ASCII"));
        }
    }
    names.push("a".repeat(17));
    names.push(format!("{}b{}", "a".repeat(8), "a".repeat(8)));
    assert!(names.len() > 1_800);
    // Two rounds: the first makes every stream, the second finds each one again.
    for round in 1..=2u64 {
        for (i, name) in names.iter().enumerate() {
            let result = store.append_one(
                name,
                ExpectedVersion::Exact(round - 1),
                event("Tick", &format!("{{\"i\":{i}}}")),
            )?;
            assert_eq!(result.stream_version, round, "{name}");
        }
    }
    assert_eq!(store.stats().streams, names.len() as u64);
    for (i, name) in names.iter().enumerate() {
        let events = store.read_stream(name, 1, usize::MAX)?;
        assert_eq!(events.len(), 2, "{name}");
        for e in &events {
            assert_eq!(e.stream(), name);
            assert_eq!(e.payload().as_str(), format!("{{\"i\":{i}}}"));
        }
    }
    assert_eq!(store.stream_info("never-appended")?, None);
    Ok(())
}

/// A stream appends to a chunk it owns and shares it with readers on demand (`tail.rs`): events
/// read while appends go on, kept or dropped in every pattern (read every event, every few, one
/// of them through `read`, `read_all` or `read_by_type`), stay as read, and the stream reads back
/// whole.
#[test]
fn reads_between_appends_see_stable_events_in_every_pattern() -> Result<(), StoreError> {
    let store = InMemoryStore::new();
    let mut kept: Vec<livenstore::RecordedEvent> = Vec::new();
    for n in 1..=700u64 {
        store.append_one(
            "s-1",
            ExpectedVersion::Exact(n - 1),
            event("Tick", &format!("{{\"n\":{n}}}")),
        )?;
        // Interleave appends to another stream, so positions and versions differ.
        if n % 3 == 0 {
            store.append_one("s-2", ExpectedVersion::Any, event("Tock", "{}"))?;
        }
        match n % 7 {
            0 => kept.extend(store.read_stream("s-1", n.saturating_sub(5), usize::MAX)?),
            1 => drop(store.read_stream("s-1", n, 1)?),
            2 => kept.push(store.read(store.read_stream("s-1", n, 1)?[0].id())?),
            3 => kept.extend(store.read_all(store.last_position()?.saturating_sub(2), 10)?),
            4 => kept.extend(
                store
                    .read_by_type("Tick", 1, usize::MAX)?
                    .into_iter()
                    .last(),
            ),
            _ => {}
        }
    }
    for e in &kept {
        if e.stream() == "s-1" {
            assert_eq!(e.payload().as_str(), format!("{{\"n\":{}}}", e.version()));
        } else {
            assert_eq!(e.event_type(), "Tock");
        }
    }
    let all = store.read_stream("s-1", 1, usize::MAX)?;
    assert_eq!(all.len(), 700);
    for (e, n) in all.iter().zip(1..) {
        assert_eq!(
            (e.version(), e.payload().as_str()),
            (n, format!("{{\"n\":{n}}}").as_str())
        );
    }
    let positions: Vec<u64> = store
        .read_all(1, usize::MAX)?
        .iter()
        .map(|e| e.position())
        .collect();
    assert_eq!(positions, (1..=933).collect::<Vec<_>>());
    Ok(())
}
