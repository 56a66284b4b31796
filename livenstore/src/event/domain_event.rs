//! The [`DomainEvent`] trait, implemented by `#[derive(DomainEvent)]`.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Shape, UpcastError};

#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a domain event",
    label = "`{Self}` does not implement `DomainEvent`",
    note = "add `#[derive(DomainEvent)]` (and `Serialize`, `Deserialize`) to `{Self}`"
)]
/// A domain event: a plain serializable struct or enum with a stable type name.
///
/// Derive it with `#[derive(DomainEvent)]`; the name is the type's own name unless
/// `#[event(name = "...")]` gives another. The derive also registers the type in the
/// [`EventRegistry`](crate::EventRegistry), so a stored `(type name, version, JSON)` can be
/// decoded by name anywhere in the program.
///
/// | `#[event(...)]` key | meaning | default |
/// |---|---|---|
/// | `name = "..."` | the stable type name | the type's name |
/// | `version = n` | the payload's version, stored with each event (1 or more) | 1 |
/// | `upcast_from = Old` | events of `Old` (same name or an alias, a lower version) decode as this type through `TryFrom<Old>` (or `From`; the error's `Display` becomes the message of [`UpcastError::Failed`], and an `UpcastError` is passed on); chains are followed | |
/// | `upcast_json(from = n, with = f)` | a payload of version `n` becomes version `n + 1` through `f: fn(serde_json::Value) -> Result<serde_json::Value, UpcastError>` (repeatable) | |
/// | `aliases("Old", ...)` | older names that decode as this type | |
///
/// Every version below `version` must have a path: covered by `upcast_from` (its versions and
/// below) or by an `upcast_json` step; the derive refuses a gap, a version 0, and an
/// `upcast_from` type of another name or a version not below this one (so no chain loops).
///
/// Versions count per name, aliases included: a type renamed with `aliases("Old")` continues
/// the old name's version numbers (if `Old` reached version 2, the renamed type is version 3
/// and upcasts from 2 and below), since events stored under `Old` carry `Old`'s versions.
///
/// # Examples
///
/// ```
/// use livenstore::DomainEvent;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, DomainEvent)]
/// struct UserCreated { username: String }
///
/// #[derive(Serialize, Deserialize, DomainEvent)]
/// #[event(name = "user.renamed")]
/// struct UserRenamed { new_username: String }
///
/// assert_eq!(UserCreated::EVENT_TYPE, "UserCreated");
/// assert_eq!(UserRenamed::EVENT_TYPE, "user.renamed");
/// ```
pub trait DomainEvent: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The stable name stored with every event of this type. Renaming the Rust type does not
    /// change it when it is set with `#[event(name = "...")]`.
    const EVENT_TYPE: &'static str;

    /// The version of this type's payload, stored with every event of it
    /// (`#[event(version = n)]`; 1 by default). A type whose payload changes shape gets the next
    /// version and an upcast from the previous one, so events stored before still decode.
    const EVENT_VERSION: u32 = 1;

    /// Older names events of this type were stored under (`#[event(aliases("Old"))]`): they
    /// decode as this type.
    const ALIASES: &'static [&'static str] = &[];

    /// The shape of this type as its source declares it, for the schema lock (see [`Shape`]).
    const SHAPE: Shape = Shape::UNDECLARED;

    /// Whether events stored under `name` are of this type: its name or one of its aliases.
    fn answers_to(name: &str) -> bool {
        name == Self::EVENT_TYPE || Self::ALIASES.contains(&name)
    }

    /// Decodes a payload stored at `version` of this type's history, upcasting it to
    /// [`EVENT_VERSION`](Self::EVENT_VERSION) through the chain the derive wrote
    /// (`upcast_from`, `upcast_json`). The store's payload is never rewritten.
    ///
    /// # Errors
    ///
    /// [`UpcastError::Newer`] for a version newer than this type's, [`UpcastError::NoPath`] for
    /// one no upcast leads from, [`UpcastError::Decode`] for a payload that does not decode at
    /// its version, [`UpcastError::Failed`] for an upcast that refused the value.
    fn from_stored(version: u32, json: &[u8]) -> Result<Self, UpcastError> {
        decode_at_version(version, Self::EVENT_VERSION, json)
    }

    /// Whether a payload stored at `version` can be decoded: the version itself, or one an
    /// upcast chain leads from.
    fn upcasts_from(version: u32) -> bool {
        version == Self::EVENT_VERSION
    }
}

/// Decodes `json` as `T` when `version` is `known` (the type's own version), or says why not.
///
/// # Errors
///
/// As [`DomainEvent::from_stored`], for a type with no upcasts.
pub fn decode_at_version<T: DeserializeOwned>(
    version: u32,
    known: u32,
    json: &[u8],
) -> Result<T, UpcastError> {
    if version == known {
        serde_json::from_slice(json).map_err(|source| UpcastError::Decode { version, source })
    } else if version > known {
        Err(UpcastError::Newer {
            stored: version,
            known,
        })
    } else {
        Err(UpcastError::NoPath {
            stored: version,
            known,
        })
    }
}
