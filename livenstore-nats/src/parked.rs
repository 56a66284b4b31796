//! [`JetStreamParkedStore`]: the events consumers parked, in the store's key-value bucket
//! `<stream>_parked`.
//!
//! Invariants:
//! - A parked event is the key `event.<consumer>.<event id>` (each part encoded by
//!   `kv::encode`), its value the [`ParkedEvent`] as JSON: one record per (consumer, event id),
//!   which parking again replaces. A replay request is the key `replay.<consumer>`, present
//!   while asked and not yet done.
//! - Every write is one put or delete, which may run twice after a lost acknowledgement (the
//!   same record again, or a second delete marker); a removal racing a park of the same event
//!   leaves one of the two, never a mix.
//! - Lists are read whole and sorted by consumer, position and event id, so re-delivery keeps
//!   the order the consumer first saw.
//! - Consumer names pass [`validate_consumer_name`] before any request. A record that does not
//!   decode, or whose consumer or event id is not its key's, is [`CheckpointError::Corrupted`]
//!   naming the bucket and key.

use std::sync::Arc;

use bytes::Bytes;
use livenstore::pubsub::{validate_consumer_name, CheckpointError, ParkedEvent, ParkedEventStore};
use livenstore::EventId;

use crate::connection::Connection;
use crate::kv::{self, Bucket, Failure, Handle};

/// The first part of a parked event's key.
const EVENT: &str = "event";
/// The first part of a replay request's key.
const REPLAY: &str = "replay";

/// The events a [`JetStreamStore`](crate::JetStreamStore)'s consumers parked, in its key-value bucket
/// `<stream>_parked`, shared by every process on the stream: a consumer parks in one process,
/// the CLI lists them or asks for a replay in another.
///
/// Made by [`JetStreamStore::parked`](crate::JetStreamStore::parked); give it to
/// [`Consumer::park_to`](livenstore::pubsub::Consumer::park_to). The bucket is created on first
/// use.
///
/// # Examples
///
/// ```no_run
/// use livenstore::pubsub::{ParkedEvent, ParkedEventStore};
/// use livenstore::{EventStore, ExpectedVersion, NewEvent};
/// use livenstore_nats::JetStreamStore;
///
/// let store = JetStreamStore::connect("nats://127.0.0.1:4222")?;
/// store.append("account-1", ExpectedVersion::Any, vec![NewEvent::from_json("Opened", "{}")?])?;
/// let event = &store.read_all(1, 1)?[0];
/// let parked = store.parked();
/// parked.park(&ParkedEvent::new("mailer", event, "smtp down".into(), 3))?;
/// assert_eq!(parked.list(Some("mailer"))?[0].error, "smtp down");
/// parked.request_replay("mailer")?;
/// assert!(parked.replay_requested("mailer")?);
/// assert_eq!(parked.remove("mailer", None)?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct JetStreamParkedStore {
    bucket: Arc<Bucket>,
}

impl std::fmt::Debug for JetStreamParkedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamParkedStore")
            .field("endpoint", &self.bucket.endpoint())
            .field("bucket", &self.bucket.name())
            .finish_non_exhaustive()
    }
}

fn event_key(consumer: &str, id: EventId) -> String {
    kv::key(&[EVENT, consumer, &id.to_string()])
}

fn replay_key(consumer: &str) -> String {
    kv::key(&[REPLAY, consumer])
}

/// The keys of the parked events (of `consumer` only, when given), with their consumer and id.
async fn event_keys(
    handle: &Handle,
    consumer: Option<&str>,
) -> Result<Vec<(String, String, EventId)>, Failure> {
    let mut found = Vec::new();
    for (key, parts) in handle.keys().await? {
        let Some(kind) = parts.first() else { continue };
        if kind == REPLAY && parts.len() == 2 {
            continue;
        }
        let bad = || handle.corrupt(&key, 0, "not a key of a parked event or replay request");
        let [kind, name, id]: [String; 3] = parts.try_into().map_err(|_| bad())?;
        if kind != EVENT {
            return Err(bad());
        }
        let id: EventId = id.parse().map_err(|_| bad())?;
        if consumer.is_none_or(|wanted| wanted == name) {
            found.push((key, name, id));
        }
    }
    Ok(found)
}

impl JetStreamParkedStore {
    /// The parked events of the store on `conn`; no I/O (the bucket opens on first use).
    pub(crate) fn new(conn: &Arc<Connection>) -> Self {
        JetStreamParkedStore {
            bucket: Bucket::new(conn, "parked"),
        }
    }
}

impl ParkedEventStore for JetStreamParkedStore {
    fn park(&self, event: &ParkedEvent) -> Result<(), CheckpointError> {
        validate_consumer_name(&event.consumer)?;
        let key = event_key(&event.consumer, event.event_id);
        let value = serde_json::to_vec(event).map_err(|e| {
            CheckpointError::Backend(crate::error::message(
                "park event",
                false,
                format!("the parked event cannot be encoded: {e}"),
            ))
        })?;
        let value = Bytes::from(value);
        self.bucket
            .run("park event", move |handle| async move {
                handle.put(&key, value).await
            })
            .map_err(Failure::into_checkpoint_error)
    }

    fn list(&self, consumer: Option<&str>) -> Result<Vec<ParkedEvent>, CheckpointError> {
        if let Some(name) = consumer {
            validate_consumer_name(name)?;
        }
        let wanted = consumer.map(str::to_owned);
        self.bucket
            .run_if_present("list parked events", Vec::new(), move |handle| async move {
                let mut all = Vec::new();
                for (key, name, id) in event_keys(&handle, wanted.as_deref()).await? {
                    // Removed since it was listed: not listed.
                    let Some((value, revision)) = handle.get(&key).await? else {
                        continue;
                    };
                    let event: ParkedEvent = serde_json::from_slice(&value).map_err(|e| {
                        handle.corrupt(&key, revision, format!("not a parked event: {e}"))
                    })?;
                    if event.consumer != name || event.event_id != id {
                        return Err(handle.corrupt(
                            &key,
                            revision,
                            format!(
                                "the record is of consumer {:?} and event {}",
                                event.consumer, event.event_id
                            ),
                        ));
                    }
                    all.push(event);
                }
                all.sort_by(|a, b| {
                    (&a.consumer, a.position, a.event_id).cmp(&(
                        &b.consumer,
                        b.position,
                        b.event_id,
                    ))
                });
                Ok(all)
            })
            .map_err(Failure::into_checkpoint_error)
    }

    fn remove(&self, consumer: &str, event_id: Option<EventId>) -> Result<usize, CheckpointError> {
        validate_consumer_name(consumer)?;
        let consumer = consumer.to_owned();
        self.bucket
            .run_if_present("remove parked events", 0, move |handle| async move {
                let keys = match event_id {
                    Some(id) => {
                        let key = event_key(&consumer, id);
                        match handle.get(&key).await? {
                            Some(_) => vec![key],
                            None => Vec::new(),
                        }
                    }
                    None => event_keys(&handle, Some(&consumer))
                        .await?
                        .into_iter()
                        .map(|(key, _, _)| key)
                        .collect(),
                };
                for key in &keys {
                    handle.delete(key).await?;
                }
                Ok(keys.len())
            })
            .map_err(Failure::into_checkpoint_error)
    }

    fn request_replay(&self, consumer: &str) -> Result<(), CheckpointError> {
        validate_consumer_name(consumer)?;
        let key = replay_key(consumer);
        self.bucket
            .run("request replay", move |handle| async move {
                handle.put(&key, Bytes::from_static(b"requested")).await
            })
            .map_err(Failure::into_checkpoint_error)
    }

    fn replay_requested(&self, consumer: &str) -> Result<bool, CheckpointError> {
        validate_consumer_name(consumer)?;
        let key = replay_key(consumer);
        self.bucket
            .run_if_present("replay requested", false, move |handle| async move {
                Ok(handle.get(&key).await?.is_some())
            })
            .map_err(Failure::into_checkpoint_error)
    }

    fn replay_done(&self, consumer: &str) -> Result<(), CheckpointError> {
        validate_consumer_name(consumer)?;
        let key = replay_key(consumer);
        self.bucket
            .run_if_present("replay done", (), move |handle| async move {
                // Only a present request is deleted: no marker for every call.
                if handle.get(&key).await?.is_some() {
                    handle.delete(&key).await?;
                }
                Ok(())
            })
            .map_err(Failure::into_checkpoint_error)
    }
}
