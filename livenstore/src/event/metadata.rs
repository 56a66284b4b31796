//! Event metadata: a string map with well-known keys for correlation and causation.
//!
//! Invariant: no key is ever removed from a map that lives on (the only removal,
//! `into_correlation_id`, consumes it), so an empty [`Metadata`] never held an entry and owns no
//! allocation; [`Metadata::into_boxed`] relies on it.

use std::collections::BTreeMap;

/// The metadata key that holds the correlation id (the id of the whole conversation).
pub const CORRELATION_ID: &str = "correlation_id";
/// The metadata key that holds the causation id (the id of the message that caused this event).
pub const CAUSATION_ID: &str = "causation_id";

/// String key/value pairs stored beside an event's payload, kept in key order.
///
/// # Examples
///
/// ```
/// use livenstore::Metadata;
///
/// let meta = Metadata::new()
///     .with_correlation_id("req-42")
///     .with("user", "alice");
/// assert_eq!(meta.correlation_id(), Some("req-42"));
/// assert_eq!(meta.get("user"), Some("alice"));
/// assert_eq!(meta.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    /// Empty metadata.
    pub const fn new() -> Self {
        Metadata(BTreeMap::new())
    }

    /// Sets `key` to `value`, returning the metadata (builder style).
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.insert(key, value);
        self
    }

    /// Sets the [`CORRELATION_ID`] key.
    pub fn with_correlation_id(self, id: impl Into<String>) -> Self {
        self.with(CORRELATION_ID, id)
    }

    /// Sets the [`CAUSATION_ID`] key.
    pub fn with_causation_id(self, id: impl Into<String>) -> Self {
        self.with(CAUSATION_ID, id)
    }

    /// Sets `key` to `value`, returning the previous value.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Option<String> {
        self.0.insert(key.into(), value.into())
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The correlation id, if set.
    pub fn correlation_id(&self) -> Option<&str> {
        self.get(CORRELATION_ID)
    }

    /// The causation id, if set.
    pub fn causation_id(&self) -> Option<&str> {
        self.get(CAUSATION_ID)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The correlation id, taken out; the rest is dropped at once (for a store that keeps only
    /// the id while the rest would hold memory for nothing).
    pub(crate) fn into_correlation_id(mut self) -> Option<String> {
        self.0.remove(CORRELATION_ID)
    }

    /// The pairs, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The metadata boxed, or `None` when empty (the common case), for stores that keep events
    /// small. An empty map owns nothing (see the module invariant), so it is forgotten rather
    /// than dropped: the map's drop costs more than the rest of storing an in-memory event.
    #[inline]
    pub(crate) fn into_boxed(self) -> Option<Box<Metadata>> {
        if self.is_empty() {
            std::mem::forget(self);
            None
        } else {
            Some(Box::new(self))
        }
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Metadata(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}
