//! The [`Repository`](super::Repository)'s cache of aggregate states: the most recently loaded or
//! saved states, least recently used out first.
//!
//! Invariants:
//! - An entry is a state at a version of its stream that the store held (it was loaded from
//!   the store, or saved to it). A load from the cache reads the events after that version, so
//!   appends by another process or repository are never missed; the cache only saves replaying
//!   the events before it.
//! - An entry holds a copy of the state: a clone when the state type is `Clone + Send + Sync`
//!   ([`Aggregate::cache_copy`]), else its snapshot encoding when it has one; a state with
//!   neither is not cached.
//! - At most `capacity` entries; a use moves an entry to the back, an insert beyond capacity
//!   drops the front. A save that fails on a version conflict drops the entry.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};

use crate::{Aggregate, AggregateRoot, Payload};

/// A copy of a state.
enum Copy {
    /// A clone, boxed.
    Value(Box<dyn Any + Send + Sync>),
    /// Its snapshot JSON.
    Encoded(Payload),
}

struct Entry {
    version: u64,
    snapshot_base: u64,
    copy: Copy,
    /// The entry's place in the use order.
    tick: u64,
}

/// The cache: entries by aggregate type (the Rust type: two types of one `AGGREGATE_TYPE` never
/// read each other's copies) and id, and their use order.
pub(crate) struct StateCache {
    capacity: usize,
    entries: HashMap<(TypeId, String), Entry>,
    order: BTreeMap<u64, (TypeId, String)>,
    next_tick: u64,
    hits: u64,
    misses: u64,
}

impl StateCache {
    pub(crate) fn new(capacity: usize) -> Self {
        StateCache {
            capacity,
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_tick: 0,
            hits: 0,
            misses: 0,
        }
    }

    /// The cached aggregate `id`, if any, moved to the back of the use order.
    pub(crate) fn get<A: Aggregate>(&mut self, id: &str) -> Option<AggregateRoot<A>> {
        let key = (TypeId::of::<A>(), id.to_owned());
        let tick = self.next_tick;
        let Some(entry) = self.entries.get_mut(&key) else {
            self.misses += 1;
            return None;
        };
        let state = match &entry.copy {
            Copy::Value(value) => A::from_cache(value.as_ref()),
            Copy::Encoded(json) => A::decode_snapshot(json.as_bytes()).and_then(Result::ok),
        };
        let Some(state) = state else {
            // A copy this code cannot read back (never for the derive's): drop it.
            self.remove(&key);
            self.misses += 1;
            return None;
        };
        self.order.remove(&entry.tick);
        entry.tick = tick;
        self.order.insert(tick, key);
        self.next_tick += 1;
        self.hits += 1;
        Some(AggregateRoot::from_state(
            id,
            state,
            entry.version,
            entry.snapshot_base,
        ))
    }

    /// Caches a copy of `root`'s state at its version (when the state can be copied).
    pub(crate) fn put<A: Aggregate>(&mut self, root: &AggregateRoot<A>) {
        let copy = match root.state().cache_copy() {
            Some(value) => Copy::Value(value),
            None => match root.state().encode_snapshot() {
                Some(Ok(json)) => Copy::Encoded(json),
                _ => return,
            },
        };
        let key = (TypeId::of::<A>(), root.id().to_owned());
        self.remove(&key);
        let tick = self.next_tick;
        self.next_tick += 1;
        self.order.insert(tick, key.clone());
        self.entries.insert(
            key,
            Entry {
                version: root.version(),
                snapshot_base: root.snapshot_base(),
                copy,
                tick,
            },
        );
        while self.entries.len() > self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }

    /// Drops the entry of aggregate `id` of `A`.
    pub(crate) fn evict<A: Aggregate>(&mut self, id: &str) {
        self.remove(&(TypeId::of::<A>(), id.to_owned()));
    }

    fn remove(&mut self, key: &(TypeId, String)) {
        if let Some(entry) = self.entries.remove(key) {
            self.order.remove(&entry.tick);
        }
    }

    /// `(entries, hits, misses)`.
    pub(crate) fn stats(&self) -> (usize, u64, u64) {
        (self.entries.len(), self.hits, self.misses)
    }
}

impl std::fmt::Debug for StateCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateCache")
            .field("capacity", &self.capacity)
            .field("entries", &self.entries.len())
            .field("hits", &self.hits)
            .field("misses", &self.misses)
            .finish()
    }
}
