//! Test support (feature `testing`): throw-away JetStream streams on the server named by
//! [`URL_VAR`].
//!
//! Tests that need a server call [`TestStream::new`]: when `LIVENSTORE_NATS_URL` is unset it
//! prints one line saying the tests are skipped and why (once per process) and returns `None`,
//! so `cargo test --workspace` passes on a machine without NATS. When it is set, the server
//! must be reachable: a test that cannot connect fails, it is not skipped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{JetStreamConfig, JetStreamStore};

/// The environment variable holding the test server's URL (`nats://127.0.0.1:4222`).
pub const URL_VAR: &str = "LIVENSTORE_NATS_URL";

/// The prefix of every stream [`TestStream`] names.
pub const STREAM_PREFIX: &str = "lvtest_";

/// The test server's URL, or `None` (after printing the skip line once) when [`URL_VAR`] is
/// unset or empty.
pub fn url() -> Option<String> {
    livenstore::testing::server_url(
        URL_VAR,
        "livenstore-nats",
        "a NATS server",
        "NATS JetStream",
    )
}

/// A unique JetStream stream name on the test server; the stream and its key-value buckets are
/// deleted on drop.
///
/// # Examples
///
/// ```no_run
/// use livenstore::{EventStore, ExpectedVersion, NewEvent};
/// use livenstore_nats::testing::TestStream;
///
/// let Some(stream) = TestStream::new() else { return };
/// let store = stream.connect();
/// let event = NewEvent::from_json("Deposited", r#"{"amount":5}"#).unwrap();
/// let result = store.append("account-1", ExpectedVersion::NoStream, vec![event]).unwrap();
/// assert_eq!(result.first_position, 1, "every test starts from an empty stream");
/// ```
#[derive(Debug)]
pub struct TestStream {
    url: String,
    config: JetStreamConfig,
}

impl TestStream {
    /// A new unique stream name on the test server, or `None` when no server is configured
    /// (see [`url`]). The stream itself is created by the first store that connects to it.
    pub fn new() -> Option<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let url = url()?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "{STREAM_PREFIX}{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let config = JetStreamConfig::new()
            .stream(name)
            .expect("test stream names are valid");
        Some(TestStream { url, config })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The settings of the stream (its name and defaults), to change and pass to
    /// [`JetStreamStore::connect_with`].
    pub fn config(&self) -> JetStreamConfig {
        self.config.clone()
    }

    /// The stream's name.
    pub fn name(&self) -> &str {
        self.config.stream_name()
    }

    /// A store on this stream.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub fn connect(&self) -> JetStreamStore {
        JetStreamStore::connect_with(&self.url, self.config.clone())
            .unwrap_or_else(|e| panic!("cannot connect to NATS at {}: {e}", self.url))
    }
}

impl Drop for TestStream {
    fn drop(&mut self) {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        let url = self.url.clone();
        let stream = self.config.stream_name().to_owned();
        let buckets: Vec<String> = ["checkpoints", "snapshots", "parked"]
            .iter()
            .map(|b| self.config.bucket_name(b))
            .collect();
        let cleanup = async move {
            let Ok(client) = async_nats::connect(url).await else {
                return;
            };
            let js = async_nats::jetstream::new(client);
            let _ = js.delete_stream(&stream).await;
            for bucket in buckets {
                let _ = js.delete_key_value(bucket).await;
            }
        };
        // Drop may run inside a runtime (an async test): clean up on a thread of its own.
        let _ = std::thread::spawn(move || runtime.block_on(cleanup)).join();
    }
}

/// A fresh store on a fresh stream, with the stream as its guard; `None` when no server is
/// configured. For `livenstore::conformance_tests!(skippable livenstore_nats::testing::store)`.
pub fn store() -> Option<(JetStreamStore, TestStream)> {
    let stream = TestStream::new()?;
    Some((stream.connect(), stream))
}
