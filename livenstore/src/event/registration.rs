//! [`EventRegistration`]: what `#[derive(DomainEvent)]` submits to the registry for one type,
//! collected at link time through [`inventory`].

use std::any::{Any, TypeId};
use std::fmt;

use super::{DomainEvent, Shape, UpcastError};

/// Decodes a payload stored at a version into a boxed value of one registered type, through its
/// upcast chain.
type DecodeFn = fn(u32, &[u8]) -> Result<Box<dyn Any + Send + Sync>, UpcastError>;

/// One registered event type. Made by `#[derive(DomainEvent)]`; users do not build these.
///
/// # Examples
///
/// ```
/// use livenstore::{DomainEvent, EventRegistry};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, DomainEvent)]
/// #[event(name = "doc.registration.shipped", version = 2, aliases("doc.registration.sent"))]
/// #[event(upcast_json(from = 1, with = add_carrier))]
/// struct Shipped { order: u64, carrier: String }
///
/// fn add_carrier(mut v1: serde_json::Value) -> Result<serde_json::Value, livenstore::UpcastError> {
///     v1["carrier"] = "post".into();
///     Ok(v1)
/// }
///
/// let registry = EventRegistry::global().unwrap();
/// let registration = registry.get("doc.registration.shipped").unwrap();
/// assert_eq!(registration.event_type(), "doc.registration.shipped");
/// assert_eq!(registration.event_version(), 2);
/// assert_eq!(registration.aliases(), ["doc.registration.sent"]);
/// assert!(registration.rust_path().ends_with("::Shipped"));
/// assert!(registration.upcasts_from(1) && !registration.upcasts_from(3));
/// assert_eq!(registration.shape(), Shipped::SHAPE);
/// ```
pub struct EventRegistration {
    event_type: &'static str,
    event_version: u32,
    aliases: &'static [&'static str],
    shape: Shape,
    rust_path: &'static str,
    decode: DecodeFn,
    upcasts_from: fn(u32) -> bool,
    rust_type: fn() -> TypeId,
}

fn decode_boxed<T: DomainEvent>(
    version: u32,
    json: &[u8],
) -> Result<Box<dyn Any + Send + Sync>, UpcastError> {
    Ok(Box::new(T::from_stored(version, json)?))
}

impl EventRegistration {
    /// The registration of `T`, found at `rust_path` (`module_path!()` plus the type name).
    #[doc(hidden)]
    pub const fn new<T: DomainEvent>(rust_path: &'static str) -> Self {
        EventRegistration {
            event_type: T::EVENT_TYPE,
            event_version: T::EVENT_VERSION,
            aliases: T::ALIASES,
            shape: T::SHAPE,
            rust_path,
            decode: decode_boxed::<T>,
            upcasts_from: T::upcasts_from,
            rust_type: TypeId::of::<T>,
        }
    }

    /// The stable event type name.
    pub fn event_type(&self) -> &'static str {
        self.event_type
    }

    /// The version of the type's payload ([`DomainEvent::EVENT_VERSION`]).
    pub fn event_version(&self) -> u32 {
        self.event_version
    }

    /// The older names the type answers to ([`DomainEvent::ALIASES`]).
    pub fn aliases(&self) -> &'static [&'static str] {
        self.aliases
    }

    /// The type's declared shape ([`DomainEvent::SHAPE`]).
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The Rust path of the type.
    pub fn rust_path(&self) -> &'static str {
        self.rust_path
    }

    /// Whether a payload stored at `version` decodes as this type: its own version, or one its
    /// upcast chain leads from ([`DomainEvent::upcasts_from`]).
    pub fn upcasts_from(&self, version: u32) -> bool {
        (self.upcasts_from)(version)
    }

    /// Decodes a payload stored at `version` into a boxed value of this type, through the chain.
    pub(crate) fn decode(
        &self,
        version: u32,
        json: &[u8],
    ) -> Result<Box<dyn Any + Send + Sync>, UpcastError> {
        (self.decode)(version, json)
    }

    /// The registered type's identity (two types may share a Rust path: types declared inside
    /// functions of one module).
    pub(crate) fn rust_type(&self) -> TypeId {
        (self.rust_type)()
    }

    /// Every name the type answers to: its own, then its aliases.
    pub(crate) fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.event_type).chain(self.aliases.iter().copied())
    }
}

impl fmt::Debug for EventRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventRegistration")
            .field("event_type", &self.event_type)
            .field("event_version", &self.event_version)
            .field("aliases", &self.aliases)
            .field("shape", &self.shape)
            .field("rust_path", &self.rust_path)
            .finish_non_exhaustive()
    }
}

inventory::collect!(EventRegistration);
