//! The fault rules of the JetStream store, proven against real servers (skipped when
//! `LIVENSTORE_NATS_URL` is unset, like every test of this crate):
//!
//! 1. a server restart (SIGTERM, then SIGKILL) in the middle of concurrent appends: the same
//!    store instance reconnects, every acknowledged append is stored exactly once, gap-free,
//!    every append refused with a known outcome is absent, and retries store at most once;
//! 2. an unreachable or silent server at start is a `StoreError::Connection` naming the address
//!    without its credentials, within the connect timeout (and credentials in the URL do reach
//!    a server that requires them; a list of URLs connects to the one that answers; a server
//!    without JetStream is a `StoreError::Backend`);
//! 3. a stream made by someone else with settings the store cannot use is refused by name, and
//!    nothing is written to it;
//! 4. a foreign message in the store's subject is `StoreError::Corrupted` at its sequence, for
//!    a new store and for an open one;
//! 5. two stores on one stream appending to the same streams with expected versions: no lost
//!    update, typed conflicts, gap-free positions, converging replicas;
//! 6. a stream deleted and made again under an open store is damage, reported at once (not an
//!    append that never returns).
//!
//! The restart tests start their own `nats-server` (on a free port, with a store directory of
//! their own), so they can stop and restart it; the binary is looked up as `NATS_SERVER_BIN`,
//! then `/usr/sbin/nats-server`, then `nats-server` on the `PATH`.

use std::collections::{HashMap, HashSet};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use livenstore::{
    AppendResult, EventId, EventStore, ExpectedVersion, NewEvent, RecordedEvent, StoreError,
};
use livenstore_nats::testing::{self, TestStream};
use livenstore_nats::{JetStreamConfig, JetStreamStore};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A `nats-server` of the test's own, on a free loopback port with its own store directory,
/// which the test can stop (by signal) and start again on the same port and directory.
struct PrivateServer {
    port: u16,
    dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

#[derive(Clone, Copy, Debug)]
enum Stop {
    Term,
    Kill,
}

fn server_binary() -> String {
    if let Ok(bin) = std::env::var("NATS_SERVER_BIN") {
        return bin;
    }
    if std::path::Path::new("/usr/sbin/nats-server").exists() {
        return "/usr/sbin/nats-server".to_owned();
    }
    "nats-server".to_owned()
}

/// A loopback port nothing listens on (just now).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl PrivateServer {
    fn start() -> Self {
        Self::start_with(&[])
    }

    /// A server started with `args` added to its command line.
    fn start_with(args: &[&str]) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "livenstore-nats-faults-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the server's store directory");
        let mut server = PrivateServer {
            port: free_port(),
            dir,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            child: None,
        };
        server.launch();
        server
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server process and waits until it accepts connections.
    fn launch(&mut self) {
        assert!(self.child.is_none(), "the server is running already");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .expect("the server's log file");
        let child = Command::new(server_binary())
            .args(["-js", "-a", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .arg("-sd")
            .arg(self.dir.join("store"))
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", server_binary()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "nats-server exited with {status}: {}",
                    std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server by `how` and waits for the process to end.
    fn stop(&mut self, how: Stop) {
        let mut child = self.child.take().expect("the server is running");
        match how {
            Stop::Kill => child.kill().expect("SIGKILL the server"),
            Stop::Term => {
                let status = Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status()
                    .expect("run kill");
                assert!(status.success(), "kill -TERM failed");
            }
        }
        child.wait().expect("wait for the server to exit");
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `future` on a runtime of its own (for the test's own use of async-nats).
fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

fn event(kind: &'static str, json: String) -> NewEvent {
    NewEvent::from_json(kind, json).expect("valid JSON")
}

/// Every event of the store, in position order.
fn all_events(store: &JetStreamStore) -> Vec<RecordedEvent> {
    store.read_all(1, usize::MAX).expect("read_all")
}

/// Positions are exactly 1..=n and every stream's versions 1..=its count.
fn assert_gap_free(events: &[RecordedEvent]) {
    for (at, e) in (1u64..).zip(events) {
        assert_eq!(e.position(), at, "positions are gap-free: {e:?}");
    }
    let mut versions: HashMap<&str, u64> = HashMap::new();
    for e in events {
        let version = versions.entry(e.stream()).or_default();
        *version += 1;
        assert_eq!(e.version(), *version, "versions are gap-free: {e:?}");
    }
}

fn error_text(error: &StoreError) -> String {
    let mut text = format!("{error} / {error:?}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(" / {cause}"));
        source = cause.source();
    }
    text
}

// ---------------------------------------------------------------------------------------------
// 1. Server restart during appends
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// 2. Unreachable at start
// ---------------------------------------------------------------------------------------------

fn expect_connection_error(url: &str, timeout: Duration) -> (String, String, Duration) {
    let config = JetStreamConfig::new()
        .stream("UNREACHABLE")
        .unwrap()
        .connect_timeout(timeout);
    let started = Instant::now();
    let result = JetStreamStore::connect_with(url, config);
    let elapsed = started.elapsed();
    match result {
        Err(e @ StoreError::Connection { .. }) => {
            let text = error_text(&e);
            let StoreError::Connection { endpoint, .. } = e else {
                unreachable!()
            };
            (endpoint, text, elapsed)
        }
        other => panic!("expected StoreError::Connection for {url}, got {other:?}"),
    }
}

#[test]
fn a_refused_connection_names_the_address_without_the_password() {
    if testing::url().is_none() {
        return;
    }
    let port = free_port();
    let timeout = Duration::from_millis(1500);
    let (endpoint, text, elapsed) =
        expect_connection_error(&format!("nats://alice:s3cr3t@127.0.0.1:{port}"), timeout);
    assert_eq!(endpoint, format!("nats://127.0.0.1:{port}"));
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("s3cr3t"), "the password leaks: {text}");
    assert!(
        elapsed < timeout + Duration::from_secs(1),
        "took {elapsed:?}"
    );
}

#[test]
fn a_server_that_never_answers_fails_within_the_connect_timeout() {
    if testing::url().is_none() {
        return;
    }
    // Accepts TCP connections (the kernel's backlog) but never says anything.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let timeout = Duration::from_millis(800);
    let (endpoint, text, elapsed) =
        expect_connection_error(&format!("nats://bob:hunter2@127.0.0.1:{port}"), timeout);
    assert_eq!(endpoint, format!("nats://127.0.0.1:{port}"));
    assert!(!text.contains("hunter2"), "the password leaks: {text}");
    // It did wait for the server (not refused on the spot, say for a URL it cannot parse)...
    assert!(
        elapsed >= timeout / 2,
        "gave up after {elapsed:?}, before the timeout: {text}"
    );
    // ...but not much longer than the timeout.
    assert!(
        elapsed < timeout + Duration::from_secs(2),
        "took {elapsed:?} with a connect timeout of {timeout:?}"
    );
    drop(silent);
}

#[test]
fn a_list_of_urls_connects_to_the_one_that_answers() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let dead = format!("nats://127.0.0.1:{}", free_port());
    for urls in [
        format!("{},{dead}", test.url()),
        format!("{dead}, {}", test.url()),
    ] {
        let store = JetStreamStore::connect_with(&urls, test.config())
            .unwrap_or_else(|e| panic!("connect to {urls}: {}", error_text(&e)));
        store
            .append("s", ExpectedVersion::Any, vec![event("E", "{}".into())])
            .unwrap();
    }
    // With every server down, the error names them all.
    let other_dead = format!("nats://127.0.0.1:{}", free_port());
    let (endpoint, _, _) = expect_connection_error(
        &format!(
            "nats://u:pw@{},{other_dead}",
            dead.trim_start_matches("nats://")
        ),
        Duration::from_millis(500),
    );
    assert_eq!(endpoint, format!("{dead},{other_dead}"));
}

#[test]
fn a_server_without_jetstream_is_a_clear_backend_error() {
    if testing::url().is_none() {
        return;
    }
    // A server of its own, started without -js.
    let port = free_port();
    let mut child = Command::new(server_binary())
        .args(["-a", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nats-server");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let config = JetStreamConfig::new()
        .stream("NOJS")
        .unwrap()
        .request_timeout(Duration::from_millis(1000));
    let called = Instant::now();
    let result = JetStreamStore::connect_with(&format!("nats://127.0.0.1:{port}"), config);
    let took = called.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    match result {
        Err(e @ StoreError::Backend { .. }) => {
            let text = error_text(&e);
            eprintln!("without JetStream ({took:?}): {text}");
            assert!(text.contains("stream"), "names what it was doing: {text}");
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn credentials_reach_the_server_but_no_error_or_debug_output() {
    if testing::url().is_none() {
        return;
    }
    let server = PrivateServer::start_with(&["--user", "alice", "--pass", "s3cr3t-pw"]);
    let address = format!("127.0.0.1:{}", server.port);
    let timeout = Duration::from_secs(2);
    let (endpoint, text, elapsed) =
        expect_connection_error(&format!("nats://alice:wrong-pw@{address}"), timeout);
    assert_eq!(endpoint, format!("nats://{address}"));
    assert!(!text.contains("wrong-pw"), "the password leaks: {text}");
    assert!(
        elapsed < timeout + Duration::from_secs(1),
        "took {elapsed:?}"
    );

    let config = JetStreamConfig::new().stream("AUTH").unwrap();
    let store = JetStreamStore::connect_with(&format!("nats://alice:s3cr3t-pw@{address}"), config)
        .unwrap_or_else(|e| panic!("connect with the right password: {}", error_text(&e)));
    store
        .append(
            "s",
            ExpectedVersion::NoStream,
            vec![event("E", "{}".into())],
        )
        .unwrap();
    assert_eq!(store.endpoint(), format!("nats://{address}"));
    assert!(!format!("{store:?}").contains("s3cr3t"), "{store:?}");
}

// ---------------------------------------------------------------------------------------------
// 3. An incompatible stream made by someone else
// ---------------------------------------------------------------------------------------------

fn refused_stream(change: impl FnOnce(&mut jetstream::stream::Config, &str), problem: &str) {
    let Some(test) = TestStream::new() else {
        return;
    };
    let name = test.name().to_owned();
    let url = test.url().to_owned();
    let mut config = jetstream::stream::Config {
        name: name.clone(),
        subjects: vec![format!("livenstore.{name}.>")],
        ..Default::default()
    };
    change(&mut config, &name);
    let wanted = config.clone();
    block_on(async {
        let js = jetstream::new(async_nats::connect(&url).await.unwrap());
        js.create_stream(config).await.expect("create the stream");
    });

    match JetStreamStore::connect_with(&url, test.config()) {
        Err(StoreError::InvalidArgument(message)) => {
            assert!(message.contains(&name), "names the stream: {message}");
            assert!(message.contains(problem), "names {problem:?}: {message}");
        }
        other => panic!("expected InvalidArgument naming {problem:?}, got {other:?}"),
    }
    let (messages, found) = block_on(async {
        let js = jetstream::new(async_nats::connect(&url).await.unwrap());
        let mut stream = js.get_stream(&name).await.unwrap();
        let info = stream.info().await.unwrap();
        (info.state.messages, info.config.clone())
    });
    assert_eq!(messages, 0, "nothing was written to the stream");
    assert_eq!(
        found.subjects, wanted.subjects,
        "the stream was not changed"
    );
    assert_eq!(found.storage, wanted.storage, "the stream was not changed");
    assert_eq!(
        found.retention, wanted.retention,
        "the stream was not changed"
    );
}

#[test]
fn a_memory_stream_is_refused() {
    refused_stream(
        |c, _| c.storage = jetstream::stream::StorageType::Memory,
        "memory",
    );
}

#[test]
fn a_work_queue_stream_is_refused() {
    refused_stream(
        |c, _| c.retention = jetstream::stream::RetentionPolicy::WorkQueue,
        "retention",
    );
}

#[test]
fn a_stream_with_other_subjects_is_refused() {
    refused_stream(
        |c, name| c.subjects = vec![format!("orders.{name}.>")],
        "subjects",
    );
}

#[test]
fn a_stream_keeping_one_message_per_subject_is_refused() {
    refused_stream(|c, _| c.max_messages_per_subject = 1, "per subject");
}

// ---------------------------------------------------------------------------------------------
// 4. A foreign message in the store's subject
// ---------------------------------------------------------------------------------------------

fn assert_corrupted_at(
    result: Result<impl std::fmt::Debug, StoreError>,
    sequence: u64,
    what: &str,
) {
    match result {
        Err(StoreError::Corrupted { line, reason, path }) => {
            assert_eq!(
                line, sequence,
                "{what}: the damaged message's sequence ({reason})"
            );
            assert!(
                path.to_string_lossy().contains("lvtest_"),
                "{what}: names the stream: {path:?}"
            );
        }
        other => panic!("{what}: expected Corrupted at {sequence}, got {other:?}"),
    }
}

fn foreign_message(subject_suffix: &str, body: &'static [u8]) {
    let Some(test) = TestStream::new() else {
        return;
    };
    let store = test.connect();
    for n in 0..3 {
        store
            .append(
                "s",
                ExpectedVersion::Exact(n),
                vec![event("E", "{}".into())],
            )
            .unwrap();
    }
    let subject = format!("livenstore.{}.{subject_suffix}", test.name());
    let url = test.url().to_owned();
    let sequence = block_on(async move {
        let js = jetstream::new(async_nats::connect(&url).await.unwrap());
        js.publish(subject, body.into())
            .await
            .unwrap()
            .await
            .unwrap()
            .sequence
    });
    assert_eq!(sequence, 4, "the foreign message follows the three appends");

    // The open store's follower finds it without being asked...
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match store.read_all(1, usize::MAX) {
            Err(_) => break,
            Ok(events) if Instant::now() < deadline => {
                assert_eq!(events.len(), 3);
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(_) => panic!("the open store serves reads past a damaged message"),
        }
    }
    // ...and every call reports it from then on.
    assert_corrupted_at(store.read_all(1, 10), sequence, "read_all");
    assert_corrupted_at(store.read_stream("s", 1, 10), sequence, "read_stream");
    assert_corrupted_at(store.stream_version("s"), sequence, "stream_version");
    assert_corrupted_at(store.last_position(), sequence, "last_position");
    assert_corrupted_at(store.sync(), sequence, "sync");
    assert_corrupted_at(
        store.append("s", ExpectedVersion::Any, vec![event("E", "{}".into())]),
        sequence,
        "append",
    );

    // A new store refuses to open on it.
    assert_corrupted_at(
        JetStreamStore::connect_with(test.url(), test.config()),
        sequence,
        "connect",
    );
}

#[test]
fn garbage_in_the_append_subject_is_corruption_at_its_sequence() {
    foreign_message("append", br#"{"hello": "world""#);
}

#[test]
fn a_foreign_json_document_in_the_append_subject_is_corruption() {
    foreign_message("append", br#"{"orderId": 17, "total": 12.5}"#);
}

#[test]
fn a_message_in_a_subject_the_store_does_not_write_is_corruption() {
    foreign_message("orders", br#"{"position":4}"#);
}

#[test]
fn a_replayed_message_of_the_store_itself_is_corruption() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let store = test.connect();
    for n in 0..3 {
        store
            .append(
                "s",
                ExpectedVersion::Exact(n),
                vec![event("E", "{}".into())],
            )
            .unwrap();
    }
    let name = test.name().to_owned();
    let url = test.url().to_owned();
    // Well-formed, but its position, version and event id are all taken.
    let sequence = block_on(async move {
        let js = jetstream::new(async_nats::connect(&url).await.unwrap());
        let first = js
            .get_stream(&name)
            .await
            .unwrap()
            .get_raw_message(1)
            .await
            .unwrap();
        js.publish(first.subject, first.payload)
            .await
            .unwrap()
            .await
            .unwrap()
            .sequence
    });
    assert_corrupted_at(store.sync(), sequence, "sync");
    assert_corrupted_at(
        JetStreamStore::connect_with(test.url(), test.config()),
        sequence,
        "connect",
    );
}

#[test]
fn an_open_store_reports_damage_on_its_next_append() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let store = test.connect();
    store
        .append(
            "s",
            ExpectedVersion::NoStream,
            vec![event("E", "{}".into())],
        )
        .unwrap();
    let subject = format!("livenstore.{}.append", test.name());
    let url = test.url().to_owned();
    let sequence = block_on(async move {
        let js = jetstream::new(async_nats::connect(&url).await.unwrap());
        js.publish(subject, "not json".into())
            .await
            .unwrap()
            .await
            .unwrap()
            .sequence
    });
    // No wait: the append is checked against the whole log, which holds the damage.
    assert_corrupted_at(
        store.append(
            "s",
            ExpectedVersion::Exact(1),
            vec![event("E", "{}".into())],
        ),
        sequence,
        "append",
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Two stores appending to the same streams
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// 6. The stream deleted and made again under an open store
// ---------------------------------------------------------------------------------------------

/// Runs `call` on a thread of its own; panics when it does not return within `limit`.
fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    call: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(call());
    });
    receiver
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("{what} did not return within {limit:?}"))
}

#[test]
fn a_stream_deleted_and_recreated_under_an_open_store_is_reported_not_waited_on() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let store = test.connect();
    for n in 0..3 {
        store
            .append(
                "s",
                ExpectedVersion::Exact(n),
                vec![event("E", "{}".into())],
            )
            .unwrap();
    }
    let name = test.name().to_owned();
    let url = test.url().to_owned();
    block_on(async move {
        let js = jetstream::new(async_nats::connect(&url).await.unwrap());
        js.delete_stream(&name).await.unwrap();
    });
    // Another process opens the store: a new, empty stream of the same name.
    let other = test.connect();
    assert_eq!(other.last_position().unwrap(), 0);

    // The first store's replica holds three messages the stream no longer has: its appends
    // must fail (not wait for ever for the stream to reach them, nor write after them).
    let appender = store.clone();
    let appended = within(Duration::from_secs(15), "an append", move || {
        appender.append("s", ExpectedVersion::Any, vec![event("E", "{}".into())])
    });
    // The damage is at message 1: the first the stream no longer has.
    assert_corrupted_at(appended, 1, "append");
    let syncing = store.clone();
    let synced = within(Duration::from_secs(15), "sync", move || syncing.sync());
    assert_corrupted_at(synced, 1, "sync");
    assert_corrupted_at(store.read_all(1, 10), 1, "read_all");
    // The new stream is untouched by the first store, and usable.
    other.sync().unwrap();
    assert_eq!(other.last_position().unwrap(), 0);
    let result = other
        .append(
            "s",
            ExpectedVersion::NoStream,
            vec![event("E", "{}".into())],
        )
        .unwrap();
    assert_eq!(result.first_position, 1);
}
