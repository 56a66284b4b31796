//! [`Connection`]: the client, its JetStream context and the runtime they run on.
//!
//! Invariants:
//! - The synchronous API never calls `block_on`: it spawns the future on the store's own runtime
//!   and waits on a channel ([`Connection::run`]), so a store can be used from any thread,
//!   including a thread of the caller's own tokio runtime (blocking it, as any sync call does).
//! - The runtime is shut down in the background on drop, which is allowed in any context.
//! - The endpoint named in errors never carries the URL's user name or password.

use async_nats::jetstream;
use livenstore::StoreError;
use std::future::Future;

use crate::config::JetStreamConfig;
use crate::error;

/// The client, JetStream context and runtime of one store (shared by its clones and by the
/// key-value stores made from it).
pub(crate) struct Connection {
    runtime: BackgroundRuntime,
    pub(crate) client: async_nats::Client,
    pub(crate) js: jetstream::Context,
    pub(crate) endpoint: String,
    pub(crate) config: JetStreamConfig,
    /// How many times the client has (re)connected: it changes on every reconnect, so the
    /// follower can start a new consumer at once (see `follower.rs`).
    pub(crate) connects: tokio::sync::watch::Receiver<u64>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("endpoint", &self.endpoint)
            .field("stream", &self.config.stream)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects to `url` (one URL, or several separated by commas).
    ///
    /// # Errors
    ///
    /// [`StoreError::Connection`] naming the address when no server answers in time.
    pub(crate) fn open(url: &str, config: JetStreamConfig) -> Result<Self, StoreError> {
        let endpoint = redact_url(url);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("livenstore-nats")
            .enable_all()
            .build()
            .map_err(|source| StoreError::Connection {
                endpoint: endpoint.clone(),
                source: Box::new(source),
            })?;
        // Shut down in the background however this function returns (a plain drop would
        // panic when the caller runs inside a tokio runtime).
        let runtime = BackgroundRuntime(Some(runtime));
        // The client parses one URL per string: a list is handed over as one string each.
        let urls: Vec<String> = url
            .split(',')
            .map(str::trim)
            .filter(|one| !one.is_empty())
            .map(str::to_owned)
            .collect();
        let (connected, connects) = tokio::sync::watch::channel(0u64);
        let mut options = async_nats::ConnectOptions::new()
            .event_callback(move |event| {
                if matches!(event, async_nats::Event::Connected) {
                    connected.send_modify(|count| *count += 1);
                }
                std::future::ready(())
            })
            .connection_timeout(config.connect_timeout)
            .request_timeout(Some(config.request_timeout))
            // Reconnect for ever; calls fail with timeouts meanwhile.
            .max_reconnects(None)
            .name("livenstore");
        // The client ignores credentials written in a URL: they are passed as options.
        match credentials(&urls) {
            Some((user, Some(password))) => options = options.user_and_password(user, password),
            Some((token, None)) => options = options.token(token),
            None => {}
        }
        let connect = async move { options.connect(urls).await };
        let client = spawn_and_wait(runtime.handle(), connect)
            .ok_or_else(|| StoreError::Connection {
                endpoint: endpoint.clone(),
                source: "the connecting task stopped".into(),
            })?
            .map_err(|source| StoreError::Connection {
                endpoint: endpoint.clone(),
                source: Box::new(source),
            })?;
        // The context spawns its acknowledgement task: it must be built inside the runtime.
        let _entered = runtime.handle().enter();
        let js = jetstream::ContextBuilder::new()
            .timeout(config.request_timeout)
            .build(client.clone());
        drop(_entered);
        Ok(Connection {
            runtime,
            client,
            js,
            endpoint,
            config,
            connects,
        })
    }

    /// The runtime's handle, to spawn background tasks.
    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime.handle()
    }

    /// Runs `future` on the store's runtime and waits for its output.
    ///
    /// # Errors
    ///
    /// The error of [`error::stopped`] when the runtime shut down before the future finished.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        operation: &'static str,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, StoreError> {
        spawn_and_wait(self.handle(), future).ok_or_else(|| error::stopped(operation))
    }
}

/// A runtime shut down in the background when dropped, which is allowed in any context.
struct BackgroundRuntime(Option<tokio::runtime::Runtime>);

impl BackgroundRuntime {
    fn handle(&self) -> &tokio::runtime::Handle {
        // Only `drop` takes the runtime out.
        self.0
            .as_ref()
            .map(tokio::runtime::Runtime::handle)
            .expect("the runtime is present until it is dropped")
    }
}

impl Drop for BackgroundRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Spawns `future` on `handle` and blocks the calling thread until it is done; `None` when the
/// runtime dropped the task (it was shut down).
fn spawn_and_wait<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    future: impl Future<Output = T> + Send + 'static,
) -> Option<T> {
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = sender.send(future.await);
    });
    receiver.recv().ok()
}

/// The credentials of the first of `urls` that carries some, percent-decoded: a user name and
/// password (`nats://user:password@host`), or a token alone (`nats://token@host`).
fn credentials(urls: &[String]) -> Option<(String, Option<String>)> {
    urls.iter().find_map(|one| {
        let address = one.parse::<async_nats::ServerAddr>().ok()?;
        let user = address.username()?;
        Some((percent_decode(user), address.password().map(percent_decode)))
    })
}

/// `text` with its `%XX` escapes decoded (as a URL's user information is written).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let escaped = (bytes[at] == b'%')
            .then(|| bytes.get(at + 1..at + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                at += 3;
            }
            None => {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `url` without user names or passwords, as the store names its server in errors
/// ([`StoreError::Connection`]'s `endpoint`, [`JetStreamStore::endpoint`]), for programs that
/// print a URL they were given: each of the comma-separated URLs is trimmed of spaces, and
/// whatever comes after its scheme up to the last `@` is left out. Nothing is parsed or
/// checked.
///
/// [`JetStreamStore::endpoint`]: crate::JetStreamStore::endpoint
///
/// # Examples
///
/// ```
/// use livenstore_nats::redact_url;
///
/// assert_eq!(redact_url("nats://ada:s3cret@mq.example:4222"), "nats://mq.example:4222");
/// assert_eq!(redact_url("nats://token@a:1, nats://b:2"), "nats://a:1,nats://b:2");
/// assert_eq!(redact_url("127.0.0.1:4222"), "127.0.0.1:4222");
/// ```
pub fn redact_url(url: &str) -> String {
    url.split(',')
        .map(|one| {
            let one = one.trim();
            let (scheme, rest) = match one.find("://") {
                Some(at) => (&one[..at + 3], &one[at + 3..]),
                None => ("", one),
            };
            let rest = match rest.rfind('@') {
                Some(at) => &rest[at + 1..],
                None => rest,
            };
            format!("{scheme}{rest}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn credentials_are_taken_from_the_url() {
        let urls = |text: &str| text.split(',').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            credentials(&urls("nats://h:1,nats://al%40ice:p%3Aw@h:2")),
            Some(("al@ice".to_owned(), Some("p:w".to_owned())))
        );
        assert_eq!(
            credentials(&urls("nats://t0ken@h:1")),
            Some(("t0ken".to_owned(), None))
        );
        assert_eq!(credentials(&urls("nats://h:1,h:2")), None);
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn credentials_are_not_named() {
        assert_eq!(redact_url("nats://u:p@h:4222"), "nats://h:4222");
        assert_eq!(redact_url("h:4222"), "h:4222");
        assert_eq!(
            redact_url("nats://a@x:1, nats://y:2"),
            "nats://x:1,nats://y:2"
        );
    }

    #[test]
    fn an_unreachable_server_is_a_connection_error_naming_it() {
        // Port 1 on loopback: nothing listens there.
        let config = JetStreamConfig::new().connect_timeout(Duration::from_millis(500));
        match Connection::open("nats://user:pw@127.0.0.1:1", config) {
            Err(StoreError::Connection { endpoint, .. }) => {
                assert_eq!(endpoint, "nats://127.0.0.1:1");
            }
            other => panic!("expected a connection error, got {other:?}"),
        }
    }
}
