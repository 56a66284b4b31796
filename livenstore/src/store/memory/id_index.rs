//! [`IdIndex`]: event id → global position, cheap for the ids the store makes itself.
//!
//! Invariants:
//! - `keys[i]` belongs to the event at position `first_position + i`; `keys` is non-decreasing.
//! - An event whose id is larger than every id before it (every id the store generates, and
//!   caller ids made later than the last event) is indexed by `keys` alone: appending it is one
//!   `Vec::push`, finding it is a binary search.
//! - An event whose id is not larger (a caller-supplied id made earlier) is stored in `keys` as a
//!   copy of the previous key, which keeps `keys` sorted, and is indexed in `unordered`.
//! - A copied key is never mistaken for its id: a lookup checks the found position's real id, and
//!   the first of equal keys is always the real one.

use super::hash::FastMap;
use crate::EventId;

#[derive(Debug, Default)]
pub(crate) struct IdIndex {
    keys: Vec<u128>,
    first_position: u64,
    unordered: FastMap<EventId, u64>,
}

impl IdIndex {
    pub(crate) fn new() -> Self {
        IdIndex {
            keys: Vec::new(),
            first_position: 1,
            unordered: FastMap::default(),
        }
    }

    /// The largest key so far (0 when empty).
    pub(crate) fn last_key(&self) -> u128 {
        self.keys.last().copied().unwrap_or(0)
    }

    /// Records `id` at `position`, which must be the next position.
    #[inline]
    pub(crate) fn push(&mut self, id: EventId, position: u64) {
        debug_assert_eq!(position, self.first_position + self.keys.len() as u64);
        let key = id.to_u128();
        let last = self.last_key();
        if key > last || self.keys.is_empty() {
            self.keys.push(key);
        } else {
            self.keys.push(last);
            self.unordered.insert(id, position);
        }
    }

    /// The position `id` may be at: exact for unordered ids, a candidate for ordered ones that the
    /// caller confirms with `id_at`.
    pub(crate) fn find(&self, id: EventId, id_at: impl Fn(u64) -> Option<EventId>) -> Option<u64> {
        if let Some(&position) = self.unordered.get(&id) {
            return Some(position);
        }
        let key = id.to_u128();
        let index = self.keys.partition_point(|&k| k < key);
        if self.keys.get(index) != Some(&key) {
            return None;
        }
        let position = self.first_position + index as u64;
        (id_at(position) == Some(id)).then_some(position)
    }

    /// Drops every entry before `position` (retention), given the removed events' ids.
    pub(crate) fn remove_before(&mut self, position: u64, removed: impl Iterator<Item = EventId>) {
        let count = position.saturating_sub(self.first_position);
        let count = usize::try_from(count)
            .unwrap_or(usize::MAX)
            .min(self.keys.len());
        if !self.unordered.is_empty() {
            for id in removed {
                if self
                    .unordered
                    .get(&id)
                    .is_some_and(|&p| p < self.first_position + count as u64)
                {
                    self.unordered.remove(&id);
                }
            }
        }
        self.keys.drain(..count);
        self.first_position += count as u64;
    }

    /// Drops everything.
    pub(crate) fn clear(&mut self) {
        self.keys = Vec::new();
        self.unordered = FastMap::default();
    }

    /// Bytes held, estimated.
    pub(crate) fn memory_bytes(&self) -> u64 {
        (self.keys.capacity() * 16 + self.unordered.capacity() * 40) as u64
    }
}
