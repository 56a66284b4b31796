//! Server restart during appends: nothing acknowledged is lost, the same store reconnects.

use super::support::*;

/// What one append of the restart test came to.
struct Outcome {
    id: EventId,
    stream: String,
    at: Instant,
    took: Duration,
    result: Result<AppendResult, Failure>,
}

/// An append's error: whether its outcome is unknown, and its text.
#[derive(Debug)]
struct Failure {
    outcome_unknown: bool,
    text: String,
}

const WRITERS: usize = 4;

fn restart_during_appends(how: Stop) {
    if testing::url().is_none() {
        return;
    }
    let started = Instant::now();
    let mut server = PrivateServer::start();
    let config = JetStreamConfig::new()
        .stream("FAULTS")
        .unwrap()
        .request_timeout(Duration::from_millis(400))
        .connect_timeout(Duration::from_secs(2));
    let store = JetStreamStore::connect_with(&server.url(), config.clone()).expect("connect");

    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            let outcomes = Arc::clone(&outcomes);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let stream = format!("writer-{w}");
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let id = EventId::new();
                    let e = event("Tick", format!(r#"{{"writer":{w},"n":{n}}}"#)).with_id(id);
                    let called = Instant::now();
                    let result = store.append(&stream, ExpectedVersion::Any, vec![e]);
                    let took = called.elapsed();
                    let failed = result.is_err();
                    let result = result.map_err(|e| match e {
                        StoreError::Backend {
                            backend,
                            outcome_unknown,
                            ..
                        } => {
                            assert_eq!(backend, "NATS JetStream");
                            Failure {
                                outcome_unknown,
                                text: error_text(&e),
                            }
                        }
                        other => panic!("an append failed with {other:?}, not a backend error"),
                    });
                    outcomes.lock().unwrap().push(Outcome {
                        id,
                        stream: stream.clone(),
                        at: Instant::now(),
                        took,
                        result,
                    });
                    std::thread::sleep(Duration::from_millis(if failed { 20 } else { 2 }));
                }
            })
        })
        .collect();

    let count_ok_after = |since: Instant| {
        outcomes
            .lock()
            .unwrap()
            .iter()
            .filter(|o| o.at > since && o.result.is_ok())
            .count()
    };
    let wait_for_ok = |since: Instant, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while count_ok_after(since) < 20 {
            if Instant::now() >= deadline {
                // Stop the writers first, so they end quietly on the next append.
                stop.store(true, Ordering::Relaxed);
                let recent: Vec<_> = outcomes
                    .lock()
                    .unwrap()
                    .iter()
                    .rev()
                    .take(3)
                    .map(|o| o.result.as_ref().map(|_| ()).map_err(|f| f.text.clone()))
                    .collect();
                panic!(
                    "no appends succeeded {what} (connected: {}); the last outcomes: {recent:#?}",
                    store.is_connected()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_for_ok(started, "before the server stopped");

    server.stop(how);
    let stopped = Instant::now();
    // Long enough for appends to give up: the writer tries a publish four times, each time
    // waiting for the acknowledgement and the stream's state (400 ms each), pausing between
    // (250, 500, 750 ms): about 4.7 s.
    std::thread::sleep(Duration::from_millis(3000));
    // Meanwhile reads are answered from the replica, and sync says it cannot reach the server
    // (within its request timeouts, not hanging).
    assert!(
        !store.read_stream("writer-0", 1, 10).unwrap().is_empty(),
        "reads are answered during the outage"
    );
    let called = Instant::now();
    match store.sync() {
        Err(StoreError::Backend { .. }) => {}
        other => panic!("sync during the outage: expected a backend error, got {other:?}"),
    }
    assert!(
        called.elapsed() < Duration::from_secs(2),
        "sync took {:?}",
        called.elapsed()
    );
    std::thread::sleep(Duration::from_millis(3000));
    assert!(
        !store.is_connected(),
        "the store noticed the server is gone"
    );
    server.launch();
    let restarted = Instant::now();
    wait_for_ok(
        restarted,
        "after the server restarted (the store did not reconnect)",
    );
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().expect("a writer panicked");
    }
    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());

    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    assert!(
        failed
            .iter()
            .any(|o| o.at > stopped && o.at < restarted + Duration::from_millis(500)),
        "appends during the outage failed"
    );
    // No append waited for ever: the longest waited for two groups' attempts (its own, and
    // the one before it in the writer's queue), about 2 x 4.7 s.
    let slowest = outcomes.iter().map(|o| o.took).max().unwrap();
    assert!(
        slowest < Duration::from_secs(12),
        "an append took {slowest:?}"
    );
    for o in &failed {
        let failure = o.result.as_ref().unwrap_err();
        assert!(
            failure.text.contains("append"),
            "the error names the operation: {}",
            failure.text
        );
        if failure.outcome_unknown {
            assert!(
                failure.text.contains("may have been stored"),
                "an unknown outcome says so: {}",
                failure.text
            );
        }
    }

    // Read back through a new store on the restarted server.
    let fresh = JetStreamStore::connect_with(&server.url(), config.clone()).expect("reconnect");
    let events = all_events(&fresh);
    assert_gap_free(&events);
    let mut stored: HashMap<EventId, &RecordedEvent> = HashMap::new();
    for e in &events {
        assert!(
            stored.insert(e.id(), e).is_none(),
            "{} stored twice",
            e.id()
        );
    }
    let attempted: HashSet<EventId> = outcomes.iter().map(|o| o.id).collect();
    for e in &events {
        assert!(attempted.contains(&e.id()), "{} was never appended", e.id());
    }
    for o in &outcomes {
        match &o.result {
            Ok(result) => {
                let e = stored
                    .get(&o.id)
                    .unwrap_or_else(|| panic!("acknowledged append {} is lost", o.id));
                assert_eq!(e.position(), result.first_position, "{}", o.id);
                assert_eq!(e.version(), result.stream_version, "{}", o.id);
                assert_eq!(e.stream(), o.stream);
            }
            Err(failure) if !failure.outcome_unknown => assert!(
                !stored.contains_key(&o.id),
                "append {} was stored though its error said it was not: {}",
                o.id,
                failure.text
            ),
            Err(_) => {}
        }
    }

    // Retrying every failed append with its ids (through the reconnected store) stores each
    // at most once.
    for o in &failed {
        let e = event("Tick", r#"{"retry":true}"#.to_owned()).with_id(o.id);
        match store.append(&o.stream, ExpectedVersion::Any, vec![e]) {
            Ok(_) => {}
            // The first attempt was stored, with the other payload.
            Err(StoreError::DuplicateEventId { id, .. }) if stored.contains_key(&id) => {}
            Err(other) => panic!("retrying {} failed: {other:?}", o.id),
        }
    }
    // The original store's follower also recovered: it sees what another store appends.
    let other = event("Other", "{}".to_owned());
    let other_result = fresh
        .append("other", ExpectedVersion::NoStream, vec![other])
        .expect("append through the new store");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match store.sync() {
            Ok(()) => break,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("the first store does not follow the stream any more: {e:?}"),
        }
    }
    assert_eq!(
        store.last_position().unwrap(),
        other_result.last_position,
        "the first store's replica followed the new store's append"
    );

    fresh.sync().expect("sync");
    let events = all_events(&fresh);
    assert_gap_free(&events);
    let mut seen = HashSet::new();
    for e in &events {
        assert!(seen.insert(e.id()), "{} stored twice after retries", e.id());
    }
    for o in &outcomes {
        assert!(seen.contains(&o.id), "{} is stored after its retry", o.id);
    }
    let ids_of = |events: Vec<RecordedEvent>| events.iter().map(|e| e.id()).collect::<Vec<_>>();
    assert_eq!(
        ids_of(all_events(&store)),
        ids_of(events),
        "both stores read the same log"
    );
    if let Some(o) = failed.first() {
        eprintln!(
            "an append during the outage: {}",
            o.result.as_ref().unwrap_err().text
        );
    }
    eprintln!(
        "restart ({how:?}): {} appends, {} failed ({} with unknown outcome), {:?}",
        outcomes.len(),
        failed.len(),
        failed
            .iter()
            .filter(|o| o.result.as_ref().unwrap_err().outcome_unknown)
            .count(),
        started.elapsed()
    );
}

#[test]
fn a_server_stopped_by_sigterm_and_restarted_loses_no_acknowledged_append() {
    restart_during_appends(Stop::Term);
}

#[test]
fn a_server_killed_by_sigkill_and_restarted_loses_no_acknowledged_append() {
    restart_during_appends(Stop::Kill);
}
