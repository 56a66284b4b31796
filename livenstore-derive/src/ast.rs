//! The parsed input of each derive. The original syn nodes are kept, so generated code and
//! errors carry the user's spans.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::ext::IdentExt;
use syn::{DeriveInput, Ident, LitStr, Path};

use crate::attr::{self, AggregateAttrs, EventAttrs, UpcastJson};
use crate::case::to_snake_case;
use crate::ctxt::Errors;

/// The input of `#[derive(DomainEvent)]`.
pub struct Event<'a> {
    /// The type as written.
    pub input: &'a DeriveInput,
    /// Its `#[event(...)]` attributes.
    pub attrs: EventAttrs,
}

impl<'a> Event<'a> {
    /// Parses the input; what is wrong with its attributes goes to `errors` (`valid.rs`
    /// checks the rest).
    pub fn from_syn(input: &'a DeriveInput, errors: &mut Errors) -> Self {
        let attrs = attr::event_attrs(&input.attrs, errors);
        Event { input, attrs }
    }

    /// The stable type name: `#[event(name = "...")]`, or the type's own name.
    pub fn event_type(&self) -> LitStr {
        match &self.attrs.name {
            Some(name) => name.value.clone(),
            None => ident_lit(&self.input.ident),
        }
    }

    /// `version = N`, or 1 (`valid.rs` refuses a value that is no `u32`).
    pub fn version(&self) -> u32 {
        self.attrs
            .version
            .as_ref()
            .and_then(|v| v.value.base10_parse().ok())
            .unwrap_or(1)
    }

    /// Every `upcast_json(from = N, with = f)` whose `from` is a `u32`, with it.
    pub fn json_steps(&self) -> Vec<(u32, &UpcastJson)> {
        self.attrs
            .upcast_json
            .iter()
            .filter_map(|step| Some((step.value.from.base10_parse().ok()?, &step.value)))
            .collect()
    }

    /// `aliases(...)`, or none.
    pub fn aliases(&self) -> &[LitStr] {
        self.attrs.aliases.as_ref().map_or(&[], |a| &a.value)
    }

    /// Whether the derive writes an upcast chain (`upcast_from` or `upcast_json`).
    pub fn upcasts(&self) -> bool {
        self.attrs.upcast_from.is_some() || !self.attrs.upcast_json.is_empty()
    }
}

/// The input of `#[derive(Aggregate)]`.
pub struct Aggregate<'a> {
    /// The type as written.
    pub input: &'a DeriveInput,
    /// Its `#[aggregate(...)]` attributes.
    pub attrs: AggregateAttrs,
}

/// One event of `#[aggregate(events(...))]`, with the names the expansion gives it.
pub struct ListedEvent<'a> {
    /// The event type as written in the list.
    pub path: &'a Path,
    /// Its variant in the event enum: the last segment of the path.
    pub variant: Ident,
    /// The aggregate's method that handles it, spanned at the event.
    pub handler: Ident,
    /// The span errors about this event point at: the last segment of its path.
    pub span: Span,
}

impl<'a> Aggregate<'a> {
    /// Parses the input; what is wrong with its attributes goes to `errors` (`valid.rs`
    /// checks the rest).
    pub fn from_syn(input: &'a DeriveInput, errors: &mut Errors) -> Self {
        let attrs = attr::aggregate_attrs(&input.attrs, errors);
        Aggregate { input, attrs }
    }

    /// The listed events, in order (empty when `events` is missing).
    pub fn events(&self) -> Vec<ListedEvent<'_>> {
        let Some(list) = &self.attrs.events else {
            return Vec::new();
        };
        list.value
            .items
            .iter()
            .filter_map(|item| {
                let last = item.path.segments.last()?;
                let span = last.ident.span();
                let handler = match &item.handler {
                    Some(handler) => handler.value.clone(),
                    // A name that is no identifier is refused by `valid`; this one is unused.
                    None => default_handler(&last.ident)
                        .unwrap_or_else(|| format_ident!("on_event", span = span)),
                };
                Some(ListedEvent {
                    path: &item.path,
                    variant: last.ident.clone(),
                    handler,
                    span,
                })
            })
            .collect()
    }

    /// The event enum's name: `event_enum = ...`, or `<Aggregate>Event`.
    pub fn event_enum(&self) -> Ident {
        match &self.attrs.event_enum {
            Some(ident) => ident.value.clone(),
            None => format_ident!("{}Event", self.input.ident.unraw()),
        }
    }

    /// `AGGREGATE_TYPE`: `name = "..."`, or the type's own name.
    pub fn aggregate_type(&self) -> LitStr {
        match &self.attrs.name {
            Some(name) => name.value.clone(),
            None => ident_lit(&self.input.ident),
        }
    }

    /// The handlers' error type: `error = E`, or `::livenstore::DomainError`.
    pub fn error_type(&self) -> TokenStream {
        match &self.attrs.error {
            Some(ty) => ty.value.to_token_stream(),
            None => quote!(::livenstore::DomainError),
        }
    }
}

/// The identifier as a string literal, without `r#`.
pub fn ident_lit(ident: &Ident) -> LitStr {
    LitStr::new(&ident.unraw().to_string(), ident.span())
}

/// `on_<snake_case>` of an event's name, spanned at it; `None` in the odd case that lowercasing
/// does not give an identifier.
pub fn default_handler(event: &Ident) -> Option<Ident> {
    let name = format!("on_{}", to_snake_case(&event.unraw().to_string()));
    let mut ident = syn::parse_str::<Ident>(&name).ok()?;
    ident.set_span(event.span());
    Some(ident)
}

/// A path as written, without the spaces of token printing: `a::b::C`.
pub fn path_string(path: &Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}
