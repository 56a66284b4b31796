//! Code generation. Every path is absolute (`::core::...`, `::livenstore::...`), every impl is
//! `#[automatically_derived]`, and helper items live in an anonymous `const _: () = { ... };`.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::DeriveInput;

use crate::ast::{self, Aggregate, Event};
use crate::{fallback, valid};

/// `#[derive(DomainEvent)]`: the impl, or the errors and a stub impl.
pub fn derive_domain_event(input: &DeriveInput) -> TokenStream {
    match valid::event(input) {
        Ok(event) => domain_event(&event),
        Err(error) => fallback::domain_event(input, &error),
    }
}

/// `#[derive(Aggregate)]`: the event enum and impls, or the errors and a stub impl.
pub fn derive_aggregate(input: &DeriveInput) -> TokenStream {
    match valid::aggregate(input) {
        Ok(aggregate) => aggregate_impl(&aggregate),
        Err(error) => fallback::aggregate(input, &error),
    }
}

fn domain_event(event: &Event) -> TokenStream {
    let ident = &event.input.ident;
    let event_type = event.event_type();
    let rust_name = ast::ident_lit(ident);
    quote! {
        const _: () = {
            #[automatically_derived]
            impl ::livenstore::DomainEvent for #ident {
                const EVENT_TYPE: &'static ::core::primitive::str = #event_type;
            }

            ::livenstore::__private::inventory::submit! {
                ::livenstore::__private::EventRegistration::new::<#ident>(
                    ::core::concat!(::core::module_path!(), "::", #rust_name)
                )
            }
        };
    }
}

fn aggregate_impl(aggregate: &Aggregate) -> TokenStream {
    let ident = &aggregate.input.ident;
    let vis = &aggregate.input.vis;
    let event_enum = aggregate.event_enum();
    let aggregate_type = aggregate.aggregate_type();
    let error = aggregate.error_type();
    let events = aggregate.events();

    let paths: Vec<_> = events.iter().map(|e| e.path).collect();
    let variants: Vec<_> = events.iter().map(|e| &e.variant).collect();
    let dispatch: Vec<_> = (0..events.len())
        .map(|i| format_ident!("__livenstore_dispatch_{}", i))
        .collect();

    let name = ident.unraw();
    let enum_doc = format!(
        "The events of the `{name}` aggregate: one variant per event listed in its \
         `#[aggregate(events(...))]`.\n\nWritten by `#[derive(Aggregate)]`; every listed event \
         converts into it with `From`."
    );
    let variant_docs = events
        .iter()
        .map(|e| format!("A `{}` event.", ast::path_string(e.path)));

    // Each handler is called through a fn pointer of the exact expected type, spanned at the
    // event in the list: a missing or mistyped handler is one error there. The pointer is a
    // known fn item, so the call inlines in release builds.
    let dispatch_fns = events.iter().zip(&dispatch).map(|(event, dispatch)| {
        let path = event.path;
        let handler = &event.handler;
        let at_event = respan(quote!(#ident), event.span);
        let error_at_event = respan(error.clone(), event.span);
        let call = quote_spanned! {event.span=>
            let __handler: fn(&mut #at_event, &#path)
                -> ::core::result::Result<(), #error_at_event> = #at_event::#handler;
        };
        quote! {
            #[inline(always)]
            fn #dispatch(
                __aggregate: &mut #ident,
                __event: &#path,
            ) -> ::core::result::Result<(), #error> {
                #call
                __handler(__aggregate, __event)
            }
        }
    });

    // `T: DomainEvent` for every listed type, as a where clause spanned at the event in the
    // list: the trait's own message ("`T` is not a domain event") points there, once, and the
    // bodies that rely on it add no further errors.
    let bounds: Vec<_> = events
        .iter()
        .map(|event| {
            let path = event.path;
            quote_spanned! {event.span=> #path: ::livenstore::DomainEvent }
        })
        .collect();

    quote! {
        #[doc = #enum_doc]
        #[derive(::core::fmt::Debug, ::core::clone::Clone)]
        #[allow(clippy::large_enum_variant)]
        #vis enum #event_enum {
            #(
                #[doc = #variant_docs]
                #variants(#paths),
            )*
        }

        const _: () = {
            #(
                #[automatically_derived]
                impl ::core::convert::From<#paths> for #event_enum {
                    #[inline]
                    fn from(__event: #paths) -> Self {
                        #event_enum::#variants(__event)
                    }
                }
            )*

            #[automatically_derived]
            impl ::livenstore::AggregateEvent for #event_enum
            where
                #(#bounds,)*
            {
                const EVENT_TYPES: &'static [&'static ::core::primitive::str] = &[
                    #(<#paths as ::livenstore::DomainEvent>::EVENT_TYPE,)*
                ];

                #[inline]
                fn event_type(&self) -> &'static ::core::primitive::str {
                    match self {
                        #(
                            #event_enum::#variants(_) =>
                                <#paths as ::livenstore::DomainEvent>::EVENT_TYPE,
                        )*
                    }
                }

                fn decode(
                    __event_type: &::core::primitive::str,
                    __json: &[::core::primitive::u8],
                ) -> ::core::result::Result<Self, ::livenstore::EventDecodeError> {
                    #(
                        if __event_type == <#paths as ::livenstore::DomainEvent>::EVENT_TYPE {
                            return ::core::result::Result::map_err(
                                ::core::result::Result::map(
                                    ::livenstore::__private::serde_json::from_slice::<#paths>(__json),
                                    #event_enum::#variants,
                                ),
                                ::livenstore::EventDecodeError::InvalidPayload,
                            );
                        }
                    )*
                    ::core::result::Result::Err(::livenstore::EventDecodeError::UnknownEventType)
                }

                fn to_new_event(
                    &self,
                ) -> ::core::result::Result<::livenstore::NewEvent, ::livenstore::EnvelopeError> {
                    match self {
                        #(
                            #event_enum::#variants(__event) =>
                                ::livenstore::NewEvent::from_domain(__event),
                        )*
                    }
                }

                fn into_new_event(
                    self,
                ) -> ::core::result::Result<::livenstore::NewEvent, ::livenstore::EnvelopeError> {
                    match self {
                        #(
                            #event_enum::#variants(__event) =>
                                ::livenstore::NewEvent::from_domain_owned(__event),
                        )*
                    }
                }

                fn try_into_new_event(
                    self,
                ) -> ::core::result::Result<
                    ::livenstore::NewEvent,
                    (Self, ::livenstore::EnvelopeError),
                > {
                    match self {
                        #(
                            #event_enum::#variants(__event) =>
                                ::core::result::Result::map_err(
                                    ::livenstore::NewEvent::try_from_domain_owned(__event),
                                    |(__event, __err)| (#event_enum::#variants(__event), __err),
                                ),
                        )*
                    }
                }
            }

            #(#dispatch_fns)*

            #[automatically_derived]
            impl ::livenstore::Aggregate for #ident
            where
                #(#bounds,)*
            {
                const AGGREGATE_TYPE: &'static ::core::primitive::str = #aggregate_type;
                type Event = #event_enum;
                type Error = #error;

                #[inline]
                fn handle(
                    &mut self,
                    __event: &#event_enum,
                ) -> ::core::result::Result<(), #error> {
                    match __event {
                        #(#event_enum::#variants(__event) => #dispatch(self, __event),)*
                    }
                }

                #[inline]
                fn handle_typed(
                    &mut self,
                    __any: &dyn ::core::any::Any,
                ) -> ::core::option::Option<::core::result::Result<(), #error>> {
                    #(
                        if let ::core::option::Option::Some(__event) =
                            <dyn ::core::any::Any>::downcast_ref::<#paths>(__any)
                        {
                            return ::core::option::Option::Some(#dispatch(self, __event));
                        }
                    )*
                    ::core::option::Option::None
                }
            }
        };
    }
}

/// The tokens with every span set to `span`, so an error about them points there.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut inner = Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = TokenTree::Group(inner);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}
