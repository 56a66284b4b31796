//! What a derive emits when its input is refused: the `compile_error!`s, plus a stub impl of the
//! trait so the rest of the program does not add a cascade of "trait not implemented" errors.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput};

use crate::ast::ident_lit;

/// A stub impl is only possible for a concrete struct or enum.
fn can_stub(input: &DeriveInput) -> bool {
    !matches!(input.data, Data::Union(_)) && input.generics.params.is_empty()
}

/// The errors, and `impl DomainEvent` with the type's own name.
pub fn domain_event(input: &DeriveInput, error: &syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    if !can_stub(input) {
        return errors;
    }
    let ident = &input.ident;
    let name = ident_lit(ident);
    quote! {
        #errors
        const _: () = {
            #[automatically_derived]
            impl ::livenstore::DomainEvent for #ident {
                const EVENT_TYPE: &'static ::core::primitive::str = #name;
            }
        };
    }
}

/// The errors, and `impl Aggregate` over an event enum with no variant.
pub fn aggregate(input: &DeriveInput, error: &syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    if !can_stub(input) {
        return errors;
    }
    let ident = &input.ident;
    let name = ident_lit(ident);
    quote! {
        #errors
        const _: () = {
            #[automatically_derived]
            impl ::livenstore::Aggregate for #ident {
                const AGGREGATE_TYPE: &'static ::core::primitive::str = #name;
                type Event = ::livenstore::__private::FallbackEvent;
                type Error = ::livenstore::DomainError;

                fn handle(
                    &mut self,
                    __event: &::livenstore::__private::FallbackEvent,
                ) -> ::core::result::Result<(), ::livenstore::DomainError> {
                    match *__event {}
                }

                fn handle_typed(
                    &mut self,
                    _: &dyn ::core::any::Any,
                ) -> ::core::option::Option<::core::result::Result<(), ::livenstore::DomainError>>
                {
                    ::core::option::Option::None
                }
            }
        };
    }
}
