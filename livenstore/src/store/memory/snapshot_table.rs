//! The snapshots of an [`InMemoryStore`](super::InMemoryStore): one map from
//! `(aggregate type, id)` to the latest snapshot, beside the events (its own lock, so a snapshot
//! never waits for an append).
//!
//! Invariant: an entry is replaced only by a snapshot of the same or a higher version
//! ([`Snapshot::replaces`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{PoisonError, RwLock};

use crate::store::{Snapshot, SnapshotInfo};

/// The latest snapshot of each aggregate.
#[derive(Debug, Default)]
pub(crate) struct SnapshotTable {
    by_key: RwLock<HashMap<(String, String), Snapshot>>,
}

impl SnapshotTable {
    pub(crate) fn save(&self, snapshot: &Snapshot) -> bool {
        let mut map = self.by_key.write().unwrap_or_else(PoisonError::into_inner);
        let key = (
            snapshot.aggregate_type().to_owned(),
            snapshot.aggregate_id().to_owned(),
        );
        match map.get(&key) {
            Some(stored) if !snapshot.replaces(stored.version()) => false,
            _ => {
                map.insert(key, snapshot.clone());
                true
            }
        }
    }

    pub(crate) fn load(&self, aggregate_type: &str, aggregate_id: &str) -> Option<Snapshot> {
        let map = self.by_key.read().unwrap_or_else(PoisonError::into_inner);
        map.get(&(aggregate_type.to_owned(), aggregate_id.to_owned()))
            .cloned()
    }

    pub(crate) fn list(&self, aggregate_type: Option<&str>) -> Vec<SnapshotInfo> {
        let map = self.by_key.read().unwrap_or_else(PoisonError::into_inner);
        let sorted: BTreeMap<_, _> = map
            .iter()
            .filter(|((t, _), _)| aggregate_type.is_none_or(|wanted| wanted == t))
            .map(|(key, snapshot)| (key, snapshot.info()))
            .collect();
        sorted.into_values().collect()
    }

    pub(crate) fn delete(&self, aggregate_type: &str) -> u64 {
        let mut map = self.by_key.write().unwrap_or_else(PoisonError::into_inner);
        let before = map.len();
        map.retain(|(t, _), _| t != aggregate_type);
        (before - map.len()) as u64
    }

    /// Drops every snapshot (the store was closed).
    pub(crate) fn clear(&self) {
        self.by_key
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
