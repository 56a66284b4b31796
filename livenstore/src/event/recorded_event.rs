//! [`RecordedEvent`]: what stores hand back, with [`RecordedEventParts`], what a store builds one
//! from.
//!
//! Invariant: a [`RecordedEvent`] is immutable. Its parts live behind one `Arc` (its own parts, or
//! the chunk slot of the store that keeps it, which is filled once and never changed), so clones
//! are cheap and no clone can change what a store holds.

use std::fmt;
use std::sync::Arc;

use super::chunk::ChunkSlot;
use super::error::EnvelopeError;
use super::link::LinkInfo;
use super::upcast::UpcastError;
use crate::{DomainEvent, EventId, Metadata, Payload, Timestamp};

/// The parts of a [`RecordedEvent`], for store implementations that build one.
///
/// # Examples
///
/// ```
/// use livenstore::{EventId, Metadata, Payload, RecordedEvent, RecordedEventParts, Timestamp};
///
/// let parts = RecordedEventParts {
///     id: EventId::new(),
///     event_type: "UserCreated".into(),
///     stream: "user-1".into(),
///     version: 1,
///     position: 7,
///     recorded_at: Timestamp::now(),
///     metadata: Metadata::new().with_correlation_id("request-42"),
///     payload: Payload::from_json(r#"{"name":"ada"}"#).unwrap(),
///     event_version: 1,
/// };
/// let event = RecordedEvent::from_parts(parts.clone());
/// assert_eq!((event.stream(), event.version(), event.position()), ("user-1", 1, 7));
/// assert_eq!(event.metadata().correlation_id(), Some("request-42"));
/// assert_eq!(event.to_parts(), parts);
/// ```
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
    /// The version of the event type's payload it was written at (1 for events written before
    /// versions were recorded).
    pub event_version: u32,
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
    /// A slot of a store's chunk (an [`InMemoryStore`](crate::InMemoryStore)'s).
    Stored(ChunkSlot<RecordedEvent>),
}

impl RecordedEvent {
    /// Builds a recorded event from its parts (for store implementations).
    pub fn from_parts(parts: RecordedEventParts) -> Self {
        RecordedEvent {
            shared: Shared::Parts(Arc::new(parts)),
            link: None,
        }
    }

    /// An event held in a store's chunk.
    #[inline]
    pub(crate) fn from_stored(stored: ChunkSlot<RecordedEvent>) -> Self {
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

    /// The version of the event type's payload the event was written at (see
    /// [`DomainEvent::EVENT_VERSION`]); 1 for events written before versions were recorded.
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore::{DomainEvent, EventStore, ExpectedVersion, InMemoryStore, NewEvent};
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Serialize, Deserialize, DomainEvent)]
    /// #[event(name = "doc.version.moved", version = 3, upcast_json(from = 1, with = keep),
    ///     upcast_json(from = 2, with = keep))]
    /// struct Moved { to: String }
    /// fn keep(v: serde_json::Value) -> Result<serde_json::Value, livenstore::UpcastError> {
    ///     Ok(v)
    /// }
    ///
    /// let store = InMemoryStore::new();
    /// let moved = NewEvent::from_domain(&Moved { to: "home".into() }).unwrap();
    /// store.append("box-1", ExpectedVersion::NoStream, vec![moved]).unwrap();
    /// assert_eq!(store.read_stream("box-1", 1, 1).unwrap()[0].event_version(), 3);
    /// ```
    #[inline]
    pub fn event_version(&self) -> u32 {
        match &self.shared {
            Shared::Parts(p) => p.event_version,
            Shared::Stored(s) => s.event_version(),
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
                event_version: s.event_version(),
            },
        }
    }

    /// Decodes the payload into the domain type `T`, checking that the stored type is `T`'s (its
    /// name or one of its aliases), and upcasting an older event version through `T`'s chain
    /// ([`DomainEvent::from_stored`]).
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::TypeMismatch`] when the event is not a `T`, naming both types;
    /// [`EnvelopeError::Deserialize`] when the payload does not decode into `T`;
    /// [`EnvelopeError::Upcast`] when its version is newer than `T`'s or no upcast leads from it.
    pub fn to_domain<T: DomainEvent>(&self) -> Result<T, EnvelopeError> {
        if !T::answers_to(self.event_type()) {
            return Err(EnvelopeError::TypeMismatch {
                expected: T::EVENT_TYPE,
                actual: self.event_type().to_owned(),
                event_id: self.id(),
            });
        }
        let version = self.event_version();
        T::from_stored(version, self.payload().as_bytes()).map_err(|error| match error {
            UpcastError::Decode { source, .. } if version == T::EVENT_VERSION => {
                EnvelopeError::Deserialize {
                    event_id: self.id(),
                    event_type: self.event_type().to_owned(),
                    source,
                }
            }
            source => EnvelopeError::Upcast {
                event_id: self.id(),
                event_type: self.event_type().to_owned(),
                event_version: version,
                source,
            },
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
                    && self.event_version() == other.event_version()
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
            .field("event_version", &self.event_version())
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

/// Version 1 is left out of the JSON form: events written before versions existed look the same.
fn is_first_version(version: &u32) -> bool {
    *version == 1
}

fn first_version() -> u32 {
    1
}

#[derive(serde::Serialize)]
struct RecordedEventRef<'a> {
    id: EventId,
    event_type: &'a str,
    #[serde(skip_serializing_if = "is_first_version")]
    event_version: u32,
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
    #[serde(default = "first_version")]
    event_version: u32,
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
            event_version: self.event_version(),
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
            event_version: o.event_version,
        });
        Ok(match o.link {
            Some(link) => event.with_link(link),
            None => event,
        })
    }
}
