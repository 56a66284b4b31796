//! The event envelope: what callers append ([`NewEvent`]) and what stores hand back
//! ([`RecordedEvent`]).
//!
//! Invariant: a [`RecordedEvent`] is immutable. Its parts live behind one `Arc` (its own parts, or
//! the in-memory store chunk slot it was read from, which is filled once and never changed), so
//! clones are cheap and no clone can change what a store holds.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::store::memory::chunk::StoredEvent;
use crate::{DomainEvent, EventId, Metadata, Payload, Timestamp};

/// Errors converting between domain events and envelopes.
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
    #[error("could not serialize a `{event_type}` event to JSON: {source}")]
    Serialize {
        /// The event type being serialized.
        event_type: &'static str,
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// The stored payload does not decode into the domain type.
    #[error("event {event_id} (`{event_type}`) has a payload that does not decode: {source}")]
    Deserialize {
        /// The stored event's id.
        event_id: EventId,
        /// The stored event's type.
        event_type: String,
        /// serde_json's error.
        source: serde_json::Error,
    },
}

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
}

impl fmt::Debug for NewEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewEvent")
            .field("id", &self.id())
            .field("event_type", &self.event_type)
            .field("payload", &self.payload)
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl NewEvent {
    /// An event of `event_type` with `payload`.
    pub fn new(event_type: impl Into<Cow<'static, str>>, payload: Payload) -> Self {
        NewEvent {
            id: None,
            event_type: event_type.into(),
            payload_len: payload.len(),
            payload,
            metadata: Metadata::new(),
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

    /// The envelope of a domain event (the Go original's `EventFrom`): its stable type name and
    /// its JSON.
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
        Ok(Self::new(T::EVENT_TYPE, payload))
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
        Ok(Self::new(T::EVENT_TYPE, payload))
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
            Ok(payload) => Ok(Self::new(T::EVENT_TYPE, payload)),
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

/// The parts of a [`RecordedEvent`], for store implementations that build one.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEventParts {
    /// The event's id.
    pub id: EventId,
    /// The stable event type name.
    pub event_type: Arc<str>,
    /// The stream the event was appended to.
    pub stream: Arc<str>,
    /// 1-based position inside `stream`.
    pub version: u64,
    /// 1-based position across the whole store (gap-free).
    pub position: u64,
    /// When the store recorded it.
    pub recorded_at: Timestamp,
    /// Metadata.
    pub metadata: Metadata,
    /// The JSON body.
    pub payload: Payload,
}

/// A stored event: the envelope a store hands back. Immutable and cheap to clone.
///
/// # Examples
///
/// ```
/// use livenstore::{DomainEvent, RecordedEvent};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize, DomainEvent)]
/// struct UserCreated { username: String }
/// #[derive(Debug, Serialize, Deserialize, DomainEvent)]
/// struct OrderPlaced { amount: u64 }
///
/// let line = r#"{"id":"01JD0000000000000000000000","event_type":"UserCreated",
///   "stream":"User-1","version":1,"position":1,"recorded_at":"2026-11-23T09:00:00Z",
///   "metadata":{},"payload":{"username":"ada"}}"#;
/// let recorded: RecordedEvent = serde_json::from_str(line).unwrap();
/// assert_eq!(recorded.to_domain::<UserCreated>().unwrap().username, "ada");
/// assert!(recorded.to_domain::<OrderPlaced>().is_err(), "a type mismatch is refused");
/// ```
#[derive(Clone)]
pub struct RecordedEvent {
    shared: Shared,
    link: Option<Arc<LinkInfo>>,
}

/// Where a [`RecordedEvent`]'s parts live. Both are shared and immutable.
#[derive(Clone)]
enum Shared {
    /// Built from its parts (stores that read files, tests).
    Parts(Arc<RecordedEventParts>),
    /// A slot of an [`InMemoryStore`](crate::InMemoryStore) chunk.
    Stored(StoredEvent),
}

impl RecordedEvent {
    /// Builds a recorded event from its parts (for store implementations).
    pub fn from_parts(parts: RecordedEventParts) -> Self {
        RecordedEvent {
            shared: Shared::Parts(Arc::new(parts)),
            link: None,
        }
    }

    /// An event held in an in-memory store's chunk.
    #[inline]
    pub(crate) fn from_stored(stored: StoredEvent) -> Self {
        RecordedEvent {
            shared: Shared::Stored(stored),
            link: None,
        }
    }

    /// The same event, as read through a link into another stream.
    pub fn with_link(&self, link: LinkInfo) -> Self {
        RecordedEvent {
            shared: self.shared.clone(),
            link: Some(Arc::new(link)),
        }
    }

    /// The same event without link information.
    pub fn without_link(&self) -> Self {
        RecordedEvent {
            shared: self.shared.clone(),
            link: None,
        }
    }

    /// The event's id.
    #[inline]
    pub fn id(&self) -> EventId {
        match &self.shared {
            Shared::Parts(p) => p.id,
            Shared::Stored(s) => s.record().id(),
        }
    }

    /// The stable event type name.
    #[inline]
    pub fn event_type(&self) -> &str {
        match &self.shared {
            Shared::Parts(p) => &p.event_type,
            Shared::Stored(s) => s.event_type(),
        }
    }

    /// The stream the event was appended to (for a linked read, see [`link`](Self::link)).
    #[inline]
    pub fn stream(&self) -> &str {
        match &self.shared {
            Shared::Parts(p) => &p.stream,
            Shared::Stored(s) => s.stream(),
        }
    }

    /// 1-based version inside [`stream`](Self::stream).
    #[inline]
    pub fn version(&self) -> u64 {
        match &self.shared {
            Shared::Parts(p) => p.version,
            Shared::Stored(s) => s.version(),
        }
    }

    /// 1-based global position in the store.
    #[inline]
    pub fn position(&self) -> u64 {
        match &self.shared {
            Shared::Parts(p) => p.position,
            Shared::Stored(s) => s.position(),
        }
    }

    /// When the store recorded the event.
    #[inline]
    pub fn recorded_at(&self) -> Timestamp {
        match &self.shared {
            Shared::Parts(p) => p.recorded_at,
            Shared::Stored(s) => s.record().recorded_at,
        }
    }

    /// The metadata.
    #[inline]
    pub fn metadata(&self) -> &Metadata {
        match &self.shared {
            Shared::Parts(p) => &p.metadata,
            Shared::Stored(s) => s.metadata(),
        }
    }

    /// The JSON body.
    #[inline]
    pub fn payload(&self) -> &Payload {
        match &self.shared {
            Shared::Parts(p) => &p.payload,
            Shared::Stored(s) => &s.record().payload,
        }
    }

    /// Where this event was linked, when it was read through a link.
    #[inline]
    pub fn link(&self) -> Option<&LinkInfo> {
        self.link.as_deref()
    }

    /// The event's version in the stream it was read from: its link's version when it was read
    /// through a link, its own [`version`](Self::version) otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
    ///
    /// let store = InMemoryStore::new();
    /// let event = NewEvent::from_json("UserCreated", "{}").unwrap();
    /// store.append("user-1", ExpectedVersion::NoStream, vec![event]).unwrap();
    /// let id = store.read_all(1, 1).unwrap()[0].id();
    /// store.append("admins", ExpectedVersion::NoStream, vec![NewEvent::from_json("X", "{}").unwrap()]).unwrap();
    /// store.link_to_stream(id, "admins").unwrap();
    /// let linked = &store.read_stream("admins", 2, 1).unwrap()[0];
    /// assert_eq!((linked.version(), linked.stream_version()), (1, 2));
    /// ```
    #[inline]
    pub fn stream_version(&self) -> u64 {
        self.link().map_or(self.version(), |l| l.version)
    }

    /// The parts, as a new value (the payload's JSON and typed value are shared, not copied).
    pub fn to_parts(&self) -> RecordedEventParts {
        match &self.shared {
            Shared::Parts(p) => RecordedEventParts::clone(p),
            Shared::Stored(s) => RecordedEventParts {
                id: self.id(),
                event_type: Arc::from(s.event_type()),
                stream: Arc::from(s.stream()),
                version: s.version(),
                position: self.position(),
                recorded_at: self.recorded_at(),
                metadata: self.metadata().clone(),
                payload: self.payload().clone(),
            },
        }
    }

    /// Decodes the payload into the domain type `T` (the Go original's `FromEvent`).
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::TypeMismatch`] when the event is not a `T`, naming both types;
    /// [`EnvelopeError::Deserialize`] when the payload does not decode into `T`.
    pub fn to_domain<T: DomainEvent>(&self) -> Result<T, EnvelopeError> {
        if self.event_type() != T::EVENT_TYPE {
            return Err(EnvelopeError::TypeMismatch {
                expected: T::EVENT_TYPE,
                actual: self.event_type().to_owned(),
                event_id: self.id(),
            });
        }
        serde_json::from_str(self.payload().as_str()).map_err(|source| EnvelopeError::Deserialize {
            event_id: self.id(),
            event_type: self.event_type().to_owned(),
            source,
        })
    }
}

impl PartialEq for RecordedEvent {
    /// Events are equal when every field is equal (payloads by their JSON text), link included.
    fn eq(&self, other: &Self) -> bool {
        let same_parts = match (&self.shared, &other.shared) {
            (Shared::Parts(a), Shared::Parts(b)) => Arc::ptr_eq(a, b) || a == b,
            (Shared::Stored(a), Shared::Stored(b)) if a.same_slot(b) => true,
            _ => {
                self.id() == other.id()
                    && self.event_type() == other.event_type()
                    && self.stream() == other.stream()
                    && self.version() == other.version()
                    && self.position() == other.position()
                    && self.recorded_at() == other.recorded_at()
                    && self.metadata() == other.metadata()
                    && self.payload() == other.payload()
            }
        };
        same_parts && self.link == other.link
    }
}

impl fmt::Debug for RecordedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("RecordedEvent");
        s.field("id", &self.id())
            .field("event_type", &self.event_type())
            .field("stream", &self.stream())
            .field("version", &self.version())
            .field("position", &self.position())
            .field("recorded_at", &self.recorded_at())
            .field("metadata", self.metadata())
            .field("payload", &self.payload().as_str());
        if let Some(link) = &self.link {
            s.field("link", link);
        }
        s.finish()
    }
}

#[derive(serde::Serialize)]
struct RecordedEventRef<'a> {
    id: EventId,
    event_type: &'a str,
    stream: &'a str,
    version: u64,
    position: u64,
    recorded_at: Timestamp,
    metadata: &'a Metadata,
    payload: &'a Payload,
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<&'a LinkInfo>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordedEventOwned {
    id: EventId,
    event_type: String,
    stream: String,
    version: u64,
    position: u64,
    recorded_at: Timestamp,
    #[serde(default)]
    metadata: Metadata,
    payload: Payload,
    #[serde(default)]
    link: Option<LinkInfo>,
}

impl serde::Serialize for RecordedEvent {
    /// Serializes as one JSON object with the payload inline (not as a string).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RecordedEventRef {
            id: self.id(),
            event_type: self.event_type(),
            stream: self.stream(),
            version: self.version(),
            position: self.position(),
            recorded_at: self.recorded_at(),
            metadata: self.metadata(),
            payload: self.payload(),
            link: self.link.as_deref(),
        }
        .serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for RecordedEvent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let o = RecordedEventOwned::deserialize(deserializer)?;
        let event = RecordedEvent::from_parts(RecordedEventParts {
            id: o.id,
            event_type: o.event_type.into(),
            stream: o.stream.into(),
            version: o.version,
            position: o.position,
            recorded_at: o.recorded_at,
            metadata: o.metadata,
            payload: o.payload,
        });
        Ok(match o.link {
            Some(link) => event.with_link(link),
            None => event,
        })
    }
}
