//! The key-value buckets of a store (`<stream>_checkpoints`, `<stream>_snapshots`,
//! `<stream>_parked`): opening one on first use, and the encoding of names into keys.
//!
//! Invariants:
//! - A [`Bucket`] is made without I/O; the bucket is found, or created (file storage, history 1,
//!   the config's replicas), by the first operation that writes, once per store. An operation
//!   that only reads (or deletes) never creates it: a missing bucket answers it as empty
//!   ([`Bucket::run_if_present`]), so reading a store's consumers creates nothing (its clones and the stores
//!   made from it share the opened bucket). Two processes creating it at once both end up with
//!   the one bucket (the server takes the same stream config twice); an existing bucket is used
//!   with its own settings.
//! - A key is one or more *parts* joined by `.`; [`encode`] turns any string into a part that
//!   holds only `[A-Za-z0-9_-]` and `=XX` escapes (uppercase hex of each other byte), so the
//!   encoding is injective, never produces `.`, and [`decode`] gives the string back. `decode`
//!   accepts only what `encode` produces (a canonical form), so one name has one key.
//! - Every request is bounded by the config's request timeout; a write that fails or times out
//!   after it was sent is reported with `outcome_unknown` set.
//! - A key or value that is not what this crate writes is a [`Failure::Corrupt`] naming the
//!   bucket and key, never a panic and never skipped.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::kv::{self, Entry, Operation};
use async_nats::jetstream::stream::{self, DiscardPolicy, StorageType};
use async_nats::jetstream::ErrorCode;
use futures_util::StreamExt;
use livenstore::StoreError;

use crate::connection::Connection;
use crate::error;

/// What a key-value operation failed with: the store's error, or a damaged key or value (each
/// store turns that into its own "corrupted" error).
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server, the connection or an argument.
    Store(StoreError),
    /// A key or value this crate did not write.
    Corrupt {
        /// `nats:<bucket>/<key>`.
        path: String,
        /// The entry's revision (0 for a key that could not be decoded from a listing).
        revision: u64,
        /// What is wrong.
        reason: String,
    },
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::Store(error)
    }
}

impl Failure {
    /// As a [`StoreError`]: a damaged entry is [`StoreError::Corrupted`] whose `line` is the
    /// entry's revision.
    pub(crate) fn into_store_error(self) -> StoreError {
        match self {
            Failure::Store(error) => error,
            Failure::Corrupt {
                path,
                revision,
                reason,
            } => StoreError::Corrupted {
                path: path.into(),
                line: revision,
                reason,
            },
        }
    }

    /// As a [`CheckpointError`](livenstore::pubsub::CheckpointError).
    pub(crate) fn into_checkpoint_error(self) -> livenstore::pubsub::CheckpointError {
        use livenstore::pubsub::CheckpointError;
        match self {
            Failure::Store(error) => CheckpointError::Backend(error),
            Failure::Corrupt {
                path,
                revision,
                reason,
            } => CheckpointError::Corrupted {
                path: path.into(),
                reason: match revision {
                    0 => reason,
                    _ => format!("revision {revision}: {reason}"),
                },
            },
        }
    }
}

/// One key-value bucket of a store, opened on first use.
#[derive(Debug)]
pub(crate) struct Bucket {
    conn: Arc<Connection>,
    name: String,
    store: tokio::sync::OnceCell<kv::Store>,
}

impl Bucket {
    /// The bucket `what` (`checkpoints`, `snapshots`, `parked`) of the store on `conn`; no I/O.
    pub(crate) fn new(conn: &Arc<Connection>, what: &str) -> Arc<Self> {
        Arc::new(Bucket {
            name: conn.config.bucket_name(what),
            conn: Arc::clone(conn),
            store: tokio::sync::OnceCell::new(),
        })
    }

    /// The bucket's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The server address, without credentials.
    pub(crate) fn endpoint(&self) -> &str {
        &self.conn.endpoint
    }

    /// The largest value the server takes (its maximum message size, less room for headers).
    pub(crate) fn max_value_bytes(&self) -> usize {
        self.conn
            .client
            .server_info()
            .max_payload
            .saturating_sub(1024)
    }

    /// Runs `operation` (given the opened bucket) on the store's runtime and waits for it.
    pub(crate) fn run<T, F, Fut>(
        self: &Arc<Self>,
        name: &'static str,
        operation: F,
    ) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce(Handle) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, Failure>> + Send,
    {
        self.run_opened(name, None, operation)
    }

    /// Runs `operation` like [`run`](Self::run) when the bucket exists, and answers `absent`
    /// without creating it when it does not (for reads and deletes).
    pub(crate) fn run_if_present<T, F, Fut>(
        self: &Arc<Self>,
        name: &'static str,
        absent: T,
        operation: F,
    ) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce(Handle) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, Failure>> + Send,
    {
        self.run_opened(name, Some(absent), operation)
    }

    /// [`run`](Self::run), or with `absent` [`run_if_present`](Self::run_if_present).
    fn run_opened<T, F, Fut>(
        self: &Arc<Self>,
        name: &'static str,
        absent: Option<T>,
        operation: F,
    ) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce(Handle) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, Failure>> + Send,
    {
        let bucket = Arc::clone(self);
        self.conn.run(name, async move {
            if let Some(absent) = absent {
                if bucket.store.get().is_none() && !bucket.exists().await? {
                    return Ok(absent);
                }
            }
            let store = bucket.open().await?;
            operation(Handle {
                store,
                bucket: bucket.name.clone(),
                timeout: bucket.conn.config.request_timeout,
                operation: name,
            })
            .await
        })?
    }

    /// Whether the server has the bucket's stream.
    async fn exists(&self) -> Result<bool, StoreError> {
        const LOOK: &str = "look for the key-value bucket";
        let timeout = self.conn.config.request_timeout;
        let found = self.conn.js.get_stream(format!("KV_{}", self.name));
        match within(timeout, LOOK, false, found).await {
            Ok(_) => Ok(true),
            Err(BoundedError::Failed(e)) => match e.kind() {
                GetStreamErrorKind::JetStream(found)
                    if found.error_code() == ErrorCode::STREAM_NOT_FOUND =>
                {
                    Ok(false)
                }
                _ => Err(error::backend(LOOK, false, e)),
            },
            Err(BoundedError::TimedOut(e)) => Err(e),
        }
    }

    async fn open(&self) -> Result<kv::Store, StoreError> {
        self.store
            .get_or_try_init(|| async {
                let timeout = self.conn.config.request_timeout;
                let js = &self.conn.js;
                const OPEN: &str = "open the key-value bucket";
                // Found, or created as the client's `create_key_value` makes it (that call first
                // asks for the account's limits, an answer this client cannot parse from a 2.9
                // server). An existing bucket is used with its own settings.
                let config = bucket_stream(&self.name, &self.conn.config);
                let created = js.get_or_create_stream(config.clone());
                if within(timeout, OPEN, false, created).await.is_err() {
                    // Another process may have created it between our look and our create
                    // (the server then refuses ours, as overlapping it): look again.
                    let again = js.get_or_create_stream(config);
                    within(timeout, OPEN, false, again)
                        .await
                        .map_err(|e| e.into_store_error(OPEN, false))?;
                }
                within(timeout, OPEN, false, js.get_key_value(&self.name))
                    .await
                    .map_err(|e| e.into_store_error(OPEN, false))
            })
            .await
            .cloned()
    }
}

/// The stream of bucket `name`: what `create_key_value` makes of file storage, history 1 and
/// the config's replicas.
fn bucket_stream(name: &str, config: &crate::config::JetStreamConfig) -> stream::Config {
    stream::Config {
        name: format!("KV_{name}"),
        description: Some(format!(
            "livenstore key-value bucket of stream {}",
            config.stream
        )),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_bytes: -1,
        max_messages: -1,
        max_message_size: -1,
        storage: StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        deny_purge: false,
        allow_direct: true,
        num_replicas: config.replicas,
        discard: DiscardPolicy::New,
        ..Default::default()
    }
}

/// A request that failed, or did not answer in time.
enum BoundedError<E> {
    Failed(E),
    TimedOut(StoreError),
}

impl<E: std::error::Error + Send + Sync + 'static> BoundedError<E> {
    fn into_store_error(self, operation: &'static str, outcome_unknown: bool) -> StoreError {
        match self {
            BoundedError::Failed(e) => error::backend(operation, outcome_unknown, e),
            BoundedError::TimedOut(e) => e,
        }
    }
}

/// `future`, failing with a backend error of `operation` after `timeout`.
async fn within<T, E>(
    timeout: Duration,
    operation: &'static str,
    outcome_unknown: bool,
    future: impl Future<Output = Result<T, E>>,
) -> Result<T, BoundedError<E>> {
    match tokio::time::timeout(timeout, future).await {
        Ok(result) => result.map_err(BoundedError::Failed),
        Err(elapsed) => Err(BoundedError::TimedOut(error::backend(
            operation,
            outcome_unknown,
            elapsed,
        ))),
    }
}

/// The opened bucket, inside one operation: requests bounded by the request timeout, errors
/// naming the operation.
pub(crate) struct Handle {
    store: kv::Store,
    bucket: String,
    timeout: Duration,
    operation: &'static str,
}

/// What a guarded write found: written, or the key changed since it was read.
pub(crate) enum Written {
    /// Written.
    Yes,
    /// Another write came first.
    Raced,
}

impl Handle {
    /// The damaged-entry failure for `key` at `revision`.
    pub(crate) fn corrupt(&self, key: &str, revision: u64, reason: impl Into<String>) -> Failure {
        Failure::Corrupt {
            path: format!("nats:{}/{key}", self.bucket),
            revision,
            reason: reason.into(),
        }
    }

    /// The latest entry of `key`, delete and purge markers included.
    pub(crate) async fn entry(&self, key: &str) -> Result<Option<Entry>, Failure> {
        within(self.timeout, self.operation, false, self.store.entry(key))
            .await
            .map_err(|e| Failure::Store(e.into_store_error(self.operation, false)))
    }

    /// The value of `key` with its revision, `None` when it has none (or was deleted).
    pub(crate) async fn get(&self, key: &str) -> Result<Option<(bytes::Bytes, u64)>, Failure> {
        Ok(self
            .entry(key)
            .await?
            .filter(|e| e.operation == Operation::Put)
            .map(|e| (e.value, e.revision)))
    }

    /// Writes `value` under `key`, whatever it holds.
    pub(crate) async fn put(&self, key: &str, value: bytes::Bytes) -> Result<(), Failure> {
        within(
            self.timeout,
            self.operation,
            true,
            self.store.put(key, value),
        )
        .await
        .map(drop)
        .map_err(|e| Failure::Store(e.into_store_error(self.operation, true)))
    }

    /// Writes `value` under `key` if the key's latest revision is still `revision` (0: the key
    /// has never been written or was purged away).
    pub(crate) async fn update(
        &self,
        key: &str,
        value: bytes::Bytes,
        revision: u64,
    ) -> Result<Written, Failure> {
        let update = self.store.update(key, value, revision);
        match within(self.timeout, self.operation, true, update).await {
            Ok(_) => Ok(Written::Yes),
            Err(BoundedError::Failed(e)) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                Ok(Written::Raced)
            }
            Err(e) => Err(Failure::Store(e.into_store_error(self.operation, true))),
        }
    }

    /// Deletes `key` (a delete marker, which readers take for no value).
    pub(crate) async fn delete(&self, key: &str) -> Result<(), Failure> {
        within(self.timeout, self.operation, true, self.store.delete(key))
            .await
            .map_err(|e| Failure::Store(e.into_store_error(self.operation, true)))
    }

    /// Every key with a value, split into decoded parts (sorted by key). A key this crate could
    /// not have written is a [`Failure::Corrupt`].
    pub(crate) async fn keys(&self) -> Result<Vec<(String, Vec<String>)>, Failure> {
        let keys = within(self.timeout, self.operation, false, self.store.keys())
            .await
            .map_err(|e| Failure::Store(e.into_store_error(self.operation, false)))?;
        futures_util::pin_mut!(keys);
        let mut all = Vec::new();
        loop {
            let next = tokio::time::timeout(self.timeout, keys.next()).await;
            let key = match next {
                Ok(None) => break,
                Ok(Some(Ok(key))) => key,
                Ok(Some(Err(e))) => {
                    return Err(Failure::Store(error::backend(self.operation, false, e)))
                }
                Err(e) => return Err(Failure::Store(error::backend(self.operation, false, e))),
            };
            let parts = split(&key)
                .ok_or_else(|| self.corrupt(&key, 0, "the key is not one this store writes"))?;
            all.push((key, parts));
        }
        all.sort();
        Ok(all)
    }
}

/// `name` as one part of a key: `[A-Za-z0-9_-]` kept, every other byte `=XX` (uppercase hex).
pub(crate) fn encode(name: &str) -> String {
    let mut part = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            part.push(char::from(byte));
        } else {
            part.push('=');
            part.push(hex_digit(byte >> 4));
            part.push(hex_digit(byte & 0xf));
        }
    }
    part
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789ABCDEF"[usize::from(nibble & 0xf)])
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// The name [`encode`] made `part` from; `None` for anything `encode` does not produce (an
/// empty part, a bad or lowercase escape, an escape of a kept byte, bytes that are not UTF-8).
pub(crate) fn decode(part: &str) -> Option<String> {
    if part.is_empty() {
        return None;
    }
    let bytes = part.as_bytes();
    let mut name = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte == b'=' {
            let high = hex_value(*bytes.get(at + 1)?)?;
            let low = hex_value(*bytes.get(at + 2)?)?;
            let decoded = high << 4 | low;
            if decoded.is_ascii_alphanumeric() || decoded == b'_' || decoded == b'-' {
                return None;
            }
            name.push(decoded);
            at += 3;
        } else if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            name.push(byte);
            at += 1;
        } else {
            return None;
        }
    }
    String::from_utf8(name).ok()
}

/// The key of the names `parts`, each encoded, joined by `.`.
pub(crate) fn key(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|part| encode(part))
        .collect::<Vec<_>>()
        .join(".")
}

/// The names of `key`'s parts; `None` when one is not an encoded name.
pub(crate) fn split(key: &str) -> Option<Vec<String>> {
    key.split('.').map(decode).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_valid_key(key: &str) -> bool {
        !key.is_empty()
            && !key.starts_with('.')
            && !key.ends_with('.')
            && !key.contains("..")
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-/_=.".contains(&b))
    }

    #[test]
    fn names_round_trip_into_valid_keys() {
        let names = [
            "projector",
            "read-model.users_v2",
            "a..b",
            ".",
            "=",
            "=41",
            "a/b c",
            "ünïcödé id.with dots",
            "tab\there",
            "*>",
            "x",
        ];
        for name in names {
            let part = encode(name);
            assert!(is_valid_key(&part), "{name:?} gave {part:?}");
            assert!(!part.contains('.'));
            assert_eq!(decode(&part).as_deref(), Some(name), "{part:?}");
            let two = key(&[name, "id"]);
            assert!(is_valid_key(&two), "{two:?}");
            assert_eq!(split(&two), Some(vec![name.to_owned(), "id".to_owned()]));
        }
        assert_eq!(encode("read-model.v2"), "read-model=2Ev2");
        assert_eq!(encode("é"), "=C3=A9");
    }

    #[test]
    fn the_encoding_is_injective() {
        let names = ["a.b", "a=2Eb", "a_b", "a-b", "A.B", "a b", "a=b", "ab"];
        let mut parts: Vec<String> = names.iter().map(|n| encode(n)).collect();
        parts.sort();
        parts.dedup();
        assert_eq!(parts.len(), names.len());
    }

    #[test]
    fn only_canonical_parts_decode() {
        for bad in [
            "", "=", "=4", "=4G", "=2e", "=41", "a.b", "a b", "=FF", "é", "a/b",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
        assert_eq!(split("a..b"), None);
        assert_eq!(split("a.=2E"), Some(vec!["a".to_owned(), ".".to_owned()]));
    }
}
