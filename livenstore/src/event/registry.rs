//! The registry of every event type in the program, filled at link time by
//! `#[derive(DomainEvent)]` through [`inventory`].
//!
//! Invariants of a built [`EventRegistry`]:
//! - each `(name, version)` is claimed by one Rust type, counting aliases as names; two types
//!   that claim one make [`EventRegistry::build`] fail with both Rust paths;
//! - each name (or alias) decodes as its *current* type, the one with the highest version that
//!   answers to it, and that type has an upcast path from every other version claimed under the
//!   name (else the build fails naming both types): a stored event of any registered version
//!   decodes.

use std::any::Any;
use std::collections::HashMap;
use std::sync::OnceLock;

use super::{EventRegistration, UpcastError};

/// Errors building the registry.
///
/// # Examples
///
/// ```
/// use livenstore::{EventRegistry, RegistryError};
///
/// // Two modules each define an event named `Created`, both at version 1.
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
///     Err(RegistryError::DuplicateName { event_type, event_version, first, second }) => {
///         assert_eq!((event_type, event_version), ("Created", 1));
///         assert!(first.ends_with("billing::Created") && second.ends_with("shipping::Created"));
///     }
///     other => panic!("expected a duplicate name, got {other:?}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Two Rust types claim the same event type name (or alias) at the same version.
    #[error(
        "two event types claim `{event_type}` version {event_version}: `{first}` and `{second}`; \
         give one of them another name with #[event(name = \"...\")] or another version"
    )]
    DuplicateName {
        /// The shared name (or alias).
        event_type: &'static str,
        /// The shared version.
        event_version: u32,
        /// The Rust path of one type.
        first: &'static str,
        /// The Rust path of the other.
        second: &'static str,
    },
    /// A type claims a version of a name, but the name's current type (its highest version)
    /// has no upcast path from that version: events stored by the older type would not decode.
    #[error(
        "`{older}` writes `{event_type}` version {event_version}, but `{current}` (version \
         {current_version}, the current type of that name) has no upcast from it; add \
         `upcast_from = ...` or `upcast_json(from = {event_version}, ...)` to `{current}`"
    )]
    NoUpcastPath {
        /// The name (or alias).
        event_type: &'static str,
        /// The older version without a path.
        event_version: u32,
        /// The Rust path of the type of that version.
        older: &'static str,
        /// The Rust path of the current type.
        current: &'static str,
        /// The current type's version.
        current_version: u32,
    },
}

/// Errors decoding a stored event by its type name and version.
///
/// # Examples
///
/// ```
/// use livenstore::{DomainEvent, EventRegistry, RegistryDecodeError, UpcastError};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, DomainEvent)]
/// #[event(name = "doc.decode.paid")]
/// struct Paid { cents: u64 }
///
/// let registry = EventRegistry::global().unwrap();
/// assert!(registry.decode("doc.decode.paid", 1, br#"{"cents":250}"#).is_ok());
/// assert!(matches!(
///     registry.decode("doc.decode.refunded", 1, br#"{"cents":250}"#),
///     Err(RegistryDecodeError::UnknownEventType(name)) if name == "doc.decode.refunded"
/// ));
/// assert!(matches!(
///     registry.decode("doc.decode.paid", 1, br#"{"cents":"lots"}"#),
///     Err(RegistryDecodeError::InvalidPayload { .. })
/// ));
/// assert!(matches!(
///     registry.decode("doc.decode.paid", 2, br#"{"cents":250}"#),
///     Err(RegistryDecodeError::Upcast { source: UpcastError::Newer { stored: 2, known: 1 }, .. })
/// ));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryDecodeError {
    /// No registered type has this name (or alias).
    #[error("no event type named `{0}` is registered (is its #[derive(DomainEvent)] linked in?)")]
    UnknownEventType(String),
    /// The JSON does not decode into the registered type (at its stored version).
    #[error("the payload of a `{event_type}` event does not decode")]
    InvalidPayload {
        /// The type name.
        event_type: String,
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// The stored version is newer than the type's, no upcast leads from it, or an upcast
    /// refused the payload.
    #[error("a `{event_type}` event of version {event_version} cannot be upcast")]
    Upcast {
        /// The type name.
        event_type: String,
        /// The stored version.
        event_version: u32,
        /// Why.
        source: UpcastError,
    },
}

/// Every event type of the program, by name and version.
///
/// A name decodes as its current type, the registered type with the highest version that answers
/// to it (by name or alias); a payload stored at an older version goes through that type's upcast
/// chain.
///
/// # Examples
///
/// ```
/// use livenstore::{DomainEvent, EventRegistry};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize, DomainEvent)]
/// #[event(name = "doc.registry.created", version = 2, upcast_from = CreatedV1)]
/// struct Created { n: u32, by: String }
///
/// #[derive(Serialize, Deserialize, DomainEvent)]
/// #[event(name = "doc.registry.created")]
/// struct CreatedV1 { n: u32 }
///
/// impl From<CreatedV1> for Created {
///     fn from(v1: CreatedV1) -> Self {
///         Created { n: v1.n, by: "unknown".into() }
///     }
/// }
///
/// let registry = EventRegistry::global().unwrap();
/// assert!(registry.contains("doc.registry.created"));
/// assert_eq!(registry.get("doc.registry.created").unwrap().event_version(), 2);
/// let value = registry.decode("doc.registry.created", 1, br#"{"n":7}"#).unwrap();
/// assert_eq!(
///     value.downcast_ref::<Created>(),
///     Some(&Created { n: 7, by: "unknown".into() })
/// );
/// ```
#[derive(Debug)]
pub struct EventRegistry {
    /// Each name and alias, with its current type.
    by_name: HashMap<&'static str, &'static EventRegistration>,
    /// Every registration, sorted by name and version.
    all: Vec<&'static EventRegistration>,
}

impl EventRegistry {
    /// Builds a registry from every `#[derive(DomainEvent)]` type linked into the program.
    ///
    /// # Errors
    ///
    /// [`RegistryError::DuplicateName`] when two types claim one name (or alias) at one version;
    /// [`RegistryError::NoUpcastPath`] when a name's current type cannot decode a version
    /// another type claims.
    pub fn build() -> Result<Self, RegistryError> {
        Self::from_registrations(inventory::iter::<EventRegistration>)
    }

    fn from_registrations(
        registrations: impl IntoIterator<Item = &'static EventRegistration>,
    ) -> Result<Self, RegistryError> {
        let mut all: Vec<&'static EventRegistration> = registrations.into_iter().collect();
        all.sort_by(|a, b| {
            (a.event_type(), a.event_version(), a.rust_path()).cmp(&(
                b.event_type(),
                b.event_version(),
                b.rust_path(),
            ))
        });
        // The same type registered twice (never by the derive) is harmless. Types are told
        // apart by identity, not path: types declared inside functions share their module's.
        let mut seen = std::collections::HashSet::new();
        all.retain(|reg| seen.insert(reg.rust_type()));

        let mut claims: HashMap<(&'static str, u32), &'static EventRegistration> = HashMap::new();
        for &reg in &all {
            for name in reg.names() {
                match claims.get(&(name, reg.event_version())) {
                    Some(previous) if previous.rust_type() != reg.rust_type() => {
                        let (first, second) = ordered(previous.rust_path(), reg.rust_path());
                        return Err(RegistryError::DuplicateName {
                            event_type: name,
                            event_version: reg.event_version(),
                            first,
                            second,
                        });
                    }
                    _ => {
                        claims.insert((name, reg.event_version()), reg);
                    }
                }
            }
        }

        let mut by_name: HashMap<&'static str, &'static EventRegistration> = HashMap::new();
        for (&(name, version), &reg) in &claims {
            let current = by_name.entry(name).or_insert(reg);
            if version > current.event_version() {
                *current = reg;
            }
        }
        // Check in a fixed order, so the same program always reports the same error.
        let mut claimed: Vec<_> = claims.into_iter().collect();
        claimed.sort_by_key(|&((name, version), _)| (name, version));
        for ((name, version), reg) in claimed {
            let current = by_name[name];
            if current.rust_type() != reg.rust_type() && !current.upcasts_from(version) {
                return Err(RegistryError::NoUpcastPath {
                    event_type: name,
                    event_version: version,
                    older: reg.rust_path(),
                    current: current.rust_path(),
                    current_version: current.event_version(),
                });
            }
        }
        Ok(EventRegistry { by_name, all })
    }

    /// The registry of the whole program, built once on first use.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build) (every call returns the same error).
    pub fn global() -> Result<&'static EventRegistry, RegistryError> {
        static GLOBAL: OnceLock<Result<EventRegistry, RegistryError>> = OnceLock::new();
        GLOBAL
            .get_or_init(Self::build)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Whether a type answers to this name (its own or an alias).
    pub fn contains(&self, event_type: &str) -> bool {
        self.by_name.contains_key(event_type)
    }

    /// The current type of a name (or alias): the one stored events of the name decode as.
    pub fn get(&self, event_type: &str) -> Option<&'static EventRegistration> {
        self.by_name.get(event_type).copied()
    }

    /// Every registration, older versions included, sorted by name and version.
    pub fn registrations(&self) -> Vec<&'static EventRegistration> {
        self.all.clone()
    }

    /// Decodes a stored `(type name, version, JSON)` into a value of the name's current type,
    /// upcasting an older version through its chain.
    ///
    /// # Errors
    ///
    /// [`RegistryDecodeError::UnknownEventType`] for a name no type answers to;
    /// [`RegistryDecodeError::InvalidPayload`] when the JSON does not fit its version;
    /// [`RegistryDecodeError::Upcast`] for a version newer than the type's, one no upcast leads
    /// from, or one an upcast refused.
    pub fn decode(
        &self,
        event_type: &str,
        event_version: u32,
        json: &[u8],
    ) -> Result<Box<dyn Any + Send + Sync>, RegistryDecodeError> {
        let reg = self
            .get(event_type)
            .ok_or_else(|| RegistryDecodeError::UnknownEventType(event_type.to_owned()))?;
        reg.decode(event_version, json)
            .map_err(|error| match error {
                UpcastError::Decode { source, .. } => RegistryDecodeError::InvalidPayload {
                    event_type: event_type.to_owned(),
                    source,
                },
                source => RegistryDecodeError::Upcast {
                    event_type: event_type.to_owned(),
                    event_version,
                    source,
                },
            })
    }
}

/// Two Rust paths in sorted order, so an error names them the same way every time.
fn ordered(a: &'static str, b: &'static str) -> (&'static str, &'static str) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{DomainEvent, Shape};

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
    /// Version 2 of "same", with no upcast from 1.
    #[derive(serde::Serialize, serde::Deserialize)]
    struct C;
    impl DomainEvent for C {
        const EVENT_TYPE: &'static str = "same";
        const EVENT_VERSION: u32 = 2;
    }
    /// Version 2 of "same" that upcasts from 1 (by hand), answering to "old" too.
    #[derive(serde::Serialize, serde::Deserialize)]
    struct D;
    impl DomainEvent for D {
        const EVENT_TYPE: &'static str = "same";
        const EVENT_VERSION: u32 = 2;
        const ALIASES: &'static [&'static str] = &["old"];
        const SHAPE: Shape = Shape::of("unit");
        fn from_stored(version: u32, json: &[u8]) -> Result<Self, UpcastError> {
            match version {
                1 | 2 => serde_json::from_slice(json)
                    .map_err(|source| UpcastError::Decode { version, source }),
                _ => crate::event::domain_event::decode_at_version(version, 2, json),
            }
        }
        fn upcasts_from(version: u32) -> bool {
            version == 1 || version == 2
        }
    }
    /// A version-2 type named "old": it collides with D's alias.
    #[derive(serde::Serialize, serde::Deserialize)]
    struct E;
    impl DomainEvent for E {
        const EVENT_TYPE: &'static str = "old";
        const EVENT_VERSION: u32 = 2;
    }

    static REG_A: EventRegistration = EventRegistration::new::<A>("crate::a::A");
    static REG_B: EventRegistration = EventRegistration::new::<B>("crate::b::B");
    static REG_C: EventRegistration = EventRegistration::new::<C>("crate::c::C");
    static REG_D: EventRegistration = EventRegistration::new::<D>("crate::d::D");
    static REG_E: EventRegistration = EventRegistration::new::<E>("crate::e::E");

    #[test]
    fn duplicate_names_are_reported_with_both_paths() {
        let err = EventRegistry::from_registrations([&REG_B, &REG_A]).unwrap_err();
        assert_eq!(
            err,
            RegistryError::DuplicateName {
                event_type: "same",
                event_version: 1,
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

    /// Two types at one Rust path (declared inside two functions of one module).
    static REG_B_AS_A: EventRegistration = EventRegistration::new::<B>("crate::a::A");

    #[test]
    fn types_that_share_a_rust_path_are_still_two_types() {
        let err = EventRegistry::from_registrations([&REG_A, &REG_B_AS_A]).unwrap_err();
        assert!(
            matches!(
                err,
                RegistryError::DuplicateName {
                    event_type: "same",
                    ..
                }
            ),
            "{err:?}"
        );
        let registry = EventRegistry::from_registrations([&REG_C, &REG_B_AS_A, &REG_A]);
        assert!(
            registry.is_err(),
            "v1 and v2 of one name at one path are both registered"
        );
    }

    #[test]
    fn an_alias_claims_its_name_at_the_type_version() {
        let err = EventRegistry::from_registrations([&REG_E, &REG_D]).unwrap_err();
        assert_eq!(
            err,
            RegistryError::DuplicateName {
                event_type: "old",
                event_version: 2,
                first: "crate::d::D",
                second: "crate::e::E"
            }
        );
    }

    #[test]
    fn a_version_the_current_type_cannot_read_is_reported_with_both_paths() {
        let err = EventRegistry::from_registrations([&REG_C, &REG_A]).unwrap_err();
        assert_eq!(
            err,
            RegistryError::NoUpcastPath {
                event_type: "same",
                event_version: 1,
                older: "crate::a::A",
                current: "crate::c::C",
                current_version: 2,
            }
        );
        let text = err.to_string();
        assert!(
            text.contains("crate::a::A") && text.contains("crate::c::C"),
            "{text}"
        );
    }

    #[test]
    fn a_name_and_its_aliases_decode_as_the_highest_version() {
        let registry = EventRegistry::from_registrations([&REG_A, &REG_D, &REG_A]).unwrap();
        assert_eq!(registry.registrations().len(), 2, "the repeat is dropped");
        for name in ["same", "old"] {
            let current = registry.get(name).unwrap();
            assert_eq!(current.rust_path(), "crate::d::D", "{name}");
            let value = registry.decode(name, 1, b"null").unwrap();
            assert!(value.downcast_ref::<D>().is_some(), "{name}");
        }
        assert_eq!(registry.get("same").unwrap().shape(), Shape::of("unit"));
        assert!(matches!(
            registry.decode("same", 3, b"null"),
            Err(RegistryDecodeError::Upcast {
                event_version: 3,
                source: UpcastError::Newer {
                    stored: 3,
                    known: 2
                },
                ..
            })
        ));
    }

    #[test]
    fn unknown_names_and_bad_json_are_errors() {
        let registry = EventRegistry::from_registrations([&REG_A]).unwrap();
        assert!(matches!(
            registry.decode("missing", 1, b"null"),
            Err(RegistryDecodeError::UnknownEventType(name)) if name == "missing"
        ));
        assert!(matches!(
            registry.decode("same", 1, b"{oops"),
            Err(RegistryDecodeError::InvalidPayload { .. })
        ));
        assert!(matches!(
            registry.decode("same", 0, b"null"),
            Err(RegistryDecodeError::Upcast {
                source: UpcastError::NoPath {
                    stored: 0,
                    known: 1
                },
                ..
            })
        ));
        assert!(registry.decode("same", 1, b"null").is_ok());
    }
}
