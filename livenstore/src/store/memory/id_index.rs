//! [`IdIndex`]: event id → global position, nearly free for the ids the store makes itself.
//!
//! Invariants:
//! - `runs` then `open` (when its `len` is not 0) index generated ids: a run is a span of
//!   consecutive positions whose ids are consecutive numbers (`first_id + i` is at
//!   `first_position + i`, `i < len`). Runs are in increasing order of ids and of positions; only
//!   `open`, the last, grows. The store generates ids that grow by one inside a millisecond, so a
//!   busy store makes one run per millisecond: no memory per event.
//! - Other ids (given by callers, or a generated id that is not larger than the last run's) that
//!   are larger than every such id before are in `ordered` (`ordered_ids[i]` is at
//!   `ordered_positions[i]`, both increasing); the rest are in `unordered`.
//! - Positions may be stale after retention (a run or entry naming removed positions): `find`
//!   only proposes a position, and the caller confirms it holds the id.

use std::collections::VecDeque;

use super::hash::FastMap;
use crate::EventId;

#[derive(Debug, Clone, Copy, Default)]
struct Run {
    first_id: u128,
    first_position: u64,
    len: u64,
}

impl Run {
    /// The id after the run's last.
    #[inline]
    fn end_id(&self) -> u128 {
        self.first_id + u128::from(self.len)
    }

    /// The position of `id` if it is in this run.
    fn position_of(&self, id: u128) -> Option<u64> {
        let offset = id.checked_sub(self.first_id)?;
        (offset < u128::from(self.len)).then(|| self.first_position + offset as u64)
    }
}

#[derive(Debug, Default)]
pub(crate) struct IdIndex {
    runs: VecDeque<Run>,
    open: Run,
    ordered_ids: VecDeque<u128>,
    ordered_positions: VecDeque<u64>,
    unordered: FastMap<EventId, u64>,
}

impl IdIndex {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Records `id` at `position` (the next position); `generated` when the store made the id.
    #[inline(always)]
    pub(crate) fn push(&mut self, id: EventId, position: u64, generated: bool) {
        let key = id.to_u128();
        let open = &mut self.open;
        if generated && open.len != 0 && position == open.first_position + open.len {
            // The next id at the next position: the run grows.
            if key == open.end_id() {
                open.len += 1;
                return;
            }
        }
        self.push_other(id, position, generated);
    }

    /// [`push`](Self::push) of an id that does not extend the open run.
    #[cold]
    fn push_other(&mut self, id: EventId, position: u64, generated: bool) {
        let key = id.to_u128();
        // A generated id larger than every run's starts a run; one that is not (rare: the
        // fallback generator) is indexed like a caller's id below.
        if generated && (self.open.len == 0 || key >= self.open.end_id()) {
            let closed = std::mem::replace(
                &mut self.open,
                Run {
                    first_id: key,
                    first_position: position,
                    len: 1,
                },
            );
            if closed.len != 0 {
                self.runs.push_back(closed);
            }
            return;
        }
        if self.ordered_ids.back().is_none_or(|&last| key > last) {
            self.ordered_ids.push_back(key);
            self.ordered_positions.push_back(position);
        } else {
            self.unordered.insert(id, position);
        }
    }

    /// The position `id` may be at (the caller confirms it holds `id`).
    pub(crate) fn find(&self, id: EventId) -> Option<u64> {
        let key = id.to_u128();
        if let Some(position) = self.open.position_of(key) {
            return Some(position);
        }
        let run = self.runs.partition_point(|r| r.first_id <= key);
        if let Some(position) = run
            .checked_sub(1)
            .and_then(|r| self.runs.get(r))
            .and_then(|r| r.position_of(key))
        {
            return Some(position);
        }
        let index = self.ordered_ids.partition_point(|&k| k < key);
        if self.ordered_ids.get(index) == Some(&key) {
            return self.ordered_positions.get(index).copied();
        }
        self.unordered.get(&id).copied()
    }

    /// Drops what indexes only positions before `position` (retention), given the removed
    /// events' ids.
    pub(crate) fn remove_before(&mut self, position: u64, removed: impl Iterator<Item = EventId>) {
        while self
            .runs
            .front()
            .is_some_and(|r| r.first_position + r.len <= position)
        {
            self.runs.pop_front();
        }
        if self.open.first_position + self.open.len <= position {
            self.open.len = 0;
        }
        let gone = self.ordered_positions.partition_point(|&p| p < position);
        self.ordered_ids.drain(..gone);
        self.ordered_positions.drain(..gone);
        if !self.unordered.is_empty() {
            for id in removed {
                if self.unordered.get(&id).is_some_and(|&p| p < position) {
                    self.unordered.remove(&id);
                }
            }
        }
    }

    /// Drops everything.
    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }

    /// Bytes held, estimated.
    pub(crate) fn memory_bytes(&self) -> u64 {
        (self.runs.capacity() * std::mem::size_of::<Run>()
            + self.ordered_ids.capacity() * 16
            + self.ordered_positions.capacity() * 8
            + self.unordered.capacity() * 40) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> EventId {
        EventId::from_u128(n)
    }

    #[test]
    fn generated_ids_make_runs_and_others_are_found_too() {
        let mut index = IdIndex::new();
        // Generated 100..103 at 1..4, a caller id, generated 104.. again at 6.., an older
        // caller id, a generated id that went back (kept as "other").
        for (n, p) in (100..104).zip(1..) {
            index.push(id(n), p, true);
        }
        index.push(id(5_000), 5, false);
        for (n, p) in (104..110).zip(6..) {
            index.push(id(n), p, true);
        }
        index.push(id(7), 12, false);
        index.push(id(50), 13, true);
        index.push(id(110), 14, true);
        assert_eq!(index.runs.len() + 1, 3, "a gap in positions starts a run");
        for (n, p) in (100..104).zip(1..) {
            assert_eq!(index.find(id(n)), Some(p));
        }
        for (n, p) in (104..110).zip(6..) {
            assert_eq!(index.find(id(n)), Some(p));
        }
        assert_eq!(index.find(id(5_000)), Some(5));
        assert_eq!(index.find(id(7)), Some(12));
        assert_eq!(index.find(id(50)), Some(13));
        assert_eq!(index.find(id(110)), Some(14));
        assert_eq!(index.find(id(111)), None);
        assert_eq!(index.find(id(99)), None);

        index.remove_before(7, [100, 101, 102, 103, 5_000, 104].into_iter().map(id));
        assert_eq!(index.runs.len() + 1, 2, "the first run is gone");
        assert_eq!(index.find(id(5_000)), None);
        assert_eq!(index.find(id(105)), Some(7));
        assert_eq!(index.find(id(7)), Some(12));
    }
}
