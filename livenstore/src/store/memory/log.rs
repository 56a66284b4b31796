//! [`Log`]: the in-memory store's events in global position order, each named by its stream
//! (the stream's number in the store) and version; the events themselves live in their stream.
//!
//! Invariants:
//! - `streams[i]` and `versions[i]` name the event at position `first_position + i`.
//! - Positions are gap-free; retention only removes a prefix (and moves `first_position`).

/// Position → (stream number, version); see the module documentation.
#[derive(Debug)]
pub(crate) struct Log {
    streams: Vec<u32>,
    versions: Vec<u64>,
    first_position: u64,
}

impl Log {
    pub(crate) fn new() -> Self {
        Log {
            streams: Vec::new(),
            versions: Vec::new(),
            first_position: 1,
        }
    }

    /// Events held.
    pub(crate) fn len(&self) -> usize {
        self.versions.len()
    }

    /// The position of the first event held.
    pub(crate) fn first_position(&self) -> u64 {
        self.first_position
    }

    /// Adds the event at the next position.
    #[inline]
    pub(crate) fn push(&mut self, stream: u32, version: u64) {
        self.streams.push(stream);
        self.versions.push(version);
    }

    /// The index of `position` in the held events.
    fn index(&self, position: u64) -> Option<usize> {
        let index = usize::try_from(position.checked_sub(self.first_position)?).ok()?;
        (index < self.versions.len()).then_some(index)
    }

    /// The stream number and version of the event at `position`, if held.
    #[inline]
    pub(crate) fn get(&self, position: u64) -> Option<(u32, u64)> {
        let index = self.index(position)?;
        Some((self.streams[index], self.versions[index]))
    }

    /// The held positions from `from_position` on, at most `max_count` of them.
    pub(crate) fn positions(&self, from_position: u64, max_count: usize) -> std::ops::Range<u64> {
        let start = from_position.max(self.first_position);
        let end = self.first_position + self.versions.len() as u64;
        let count = end.saturating_sub(start).min(max_count as u64);
        start..start + count
    }

    /// The first held position whose event is not `before` (`before` must hold for a prefix of
    /// the positions), or one past the last.
    pub(crate) fn partition_point(&self, mut before: impl FnMut(u64) -> bool) -> u64 {
        let (mut low, mut high) = (
            self.first_position,
            self.first_position + self.versions.len() as u64,
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
            .min(self.versions.len());
        self.streams.drain(..count);
        self.versions.drain(..count);
        self.first_position += count as u64;
    }

    /// Bytes held, estimated.
    pub(crate) fn memory_bytes(&self) -> u64 {
        (self.streams.capacity() * 4 + self.versions.capacity() * 8) as u64
    }
}
