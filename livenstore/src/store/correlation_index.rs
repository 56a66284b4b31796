//! [`CorrelationIndex`]: correlation id to the positions of the events that carry it, the index
//! behind the in-memory and JSON stores' [`read_correlated`](crate::EventStore::read_correlated).
//!
//! Invariants:
//! - Only events that carry a correlation id a lookup may ask for (one that
//!   [`validate_correlation_id`](crate::backend::validate_correlation_id) accepts) are in it:
//!   events without one cost nothing, and an id no lookup can find is not kept.
//! - Each id's positions increase: events are added in position order (appends, the open scan,
//!   an import), and retention removes a prefix of each list ([`remove_before`]).
//! - An id whose list becomes empty is removed, so the map holds only ids of held events.
//!
//! The map hashes with the standard library's keyed hasher: correlation ids may come from
//! outside the application (a request header), so a chosen set of colliding ids must not slow
//! the store down.
//!
//! [`remove_before`]: CorrelationIndex::remove_before

use std::collections::HashMap;

use crate::backend::is_indexable_correlation_id;

/// Bytes one id costs beyond its text and positions in the memory estimate: its map slot (key
/// and list headers) and the allocations' bookkeeping.
const PER_ID_BYTES: u64 = 64;

/// Correlation id to the increasing positions of the events that carry it.
#[derive(Debug, Default)]
pub(crate) struct CorrelationIndex {
    positions: HashMap<Box<str>, Vec<u64>>,
    /// The memory estimate: ids' text, positions (8 bytes each), [`PER_ID_BYTES`] per id.
    bytes: u64,
}

impl CorrelationIndex {
    /// Adds the event at `position` (larger than every position already listed) to the
    /// conversation `correlation_id`; an id no lookup may ask for is left out.
    #[inline]
    pub(crate) fn insert(&mut self, correlation_id: &str, position: u64) {
        if !is_indexable_correlation_id(correlation_id) {
            return;
        }
        if let Some(list) = self.positions.get_mut(correlation_id) {
            debug_assert!(list.last().is_none_or(|&last| last < position));
            list.push(position);
            self.bytes += 8;
        } else {
            self.positions.insert(correlation_id.into(), vec![position]);
            self.bytes += PER_ID_BYTES + correlation_id.len() as u64 + 8;
        }
    }

    /// The positions of the events of conversation `correlation_id`, increasing (empty when
    /// none).
    pub(crate) fn get(&self, correlation_id: &str) -> &[u64] {
        self.positions
            .get(correlation_id)
            .map_or(&[], Vec::as_slice)
    }

    /// Forgets the positions of `correlation_id` below `end` (events retention removed).
    pub(crate) fn remove_before(&mut self, correlation_id: &str, end: u64) {
        let Some(list) = self.positions.get_mut(correlation_id) else {
            return;
        };
        let gone = list.partition_point(|&p| p < end);
        if gone == list.len() {
            self.positions.remove(correlation_id);
            self.bytes = self
                .bytes
                .saturating_sub(PER_ID_BYTES + correlation_id.len() as u64 + 8 * gone as u64);
        } else if gone > 0 {
            list.drain(..gone);
            self.bytes = self.bytes.saturating_sub(8 * gone as u64);
        }
    }

    /// How many ids are held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.positions.len()
    }

    /// The memory estimate, in bytes.
    pub(crate) fn memory_bytes(&self) -> u64 {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MAX_CORRELATION_ID_BYTES;

    #[test]
    fn lists_positions_per_id_and_forgets_a_prefix() {
        let mut index = CorrelationIndex::default();
        for (id, position) in [("a", 1), ("b", 2), ("a", 3), ("a", 5), ("b", 6)] {
            index.insert(id, position);
        }
        assert_eq!(index.get("a"), [1, 3, 5]);
        assert_eq!(index.get("b"), [2, 6]);
        assert!(index.get("c").is_empty());
        let before = index.memory_bytes();
        index.remove_before("a", 4);
        assert_eq!(index.get("a"), [5]);
        assert_eq!(index.memory_bytes(), before - 16);
        index.remove_before("b", 7);
        assert!(index.get("b").is_empty());
        assert_eq!(index.len(), 1, "an emptied id is removed");
        index.remove_before("unknown", 10);
        index.remove_before("a", 5);
        assert_eq!(index.get("a"), [5], "positions from `end` on stay");
    }

    #[test]
    fn ids_no_lookup_can_ask_for_cost_nothing() {
        let mut index = CorrelationIndex::default();
        index.insert("", 1);
        index.insert(&"x".repeat(MAX_CORRELATION_ID_BYTES + 1), 2);
        assert_eq!((index.len(), index.memory_bytes()), (0, 0));
        index.insert(&"x".repeat(MAX_CORRELATION_ID_BYTES), 3);
        assert_eq!(index.len(), 1);
    }
}
