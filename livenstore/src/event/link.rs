//! [`LinkInfo`]: where an event was read through a link into another stream.

use crate::Timestamp;

/// Where a [`RecordedEvent`] was read through a link: the event also appears in another stream,
/// at its own version there, without its payload being copied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkInfo {
    /// The stream the event was linked into.
    pub stream: String,
    /// The event's version inside that stream (1-based).
    pub version: u64,
    /// When the link was made.
    pub linked_at: Timestamp,
}
