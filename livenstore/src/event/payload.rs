//! Event payloads: validated JSON text, optionally with the typed value it was made from.
//!
//! Invariant: when a payload carries a typed value, the JSON text is that value serialized, and the
//! value's type is the one whose `EVENT_TYPE` the envelope names. Only
//! [`NewEvent::from_domain_owned`](crate::NewEvent::from_domain_owned) makes such payloads, so the
//! invariant holds by construction.
//!
//! Invariant: the JSON text of every payload is one valid JSON value. The public constructors
//! parse or write it; the crate-private `from_trusted_json` is only given text the crate has
//! validated or written (a `JsonStore` line whose checksum matches holds a payload it wrote).
//! Stores rely on this and do not parse payloads again.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// The JSON body of an event. Cheap to clone (one reference count) and immutable; two pointers
/// wide, so stores that keep many events keep them small.
///
/// A payload made from a domain value in this process also keeps that value, so replaying it
/// into an aggregate skips JSON decoding. Payloads read from disk carry only the text.
///
/// # Examples
///
/// ```
/// use livenstore::Payload;
///
/// let p = Payload::from_json(r#"{"name":"John"}"#).unwrap();
/// assert_eq!(p.as_str(), r#"{"name":"John"}"#);
/// assert!(Payload::from_json("{not json").is_err());
/// ```
#[derive(Clone)]
pub struct Payload(Arc<PayloadData<dyn Any + Send + Sync>>);

/// What a [`Payload`] shares, in one allocation: the JSON text and the value it was made from
/// ([`NoValue`] for none), inline, so a replay reaches the value in one step.
struct PayloadData<T: ?Sized> {
    json: Box<str>,
    value: T,
}

/// The value of a payload made from JSON text only.
struct NoValue;

impl Payload {
    /// A payload from JSON text, which is checked to be one well-formed JSON value.
    ///
    /// # Errors
    ///
    /// The parse error when `json` is not valid JSON.
    pub fn from_json(json: impl Into<String>) -> Result<Self, serde_json::Error> {
        let json = json.into();
        serde_json::from_str::<serde::de::IgnoredAny>(&json)?;
        Ok(Self::from_trusted_json(json))
    }

    /// A payload from JSON text this crate has already validated (stores reading their own
    /// files use this after checking the line that holds it). Crate-private, so every `Payload`
    /// a caller holds is valid JSON.
    pub(crate) fn from_trusted_json(json: impl Into<Box<str>>) -> Self {
        Payload(Arc::new(PayloadData {
            json: json.into(),
            value: NoValue,
        }))
    }

    /// A payload holding `value` serialized as JSON.
    ///
    /// # Errors
    ///
    /// The serializer's error, for values serde cannot write as JSON (maps with non-string keys).
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        Ok(Self::from_trusted_json(serde_json::to_string(value)?))
    }

    pub(crate) fn from_typed<T: Serialize + Send + Sync + 'static>(
        value: T,
    ) -> Result<Self, serde_json::Error> {
        Self::try_from_typed(value).map_err(|(_, err)| err)
    }

    /// Like `from_typed`, but hands the value back when serde cannot write it.
    pub(crate) fn try_from_typed<T: Serialize + Send + Sync + 'static>(
        value: T,
    ) -> Result<Self, (T, serde_json::Error)> {
        match serde_json::to_string(&value) {
            // The text is copied into an allocation of its size, and the serializer's buffer
            // freed for the next one, rather than shrunk in place, which leaves its unused end
            // between this payload's allocations and spreads payloads over more memory.
            Ok(json) => Ok(Payload(Arc::new(PayloadData {
                json: Box::from(json.as_str()),
                value,
            }))),
            Err(err) => Err((value, err)),
        }
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0.json
    }

    /// The JSON text as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.json.as_bytes()
    }

    /// Length of the JSON text in bytes.
    pub fn len(&self) -> usize {
        self.0.json.len()
    }

    /// Whether the JSON text is empty (never true for a valid payload).
    pub fn is_empty(&self) -> bool {
        self.0.json.is_empty()
    }

    /// The typed value this payload was made from, when it was made from a value of type `T` in
    /// this process.
    #[inline]
    pub fn typed<T: Any>(&self) -> Option<&T> {
        // `NoValue` is private: no caller's `T` is it.
        (&self.0.value as &dyn Any).downcast_ref::<T>()
    }

    /// The typed value this payload was made from, as `dyn Any`, if any.
    #[inline]
    pub fn typed_any(&self) -> Option<&(dyn Any + Send + Sync)> {
        let value = &self.0.value;
        // Only the zero-sized `NoValue` marks a payload without a value: a value with a size is
        // returned without the (virtual) type check.
        (std::mem::size_of_val(value) != 0 || !value.is::<NoValue>()).then_some(value)
    }

    /// The same payload without its typed value (stores that must not hold values in memory use
    /// this). A payload with a typed value gets its own copy of the JSON text.
    pub fn without_typed(&self) -> Payload {
        if self.typed_any().is_none() {
            return self.clone();
        }
        Self::from_trusted_json(self.as_str())
    }

    /// Parses the JSON into a [`serde_json::Value`].
    ///
    /// # Errors
    ///
    /// Never for a payload made by this crate; kept fallible for payloads built from trusted text.
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_str(&self.0.json)
    }
}

impl PartialEq for Payload {
    /// Payloads are equal when their JSON text is byte-for-byte equal.
    fn eq(&self, other: &Self) -> bool {
        self.0.json == other.0.json
    }
}

impl Eq for Payload {}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Payload")
            .field("json", &&*self.0.json)
            .field("typed", &self.typed_any().is_some())
            .finish()
    }
}

impl Serialize for Payload {
    /// Serializes as the JSON value itself (not as a string holding JSON).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &serde_json::value::RawValue =
            serde_json::from_str(&self.0.json).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        Ok(Payload::from_trusted_json(Box::<str>::from(raw)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize)]
    struct Deposited {
        amount: u64,
    }

    #[derive(Debug, PartialEq, Serialize)]
    struct Closed;

    #[test]
    fn a_zero_sized_value_is_kept_too() {
        let payload = Payload::from_typed(Closed).unwrap();
        assert_eq!(payload.as_str(), "null");
        assert!(payload.typed_any().is_some());
        assert_eq!(payload.typed::<Closed>(), Some(&Closed));
        assert!(Payload::from_json("null").unwrap().typed_any().is_none());
    }

    #[test]
    fn a_payload_is_two_pointers() {
        assert_eq!(
            std::mem::size_of::<Payload>(),
            2 * std::mem::size_of::<usize>()
        );
        assert_eq!(
            std::mem::size_of::<Option<Payload>>(),
            std::mem::size_of::<Payload>()
        );
    }

    #[test]
    fn typed_payloads_keep_value_and_text_and_can_drop_the_value() {
        let payload = Payload::from_typed(Deposited { amount: 5 }).unwrap();
        assert_eq!(payload.as_str(), r#"{"amount":5}"#);
        assert_eq!(payload.len(), 12);
        assert_eq!(payload.typed::<Deposited>(), Some(&Deposited { amount: 5 }));
        assert!(payload.typed::<u64>().is_none());
        let text_only = payload.without_typed();
        assert!(text_only.typed_any().is_none());
        assert_eq!(text_only, payload, "equality is by text");
        let again = text_only.without_typed();
        assert_eq!(again.as_str(), r#"{"amount":5}"#);
        assert_eq!(
            format!("{payload:?}"),
            r#"Payload { json: "{\"amount\":5}", typed: true }"#
        );
    }
}
