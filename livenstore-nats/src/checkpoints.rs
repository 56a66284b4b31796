//! [`JetStreamCheckpointStore`]: consumer checkpoints in the store's key-value bucket
//! `<stream>_checkpoints`.
//!
//! Invariants:
//! - One key per consumer: its name encoded by `kv::encode` (names may hold `.`, which keys use
//!   as a separator). The value is the position in decimal ASCII, nothing else.
//! - A save is one put: atomic, so a reader sees the old position or the new one, never none;
//!   it may run twice after a lost acknowledgement (writing the same value).
//! - Names pass [`validate_consumer_name`] before any request.
//! - A value that is not a position, or a key that is not an encoded name, is
//!   [`CheckpointError::Corrupted`] naming the bucket and key (`nats:<bucket>/<key>`).

use std::sync::Arc;

use bytes::Bytes;
use livenstore::pubsub::{validate_consumer_name, CheckpointError, CheckpointStore};

use crate::connection::Connection;
use crate::kv::{self, Bucket, Failure, Handle};

/// Consumer checkpoints kept in the key-value bucket `<stream>_checkpoints` of a
/// [`JetStreamStore`](crate::JetStreamStore), so a [`Consumer`](livenstore::pubsub::Consumer) resumes where it
/// stopped, in whichever process it runs next.
///
/// Made by [`JetStreamStore::checkpoints`](crate::JetStreamStore::checkpoints); it shares the store's connection, and the bucket is
/// created by the first write. Cloning gives another handle to the same bucket.
///
/// # Examples
///
/// ```no_run
/// use livenstore::pubsub::CheckpointStore;
/// use livenstore_nats::JetStreamStore;
///
/// let store = JetStreamStore::connect("nats://127.0.0.1:4222")?;
/// let checkpoints = store.checkpoints();
/// checkpoints.save("balances", 42)?;
/// assert_eq!(checkpoints.load("balances")?, Some(42));
/// assert_eq!(checkpoints.list()?, [("balances".to_owned(), 42)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct JetStreamCheckpointStore {
    bucket: Arc<Bucket>,
}

impl std::fmt::Debug for JetStreamCheckpointStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamCheckpointStore")
            .field("endpoint", &self.bucket.endpoint())
            .field("bucket", &self.bucket.name())
            .finish_non_exhaustive()
    }
}

/// The position stored in `value`.
fn position(handle: &Handle, key: &str, value: &[u8], revision: u64) -> Result<u64, Failure> {
    std::str::from_utf8(value)
        .ok()
        .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| {
            let shown = String::from_utf8_lossy(&value[..value.len().min(40)]).into_owned();
            handle.corrupt(key, revision, format!("not a position: {shown:?}"))
        })
}

impl JetStreamCheckpointStore {
    /// The checkpoints of the store on `conn`; no I/O (the bucket opens on first use).
    pub(crate) fn new(conn: &Arc<Connection>) -> Self {
        JetStreamCheckpointStore {
            bucket: Bucket::new(conn, "checkpoints"),
        }
    }
}

impl CheckpointStore for JetStreamCheckpointStore {
    fn load(&self, consumer: &str) -> Result<Option<u64>, CheckpointError> {
        validate_consumer_name(consumer)?;
        let key = kv::key(&[consumer]);
        self.bucket
            .run_if_present("load checkpoint", None, move |handle| async move {
                match handle.get(&key).await? {
                    Some((value, revision)) => position(&handle, &key, &value, revision).map(Some),
                    None => Ok(None),
                }
            })
            .map_err(Failure::into_checkpoint_error)
    }

    fn save(&self, consumer: &str, position: u64) -> Result<(), CheckpointError> {
        validate_consumer_name(consumer)?;
        let key = kv::key(&[consumer]);
        let value = Bytes::from(position.to_string());
        self.bucket
            .run("save checkpoint", move |handle| async move {
                handle.put(&key, value).await
            })
            .map_err(Failure::into_checkpoint_error)
    }

    fn list(&self) -> Result<Vec<(String, u64)>, CheckpointError> {
        self.bucket
            .run_if_present("list checkpoints", Vec::new(), move |handle| async move {
                let mut all = Vec::new();
                for (key, parts) in handle.keys().await? {
                    let [name]: [String; 1] = parts.try_into().map_err(|_| {
                        handle.corrupt(&key, 0, "a checkpoint key is one encoded name")
                    })?;
                    // Deleted since it was listed: not listed.
                    if let Some((value, revision)) = handle.get(&key).await? {
                        all.push((name, position(&handle, &key, &value, revision)?));
                    }
                }
                all.sort();
                Ok(all)
            })
            .map_err(Failure::into_checkpoint_error)
    }

    fn delete(&self, consumer: &str) -> Result<bool, CheckpointError> {
        validate_consumer_name(consumer)?;
        let key = kv::key(&[consumer]);
        self.bucket
            .run_if_present("delete checkpoint", false, move |handle| async move {
                if handle.get(&key).await?.is_none() {
                    return Ok(false);
                }
                handle.delete(&key).await.map(|()| true)
            })
            .map_err(Failure::into_checkpoint_error)
    }
}
