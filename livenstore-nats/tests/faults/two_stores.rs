//! Two stores on one stream appending to the same streams.

use super::support::*;

#[test]
fn two_stores_on_one_stream_lose_no_update() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let stores = [test.connect(), test.connect()];
    const THREADS_PER_STORE: usize = 3;
    const APPENDS_PER_THREAD: usize = 25;
    let counters = ["counter-a", "counter-b"];
    let conflicts = Arc::new(AtomicU64::new(0));

    let mut threads = Vec::new();
    for (s, store) in stores.iter().enumerate() {
        for t in 0..THREADS_PER_STORE {
            let store = store.clone();
            let conflicts = Arc::clone(&conflicts);
            let stream = counters[t % 2];
            threads.push(std::thread::spawn(move || {
                let mut done = Vec::new();
                let mut version = store.stream_version(stream).unwrap();
                while done.len() < APPENDS_PER_THREAD {
                    // The counter's new value is the version it is written at: a lost update
                    // would show as a value that is not its version.
                    let id = EventId::new();
                    let next = version + 1;
                    let e = event(
                        "Incremented",
                        format!(r#"{{"value":{next},"by":"{s}.{t}"}}"#),
                    )
                    .with_id(id);
                    match store.append(stream, ExpectedVersion::Exact(version), vec![e]) {
                        Ok(result) => {
                            assert_eq!(result.stream_version, next);
                            assert_eq!(result.first_position, result.last_position);
                            done.push((id, result));
                            version = next;
                        }
                        Err(StoreError::Conflict {
                            stream: named,
                            expected,
                            actual,
                        }) => {
                            assert_eq!(named, stream);
                            assert_eq!(expected, ExpectedVersion::Exact(version));
                            assert!(actual > version, "a conflict moves forward");
                            conflicts.fetch_add(1, Ordering::Relaxed);
                            version = actual;
                        }
                        Err(other) => panic!("an append failed with {other:?}, not a conflict"),
                    }
                }
                (stream, done)
            }));
        }
    }
    let mut acknowledged: HashMap<EventId, (&str, AppendResult)> = HashMap::new();
    for thread in threads {
        let (stream, done) = thread.join().expect("an appending thread panicked");
        for (id, result) in done {
            assert!(acknowledged.insert(id, (stream, result)).is_none());
        }
    }
    assert!(
        conflicts.load(Ordering::Relaxed) > 0,
        "the stores raced (else this test proves nothing)"
    );

    let total = THREADS_PER_STORE * 2 * APPENDS_PER_THREAD;
    let mut logs = Vec::new();
    for store in &stores {
        store.sync().expect("sync");
        let events = all_events(store);
        assert_eq!(
            events.len(),
            total,
            "every acknowledged append, nothing else"
        );
        assert_gap_free(&events);
        for e in &events {
            let (stream, result) = acknowledged
                .get(&e.id())
                .unwrap_or_else(|| panic!("{} was not acknowledged", e.id()));
            assert_eq!(e.stream(), *stream);
            assert_eq!(e.position(), result.first_position);
            assert_eq!(e.version(), result.stream_version);
            let value: serde_json::Value = serde_json::from_str(e.payload().as_str()).unwrap();
            assert_eq!(value["value"], e.version(), "no lost update: {e:?}");
        }
        for counter in counters {
            let expected = events.iter().filter(|e| e.stream() == counter).count() as u64;
            assert_eq!(store.stream_version(counter).unwrap(), expected);
        }
        logs.push(
            events
                .iter()
                .map(|e| (e.id(), e.position(), e.version(), e.recorded_at()))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(logs[0], logs[1], "both replicas converge");
}
