//! What the fault tests share: a private `nats-server`, a runtime for async-nats, fixtures.

pub(crate) use std::collections::{HashMap, HashSet};
pub(crate) use std::net::{TcpListener, TcpStream};
pub(crate) use std::path::PathBuf;
pub(crate) use std::process::{Child, Command, Stdio};
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
pub(crate) use std::sync::{Arc, Mutex};
pub(crate) use std::time::{Duration, Instant};

pub(crate) use async_nats::jetstream;
pub(crate) use livenstore::{
    AppendResult, EventId, EventStore, ExpectedVersion, NewEvent, RecordedEvent, StoreError,
};
pub(crate) use livenstore_nats::testing::{self, TestStream};
pub(crate) use livenstore_nats::{JetStreamConfig, JetStreamStore};

/// A `nats-server` of the test's own, on a free loopback port with its own store directory,
/// which the test can stop (by signal) and start again on the same port and directory.
pub(crate) struct PrivateServer {
    pub(crate) port: u16,
    dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Stop {
    Term,
    Kill,
}

pub(crate) fn server_binary() -> String {
    if let Ok(bin) = std::env::var("NATS_SERVER_BIN") {
        return bin;
    }
    if std::path::Path::new("/usr/sbin/nats-server").exists() {
        return "/usr/sbin/nats-server".to_owned();
    }
    "nats-server".to_owned()
}

/// A loopback port nothing listens on (just now).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl PrivateServer {
    pub(crate) fn start() -> Self {
        Self::start_with(&[])
    }

    /// A server started with `args` added to its command line.
    pub(crate) fn start_with(args: &[&str]) -> Self {
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

    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server process and waits until it accepts connections.
    pub(crate) fn launch(&mut self) {
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
    pub(crate) fn stop(&mut self, how: Stop) {
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
pub(crate) fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

pub(crate) fn event(kind: &'static str, json: String) -> NewEvent {
    NewEvent::from_json(kind, json).expect("valid JSON")
}

/// Every event of the store, in position order.
pub(crate) fn all_events(store: &JetStreamStore) -> Vec<RecordedEvent> {
    store.read_all(1, usize::MAX).expect("read_all")
}

/// Positions are exactly 1..=n and every stream's versions 1..=its count.
pub(crate) fn assert_gap_free(events: &[RecordedEvent]) {
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

pub(crate) fn error_text(error: &StoreError) -> String {
    let mut text = format!("{error} / {error:?}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(" / {cause}"));
        source = cause.source();
    }
    text
}

pub(crate) fn assert_corrupted_at(
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

/// A store on `test` whose stream `s` holds three events, at messages 1 to 3.
pub(crate) fn three_appends(test: &TestStream) -> JetStreamStore {
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
    store
}
