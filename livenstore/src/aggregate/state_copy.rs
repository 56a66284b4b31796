//! How `#[derive(Aggregate)]` copies a state for a repository cache and encodes it for a
//! snapshot. Named by generated code through `livenstore::__private`; not public API.
//!
//! The cache copy picks `Clone` when the state type has it, and nothing otherwise, without a
//! bound the user has to write: the derive calls `(&&CacheProbe::<State>::new()).cache_copy(..)`,
//! and method resolution finds [`CacheByClone`] (implemented for `&CacheProbe<T>` when the
//! state is `Clone`, `Send` and `Sync`) before it derefs to [`CacheNotAtAll`] (implemented for
//! every `CacheProbe<T>`). This works because an aggregate type is concrete (the derive refuses
//! generic ones).

use std::any::Any;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::Payload;

/// Stands for the state type `T` in the method resolution that picks a cache copy.
pub struct CacheProbe<T>(PhantomData<fn() -> T>);

impl<T> CacheProbe<T> {
    /// The probe.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        CacheProbe(PhantomData)
    }
}

/// The cache copy of a `Clone` state: a clone.
pub trait CacheByClone<T> {
    /// A boxed clone of `state`.
    fn cache_copy(&self, state: &T) -> Option<Box<dyn Any + Send + Sync>>;
    /// A clone of the state in `copy`.
    fn restore(&self, copy: &(dyn Any + Send + Sync)) -> Option<T>;
}

impl<T: Clone + Send + Sync + 'static> CacheByClone<T> for &CacheProbe<T> {
    fn cache_copy(&self, state: &T) -> Option<Box<dyn Any + Send + Sync>> {
        Some(Box::new(state.clone()))
    }

    fn restore(&self, copy: &(dyn Any + Send + Sync)) -> Option<T> {
        copy.downcast_ref::<T>().cloned()
    }
}

/// No cache copy (the state is not `Clone + Send + Sync`).
pub trait CacheNotAtAll<T> {
    /// `None`.
    fn cache_copy(&self, state: &T) -> Option<Box<dyn Any + Send + Sync>>;
    /// `None`.
    fn restore(&self, copy: &(dyn Any + Send + Sync)) -> Option<T>;
}

impl<T> CacheNotAtAll<T> for CacheProbe<T> {
    fn cache_copy(&self, _: &T) -> Option<Box<dyn Any + Send + Sync>> {
        None
    }

    fn restore(&self, _: &(dyn Any + Send + Sync)) -> Option<T> {
        None
    }
}

/// Stands for the state type `T` in the method resolution that picks how two states compare
/// (the test kit's replay check): `PartialEq` when the state has it, nothing otherwise.
pub struct EqProbe<T>(PhantomData<fn() -> T>);

impl<T> EqProbe<T> {
    /// The probe.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        EqProbe(PhantomData)
    }
}

/// Two states of a `PartialEq` type: compared.
pub trait EqByPartialEq<T> {
    /// `Some(a == b)`.
    fn state_eq(&self, a: &T, b: &T) -> Option<bool>;
}

impl<T: PartialEq> EqByPartialEq<T> for &EqProbe<T> {
    fn state_eq(&self, a: &T, b: &T) -> Option<bool> {
        Some(a == b)
    }
}

/// Two states of a type without `PartialEq`: not comparable here.
pub trait EqNotAtAll<T> {
    /// `None`.
    fn state_eq(&self, a: &T, b: &T) -> Option<bool>;
}

impl<T> EqNotAtAll<T> for EqProbe<T> {
    fn state_eq(&self, _: &T, _: &T) -> Option<bool> {
        None
    }
}

/// The snapshot JSON of a state.
///
/// # Errors
///
/// serde_json's.
pub fn encode_state<T: Serialize>(state: &T) -> Result<Payload, serde_json::Error> {
    Payload::from_serialize(state)
}

/// A state from snapshot JSON.
///
/// # Errors
///
/// serde_json's.
pub fn decode_state<T: DeserializeOwned>(json: &[u8]) -> Result<T, serde_json::Error> {
    serde_json::from_slice(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Cloned(u8);
    struct NotCloned;

    // The double borrow is the point: it is what the derive writes.
    #[allow(clippy::needless_borrow)]
    #[test]
    fn clone_is_picked_when_there_is_one() {
        let copy = (&&CacheProbe::<Cloned>::new())
            .cache_copy(&Cloned(7))
            .unwrap();
        assert_eq!(
            (&&CacheProbe::<Cloned>::new()).restore(&*copy),
            Some(Cloned(7))
        );
        assert!((&&CacheProbe::<NotCloned>::new())
            .cache_copy(&NotCloned)
            .is_none());
        assert!((&&CacheProbe::<NotCloned>::new()).restore(&*copy).is_none());
    }
}
