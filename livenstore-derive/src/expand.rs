//! Code generation. Every path is absolute (`::core::...`, `::livenstore::...`), every impl is
//! `#[automatically_derived]`, and helper items live in an anonymous `const _: () = { ... };`.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::DeriveInput;

use crate::ast::{self, Aggregate, Event};
use crate::{fallback, shape, state, valid};

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
    let version = event.version();
    let aliases = event.aliases();
    let shape = shape::describe(event.input);
    let rust_name = ast::ident_lit(ident);
    let chain = event.upcasts().then(|| upcast_chain(event));
    let checks = upcast_from_checks(event);
    quote! {
        const _: () = {
            #[automatically_derived]
            impl ::livenstore::DomainEvent for #ident {
                const EVENT_TYPE: &'static ::core::primitive::str = #event_type;
                const EVENT_VERSION: ::core::primitive::u32 = #version;
                const ALIASES: &'static [&'static ::core::primitive::str] = &[#(#aliases),*];
                const SHAPE: ::livenstore::Shape = ::livenstore::Shape::of(#shape);
                #chain
            }

            #checks

            ::livenstore::__private::inventory::submit! {
                ::livenstore::__private::EventRegistration::new::<#ident>(
                    ::core::concat!(::core::module_path!(), "::", #rust_name)
                )
            }
        };
    }
}

/// `from_stored` and `upcasts_from` for a type with `upcast_from` or `upcast_json`: its own
/// version decodes directly, a version with a JSON step goes through it (and on), a version the
/// older type reads goes through that type's chain and `TryFrom`, anything else is an error.
fn upcast_chain(event: &Event) -> TokenStream {
    let version = event.version();
    let steps = event.json_steps();
    let froms: Vec<u32> = steps.iter().map(|(from, _)| *from).collect();
    let json_steps = steps.iter().map(|(from, step)| {
        let with = &step.with;
        let span = with
            .segments
            .last()
            .map_or_else(Span::call_site, |s| s.ident.span());
        // The fn pointer of the exact expected type, spanned at `with = ...`: a function of
        // another signature is one error there.
        quote_spanned! {span=>
            if __version == #from {
                let __step: fn(
                    ::livenstore::__private::serde_json::Value,
                ) -> ::core::result::Result<
                    ::livenstore::__private::serde_json::Value,
                    ::livenstore::UpcastError,
                > = #with;
                return ::livenstore::__private::json_step::<Self>(__version, __json, __step);
            }
        }
    });
    let (typed_step, typed_reads) = match &event.attrs.upcast_from {
        Some(old) => {
            let old = &old.value;
            let span = path_span(old);
            (
                quote_spanned! {span=>
                    if __version < #version
                        && <#old as ::livenstore::DomainEvent>::upcasts_from(__version)
                    {
                        return match <#old as ::livenstore::DomainEvent>::from_stored(
                            __version, __json,
                        ) {
                            ::core::result::Result::Ok(__old) =>
                                ::livenstore::__private::typed_step::<#old, Self>(__old),
                            ::core::result::Result::Err(__error) =>
                                ::core::result::Result::Err(__error),
                        };
                    }
                },
                quote! {
                    || (__version < #version
                        && <#old as ::livenstore::DomainEvent>::upcasts_from(__version))
                },
            )
        }
        None => (TokenStream::new(), TokenStream::new()),
    };
    quote! {
        fn from_stored(
            __version: ::core::primitive::u32,
            __json: &[::core::primitive::u8],
        ) -> ::core::result::Result<Self, ::livenstore::UpcastError> {
            if __version == #version {
                return ::livenstore::__private::decode_at_version(__version, #version, __json);
            }
            #(#json_steps)*
            #typed_step
            ::livenstore::__private::decode_at_version(__version, #version, __json)
        }

        fn upcasts_from(__version: ::core::primitive::u32) -> ::core::primitive::bool {
            __version == #version #(|| __version == #froms)* #typed_reads
        }
    }
}

/// For `upcast_from = Old`, what only the compiler can check, as constants that fail to
/// evaluate at `Old`: `Old` answers to this name (or an alias), has a lower version (so chains
/// cannot loop), and leaves no version between its own and this one without a JSON step, and
/// no JSON step reads a version `Old` covers already.
fn upcast_from_checks(event: &Event) -> TokenStream {
    let Some(old) = &event.attrs.upcast_from else {
        return TokenStream::new();
    };
    let old = &old.value;
    let span = path_span(old);
    let ident = event.input.ident.unraw();
    let old_name = ast::path_string(old);
    let name = event.event_type();
    let name_value = name.value();
    let aliases = event.aliases();
    let version = event.version();
    let froms: Vec<u32> = event.json_steps().iter().map(|(from, _)| *from).collect();

    let wrong_name = format!(
        "`{old_name}` (the `upcast_from` of `{ident}`) must have the event name \
         `{name_value}` or one of `{ident}`'s aliases"
    );
    let not_older = format!(
        "`{old_name}` (the `upcast_from` of `{ident}`) must have a version below {version}"
    );
    let gap = format!(
        "a version between `{old_name}`'s and {version} has no upcast: add an \
         `upcast_json(from = ..., with = ...)` for it to `{ident}`"
    );
    let overlap = format!(
        "an `upcast_json(from = ...)` of `{ident}` reads a version `{old_name}` (its \
         `upcast_from`) reads already: remove one of the two"
    );
    quote_spanned! {span=>
        const _: () = {
            let __old = <#old as ::livenstore::DomainEvent>::EVENT_TYPE;
            ::core::assert!(
                ::livenstore::__private::str_eq(__old, #name)
                    || ::livenstore::__private::str_in(__old, &[#(#aliases),*]),
                #wrong_name
            );
        };
        const _: () = ::core::assert!(
            <#old as ::livenstore::DomainEvent>::EVENT_VERSION < #version,
            #not_older
        );
        const _: () = ::core::assert!(
            <#old as ::livenstore::DomainEvent>::EVENT_VERSION >= #version
                || ::livenstore::__private::first_gap(
                    <#old as ::livenstore::DomainEvent>::EVENT_VERSION + 1,
                    #version,
                    &[#(#froms),*],
                ) == 0,
            #gap
        );
        const _: () = ::core::assert!(
            ::livenstore::__private::all_above(
                <#old as ::livenstore::DomainEvent>::EVENT_VERSION,
                &[#(#froms),*],
            ),
            #overlap
        );
    }
}

/// For each pair of listed events, a constant that fails to evaluate, at the later one, when
/// both answer to one name (their names or aliases): decoding would pick the first, whatever
/// the stored version. An aggregate lists an event's current type only.
fn name_overlap_checks(events: &[ast::ListedEvent]) -> TokenStream {
    let mut checks = TokenStream::new();
    for (j, later) in events.iter().enumerate() {
        for earlier in &events[..j] {
            let (a, b) = (earlier.path, later.path);
            let message = format!(
                "`{}` and `{}` answer to one event name: list only the current type of an \
                 event (its older versions decode through its upcasts)",
                ast::path_string(b),
                ast::path_string(a)
            );
            checks.extend(quote_spanned! {later.span=>
                const _: () = ::core::assert!(
                    !::livenstore::__private::names_overlap(
                        <#a as ::livenstore::DomainEvent>::EVENT_TYPE,
                        <#a as ::livenstore::DomainEvent>::ALIASES,
                        <#b as ::livenstore::DomainEvent>::EVENT_TYPE,
                        <#b as ::livenstore::DomainEvent>::ALIASES,
                    ),
                    #message
                );
            });
        }
    }
    checks
}

/// The span of a path's last segment, where errors about it point.
fn path_span(path: &syn::Path) -> Span {
    path.segments
        .last()
        .map_or_else(Span::call_site, |s| s.ident.span())
}

fn aggregate_impl(aggregate: &Aggregate) -> TokenStream {
    let ident = &aggregate.input.ident;
    let vis = &aggregate.input.vis;
    let event_enum = aggregate.event_enum();
    let aggregate_type = aggregate.aggregate_type();
    let error = aggregate.error_type();
    let events = aggregate.events();
    let state_items = state::items(aggregate);

    let paths: Vec<_> = events.iter().map(|e| e.path).collect();
    let variants: Vec<_> = events.iter().map(|e| &e.variant).collect();
    let dispatch: Vec<_> = (0..events.len())
        .map(|i| format_ident!("__livenstore_dispatch_{}", i))
        .collect();

    let overlaps = name_overlap_checks(&events);
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
                    __event_version: ::core::primitive::u32,
                    __json: &[::core::primitive::u8],
                ) -> ::core::result::Result<Self, ::livenstore::EventDecodeError> {
                    #(
                        if <#paths as ::livenstore::DomainEvent>::answers_to(__event_type) {
                            return ::core::result::Result::map_err(
                                ::core::result::Result::map(
                                    <#paths as ::livenstore::DomainEvent>::from_stored(
                                        __event_version,
                                        __json,
                                    ),
                                    #event_enum::#variants,
                                ),
                                ::livenstore::EventDecodeError::from,
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

            #overlaps

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

                #state_items
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
