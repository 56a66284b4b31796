//! [`EnvelopeError`]: what can go wrong between a domain event and its envelope.

use super::upcast::UpcastError;
use crate::EventId;

/// Errors converting between domain events and envelopes.
///
/// # Examples
///
/// ```
/// use livenstore::{DomainEvent, EnvelopeError};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Serialize, Deserialize, DomainEvent)]
/// struct UserCreated { username: String }
/// #[derive(Debug, Serialize, Deserialize, DomainEvent)]
/// struct UserDeleted { reason: String }
///
/// let store = InMemoryStore::new();
/// let created = NewEvent::from_domain(&UserCreated { username: "ada".into() }).unwrap();
/// let odd = NewEvent::from_json("UserCreated", r#"{"name":"bob"}"#).unwrap();
/// store.append("user-1", ExpectedVersion::NoStream, vec![created, odd]).unwrap();
/// let stored = store.read_stream("user-1", 1, usize::MAX).unwrap();
///
/// assert_eq!(stored[0].to_domain::<UserCreated>().unwrap().username, "ada");
/// match stored[0].to_domain::<UserDeleted>() {
///     Err(EnvelopeError::TypeMismatch { expected, actual, .. }) => {
///         assert_eq!((expected, actual.as_str()), ("UserDeleted", "UserCreated"));
///     }
///     other => panic!("expected a type mismatch, got {other:?}"),
/// }
/// // The right type, but a payload without `username`.
/// assert!(matches!(
///     stored[1].to_domain::<UserCreated>(),
///     Err(EnvelopeError::Deserialize { .. })
/// ));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The stored event is of another type than the one asked for.
    #[error("wrong event type: expected `{expected}`, the event {event_id} is a `{actual}`")]
    TypeMismatch {
        /// The type asked for (`T::EVENT_TYPE`).
        expected: &'static str,
        /// The stored event's type.
        actual: String,
        /// The stored event's id.
        event_id: EventId,
    },
    /// The domain value could not be serialized to JSON.
    #[error("could not serialize a `{event_type}` event to JSON")]
    Serialize {
        /// The event type being serialized.
        event_type: &'static str,
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// The stored payload does not decode into the domain type.
    #[error("event {event_id} (`{event_type}`) has a payload that does not decode")]
    Deserialize {
        /// The stored event's id.
        event_id: EventId,
        /// The stored event's type.
        event_type: String,
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// The stored event is of an older version no upcast leads from, of a newer version than
    /// the code knows, or an upcast refused it (the [`UpcastError`] is the source).
    #[error("event {event_id} (`{event_type}` version {event_version}) cannot be upcast")]
    Upcast {
        /// The stored event's id.
        event_id: EventId,
        /// The stored event's type.
        event_type: String,
        /// The version it was stored at.
        event_version: u32,
        /// Why.
        source: UpcastError,
    },
}
