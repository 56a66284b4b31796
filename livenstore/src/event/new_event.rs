//! [`NewEvent`]: what callers append. The store assigns the rest (id when absent, stream
//! version, global position, time) and hands back a [`RecordedEvent`](super::RecordedEvent).

use std::borrow::Cow;
use std::fmt;

use super::error::EnvelopeError;
use crate::{DomainEvent, EventId, Metadata, Payload};

/// An event to append: type, payload, metadata and optionally an id. The store assigns the rest
/// (id when absent, stream version, global position, time).
///
/// # Examples
///
/// ```
/// use livenstore::{DomainEvent, NewEvent};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, DomainEvent)]
/// struct UserCreated { username: String }
///
/// let event = NewEvent::from_domain(&UserCreated { username: "ada".into() }).unwrap();
/// assert_eq!(event.event_type(), "UserCreated");
/// assert_eq!(event.payload().as_str(), r#"{"username":"ada"}"#);
/// assert!(event.id().is_none(), "the store assigns an id on append");
/// ```
#[derive(Clone, PartialEq)]
pub struct NewEvent {
    /// The id's high and low halves: 8-byte aligned, so the event has no 16-byte alignment
    /// padding (it is moved into every append).
    id: Option<[u64; 2]>,
    event_type: Cow<'static, str>,
    payload: Payload,
    /// `payload.len()`, kept here: a store checks it on every append, and the payload's own
    /// allocation may be out of the cache by then.
    payload_len: usize,
    metadata: Metadata,
    /// The version of the event type's payload ([`DomainEvent::EVENT_VERSION`]).
    event_version: u32,
}

impl fmt::Debug for NewEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewEvent")
            .field("id", &self.id())
            .field("event_type", &self.event_type)
            .field("event_version", &self.event_version)
            .field("payload", &self.payload)
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl NewEvent {
    /// An event of `event_type` with `payload`, at event version 1 (see
    /// [`with_event_version`](Self::with_event_version)).
    pub fn new(event_type: impl Into<Cow<'static, str>>, payload: Payload) -> Self {
        NewEvent {
            id: None,
            event_type: event_type.into(),
            payload_len: payload.len(),
            payload,
            metadata: Metadata::new(),
            event_version: 1,
        }
    }

    /// An event of `event_type` whose payload is the JSON text `json`.
    ///
    /// # Errors
    ///
    /// The parse error when `json` is not valid JSON.
    pub fn from_json(
        event_type: impl Into<Cow<'static, str>>,
        json: impl Into<String>,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self::new(event_type, Payload::from_json(json)?))
    }

    /// The envelope of a domain event: its stable type name, its version
    /// ([`DomainEvent::EVENT_VERSION`]) and its JSON.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::Serialize`] when serde cannot write the value as JSON.
    pub fn from_domain<T: DomainEvent>(event: &T) -> Result<Self, EnvelopeError> {
        let payload =
            Payload::from_serialize(event).map_err(|source| EnvelopeError::Serialize {
                event_type: T::EVENT_TYPE,
                source,
            })?;
        Ok(Self::new(T::EVENT_TYPE, payload).with_event_version(T::EVENT_VERSION))
    }

    /// Like [`from_domain`](Self::from_domain), but keeps the value itself beside its JSON, so a
    /// store that holds events in memory can replay it without decoding.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::Serialize`] when serde cannot write the value as JSON.
    pub fn from_domain_owned<T: DomainEvent>(event: T) -> Result<Self, EnvelopeError> {
        let payload = Payload::from_typed(event).map_err(|source| EnvelopeError::Serialize {
            event_type: T::EVENT_TYPE,
            source,
        })?;
        Ok(Self::new(T::EVENT_TYPE, payload).with_event_version(T::EVENT_VERSION))
    }

    /// Like [`from_domain_owned`](Self::from_domain_owned), but gives the event back when it
    /// cannot be serialized, so nothing is lost on that error.
    ///
    /// # Errors
    ///
    /// The event and [`EnvelopeError::Serialize`] when serde cannot write the value as JSON.
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore::{DomainEvent, NewEvent};
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Debug, Serialize, Deserialize, DomainEvent)]
    /// #[event(name = "deposited")]
    /// struct Deposited { amount: u64 }
    ///
    /// let event = NewEvent::try_from_domain_owned(Deposited { amount: 5 }).unwrap();
    /// assert_eq!(event.payload().typed::<Deposited>().unwrap().amount, 5);
    /// ```
    pub fn try_from_domain_owned<T: DomainEvent>(event: T) -> Result<Self, (T, EnvelopeError)> {
        match Payload::try_from_typed(event) {
            Ok(payload) => {
                Ok(Self::new(T::EVENT_TYPE, payload).with_event_version(T::EVENT_VERSION))
            }
            Err((event, source)) => Err((
                event,
                EnvelopeError::Serialize {
                    event_type: T::EVENT_TYPE,
                    source,
                },
            )),
        }
    }

    /// Sets the id (for idempotent appends: the same id appended twice is stored once).
    pub fn with_id(mut self, id: EventId) -> Self {
        let id = id.to_u128();
        // Truncation is intended: the two halves.
        self.id = Some([(id >> 64) as u64, id as u64]);
        self
    }

    /// Sets the metadata.
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Sets the event version: the version of the type's payload this event was written at
    /// (`from_domain` sets [`DomainEvent::EVENT_VERSION`]). Versions run from 1 to
    /// [`MAX_EVENT_VERSION`](crate::backend::MAX_EVENT_VERSION); a store refuses to append an
    /// event outside that range.
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore::NewEvent;
    ///
    /// let event = NewEvent::from_json("account.deposited", r#"{"cents":500}"#).unwrap();
    /// assert_eq!(event.event_version(), 1);
    /// assert_eq!(event.with_event_version(2).event_version(), 2);
    /// ```
    pub fn with_event_version(mut self, version: u32) -> Self {
        self.event_version = version;
        self
    }

    /// The version of the event type's payload this event was written at.
    #[inline]
    pub fn event_version(&self) -> u32 {
        self.event_version
    }

    /// The id, if the caller chose one.
    pub fn id(&self) -> Option<EventId> {
        self.id
            .map(|[high, low]| EventId::from_u128(u128::from(high) << 64 | u128::from(low)))
    }

    /// The event type name.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// The event type name as held: borrowed names are `'static` (stores cache them by address).
    pub(crate) fn event_type_cow(&self) -> &Cow<'static, str> {
        &self.event_type
    }

    /// The payload.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// The payload's length in bytes (without reading the payload).
    #[inline]
    pub(crate) fn payload_len(&self) -> usize {
        self.payload_len
    }

    /// The metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Mutable access to the metadata.
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.metadata
    }

    /// Takes the event apart: type, payload, the payload's length, metadata; the event itself
    /// back when it has an id (stores apply the idempotency rule to those).
    #[inline]
    pub(crate) fn into_parts_without_id(
        self,
    ) -> Result<(Cow<'static, str>, Payload, usize, Metadata), Self> {
        if self.id.is_some() {
            return Err(self);
        }
        Ok((
            self.event_type,
            self.payload,
            self.payload_len,
            self.metadata,
        ))
    }

    /// Takes the event apart: id, type, payload, metadata.
    pub fn into_parts(self) -> (Option<EventId>, Cow<'static, str>, Payload, Metadata) {
        (self.id(), self.event_type, self.payload, self.metadata)
    }
}
