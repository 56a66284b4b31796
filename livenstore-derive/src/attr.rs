//! Every attribute the derives read — `#[event(...)]` and `#[aggregate(...)]` — parsed in one
//! place. Each value keeps the span of its key, so later checks can point at it.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{parenthesized, token, Attribute, Ident, LitInt, LitStr, Path, Token, Type};

use crate::ctxt::Errors;

mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(events);
    syn::custom_keyword!(error);
    syn::custom_keyword!(event_enum);
    syn::custom_keyword!(handler);
    syn::custom_keyword!(version);
    syn::custom_keyword!(upcast_from);
    syn::custom_keyword!(upcast_json);
    syn::custom_keyword!(from);
    syn::custom_keyword!(with);
    syn::custom_keyword!(aliases);
    syn::custom_keyword!(snapshot_every);
    syn::custom_keyword!(snapshot_version);
}

/// A value given once with `key = value`, with the key's span.
pub struct Keyed<T> {
    /// The span of the key, for "first one here".
    pub key: Span,
    /// The value.
    pub value: T,
}

/// `#[event(name = "...", version = N, upcast_from = Old, upcast_json(from = N, with = f),
/// aliases("Old", ...))]` on a `#[derive(DomainEvent)]` type.
#[derive(Default)]
pub struct EventAttrs {
    /// Whether an attribute failed to parse: a key may then be missing only because of it.
    pub incomplete: bool,
    /// `name = "..."`: the stable event type name.
    pub name: Option<Keyed<LitStr>>,
    /// `version = N`: the payload's version.
    pub version: Option<Keyed<LitInt>>,
    /// `upcast_from = Old`: the type of the previous version.
    pub upcast_from: Option<Keyed<Path>>,
    /// `aliases("Old", ...)`: older names.
    pub aliases: Option<Keyed<Vec<LitStr>>>,
    /// Every `upcast_json(from = N, with = f)`, in order (the key may repeat).
    pub upcast_json: Vec<Keyed<UpcastJson>>,
}

/// `upcast_json(from = N, with = path::to::f)`.
pub struct UpcastJson {
    /// `from = N`: the version the step reads.
    pub from: LitInt,
    /// `with = f`: the function.
    pub with: Path,
}

/// `#[aggregate(events(...), error = E, name = "...", event_enum = Ident, snapshot_every = N,
/// snapshot_version = N)]`.
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
    /// `snapshot_every = N`.
    pub snapshot_every: Option<Keyed<LitInt>>,
    /// `snapshot_version = N`.
    pub snapshot_version: Option<Keyed<LitInt>>,
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

const EVENT_KEYS: &str = "`name`, `version`, `upcast_from`, `upcast_json`, `aliases`";
const UPCAST_JSON_KEYS: &str = "`from`, `with`";
const AGGREGATE_KEYS: &str =
    "`events`, `error`, `name`, `event_enum`, `snapshot_every`, `snapshot_version`";
const EVENT_ITEM_KEYS: &str = "`handler`";

/// Reads every `#[event(...)]` attribute.
pub fn event_attrs(attrs: &[Attribute], errors: &mut Errors) -> EventAttrs {
    let mut out = EventAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("event")) {
        let result = attr.parse_args_with(|input: ParseStream| {
            parse_keys(input, |input| {
                let lookahead = input.lookahead1();
                if lookahead.peek(kw::name) {
                    let (key, value) = key_value::<kw::name, LitStr>(input)?;
                    set(&mut out.name, "name", key, value, errors);
                } else if lookahead.peek(kw::version) {
                    let (key, value) = key_value::<kw::version, LitInt>(input)?;
                    set(&mut out.version, "version", key, value, errors);
                } else if lookahead.peek(kw::upcast_from) {
                    let (key, value) = key_value::<kw::upcast_from, Path>(input)?;
                    set(&mut out.upcast_from, "upcast_from", key, value, errors);
                } else if lookahead.peek(kw::aliases) {
                    let key = input.parse::<kw::aliases>()?.span;
                    let content;
                    parenthesized!(content in input);
                    let list = content.parse_terminated(|i| i.parse::<LitStr>(), Token![,])?;
                    set(
                        &mut out.aliases,
                        "aliases",
                        key,
                        list.into_iter().collect(),
                        errors,
                    );
                } else if lookahead.peek(kw::upcast_json) {
                    let key = input.parse::<kw::upcast_json>()?.span;
                    let value = parse_upcast_json(input, key, errors)?;
                    out.upcast_json.push(Keyed { key, value });
                } else {
                    return Err(unknown_key(input, lookahead, "#[event(...)]", EVENT_KEYS));
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
                    let (key, value) = key_value::<kw::error, Type>(input)?;
                    set(&mut out.error, "error", key, value, errors);
                } else if lookahead.peek(kw::name) {
                    let (key, value) = key_value::<kw::name, LitStr>(input)?;
                    set(&mut out.name, "name", key, value, errors);
                } else if lookahead.peek(kw::event_enum) {
                    let (key, value) = key_value::<kw::event_enum, Ident>(input)?;
                    set(&mut out.event_enum, "event_enum", key, value, errors);
                } else if lookahead.peek(kw::snapshot_every) {
                    let (key, value) = key_value::<kw::snapshot_every, LitInt>(input)?;
                    set(
                        &mut out.snapshot_every,
                        "snapshot_every",
                        key,
                        value,
                        errors,
                    );
                } else if lookahead.peek(kw::snapshot_version) {
                    let (key, value) = key_value::<kw::snapshot_version, LitInt>(input)?;
                    set(
                        &mut out.snapshot_version,
                        "snapshot_version",
                        key,
                        value,
                        errors,
                    );
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

/// `(from = N, with = path)` after the `upcast_json` key; both are required.
fn parse_upcast_json(
    input: ParseStream,
    key: Span,
    errors: &mut Errors,
) -> syn::Result<UpcastJson> {
    let content;
    parenthesized!(content in input);
    let mut from: Option<Keyed<LitInt>> = None;
    let mut with: Option<Keyed<Path>> = None;
    parse_keys(&content, |input| {
        let lookahead = input.lookahead1();
        if lookahead.peek(kw::from) {
            let (key, value) = key_value::<kw::from, LitInt>(input)?;
            set(&mut from, "from", key, value, errors);
            Ok(())
        } else if lookahead.peek(kw::with) {
            let (key, value) = key_value::<kw::with, Path>(input)?;
            set(&mut with, "with", key, value, errors);
            Ok(())
        } else {
            Err(unknown_key(
                input,
                lookahead,
                "`upcast_json(...)`",
                UPCAST_JSON_KEYS,
            ))
        }
    })?;
    match (from, with) {
        (Some(from), Some(with)) => Ok(UpcastJson {
            from: from.value,
            with: with.value,
        }),
        (None, _) => Err(syn::Error::new(
            key,
            "`upcast_json` needs `from = N`, the version its function reads",
        )),
        (_, None) => Err(syn::Error::new(
            key,
            "`upcast_json` needs `with = path::to::function`, a \
             `fn(serde_json::Value) -> Result<serde_json::Value, livenstore::UpcastError>`",
        )),
    }
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
                    let (key, value) = key_value::<kw::handler, Ident>(input)?;
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

/// `key = value`: the key's span and the value.
fn key_value<K: Parse + Spanned, T: Parse>(input: ParseStream) -> syn::Result<(Span, T)> {
    let key = input.parse::<K>()?.span();
    input.parse::<Token![=]>()?;
    Ok((key, input.parse()?))
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
