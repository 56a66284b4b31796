//! [`Log`]: the in-memory store's events in global position order, each named by its stream
//! (the stream's number in the store) and version; the events themselves live in their stream.
//!
//! Invariants:
//! - `entries[i]` names the event at position `first_position + i`: `[stream, version]`, the
//!   version kept in 4 bytes (8 bytes an event in all, written once per append). A version that
//!   does not fit is written as `WIDE`, and `wide` holds it: `(position, version)` pairs, in
//!   increasing position order (streams of over 4 billion entries only).
//! - Positions are gap-free; retention only removes a prefix (and moves `first_position`).

/// The version field of an entry whose version is in `wide`.
const WIDE: u32 = u32::MAX;

/// Position → (stream number, version); see the module documentation.
#[derive(Debug)]
pub(crate) struct Log {
    entries: Vec<[u32; 2]>,
    wide: Vec<(u64, u64)>,
    first_position: u64,
}

impl Log {
    pub(crate) fn new() -> Self {
        Log {
            entries: Vec::new(),
            wide: Vec::new(),
            first_position: 1,
        }
    }

    /// Events held.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The position of the first event held.
    pub(crate) fn first_position(&self) -> u64 {
        self.first_position
    }

    /// Adds the event at the next position.
    #[inline(always)]
    pub(crate) fn push(&mut self, stream: u32, version: u64) {
        let short = match u32::try_from(version) {
            Ok(short) if short != WIDE => short,
            _ => self.push_wide(version),
        };
        self.entries.push([stream, short]);
    }

    /// Keeps `version` of the next position in `wide`; returns the entry's marker.
    #[cold]
    fn push_wide(&mut self, version: u64) -> u32 {
        let position = self.first_position + self.entries.len() as u64;
        self.wide.push((position, version));
        WIDE
    }

    /// The index of `position` in the held events.
    fn index(&self, position: u64) -> Option<usize> {
        let index = usize::try_from(position.checked_sub(self.first_position)?).ok()?;
        (index < self.entries.len()).then_some(index)
    }

    /// The stream number and version of the event at `position`, if held.
    #[inline]
    pub(crate) fn get(&self, position: u64) -> Option<(u32, u64)> {
        let [stream, version] = self.entries[self.index(position)?];
        if version != WIDE {
            return Some((stream, u64::from(version)));
        }
        let index = self
            .wide
            .binary_search_by_key(&position, |&(p, _)| p)
            .ok()?;
        Some((stream, self.wide[index].1))
    }

    /// The held positions from `from_position` on, at most `max_count` of them.
    pub(crate) fn positions(&self, from_position: u64, max_count: usize) -> std::ops::Range<u64> {
        let start = from_position.max(self.first_position);
        let end = self.first_position + self.entries.len() as u64;
        let count = end.saturating_sub(start).min(max_count as u64);
        start..start + count
    }

    /// The first held position whose event is not `before` (`before` must hold for a prefix of
    /// the positions), or one past the last.
    pub(crate) fn partition_point(&self, mut before: impl FnMut(u64) -> bool) -> u64 {
        let (mut low, mut high) = (
            self.first_position,
            self.first_position + self.entries.len() as u64,
        );
        while low < high {
            let middle = low + (high - low) / 2;
            if before(middle) {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }

    /// Removes the events before `position`.
    pub(crate) fn remove_before(&mut self, position: u64) {
        let count = position.saturating_sub(self.first_position);
        let count = usize::try_from(count)
            .unwrap_or(usize::MAX)
            .min(self.entries.len());
        self.entries.drain(..count);
        self.first_position += count as u64;
        let wide_gone = self.wide.partition_point(|&(p, _)| p < self.first_position);
        self.wide.drain(..wide_gone);
    }

    /// Bytes held, estimated.
    pub(crate) fn memory_bytes(&self) -> u64 {
        (self.entries.capacity() * 8 + self.wide.capacity() * 16) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_past_four_bytes_are_kept_whole() {
        let mut log = Log::new();
        let big = u64::from(u32::MAX) + 7;
        log.push(0, 1);
        log.push(3, u64::from(u32::MAX) - 1);
        log.push(3, u64::from(u32::MAX));
        log.push(4, big);
        log.push(0, 2);
        assert_eq!(log.get(1), Some((0, 1)));
        assert_eq!(log.get(2), Some((3, u64::from(u32::MAX) - 1)));
        assert_eq!(log.get(3), Some((3, u64::from(u32::MAX))));
        assert_eq!(log.get(4), Some((4, big)));
        assert_eq!(log.get(5), Some((0, 2)));
        assert_eq!(log.get(6), None);
        log.remove_before(4);
        assert_eq!(log.wide.len(), 1, "the removed wide version is dropped");
        assert_eq!(log.get(3), None);
        assert_eq!(log.get(4), Some((4, big)));
        assert_eq!(log.get(5), Some((0, 2)));
    }
}
