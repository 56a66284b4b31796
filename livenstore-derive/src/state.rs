//! The state items of `#[derive(Aggregate)]`: `STATE_SHAPE`, the snapshot policy and codec
//! (`snapshot_every`, `snapshot_version`), and the repository cache's copy of the state.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use crate::ast::Aggregate;
use crate::shape;

/// The items, inside `impl ::livenstore::Aggregate for #ident`.
pub fn items(aggregate: &Aggregate) -> TokenStream {
    let state_shape = shape::describe(aggregate.input);
    let snapshot = snapshot_items(aggregate);
    quote! {
        const STATE_SHAPE: ::livenstore::Shape = ::livenstore::Shape::of(#state_shape);

        #snapshot

        // `Clone` when the state has it, nothing otherwise (see `livenstore::__private`).
        #[allow(clippy::needless_borrow)]
        fn cache_copy(
            &self,
        ) -> ::core::option::Option<
            ::std::boxed::Box<dyn ::core::any::Any + ::core::marker::Send + ::core::marker::Sync>,
        > {
            #[allow(unused_imports)]
            use ::livenstore::__private::{CacheByClone as _, CacheNotAtAll as _};
            (&&::livenstore::__private::CacheProbe::<Self>::new()).cache_copy(self)
        }

        #[allow(clippy::needless_borrow)]
        fn from_cache(
            __copy: &(dyn ::core::any::Any + ::core::marker::Send + ::core::marker::Sync),
        ) -> ::core::option::Option<Self> {
            #[allow(unused_imports)]
            use ::livenstore::__private::{CacheByClone as _, CacheNotAtAll as _};
            (&&::livenstore::__private::CacheProbe::<Self>::new()).restore(__copy)
        }

        // `PartialEq` when the state has it, nothing otherwise.
        #[allow(clippy::needless_borrow)]
        fn state_eq(&self, __other: &Self) -> ::core::option::Option<bool> {
            #[allow(unused_imports)]
            use ::livenstore::__private::{EqByPartialEq as _, EqNotAtAll as _};
            (&&::livenstore::__private::EqProbe::<Self>::new()).state_eq(self, __other)
        }
    }
}

/// With `snapshot_every = N`: the policy constants and the state's JSON codec, spanned at
/// `snapshot_every`, so a state that is not `Serialize` or `Deserialize` is an error there.
fn snapshot_items(aggregate: &Aggregate) -> TokenStream {
    let Some(every) = &aggregate.attrs.snapshot_every else {
        return TokenStream::new();
    };
    let span = every.key;
    let every: u64 = every.value.base10_parse().unwrap_or(1);
    let version: u32 = aggregate
        .attrs
        .snapshot_version
        .as_ref()
        .and_then(|v| v.value.base10_parse().ok())
        .unwrap_or(1);
    quote_spanned! {span=>
        const SNAPSHOT_EVERY: ::core::primitive::u64 = #every;
        const SNAPSHOT_VERSION: ::core::primitive::u32 = #version;

        fn encode_snapshot(
            &self,
        ) -> ::core::option::Option<
            ::core::result::Result<::livenstore::Payload, ::livenstore::__private::serde_json::Error>,
        > {
            ::core::option::Option::Some(::livenstore::__private::encode_state(self))
        }

        fn decode_snapshot(
            __json: &[::core::primitive::u8],
        ) -> ::core::option::Option<
            ::core::result::Result<Self, ::livenstore::__private::serde_json::Error>,
        > {
            ::core::option::Option::Some(::livenstore::__private::decode_state::<Self>(__json))
        }
    }
}
