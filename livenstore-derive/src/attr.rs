//! Every attribute the derives read — `#[event(...)]` and `#[aggregate(...)]` — parsed in one
//! place. Each value keeps the span of its key, so later checks can point at it.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{parenthesized, token, Attribute, Ident, LitStr, Path, Token, Type};

use crate::ctxt::Errors;

mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(events);
    syn::custom_keyword!(error);
    syn::custom_keyword!(event_enum);
    syn::custom_keyword!(handler);
}

/// A value given once with `key = value`, with the key's span.
pub struct Keyed<T> {
    /// The span of the key, for "first one here".
    pub key: Span,
    /// The value.
    pub value: T,
}

/// `#[event(name = "...")]` on a `#[derive(DomainEvent)]` type.
#[derive(Default)]
pub struct EventAttrs {
    /// `name = "..."`: the stable event type name.
    pub name: Option<Keyed<LitStr>>,
}

/// `#[aggregate(events(...), error = E, name = "...", event_enum = Ident)]`.
#[derive(Default)]
pub struct AggregateAttrs {
    /// The span of the first `#[aggregate]` attribute, for errors about a missing key.
    pub attr: Option<Span>,
    /// Whether an attribute failed to parse: a key may then be missing only because of it.
    pub incomplete: bool,
    /// `events(A, B(handler = on_b), path::C)`.
    pub events: Option<Keyed<EventList>>,
    /// `error = E`.
    pub error: Option<Keyed<Type>>,
    /// `name = "..."`.
    pub name: Option<Keyed<LitStr>>,
    /// `event_enum = Ident`.
    pub event_enum: Option<Keyed<Ident>>,
}

/// The parenthesized list of `events(...)`.
pub struct EventList {
    /// The span of the parentheses, for "the list is empty".
    pub span: Span,
    /// The listed events, in order.
    pub items: Vec<EventItem>,
}

/// One listed event: `path::To::Event` or `Event(handler = on_custom)`.
pub struct EventItem {
    /// The event type.
    pub path: Path,
    /// `handler = ident`: a handler other than `on_<snake_case>`.
    pub handler: Option<Keyed<Ident>>,
}

const EVENT_KEYS: &str = "`name`";
const AGGREGATE_KEYS: &str = "`events`, `error`, `name`, `event_enum`";
const EVENT_ITEM_KEYS: &str = "`handler`";

/// Reads every `#[event(...)]` attribute.
pub fn event_attrs(attrs: &[Attribute], errors: &mut Errors) -> EventAttrs {
    let mut out = EventAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("event")) {
        let result = attr.parse_args_with(|input: ParseStream| {
            parse_keys(input, |input| {
                let lookahead = input.lookahead1();
                if lookahead.peek(kw::name) {
                    let key = input.parse::<kw::name>()?.span;
                    input.parse::<Token![=]>()?;
                    let value: LitStr = input.parse()?;
                    set(&mut out.name, "name", key, value, errors);
                    Ok(())
                } else {
                    Err(unknown_key(input, lookahead, "#[event(...)]", EVENT_KEYS))
                }
            })
        });
        errors.ok(result);
    }
    out
}

/// Reads every `#[aggregate(...)]` attribute.
pub fn aggregate_attrs(attrs: &[Attribute], errors: &mut Errors) -> AggregateAttrs {
    let mut out = AggregateAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("aggregate")) {
        out.attr.get_or_insert_with(|| attr_span(attr));
        let result = attr.parse_args_with(|input: ParseStream| {
            parse_keys(input, |input| {
                let lookahead = input.lookahead1();
                if lookahead.peek(kw::events) {
                    let key = input.parse::<kw::events>()?.span;
                    let list = parse_event_list(input, errors)?;
                    set(&mut out.events, "events", key, list, errors);
                } else if lookahead.peek(kw::error) {
                    let key = input.parse::<kw::error>()?.span;
                    input.parse::<Token![=]>()?;
                    let value: Type = input.parse()?;
                    set(&mut out.error, "error", key, value, errors);
                } else if lookahead.peek(kw::name) {
                    let key = input.parse::<kw::name>()?.span;
                    input.parse::<Token![=]>()?;
                    let value: LitStr = input.parse()?;
                    set(&mut out.name, "name", key, value, errors);
                } else if lookahead.peek(kw::event_enum) {
                    let key = input.parse::<kw::event_enum>()?.span;
                    input.parse::<Token![=]>()?;
                    let value: Ident = input.parse()?;
                    set(&mut out.event_enum, "event_enum", key, value, errors);
                } else {
                    return Err(unknown_key(
                        input,
                        lookahead,
                        "#[aggregate(...)]",
                        AGGREGATE_KEYS,
                    ));
                }
                Ok(())
            })
        });
        if errors.ok(result).is_none() {
            out.incomplete = true;
        }
    }
    out
}

/// `(A, B(handler = on_b), path::C)` after the `events` key.
fn parse_event_list(input: ParseStream, errors: &mut Errors) -> syn::Result<EventList> {
    let content;
    let paren = parenthesized!(content in input);
    let mut items = Vec::new();
    while !content.is_empty() {
        let path: Path = content.parse()?;
        let mut item = EventItem {
            path,
            handler: None,
        };
        if content.peek(token::Paren) {
            let options;
            parenthesized!(options in content);
            parse_keys(&options, |input| {
                let lookahead = input.lookahead1();
                if lookahead.peek(kw::handler) {
                    let key = input.parse::<kw::handler>()?.span;
                    input.parse::<Token![=]>()?;
                    let value: Ident = input.parse()?;
                    set(&mut item.handler, "handler", key, value, errors);
                    Ok(())
                } else {
                    Err(unknown_key(
                        input,
                        lookahead,
                        "an event's options",
                        EVENT_ITEM_KEYS,
                    ))
                }
            })?;
        }
        items.push(item);
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(EventList {
        span: paren.span.join(),
        items,
    })
}

/// Runs `one` for each comma-separated `key ...` of an attribute.
fn parse_keys(
    input: ParseStream,
    mut one: impl FnMut(ParseStream) -> syn::Result<()>,
) -> syn::Result<()> {
    while !input.is_empty() {
        one(input)?;
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(())
}

/// The error for a key no arm accepted: "unknown key" at an identifier, else what was expected.
fn unknown_key(
    input: ParseStream,
    lookahead: syn::parse::Lookahead1,
    place: &str,
    valid: &str,
) -> syn::Error {
    if input.peek(Ident::peek_any) {
        if let Ok(ident) = input.call(Ident::parse_any) {
            return syn::Error::new(
                ident.span(),
                format!("unknown key `{ident}` in {place}; the valid keys are {valid}"),
            );
        }
    }
    lookahead.error()
}

/// Stores a value, or reports a duplicate key on its second use with "first one here" on the
/// first.
fn set<T>(slot: &mut Option<Keyed<T>>, name: &str, key: Span, value: T, errors: &mut Errors) {
    match slot {
        Some(first) => {
            let mut error = syn::Error::new(key, format!("duplicate key `{name}`"));
            error.combine(syn::Error::new(
                first.key,
                format!("first `{name}` given here"),
            ));
            errors.push(error);
        }
        None => *slot = Some(Keyed { key, value }),
    }
}

/// The span of the attribute's name (`aggregate` in `#[aggregate(...)]`).
fn attr_span(attr: &Attribute) -> Span {
    attr.path()
        .segments
        .last()
        .map_or_else(Span::call_site, |s| s.ident.span())
}
