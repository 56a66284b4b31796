//! [`JetStreamSnapshotStore`]: the snapshots of a [`JetStreamStore`], in its key-value bucket
//! `<stream>_snapshots`.
//!
//! Invariants:
//! - One key per aggregate, `<type>.<id>` (each part encoded by `kv::encode`, so any valid
//!   type and id has its own key); the value is a JSON object of the version, fingerprint,
//!   snapshot version, time and the state's exact text.
//! - A save is a compare-and-set on the key's revision: it reads the stored snapshot, keeps it
//!   when it is of a higher version (returning `false`), and otherwise writes over exactly the
//!   revision it read (or creates the key when there was none). When another write came in
//!   between, it reads again, so an older snapshot never replaces a newer one whatever the
//!   order concurrent saves reach the server in.
//! - A stored value that does not decode is a [`StoreError::Corrupted`] of `load_snapshot` and
//!   `list_snapshots` naming the key (its `line` is the entry's revision); a save replaces it,
//!   since a snapshot is only a cache of what the events say.
//! - Keys pass `validate_snapshot_key` before any request; a state too large for one message is
//!   refused before it is sent.

use std::sync::Arc;

use bytes::Bytes;
use livenstore::store::{validate_snapshot_key, Snapshot, SnapshotInfo, SnapshotStore};
use livenstore::{Payload, StoreError, Timestamp};
use serde::{Deserialize, Serialize};

use crate::kv::{self, Bucket, Failure, Handle, Written};

/// How many times a save reads again after losing a race before it gives up.
const MAX_RACES: usize = 64;

/// The snapshots of a [`JetStreamStore`](crate::JetStreamStore), kept in the key-value bucket
/// `<stream>_snapshots` and shared by every process on the stream (see the module's invariants
/// for how saves race).
///
/// The store hands it out through [`EventStore::snapshots`](livenstore::EventStore::snapshots);
/// the bucket is created by the first write.
///
/// # Examples
///
/// ```no_run
/// use livenstore::store::Snapshot;
/// use livenstore::{EventStore, Payload};
/// use livenstore_nats::JetStreamStore;
///
/// let store = JetStreamStore::connect("nats://127.0.0.1:4222")?;
/// let snapshots = store.snapshots().expect("a JetStream store keeps snapshots");
/// let state = Payload::from_json(r#"{"balance":120}"#)?;
/// assert!(snapshots.save_snapshot(&Snapshot::new("account", "42", 100, state))?);
/// assert_eq!(snapshots.load_snapshot("account", "42")?.map(|s| s.version()), Some(100));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct JetStreamSnapshotStore {
    bucket: Arc<Bucket>,
}

impl std::fmt::Debug for JetStreamSnapshotStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamSnapshotStore")
            .field("endpoint", &self.bucket.endpoint())
            .field("bucket", &self.bucket.name())
            .finish_non_exhaustive()
    }
}

/// The stored value.
#[derive(Serialize, Deserialize)]
struct Stored {
    version: u64,
    fingerprint: u64,
    snapshot_version: u32,
    taken_at: Timestamp,
    state: String,
}

impl Stored {
    fn decode(handle: &Handle, key: &str, value: &[u8], revision: u64) -> Result<Self, Failure> {
        serde_json::from_slice(value)
            .map_err(|e| handle.corrupt(key, revision, format!("not a snapshot: {e}")))
    }

    fn snapshot(
        self,
        handle: &Handle,
        key: &str,
        revision: u64,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Snapshot, Failure> {
        let state = Payload::from_json(self.state)
            .map_err(|e| handle.corrupt(key, revision, format!("the state is not JSON: {e}")))?;
        Ok(
            Snapshot::new(aggregate_type, aggregate_id, self.version, state)
                .with_fingerprint(self.fingerprint)
                .with_snapshot_version(self.snapshot_version)
                .with_taken_at(self.taken_at),
        )
    }
}

impl JetStreamSnapshotStore {
    /// The snapshots of the store on `conn`; no I/O (the bucket opens on first use).
    pub(crate) fn new(conn: &Arc<crate::connection::Connection>) -> Self {
        JetStreamSnapshotStore {
            bucket: Bucket::new(conn, "snapshots"),
        }
    }

    /// Every snapshot's key with its decoded type and id, of `aggregate_type` only when given.
    async fn keys_of(
        handle: &Handle,
        aggregate_type: Option<&str>,
    ) -> Result<Vec<(String, String, String)>, Failure> {
        let mut found = Vec::new();
        for (key, parts) in handle.keys().await? {
            let [t, id]: [String; 2] = parts
                .try_into()
                .map_err(|_| handle.corrupt(&key, 0, "a snapshot key is `<type>.<id>`"))?;
            if aggregate_type.is_none_or(|wanted| wanted == t) {
                found.push((key, t, id));
            }
        }
        Ok(found)
    }
}

impl SnapshotStore for JetStreamSnapshotStore {
    fn save_snapshot(&self, snapshot: &Snapshot) -> Result<bool, StoreError> {
        validate_snapshot_key(snapshot.aggregate_type(), snapshot.aggregate_id())?;
        let key = kv::key(&[snapshot.aggregate_type(), snapshot.aggregate_id()]);
        let stored = Stored {
            version: snapshot.version(),
            fingerprint: snapshot.fingerprint(),
            snapshot_version: snapshot.snapshot_version(),
            taken_at: snapshot.taken_at(),
            state: snapshot.state().as_str().to_owned(),
        };
        let value = Bytes::from(serde_json::to_vec(&stored).map_err(|e| {
            StoreError::InvalidArgument(format!("the snapshot cannot be encoded: {e}"))
        })?);
        let max = self.bucket.max_value_bytes();
        if value.len() > max {
            return Err(StoreError::InvalidArgument(format!(
                "a snapshot of {} bytes is larger than the {max} bytes the NATS server takes in \
                 one message",
                value.len()
            )));
        }
        let candidate = snapshot.clone();
        self.bucket
            .run("save_snapshot", move |handle| async move {
                for _ in 0..MAX_RACES {
                    let revision = match handle.entry(&key).await? {
                        None => 0,
                        Some(entry)
                            if entry.operation != async_nats::jetstream::kv::Operation::Put =>
                        {
                            entry.revision
                        }
                        Some(entry) => {
                            let current =
                                Stored::decode(&handle, &key, &entry.value, entry.revision);
                            // A damaged snapshot is replaced: it is only a cache.
                            if let Ok(current) = current {
                                if !candidate.replaces(current.version) {
                                    return Ok(false);
                                }
                            }
                            entry.revision
                        }
                    };
                    match handle.update(&key, value.clone(), revision).await? {
                        Written::Yes => return Ok(true),
                        Written::Raced => continue,
                    }
                }
                Err(Failure::Store(crate::error::message(
                    "save_snapshot",
                    false,
                    format!("{MAX_RACES} other writes of the snapshot's key came first"),
                )))
            })
            .map_err(Failure::into_store_error)
    }

    fn load_snapshot(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Option<Snapshot>, StoreError> {
        validate_snapshot_key(aggregate_type, aggregate_id)?;
        let key = kv::key(&[aggregate_type, aggregate_id]);
        let (aggregate_type, aggregate_id) = (aggregate_type.to_owned(), aggregate_id.to_owned());
        self.bucket
            .run_if_present("load_snapshot", None, move |handle| async move {
                let Some((value, revision)) = handle.get(&key).await? else {
                    return Ok(None);
                };
                Stored::decode(&handle, &key, &value, revision)?
                    .snapshot(&handle, &key, revision, &aggregate_type, &aggregate_id)
                    .map(Some)
            })
            .map_err(Failure::into_store_error)
    }

    fn list_snapshots(
        &self,
        aggregate_type: Option<&str>,
    ) -> Result<Vec<SnapshotInfo>, StoreError> {
        let wanted = aggregate_type.map(str::to_owned);
        self.bucket
            .run_if_present("list_snapshots", Vec::new(), move |handle| async move {
                let mut all = Vec::new();
                for (key, t, id) in Self::keys_of(&handle, wanted.as_deref()).await? {
                    // Deleted since it was listed: not listed.
                    let Some((value, revision)) = handle.get(&key).await? else {
                        continue;
                    };
                    let stored = Stored::decode(&handle, &key, &value, revision)?;
                    all.push(SnapshotInfo {
                        aggregate_type: t,
                        aggregate_id: id,
                        version: stored.version,
                        fingerprint: stored.fingerprint,
                        snapshot_version: stored.snapshot_version,
                        taken_at: stored.taken_at,
                        state_bytes: stored.state.len() as u64,
                    });
                }
                all.sort_by(|a, b| {
                    (&a.aggregate_type, &a.aggregate_id).cmp(&(&b.aggregate_type, &b.aggregate_id))
                });
                Ok(all)
            })
            .map_err(Failure::into_store_error)
    }

    fn delete_snapshots(&self, aggregate_type: &str) -> Result<u64, StoreError> {
        let wanted = aggregate_type.to_owned();
        self.bucket
            .run_if_present("delete_snapshots", 0, move |handle| async move {
                let mut deleted = 0;
                for (key, _, _) in Self::keys_of(&handle, Some(&wanted)).await? {
                    handle.delete(&key).await?;
                    deleted += 1;
                }
                Ok(deleted)
            })
            .map_err(Failure::into_store_error)
    }
}
