//! The steps of the upcast chains `#[derive(DomainEvent)]` writes, and the compile-time checks
//! it emits. Named by generated code through `livenstore::__private`; not public API.

use super::{DomainEvent, UpcastError};

/// A JSON-level step: the payload stored at `version` goes through `step` and is decoded as the
/// next version of `T` (further steps applying; the last one decodes the value directly).
///
/// # Errors
///
/// [`UpcastError::Decode`] when the stored payload is not JSON, [`UpcastError::Failed`] from
/// `step`, and the errors of decoding the result.
pub fn json_step<T: DomainEvent>(
    version: u32,
    json: &[u8],
    step: fn(serde_json::Value) -> Result<serde_json::Value, UpcastError>,
) -> Result<T, UpcastError> {
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|source| UpcastError::Decode { version, source })?;
    let next = step(value).map_err(|e| e.at_version(version))?;
    let decode_error = |source| UpcastError::Decode {
        version: version + 1,
        source,
    };
    if version + 1 == T::EVENT_VERSION {
        // The last step: the value decodes as `T` itself, without a round trip through text.
        return serde_json::from_value(next).map_err(decode_error);
    }
    let text = serde_json::to_vec(&next).map_err(decode_error)?;
    T::from_stored(version + 1, &text)
}

/// A typed step: a value of the older type `Old` becomes `T` through `TryFrom` (or `From`).
///
/// # Errors
///
/// [`UpcastError::Failed`] with the conversion's message; an [`UpcastError`] the conversion
/// returned itself (made with [`UpcastError::new`]) is passed on, with the version filled in.
#[inline]
pub fn typed_step<Old: DomainEvent, T: TryFrom<Old>>(old: Old) -> Result<T, UpcastError>
where
    T::Error: std::fmt::Display + 'static,
{
    T::try_from(old).map_err(|e| {
        let from = Old::EVENT_VERSION;
        match (&e as &dyn std::any::Any).downcast_ref::<UpcastError>() {
            Some(UpcastError::Failed { message, .. }) => UpcastError::Failed {
                from,
                message: message.clone(),
            },
            _ => UpcastError::Failed {
                from,
                message: e.to_string(),
            },
        }
    })
}

/// Whether two names are equal, at compile time (for the derive's checks).
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `name` is in `names`, at compile time.
pub const fn str_in(name: &str, names: &[&str]) -> bool {
    let mut i = 0;
    while i < names.len() {
        if str_eq(name, names[i]) {
            return true;
        }
        i += 1;
    }
    false
}

/// The first version in `from..to` that no JSON step of `steps` starts at (0 when every one
/// has one), at compile time: a gap in a chain.
pub const fn first_gap(from: u32, to: u32, steps: &[u32]) -> u32 {
    let mut version = from;
    while version < to {
        let mut found = false;
        let mut i = 0;
        while i < steps.len() {
            if steps[i] == version {
                found = true;
            }
            i += 1;
        }
        if !found {
            return version;
        }
        version += 1;
    }
    0
}

/// Whether every version in `steps` is above `version`, at compile time.
pub const fn all_above(version: u32, steps: &[u32]) -> bool {
    let mut i = 0;
    while i < steps.len() {
        if steps[i] <= version {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether two event types answer to a common name (each one's name or aliases), at compile
/// time: an aggregate lists only one of them.
pub const fn names_overlap(a: &str, a_aliases: &[&str], b: &str, b_aliases: &[&str]) -> bool {
    if str_eq(a, b) || str_in(a, b_aliases) || str_in(b, a_aliases) {
        return true;
    }
    let mut i = 0;
    while i < a_aliases.len() {
        if str_in(a_aliases[i], b_aliases) {
            return true;
        }
        i += 1;
    }
    false
}
