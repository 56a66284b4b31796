//! Event metadata: a string map with well-known keys for correlation and causation.
//!
//! Invariants:
//! - An empty [`Metadata`] owns no allocation (`None`): no key is ever removed from metadata
//!   that lives on (the only removal, `into_correlation_id`, consumes it), and nothing makes a
//!   `Some` of an empty map.
//! - The pairs are kept in a vector sorted by key, keys unique (metadata holds a handful of
//!   pairs: a search of a short vector beats a tree, and it costs one allocation, not a node of
//!   eleven slots). The well-known keys are borrowed `'static` strings, never allocated.
//! - The vector is shared (`Arc`) and copied on write: a clone is a reference count, so stamping
//!   every event of a command with the same metadata costs no allocation per event.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Metadata(Option<Arc<Pairs>>);

/// The pairs, sorted by key, keys unique.
type Pairs = Vec<(Cow<'static, str>, String)>;

/// The pairs of a [`Metadata`] as `Debug` shows them: a map.
struct AsMap<'a>(&'a Metadata);

impl std::fmt::Debug for AsMap<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.0.iter()).finish()
    }
}

impl std::fmt::Debug for Metadata {
    /// `Metadata({"key": "value", ...})`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Metadata").field(&AsMap(self)).finish()
    }
}

impl Serialize for Metadata {
    /// A JSON object of the pairs, in key order.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, String>::deserialize(deserializer)?;
        Ok(map.into_iter().collect())
    }
}

impl Metadata {
    /// Empty metadata.
    pub const fn new() -> Self {
        Metadata(None)
    }

    /// Sets `key` to `value`, returning the metadata (builder style).
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.insert(key, value);
        self
    }

    /// Sets the [`CORRELATION_ID`] key.
    pub fn with_correlation_id(mut self, id: impl Into<String>) -> Self {
        self.insert_key(Cow::Borrowed(CORRELATION_ID), id.into());
        self
    }

    /// Sets the [`CAUSATION_ID`] key.
    pub fn with_causation_id(mut self, id: impl Into<String>) -> Self {
        self.insert_key(Cow::Borrowed(CAUSATION_ID), id.into());
        self
    }

    /// Sets `key` to `value`, returning the previous value.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Option<String> {
        self.insert_key(Cow::Owned(key.into()), value.into())
    }

    fn insert_key(&mut self, key: Cow<'static, str>, value: String) -> Option<String> {
        let pairs = Arc::make_mut(
            self.0
                .get_or_insert_with(|| Arc::new(Vec::with_capacity(2))),
        );
        match pairs.binary_search_by(|(k, _)| k.as_ref().cmp(key.as_ref())) {
            Ok(at) => Some(std::mem::replace(&mut pairs[at].1, value)),
            Err(at) => {
                pairs.insert(at, (key, value));
                None
            }
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        let pairs = self.0.as_ref()?;
        let at = pairs.binary_search_by(|(k, _)| k.as_ref().cmp(key)).ok()?;
        Some(pairs[at].1.as_str())
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
        self.0.as_ref().map_or(0, |map| map.len())
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The correlation id, taken out; the rest is dropped at once (for a store that keeps only
    /// the id while the rest would hold memory for nothing).
    pub(crate) fn into_correlation_id(self) -> Option<String> {
        let pairs = self.0?;
        let at = pairs
            .binary_search_by(|(k, _)| k.as_ref().cmp(CORRELATION_ID))
            .ok()?;
        match Arc::try_unwrap(pairs) {
            Ok(mut pairs) => Some(pairs.swap_remove(at).1),
            Err(shared) => Some(shared[at].1.clone()),
        }
    }

    /// The pairs, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .flat_map(|pairs| pairs.iter())
            .map(|(k, v)| (k.as_ref(), v.as_str()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut metadata = Metadata::new();
        for (k, v) in iter {
            metadata.insert(k, v);
        }
        metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_stay_sorted_and_unique_whatever_the_insertion_order() {
        let mut meta = Metadata::new().with("user", "ada").with_causation_id("c");
        assert_eq!(meta.insert("user", "bob"), Some("ada".to_owned()));
        let meta = meta.with_correlation_id("r").with("a", "1");
        let pairs: Vec<_> = meta.iter().collect();
        assert_eq!(
            pairs,
            [
                ("a", "1"),
                ("causation_id", "c"),
                ("correlation_id", "r"),
                ("user", "bob")
            ]
        );
        assert_eq!((meta.get("user"), meta.get("zzz")), (Some("bob"), None));
        assert_eq!(format!("{meta:?}").split_once('(').unwrap().0, "Metadata");
    }

    #[test]
    fn json_is_an_object_in_key_order_and_reads_back_equal() {
        let meta = Metadata::new().with("z", "1").with_correlation_id("r");
        let json = serde_json::to_string(&meta).unwrap();
        assert_eq!(json, r#"{"correlation_id":"r","z":"1"}"#);
        let back: Metadata = serde_json::from_str(&json).unwrap();
        assert_eq!(back, meta, "a borrowed key equals an owned one");
        let empty: Metadata = serde_json::from_str("{}").unwrap();
        assert!(empty.is_empty() && empty == Metadata::new());
    }

    #[test]
    fn a_clone_is_shared_until_written() {
        let a = Metadata::new().with("k", "v");
        let mut b = a.clone();
        b.insert("k", "w");
        assert_eq!((a.get("k"), b.get("k")), (Some("v"), Some("w")));
    }
}
