//! The registry of every event type in the program, filled at link time by
//! `#[derive(DomainEvent)]` through [`inventory`].
//!
//! Invariant: a built [`EventRegistry`] maps each name to exactly one Rust type; two types that
//! claim one name make [`EventRegistry::build`] fail with both Rust paths.

use std::any::Any;
use std::collections::HashMap;
use std::sync::OnceLock;

use crate::DomainEvent;

/// Decodes JSON into a boxed value of one registered type.
type DecodeFn = fn(&[u8]) -> Result<Box<dyn Any + Send + Sync>, serde_json::Error>;

/// One registered event type. Made by `#[derive(DomainEvent)]`; users do not build these.
///
/// # Examples
///
/// ```
/// use livenstore::{DomainEvent, EventRegistry};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, DomainEvent)]
/// #[event(name = "doc.registration.shipped")]
/// struct Shipped { order: u64 }
///
/// let registry = EventRegistry::global().unwrap();
/// let registration = registry.get("doc.registration.shipped").unwrap();
/// assert_eq!(registration.event_type(), "doc.registration.shipped");
/// assert!(registration.rust_path().ends_with("::Shipped"));
/// ```
#[derive(Debug)]
pub struct EventRegistration {
    event_type: &'static str,
    rust_path: &'static str,
    decode: DecodeFn,
}

fn decode_boxed<T: DomainEvent>(
    json: &[u8],
) -> Result<Box<dyn Any + Send + Sync>, serde_json::Error> {
    Ok(Box::new(serde_json::from_slice::<T>(json)?))
}

impl EventRegistration {
    /// The registration of `T`, found at `rust_path` (`module_path!()` plus the type name).
    #[doc(hidden)]
    pub const fn new<T: DomainEvent>(rust_path: &'static str) -> Self {
        EventRegistration {
            event_type: T::EVENT_TYPE,
            rust_path,
            decode: decode_boxed::<T>,
        }
    }

    /// The stable event type name.
    pub fn event_type(&self) -> &'static str {
        self.event_type
    }

    /// The Rust path of the type.
    pub fn rust_path(&self) -> &'static str {
        self.rust_path
    }
}

inventory::collect!(EventRegistration);

/// Errors building the registry.
///
/// # Examples
///
/// ```
/// use livenstore::{EventRegistry, RegistryError};
///
/// // Two modules each define an event named `Created`.
/// mod billing {
///     #[derive(serde::Serialize, serde::Deserialize, livenstore::DomainEvent)]
///     pub struct Created { pub invoice: u64 }
/// }
/// mod shipping {
///     #[derive(serde::Serialize, serde::Deserialize, livenstore::DomainEvent)]
///     pub struct Created { pub parcel: u64 }
/// }
///
/// match EventRegistry::build() {
///     Err(RegistryError::DuplicateName { event_type, first, second }) => {
///         assert_eq!(event_type, "Created");
///         assert!(first.ends_with("billing::Created") && second.ends_with("shipping::Created"));
///     }
///     other => panic!("expected a duplicate name, got {other:?}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Two Rust types claim the same event type name.
    #[error(
        "two event types share the name `{event_type}`: `{first}` and `{second}`; give one of them \
         another name with #[event(name = \"...\")]"
    )]
    DuplicateName {
        /// The shared name.
        event_type: &'static str,
        /// The Rust path of one type.
        first: &'static str,
        /// The Rust path of the other.
        second: &'static str,
    },
}

/// Errors decoding a stored event by its type name.
///
/// # Examples
///
/// ```
/// use livenstore::{DomainEvent, EventRegistry, RegistryDecodeError};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, DomainEvent)]
/// #[event(name = "doc.decode.paid")]
/// struct Paid { cents: u64 }
///
/// let registry = EventRegistry::global().unwrap();
/// assert!(registry.decode("doc.decode.paid", br#"{"cents":250}"#).is_ok());
/// assert!(matches!(
///     registry.decode("doc.decode.refunded", br#"{"cents":250}"#),
///     Err(RegistryDecodeError::UnknownEventType(name)) if name == "doc.decode.refunded"
/// ));
/// assert!(matches!(
///     registry.decode("doc.decode.paid", br#"{"cents":"lots"}"#),
///     Err(RegistryDecodeError::InvalidPayload { .. })
/// ));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryDecodeError {
    /// No registered type has this name.
    #[error("no event type named `{0}` is registered (is its #[derive(DomainEvent)] linked in?)")]
    UnknownEventType(String),
    /// The JSON does not decode into the registered type.
    #[error("the payload of a `{event_type}` event does not decode")]
    InvalidPayload {
        /// The type name.
        event_type: String,
        /// serde_json's error.
        source: serde_json::Error,
    },
}

/// Every event type of the program, by name.
///
/// # Examples
///
/// ```
/// use livenstore::{DomainEvent, EventRegistry};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize, DomainEvent)]
/// #[event(name = "doc.registry.created")]
/// struct Created { n: u32 }
///
/// let registry = EventRegistry::global().unwrap();
/// assert!(registry.contains("doc.registry.created"));
/// let value = registry.decode("doc.registry.created", br#"{"n":7}"#).unwrap();
/// assert_eq!(value.downcast_ref::<Created>(), Some(&Created { n: 7 }));
/// ```
#[derive(Debug)]
pub struct EventRegistry {
    by_name: HashMap<&'static str, &'static EventRegistration>,
}

impl EventRegistry {
    /// Builds a registry from every `#[derive(DomainEvent)]` type linked into the program.
    ///
    /// # Errors
    ///
    /// [`RegistryError::DuplicateName`] when two types share a name.
    pub fn build() -> Result<Self, RegistryError> {
        Self::from_registrations(inventory::iter::<EventRegistration>)
    }

    fn from_registrations(
        registrations: impl IntoIterator<Item = &'static EventRegistration>,
    ) -> Result<Self, RegistryError> {
        let mut by_name: HashMap<&'static str, &'static EventRegistration> = HashMap::new();
        for reg in registrations {
            if let Some(previous) = by_name.insert(reg.event_type, reg) {
                // The same type registered twice (never by the derive) is harmless.
                if previous.rust_path != reg.rust_path {
                    let (first, second) = if previous.rust_path < reg.rust_path {
                        (previous.rust_path, reg.rust_path)
                    } else {
                        (reg.rust_path, previous.rust_path)
                    };
                    return Err(RegistryError::DuplicateName {
                        event_type: reg.event_type,
                        first,
                        second,
                    });
                }
            }
        }
        Ok(EventRegistry { by_name })
    }

    /// The registry of the whole program, built once on first use.
    ///
    /// # Errors
    ///
    /// [`RegistryError::DuplicateName`] when two types share a name (every call returns it).
    pub fn global() -> Result<&'static EventRegistry, RegistryError> {
        static GLOBAL: OnceLock<Result<EventRegistry, RegistryError>> = OnceLock::new();
        GLOBAL
            .get_or_init(Self::build)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Whether a type with this name is registered.
    pub fn contains(&self, event_type: &str) -> bool {
        self.by_name.contains_key(event_type)
    }

    /// The registration for a name.
    pub fn get(&self, event_type: &str) -> Option<&'static EventRegistration> {
        self.by_name.get(event_type).copied()
    }

    /// Every registration, sorted by name.
    pub fn registrations(&self) -> Vec<&'static EventRegistration> {
        let mut all: Vec<_> = self.by_name.values().copied().collect();
        all.sort_by_key(|r| r.event_type);
        all
    }

    /// Decodes a stored `(type name, JSON)` pair into a value of the registered type.
    ///
    /// # Errors
    ///
    /// [`RegistryDecodeError::UnknownEventType`] for a name no type has;
    /// [`RegistryDecodeError::InvalidPayload`] when the JSON does not fit the type.
    pub fn decode(
        &self,
        event_type: &str,
        json: &[u8],
    ) -> Result<Box<dyn Any + Send + Sync>, RegistryDecodeError> {
        let reg = self
            .get(event_type)
            .ok_or_else(|| RegistryDecodeError::UnknownEventType(event_type.to_owned()))?;
        (reg.decode)(json).map_err(|source| RegistryDecodeError::InvalidPayload {
            event_type: event_type.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize)]
    struct A;
    impl DomainEvent for A {
        const EVENT_TYPE: &'static str = "same";
    }
    #[derive(serde::Serialize, serde::Deserialize)]
    struct B;
    impl DomainEvent for B {
        const EVENT_TYPE: &'static str = "same";
    }

    static REG_A: EventRegistration = EventRegistration::new::<A>("crate::a::A");
    static REG_B: EventRegistration = EventRegistration::new::<B>("crate::b::B");

    #[test]
    fn duplicate_names_are_reported_with_both_paths() {
        let err = EventRegistry::from_registrations([&REG_B, &REG_A]).unwrap_err();
        assert_eq!(
            err,
            RegistryError::DuplicateName {
                event_type: "same",
                first: "crate::a::A",
                second: "crate::b::B"
            }
        );
        let text = err.to_string();
        assert!(
            text.contains("crate::a::A") && text.contains("crate::b::B"),
            "{text}"
        );
    }

    #[test]
    fn unknown_names_and_bad_json_are_errors() {
        let registry = EventRegistry::from_registrations([&REG_A]).unwrap();
        assert!(matches!(
            registry.decode("missing", b"null"),
            Err(RegistryDecodeError::UnknownEventType(name)) if name == "missing"
        ));
        assert!(matches!(
            registry.decode("same", b"{oops"),
            Err(RegistryDecodeError::InvalidPayload { .. })
        ));
        assert!(registry.decode("same", b"null").is_ok());
    }
}
