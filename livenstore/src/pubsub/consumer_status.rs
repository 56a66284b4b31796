//! [`consumer_statuses`]: what each consumer of a store has done and has left to do.

use std::collections::BTreeMap;

use super::checkpoint::CheckpointStore;
use super::error::CheckpointError;
use super::parked::ParkedEventStore;
use crate::EventStore;

/// One consumer's position, how far it is behind the store's head, and how many events it has
/// parked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConsumerStatus {
    /// The consumer's name.
    pub name: String,
    /// The last position it has saved as processed.
    pub position: u64,
    /// Events after its position in the store (0 when caught up).
    pub lag: u64,
    /// Events it has parked.
    pub parked: usize,
}

/// The status of every consumer with a checkpoint in `checkpoints` (and of every consumer with
/// parked events in `parked`, position 0 when it has no checkpoint), by name.
///
/// # Errors
///
/// The checkpoint or parked store's errors; [`CheckpointError::Backend`] when the store's head
/// cannot be read.
///
/// # Examples
///
/// ```
/// use livenstore::pubsub::{consumer_statuses, CheckpointStore, InMemoryCheckpointStore};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
///
/// let store = InMemoryStore::new();
/// for _ in 0..5 {
///     let event = NewEvent::from_json("Ticked", "{}").unwrap();
///     store.append("clock", ExpectedVersion::Any, vec![event]).unwrap();
/// }
/// let checkpoints = InMemoryCheckpointStore::new();
/// checkpoints.save("projector", 3).unwrap();
/// let status = consumer_statuses(&store, &checkpoints, None).unwrap();
/// assert_eq!((status[0].name.as_str(), status[0].position, status[0].lag), ("projector", 3, 2));
/// ```
pub fn consumer_statuses<S: EventStore + ?Sized>(
    store: &S,
    checkpoints: &dyn CheckpointStore,
    parked: Option<&dyn ParkedEventStore>,
) -> Result<Vec<ConsumerStatus>, CheckpointError> {
    let head = store.last_position().map_err(CheckpointError::Backend)?;
    let mut statuses: Vec<ConsumerStatus> = checkpoints
        .list()?
        .into_iter()
        .map(|(name, position)| ConsumerStatus {
            lag: head.saturating_sub(position),
            name,
            position,
            parked: 0,
        })
        .collect();
    if let Some(parked) = parked {
        // Counted by name first: one map update per record, not a search of the list.
        let mut counts = BTreeMap::<String, usize>::new();
        for event in parked.list(None)? {
            *counts.entry(event.consumer).or_default() += 1;
        }
        for status in &mut statuses {
            status.parked = counts.remove(&status.name).unwrap_or(0);
        }
        statuses.extend(counts.into_iter().map(|(name, parked)| ConsumerStatus {
            name,
            position: 0,
            lag: head,
            parked,
        }));
    }
    statuses.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(statuses)
}
