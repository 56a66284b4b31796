//! [`PositionList`]: an increasing list of positions (the events of one type), kept in 4 bytes
//! each.
//!
//! Invariants:
//! - The list is split in segments: `bases[k] = (start, base)` says that the positions at indexes
//!   `start..` (up to the next segment's start) are `base + offsets[index]`. Starts increase,
//!   and `bases[0].0` is 0 when the list is not empty.
//! - `last_base` is the base of the last segment (0 before any); a position more than
//!   `u32::MAX` past it starts a new segment, which a store of under 4 billion events never needs.
//! - Positions increase along the list; retention removes a prefix.

/// Increasing positions, 4 bytes each; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct PositionList {
    offsets: Vec<u32>,
    bases: Vec<(usize, u64)>,
    last_base: u64,
}

impl PositionList {
    /// Adds `position`, larger than every position in the list.
    #[inline(always)]
    pub(crate) fn push(&mut self, position: u64) {
        let offset = match u32::try_from(position.wrapping_sub(self.last_base)) {
            Ok(offset) if !self.bases.is_empty() => offset,
            _ => self.start_segment(position),
        };
        self.offsets.push(offset);
    }

    /// Starts a segment based at `position`; returns the position's offset in it (0).
    #[cold]
    fn start_segment(&mut self, position: u64) -> u32 {
        self.bases.push((self.offsets.len(), position));
        self.last_base = position;
        0
    }

    /// The segment holding `index`.
    fn segment(&self, index: usize) -> usize {
        self.bases
            .partition_point(|&(start, _)| start <= index)
            .saturating_sub(1)
    }

    /// The position at `index` (below `len`).
    fn get(&self, index: usize) -> u64 {
        self.bases[self.segment(index)].1 + u64::from(self.offsets[index])
    }

    /// The index of the first position at or after `position` (`len` when none).
    fn first_from(&self, position: u64) -> usize {
        let (mut low, mut high) = (0, self.offsets.len());
        while low < high {
            let middle = low + (high - low) / 2;
            if self.get(middle) < position {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }

    /// The positions from `from_position` on, in increasing order.
    pub(crate) fn starting_at(&self, from_position: u64) -> impl Iterator<Item = u64> + '_ {
        let first = self.first_from(from_position);
        let mut segment = self.segment(first);
        (first..self.offsets.len()).map(move |index| {
            while self
                .bases
                .get(segment + 1)
                .is_some_and(|&(start, _)| start <= index)
            {
                segment += 1;
            }
            self.bases[segment].1 + u64::from(self.offsets[index])
        })
    }

    /// Removes the positions before `position`.
    pub(crate) fn remove_before(&mut self, position: u64) {
        let gone = self.first_from(position);
        if gone == 0 {
            return;
        }
        self.offsets.drain(..gone);
        // Drop the segments that end at or before `gone`, then move the starts back.
        let first_kept = self
            .bases
            .partition_point(|&(start, _)| start <= gone)
            .saturating_sub(1);
        self.bases.drain(..first_kept);
        for (start, _) in &mut self.bases {
            *start = start.saturating_sub(gone);
        }
    }

    /// Bytes held, estimated.
    pub(crate) fn memory_bytes(&self) -> u64 {
        (self.offsets.capacity() * 4 + self.bases.capacity() * 16) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_far_apart_start_segments_and_read_back() {
        let far = u64::from(u32::MAX);
        let positions = [3, 9, 10, far + 3, far + 4, 3 * far, 3 * far + 1];
        let mut list = PositionList::default();
        for &p in &positions {
            list.push(p);
        }
        assert_eq!(list.bases.len(), 3);
        assert_eq!(list.starting_at(0).collect::<Vec<_>>(), positions);
        assert_eq!(list.starting_at(10).collect::<Vec<_>>(), positions[2..]);
        assert_eq!(list.starting_at(11).collect::<Vec<_>>(), positions[3..]);
        assert_eq!(list.starting_at(3 * far + 2).count(), 0);

        list.remove_before(far + 4);
        assert_eq!(list.starting_at(0).collect::<Vec<_>>(), positions[4..]);
        assert_eq!(list.bases.len(), 2, "the emptied first segment is dropped");
        list.push(3 * far + 5);
        assert_eq!(
            list.starting_at(3 * far).collect::<Vec<_>>(),
            [3 * far, 3 * far + 1, 3 * far + 5]
        );
        list.remove_before(u64::MAX);
        assert_eq!(list.starting_at(0).count(), 0);
        list.push(u64::MAX);
        assert_eq!(list.starting_at(0).collect::<Vec<_>>(), [u64::MAX]);
    }
}
