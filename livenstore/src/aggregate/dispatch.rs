//! The [`Aggregate`] and [`AggregateEvent`] traits, implemented by `#[derive(Aggregate)]`.

use std::any::Any;
use std::borrow::Cow;

use crate::{EnvelopeError, NewEvent, Payload, Shape, UpcastError};

/// A domain model whose state is the result of applying its events in order.
///
/// Derive it with `#[derive(Aggregate)]` and `#[aggregate(events(A, B, ...), error = E)]`: the
/// derive writes the event enum (`<Type>Event`, one variant per listed event), the static dispatch
/// from each variant to the handler `on_<snake_case_event>(&mut self, &Event) -> Result<(), E>`,
/// and decoding by type name. A missing or mistyped handler is a compile error at the event.
///
/// # Examples
///
/// ```
/// use livenstore::{Aggregate, AggregateRoot, DomainError, DomainEvent};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
/// struct Deposited { amount: u64 }
///
/// #[derive(Debug, Default, Aggregate)]
/// #[aggregate(events(Deposited))]
/// struct Account { balance: u64 }
///
/// impl Account {
///     fn on_deposited(&mut self, e: &Deposited) -> Result<(), DomainError> {
///         self.balance += e.amount;
///         Ok(())
///     }
/// }
///
/// let mut account = AggregateRoot::<Account>::new("acc-1");
/// account.apply(Deposited { amount: 5 }).unwrap();
/// assert_eq!(account.balance, 5);
/// assert_eq!(Account::AGGREGATE_TYPE, "Account");
/// ```
pub trait Aggregate: Default + 'static {
    /// The aggregate's name, the first part of its stream names (`<AGGREGATE_TYPE>-<id>`). The
    /// type's own name unless `#[aggregate(name = "...")]` gives another.
    const AGGREGATE_TYPE: &'static str;

    /// The enum of every event this aggregate handles.
    type Event: AggregateEvent;

    /// The error its handlers return.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Runs the handler of `event`.
    ///
    /// # Errors
    ///
    /// Whatever the handler returns.
    fn handle(&mut self, event: &Self::Event) -> Result<(), Self::Error>;

    /// Runs the handler of a typed event value when it is one of this aggregate's events, without
    /// building the enum (replay of payloads that kept their typed value). `None` when `event` is
    /// of no listed type.
    fn handle_typed(&mut self, event: &dyn Any) -> Option<Result<(), Self::Error>>;

    /// The shape of the state type as its source declares it (fields and their types, variants,
    /// `#[serde]` attributes; see [`Shape`]): a snapshot taken by code of another shape is not
    /// used. Written by the derive; [`Shape::UNDECLARED`] for a hand-written impl.
    const STATE_SHAPE: Shape = Shape::UNDECLARED;

    /// Take a snapshot of the state every this many events (`#[aggregate(snapshot_every = N)]`);
    /// 0, the default, takes none. Snapshots need [`encode_snapshot`](Self::encode_snapshot)
    /// and [`decode_snapshot`](Self::decode_snapshot), which the derive writes with it.
    const SNAPSHOT_EVERY: u64 = 0;

    /// Raise it (`#[aggregate(snapshot_version = N)]`, default 1) when the state means something
    /// else without changing shape (a handler computes it differently, a field's own type
    /// changed): snapshots of another snapshot version are not used.
    const SNAPSHOT_VERSION: u32 = 1;

    /// The state as snapshot JSON; `None` for an aggregate without snapshots.
    ///
    /// # Errors
    ///
    /// serde_json's, inside the `Some`.
    fn encode_snapshot(&self) -> Option<Result<Payload, serde_json::Error>> {
        None
    }

    /// The state of a snapshot's JSON; `None` for an aggregate without snapshots.
    ///
    /// # Errors
    ///
    /// serde_json's, inside the `Some`, when the JSON does not fit the state type.
    fn decode_snapshot(json: &[u8]) -> Option<Result<Self, serde_json::Error>> {
        let _ = json;
        None
    }

    /// A copy of the state for a [`Repository`](crate::Repository) cache: the derive writes a
    /// clone when the state type is `Clone + Send + Sync`, and `None` otherwise (such a state is
    /// cached through its snapshot encoding when it has one, else not at all).
    fn cache_copy(&self) -> Option<Box<dyn Any + Send + Sync>> {
        None
    }

    /// The state back from what [`cache_copy`](Self::cache_copy) returned.
    fn from_cache(copy: &(dyn Any + Send + Sync)) -> Option<Self> {
        let _ = copy;
        None
    }

    /// Whether two states are equal, when the state type is `PartialEq` (the derive sees it and
    /// writes the comparison); `None` otherwise. The test kit (`testing::AggregateTest`, feature
    /// `testing`) compares states with it, and with their `Debug` output when it is `None`.
    fn state_eq(&self, other: &Self) -> Option<bool> {
        let _ = other;
        None
    }
}

/// The enum of one aggregate's events, written by `#[derive(Aggregate)]`.
///
/// # Examples
///
/// ```
/// use livenstore::{Aggregate, AggregateEvent, DomainError, DomainEvent};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
/// struct Deposited { amount: u64 }
/// #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
/// #[event(name = "account.withdrawn")]
/// struct Withdrawn { amount: u64 }
///
/// #[derive(Debug, Default, Aggregate)]
/// #[aggregate(events(Deposited, Withdrawn))]
/// struct Account { balance: u64 }
///
/// impl Account {
///     fn on_deposited(&mut self, e: &Deposited) -> Result<(), DomainError> {
///         self.balance += e.amount;
///         Ok(())
///     }
///     fn on_withdrawn(&mut self, e: &Withdrawn) -> Result<(), DomainError> {
///         self.balance = self.balance.checked_sub(e.amount).ok_or(DomainError::new("overdrawn"))?;
///         Ok(())
///     }
/// }
///
/// // The derive wrote `AccountEvent`, one variant per listed event.
/// assert_eq!(AccountEvent::EVENT_TYPES, ["Deposited", "account.withdrawn"]);
/// let event = AccountEvent::from(Deposited { amount: 5 });
/// assert_eq!(event.event_type(), "Deposited");
/// assert_eq!(event.to_new_event().unwrap().payload().as_str(), r#"{"amount":5}"#);
///
/// let stored = AccountEvent::decode("account.withdrawn", 1, br#"{"amount":3}"#).unwrap();
/// assert!(matches!(stored, AccountEvent::Withdrawn(Withdrawn { amount: 3 })));
/// ```
pub trait AggregateEvent: Sized + Send + Sync + 'static {
    /// The type name of every variant, in the order listed.
    const EVENT_TYPES: &'static [&'static str];

    /// The stable type name of this event.
    fn event_type(&self) -> &'static str;

    /// Decodes a stored event (its type name, the version of its type's payload, its JSON): a
    /// comparison of names (each variant's name and aliases), then one JSON parse, through the
    /// variant's upcasts when the stored version is older ([`DomainEvent::from_stored`]).
    ///
    /// [`DomainEvent::from_stored`]: crate::DomainEvent::from_stored
    ///
    /// # Errors
    ///
    /// [`EventDecodeError::UnknownEventType`] when no variant has this name;
    /// [`EventDecodeError::InvalidPayload`] when the JSON does not fit;
    /// [`EventDecodeError::Upcast`] when the version is newer than the variant's or no upcast
    /// leads from it.
    fn decode(event_type: &str, event_version: u32, json: &[u8]) -> Result<Self, EventDecodeError>;

    /// The envelope of this event.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::Serialize`] when serde cannot write it.
    fn to_new_event(&self) -> Result<NewEvent, EnvelopeError>;

    /// The envelope of this event, keeping the typed value for in-memory replay.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::Serialize`] when serde cannot write it.
    fn into_new_event(self) -> Result<NewEvent, EnvelopeError>;

    /// Like [`into_new_event`](Self::into_new_event), but gives the event back when it cannot be
    /// serialized, so a caller that took it out of an unsaved list can put it back.
    ///
    /// The default keeps only the JSON (as [`to_new_event`](Self::to_new_event));
    /// `#[derive(Aggregate)]` overrides it to keep the typed value too.
    ///
    /// # Errors
    ///
    /// The event and [`EnvelopeError::Serialize`] when serde cannot write it.
    fn try_into_new_event(self) -> Result<NewEvent, (Self, EnvelopeError)> {
        match self.to_new_event() {
            Ok(event) => Ok(event),
            Err(err) => Err((self, err)),
        }
    }
}

/// Why a stored event could not be decoded into an aggregate's event enum.
///
/// # Examples
///
/// ```
/// use livenstore::{Aggregate, AggregateEvent, DomainError, DomainEvent, EventDecodeError};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
/// struct Deposited { amount: u64 }
///
/// #[derive(Debug, Default, Aggregate)]
/// #[aggregate(events(Deposited))]
/// struct Account { balance: u64 }
///
/// impl Account {
///     fn on_deposited(&mut self, e: &Deposited) -> Result<(), DomainError> {
///         self.balance += e.amount;
///         Ok(())
///     }
/// }
///
/// assert!(AccountEvent::decode("Deposited", 1, br#"{"amount":5}"#).is_ok());
/// assert!(matches!(
///     AccountEvent::decode("Withdrawn", 1, br#"{"amount":5}"#),
///     Err(EventDecodeError::UnknownEventType)
/// ));
/// assert!(matches!(
///     AccountEvent::decode("Deposited", 1, br#"{"amount":"five"}"#),
///     Err(EventDecodeError::InvalidPayload(_))
/// ));
/// // Written by a newer build, at a version this one does not know.
/// assert!(matches!(
///     AccountEvent::decode("Deposited", 2, br#"{"amount":5}"#),
///     Err(EventDecodeError::Upcast(livenstore::UpcastError::Newer { stored: 2, known: 1 }))
/// ));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventDecodeError {
    /// The aggregate lists no event of this type.
    #[error("the aggregate handles no event of this type")]
    UnknownEventType,
    /// The payload does not decode into the listed type.
    #[error("the payload does not decode")]
    InvalidPayload(#[from] serde_json::Error),
    /// The stored version is newer than the listed type's, no upcast leads from it, or an
    /// upcast refused it.
    #[error("the stored version cannot be brought to the listed type's")]
    Upcast(#[source] UpcastError),
}

impl From<UpcastError> for EventDecodeError {
    /// A payload that does not decode at its version is [`InvalidPayload`](Self::InvalidPayload);
    /// anything else an upcast says is [`Upcast`](Self::Upcast).
    fn from(error: UpcastError) -> Self {
        match error {
            UpcastError::Decode { source, .. } => EventDecodeError::InvalidPayload(source),
            other => EventDecodeError::Upcast(other),
        }
    }
}

/// The handler error used when `#[aggregate(...)]` names no `error` type: a message.
///
/// # Examples
///
/// ```
/// use livenstore::DomainError;
///
/// let err = DomainError::new("balance cannot go below zero");
/// assert_eq!(err.to_string(), "balance cannot go below zero");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DomainError {
    message: Cow<'static, str>,
}

impl DomainError {
    /// An error with this message.
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        DomainError {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}
