//! [`LinkInfo`]: where an event was read through a link into another stream.

use crate::Timestamp;

/// Where a [`RecordedEvent`](crate::RecordedEvent) was read through a link: the event also appears in another stream,
/// at its own version there, without its payload being copied.
///
/// # Examples
///
/// ```
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
///
/// let store = InMemoryStore::new();
/// let promoted = NewEvent::from_json("UserPromoted", r#"{"role":"admin"}"#).unwrap();
/// store.append("user-1", ExpectedVersion::NoStream, vec![promoted]).unwrap();
/// let id = store.read_stream("user-1", 1, 1).unwrap()[0].id();
/// store.link_to_stream(id, "admins").unwrap();
///
/// let linked = &store.read_stream("admins", 1, 1).unwrap()[0];
/// let link = linked.link().unwrap();
/// assert_eq!((link.stream.as_str(), link.version), ("admins", 1));
/// assert_eq!((linked.stream(), linked.version()), ("user-1", 1), "the event keeps its own place");
/// assert!(store.read(id).unwrap().link().is_none(), "read by id, it is not a link");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkInfo {
    /// The stream the event was linked into.
    pub stream: String,
    /// The event's version inside that stream (1-based).
    pub version: u64,
    /// When the link was made.
    pub linked_at: Timestamp,
}
