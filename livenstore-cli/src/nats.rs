//! The NATS JetStream store named by `--nats URL --nats-stream NAME`.
//!
//! Rules:
//! - The URL is parsed when the command line is read ([`NatsServer::new`]); a malformed one is a
//!   usage error whose message does not repeat the URL (it may hold a password). Nothing shows
//!   a user name or password: messages name the JetStream stream and the server addresses only.
//! - Read commands never create the stream. Connecting a [`JetStreamStore`] creates its
//!   JetStream stream, so [`NatsServer::for_reading`] first checks, on a client connection of
//!   its own, that the stream exists, and connects the store only then (the store then checks
//!   that the stream is one it can read, writing nothing to one it cannot).
//! - `append` and `import` ([`NatsServer::for_writing`]) connect the store directly, creating
//!   the stream when it is missing, as `append` creates a missing directory.
//! - The store creates a key-value bucket (checkpoints, parked events, snapshots) only to write
//!   to it; a missing one reads as empty. `snapshots --delete` asks
//!   [`NatsServer::has_bucket`] first, so that it creates neither the stream nor the bucket
//!   when there is nothing to delete.
//! - A server that cannot be reached is [`StoreError::Connection`] naming the address, whoever
//!   connects (the check or the store), after five seconds at most (the store's connect
//!   timeout).

use std::fmt;
use std::time::Duration;

use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::ErrorCode;
use livenstore::StoreError;
use livenstore_nats::{JetStreamConfig, JetStreamStore};

use crate::error::CliError;

/// How long the existence check may take to connect, and then to get an answer (the store's
/// own default connect and request timeouts).
const TIMEOUT: Duration = Duration::from_secs(5);

/// The backend name in the check's [`StoreError::Backend`], as the store names itself.
const BACKEND: &str = "NATS JetStream";

/// A JetStream stream on a NATS server, not connected yet.
pub struct NatsServer {
    /// As given, for [`JetStreamStore::connect_with`].
    url: String,
    /// The store's settings: the stream's name, the defaults otherwise.
    config: JetStreamConfig,
    /// The URL without user names or passwords, for messages.
    endpoint: String,
}

impl fmt::Debug for NatsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the URL: it may hold a password.
        f.debug_struct("NatsServer")
            .field("endpoint", &self.endpoint)
            .field("stream", &self.config.stream_name())
            .finish_non_exhaustive()
    }
}

/// ``JetStream stream `NAME` at nats://HOST:PORT``.
impl fmt::Display for NatsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "JetStream stream `{}` at {}",
            self.config.stream_name(),
            self.endpoint
        )
    }
}

impl NatsServer {
    /// The server(s) at `url` (`nats://[USER:PASSWORD@]HOST[:PORT]`, several separated by
    /// commas), JetStream stream `stream` (checked by the command line's parser).
    ///
    /// # Errors
    ///
    /// [`CliError::InvalidNatsUrl`] when `url` does not parse, [`CliError::Store`] when the
    /// stream name is refused.
    pub fn new(url: &str, stream: &str) -> Result<Self, CliError> {
        for one in url.split(',') {
            one.trim()
                .parse::<async_nats::ServerAddr>()
                .map_err(|e| CliError::InvalidNatsUrl(without_url(&e.to_string())))?;
        }
        Ok(NatsServer {
            url: url.to_owned(),
            config: JetStreamConfig::new().stream(stream)?,
            endpoint: livenstore_nats::redact_url(url),
        })
    }

    /// The store, if its JetStream stream exists; nothing is created.
    ///
    /// # Errors
    ///
    /// [`CliError::NoJetStream`]; [`StoreError::Connection`] naming the address when the
    /// server cannot be reached; [`StoreError::Backend`] when the check fails on the server
    /// (JetStream not enabled, for one); the errors of [`JetStreamStore::connect_with`].
    pub fn for_reading(&self) -> Result<JetStreamStore, CliError> {
        if !self.stream_exists()? {
            return Err(CliError::NoJetStream {
                place: self.to_string(),
            });
        }
        self.for_writing()
    }

    /// The store, its JetStream stream created when needed.
    ///
    /// # Errors
    ///
    /// [`StoreError::Connection`] naming the address when the server cannot be reached, and the
    /// errors of [`JetStreamStore::connect_with`].
    pub fn for_writing(&self) -> Result<JetStreamStore, CliError> {
        Ok(JetStreamStore::connect_with(
            &self.url,
            self.config.clone(),
        )?)
    }

    /// Whether the server has the key-value bucket `what` (`checkpoints`, `parked`,
    /// `snapshots`) of the store, asked on a connection of its own (before a store is
    /// connected, which would create a missing stream).
    ///
    /// # Errors
    ///
    /// As [`for_reading`](Self::for_reading)'s check.
    pub fn has_bucket(&self, what: &str) -> Result<bool, CliError> {
        let stream = format!("KV_{}", self.config.bucket_name(what));
        Ok(self.exists(&stream)?)
    }

    /// Whether the server has the JetStream stream.
    fn stream_exists(&self) -> Result<bool, StoreError> {
        self.exists(self.config.stream_name())
    }

    /// Whether the server has the JetStream stream `name`, asked on a connection of its own.
    fn exists(&self, name: &str) -> Result<bool, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| StoreError::Connection {
                endpoint: self.endpoint.clone(),
                source: Box::new(source),
            })?;
        let options = async_nats::ConnectOptions::new()
            .connection_timeout(TIMEOUT)
            .request_timeout(Some(TIMEOUT))
            .name("livenstore");
        let (url, name) = (self.url.clone(), name.to_owned());
        runtime.block_on(async move {
            let client = options
                .connect(url)
                .await
                .map_err(|source| StoreError::Connection {
                    endpoint: self.endpoint.clone(),
                    source: Box::new(source),
                })?;
            let js = async_nats::jetstream::new(client);
            match js.get_stream(&name).await {
                Ok(_) => Ok(true),
                Err(e) => match e.kind() {
                    GetStreamErrorKind::JetStream(found)
                        if found.error_code() == ErrorCode::STREAM_NOT_FOUND =>
                    {
                        Ok(false)
                    }
                    _ => Err(StoreError::Backend {
                        backend: BACKEND,
                        operation: "looking for a JetStream stream",
                        outcome_unknown: false,
                        source: Box::new(e),
                    }),
                },
            }
        })
    }
}

/// The client's message about a malformed URL without the URL (`invalid port number`), which
/// the URL parser's messages never repeat but the client's prefix may.
fn without_url(message: &str) -> String {
    message
        .strip_prefix("NATS server URL is invalid: ")
        .unwrap_or(message)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_stream_and_address_but_no_password() {
        let server = NatsServer::new("nats://ada:s3cret@mq.example:4333", "BANK").expect("valid");
        assert_eq!(
            server.to_string(),
            "JetStream stream `BANK` at nats://mq.example:4333"
        );
        assert!(!format!("{server:?}").contains("s3cret"));
        let server = NatsServer::new("nats://a:1, b:2", "S").expect("valid");
        assert_eq!(server.endpoint, "nats://a:1,b:2");
    }

    #[test]
    fn a_malformed_url_is_refused_without_repeating_it() {
        for bad in ["nats://ada:s3cret@h:99999", "nats://ada:s3cret@[::1"] {
            let err = NatsServer::new(bad, "S").unwrap_err();
            assert!(matches!(err, CliError::InvalidNatsUrl(_)), "{bad}: {err:?}");
            assert!(!err.to_string().contains("s3cret"), "{err}");
        }
    }

    #[test]
    fn an_unreachable_server_is_a_connection_error_naming_it() {
        let server = NatsServer::new("nats://u:pw@127.0.0.1:1", "S").expect("valid");
        match server.for_reading() {
            Err(CliError::Store(StoreError::Connection { endpoint, .. })) => {
                assert_eq!(endpoint, "nats://127.0.0.1:1");
            }
            other => panic!("expected a connection error, got {other:?}"),
        }
    }
}
