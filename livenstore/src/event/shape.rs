//! [`Shape`]: what a type looks like to serde, as its source declares it, with a fingerprint.
//!
//! `#[derive(DomainEvent)]` writes the shape of each event type from its tokens: the kind
//! (struct, tuple, unit, enum), every field's name and type as written, every variant, and every
//! `#[serde(...)]` attribute of the type, its fields and its variants. Two builds whose source
//! declares the same shape give the same fingerprint; a change to any of these gives another
//! (with overwhelming probability). The schema lock
//! ([`testing::check_schema_lock`](crate::testing)) compares fingerprints across builds, and
//! snapshots use the same building block for an aggregate's state.
//!
//! Invariants: the fingerprint is the 64-bit FNV-1a hash of the description's bytes, computed at
//! compile time ([`Shape::of`] is a `const fn`), so it is the same in every build and on every
//! platform. Only what the source says is seen: a change inside a type a field names (a nested
//! struct) does not change the field's shape.

use std::fmt;

/// The shape of a type as serde sees it, described by its source (see the module docs).
///
/// # Examples
///
/// ```
/// use livenstore::{DomainEvent, Shape};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, DomainEvent)]
/// struct Deposited { amount: u64 }
///
/// mod renamed_field {
///     #[derive(serde::Serialize, serde::Deserialize, livenstore::DomainEvent)]
///     pub struct Deposited { pub cents: u64 }
/// }
///
/// let shape = Deposited::SHAPE;
/// assert_eq!(shape.description(), "struct{amount:u64}");
/// assert_ne!(shape.fingerprint(), renamed_field::Deposited::SHAPE.fingerprint());
/// assert_eq!(Shape::of("struct{amount:u64}"), shape);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    fingerprint: u64,
    description: &'static str,
}

impl Shape {
    /// The shape of a type that declares none (a `DomainEvent` implemented by hand): the schema
    /// lock records it but cannot see its changes.
    pub const UNDECLARED: Shape = Shape::of("");

    /// The shape with this description (what the derive writes), its fingerprint computed at
    /// compile time.
    pub const fn of(description: &'static str) -> Shape {
        Shape {
            fingerprint: crate::fnv::hash(description.as_bytes()),
            description,
        }
    }

    /// The 64-bit fingerprint.
    pub const fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The description the fingerprint is taken of.
    pub const fn description(&self) -> &'static str {
        self.description
    }

    /// Whether the type declared its shape (see [`UNDECLARED`](Self::UNDECLARED)).
    pub const fn is_declared(&self) -> bool {
        !self.description.is_empty()
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Shape({:016x}: {:?})",
            self.fingerprint, self.description
        )
    }
}

/// The fingerprint in hexadecimal (16 digits), as the schema lock writes it.
impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.fingerprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_is_fnv1a_of_the_description() {
        // FNV-1a 64 test vectors.
        assert_eq!(Shape::of("").fingerprint(), 0xcbf2_9ce4_8422_2325);
        assert_eq!(Shape::of("a").fingerprint(), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(Shape::of("foobar").fingerprint(), 0x8594_4171_f739_67e8);
        assert!(!Shape::UNDECLARED.is_declared());
        assert_eq!(Shape::of("x").to_string().len(), 16);
    }
}
