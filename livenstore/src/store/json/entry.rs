//! [`EventEntry`]: what the index knows of one position (where its line is, what its header
//! says), and [`EntryKind`], whether it is an event or a gap.
//!
//! Invariant: an entry is 64 bytes (the kind fits in the padding after the other fields), so a
//! million events take 64 MB of entries.

/// The `stream` (and `event_type`) of a gap entry whose stream (type) is unknown.
pub(crate) const UNKNOWN: u32 = u32::MAX;

/// What an entry of the index's `events` stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// An event, at `segment` and `offset`.
    Event,
    /// A lost record that `repair` recorded as a hole: reads skip it.
    Hole,
    /// A damaged record (a store opened read-only without repair): reads that reach it fail.
    /// `offset` is its index in the index's `damage`.
    Damaged,
}

/// Where one event's line is and what its header says. For a gap entry (`kind` not `Event`),
/// `stream` and `version` are those of the lost record (or [`UNKNOWN`] and 0), `id` is 0 unless
/// it could be read, and `recorded_at` is the previous entry's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventEntry {
    pub id: u128,
    pub recorded_at: u64,
    pub version: u64,
    pub offset: u64,
    pub segment: u32,
    pub len: u32,
    pub stream: u32,
    pub event_type: u32,
    /// The version of the event type's payload. With `kind`, fits in the padding after the
    /// fields above (the entry stays 64 bytes).
    pub event_version: u32,
    /// Fits in the padding after the fields above.
    pub kind: EntryKind,
}

impl EventEntry {
    /// Whether this entry is an event (not a gap).
    pub fn is_event(&self) -> bool {
        self.kind == EntryKind::Event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_64_bytes() {
        assert_eq!(std::mem::size_of::<EventEntry>(), 64);
    }
}
