//! The id-to-position map of the index, built for ids that mostly arrive in ascending order.
//!
//! Ids made by [`EventId::new`](crate::EventId::new) grow monotonically, so nearly every event
//! appended (or scanned on open) has an id greater than all before it. Such ids are kept as an
//! append-only list of positions whose ids ascend, searched by bisection over the index's
//! entries; only ids that arrive out of order (supplied by the caller, made by another process,
//! or after the clock went back) go to a hash map. An insert is then a `Vec::push` instead of a
//! hash-table probe into a table of a million entries, which was a cache miss per event.
//!
//! Invariants:
//! - `ascending` holds positions in increasing order whose ids (in the `entries` passed in) are
//!   strictly increasing; `max_id` is the largest id stored, in either part.
//! - Every stored id is in exactly one of `ascending` and `others`.
//! - The `entries` passed to every call are the index's events, with `entries[p - 1]` the event
//!   at position `p` (so the caller must pass the same, only-growing slice each time).

use std::collections::HashMap;

use super::entry::EventEntry;

/// Position of every stored event id.
#[derive(Debug, Default)]
pub(crate) struct IdIndex {
    ascending: Vec<u64>,
    others: HashMap<u128, u64>,
    max_id: Option<u128>,
}

impl IdIndex {
    /// The position of `id`, if stored.
    #[inline]
    pub fn get(&self, id: u128, entries: &[EventEntry]) -> Option<u64> {
        if self.max_id.is_none_or(|max| id > max) {
            return None;
        }
        let id_at = |p: u64| entries[(p - 1) as usize].id;
        let i = self.ascending.partition_point(|&p| id_at(p) < id);
        match self.ascending.get(i) {
            Some(&p) if id_at(p) == id => Some(p),
            _ => self.others.get(&id).copied(),
        }
    }

    /// Records that `id` is at `position`. Returns `false` (and changes nothing) when `id` is
    /// already stored.
    #[inline]
    pub fn insert(&mut self, id: u128, position: u64, entries: &[EventEntry]) -> bool {
        if self.max_id.is_none_or(|max| id > max) {
            self.max_id = Some(id);
            self.ascending.push(position);
            return true;
        }
        if self.get(id, entries).is_some() {
            return false;
        }
        self.others.insert(id, position);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u128) -> EventEntry {
        EventEntry {
            id,
            recorded_at: 0,
            version: 1,
            offset: 0,
            segment: 1,
            len: 0,
            stream: 0,
            event_type: 0,
            event_version: 1,
            kind: crate::store::json::entry::EntryKind::Event,
        }
    }

    #[test]
    fn finds_ids_in_and_out_of_order_and_refuses_duplicates() {
        let ids = [10u128, 20, 5, 30, 25, 40, 1];
        let mut entries = Vec::new();
        let mut index = IdIndex::default();
        for (i, &id) in ids.iter().enumerate() {
            let position = i as u64 + 1;
            assert_eq!(index.get(id, &entries), None);
            entries.push(entry(id));
            assert!(index.insert(id, position, &entries));
            assert!(
                !index.insert(id, position + 100, &entries),
                "duplicate {id}"
            );
        }
        for (i, &id) in ids.iter().enumerate() {
            assert_eq!(index.get(id, &entries), Some(i as u64 + 1), "id {id}");
        }
        for missing in [0u128, 2, 15, 21, 35, 41, u128::MAX] {
            assert_eq!(index.get(missing, &entries), None, "id {missing}");
        }
        assert_eq!(index.ascending, vec![1, 2, 4, 6]);
        assert_eq!(index.others.len(), 3);
    }
}
