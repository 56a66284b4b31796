//! Parked events: what a consumer could not handle after its last attempt, kept durably so the
//! consumer goes on and the event can be re-delivered once the bug is fixed.
//!
//! Invariants:
//! - One record per (consumer, event id); parking an event again replaces its record (the error
//!   and attempts of the last try).
//! - Lists are in position order: re-delivery keeps the order the consumer first saw.
//! - A replay request is a flag per consumer, set by anyone (the CLI, another process) and
//!   cleared by the consumer once it has re-delivered what was parked.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::checkpoint::validate_consumer_name;
use super::error::CheckpointError;
use crate::{EventId, RecordedEvent, Timestamp};

/// An event a consumer parked after its last failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedEvent {
    /// The consumer's name.
    pub consumer: String,
    /// The event's global position.
    pub position: u64,
    /// The event's id.
    pub event_id: EventId,
    /// The event's stream.
    pub stream: String,
    /// The event's type.
    pub event_type: String,
    /// The last attempt's error, as text.
    pub error: String,
    /// Attempts made, in all.
    pub attempts: u32,
    /// When it was (last) parked.
    pub parked_at: Timestamp,
}

impl ParkedEvent {
    /// The record of `event`, parked by `consumer` after `attempts` attempts failing with
    /// `error`.
    pub fn new(consumer: &str, event: &RecordedEvent, error: String, attempts: u32) -> Self {
        ParkedEvent {
            consumer: consumer.to_owned(),
            position: event.position(),
            event_id: event.id(),
            stream: event.stream().to_owned(),
            event_type: event.event_type().to_owned(),
            error,
            attempts,
            parked_at: Timestamp::now(),
        }
    }
}

/// Where consumers park events: [`InMemoryParkedStore`], a `JsonStore`'s directory
/// ([`JsonStore::parked`](crate::JsonStore::parked)), a PostgreSQL table.
pub trait ParkedEventStore: Send + Sync {
    /// Stores `event`, replacing the record of the same consumer and event id.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::InvalidName`], I/O or backend errors.
    fn park(&self, event: &ParkedEvent) -> Result<(), CheckpointError>;

    /// The parked events of `consumer` (of every consumer with `None`), in position order
    /// (by consumer, then position, for all).
    ///
    /// # Errors
    ///
    /// As [`park`](Self::park); [`CheckpointError::Corrupted`] for a damaged record.
    fn list(&self, consumer: Option<&str>) -> Result<Vec<ParkedEvent>, CheckpointError>;

    /// Removes the record of `event_id` of `consumer`, or all of that consumer's with `None`;
    /// returns how many were removed.
    ///
    /// # Errors
    ///
    /// As [`park`](Self::park).
    fn remove(&self, consumer: &str, event_id: Option<EventId>) -> Result<usize, CheckpointError>;

    /// Asks `consumer` to re-deliver its parked events (a running consumer does when it has
    /// caught up, a stopped one when it starts).
    ///
    /// # Errors
    ///
    /// As [`park`](Self::park).
    fn request_replay(&self, consumer: &str) -> Result<(), CheckpointError>;

    /// Whether a replay was asked of `consumer` and not yet done. Cheap: a consumer asks each
    /// time it has caught up.
    ///
    /// # Errors
    ///
    /// As [`park`](Self::park).
    fn replay_requested(&self, consumer: &str) -> Result<bool, CheckpointError>;

    /// Marks the replay of `consumer` done.
    ///
    /// # Errors
    ///
    /// As [`park`](Self::park).
    fn replay_done(&self, consumer: &str) -> Result<(), CheckpointError>;
}

/// Parked events in memory (lost with the process): for tests and in-memory stores.
///
/// # Examples
///
/// ```
/// use livenstore::pubsub::{InMemoryParkedStore, ParkedEvent, ParkedEventStore};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
///
/// let store = InMemoryStore::new();
/// let event = NewEvent::from_json("Opened", "{}").unwrap();
/// store.append("account-1", ExpectedVersion::Any, vec![event]).unwrap();
/// let event = &store.read_all(1, 1).unwrap()[0];
///
/// let parked = InMemoryParkedStore::new();
/// parked.park(&ParkedEvent::new("mailer", event, "smtp down".into(), 3)).unwrap();
/// assert_eq!(parked.list(Some("mailer")).unwrap()[0].error, "smtp down");
/// assert_eq!(parked.remove("mailer", None).unwrap(), 1);
/// ```
#[derive(Debug, Default)]
pub struct InMemoryParkedStore {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    /// By consumer, position and id (ids tell apart records of one position, which only
    /// events of different stores can share).
    events: BTreeMap<(String, u64, EventId), ParkedEvent>,
    replays: BTreeSet<String>,
}

impl InMemoryParkedStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ParkedEventStore for InMemoryParkedStore {
    fn park(&self, event: &ParkedEvent) -> Result<(), CheckpointError> {
        validate_consumer_name(&event.consumer)?;
        let mut state = self.state();
        state
            .events
            .retain(|(consumer, _, id), _| !(consumer == &event.consumer && *id == event.event_id));
        let key = (event.consumer.clone(), event.position, event.event_id);
        state.events.insert(key, event.clone());
        Ok(())
    }

    fn list(&self, consumer: Option<&str>) -> Result<Vec<ParkedEvent>, CheckpointError> {
        if let Some(name) = consumer {
            validate_consumer_name(name)?;
        }
        Ok(self
            .state()
            .events
            .values()
            .filter(|e| consumer.is_none_or(|name| e.consumer == name))
            .cloned()
            .collect())
    }

    fn remove(&self, consumer: &str, event_id: Option<EventId>) -> Result<usize, CheckpointError> {
        validate_consumer_name(consumer)?;
        let mut state = self.state();
        let before = state.events.len();
        state
            .events
            .retain(|(name, _, id), _| name != consumer || event_id.is_some_and(|e| e != *id));
        Ok(before - state.events.len())
    }

    fn request_replay(&self, consumer: &str) -> Result<(), CheckpointError> {
        validate_consumer_name(consumer)?;
        self.state().replays.insert(consumer.to_owned());
        Ok(())
    }

    fn replay_requested(&self, consumer: &str) -> Result<bool, CheckpointError> {
        Ok(self.state().replays.contains(consumer))
    }

    fn replay_done(&self, consumer: &str) -> Result<(), CheckpointError> {
        self.state().replays.remove(consumer);
        Ok(())
    }
}
