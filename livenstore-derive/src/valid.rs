//! Cross-checks of the parsed input, one `check_*` function per rule. Each pushes its errors and
//! returns, so every problem is reported in one pass.

use std::collections::HashMap;

use syn::{Data, DeriveInput, LitStr};

use crate::ast::{default_handler, path_string, Aggregate, Event};
use crate::ctxt::Errors;

/// Parses and checks the input of `#[derive(DomainEvent)]`, reporting every problem at once.
pub fn event(input: &DeriveInput) -> syn::Result<Event<'_>> {
    let mut errors = Errors::default();
    let event = Event::from_syn(input, &mut errors);
    check_event(&event, &mut errors);
    errors.finish().map(|()| event)
}

/// Parses and checks the input of `#[derive(Aggregate)]`, reporting every problem at once.
pub fn aggregate(input: &DeriveInput) -> syn::Result<Aggregate<'_>> {
    let mut errors = Errors::default();
    let aggregate = Aggregate::from_syn(input, &mut errors);
    check_aggregate(&aggregate, &mut errors);
    errors.finish().map(|()| aggregate)
}

/// Every rule of `#[derive(DomainEvent)]`.
pub fn check_event(event: &Event, errors: &mut Errors) {
    check_not_union(event.input, "DomainEvent", errors);
    check_not_generic(
        event.input,
        "generic event types cannot be registered by name; derive `DomainEvent` on a concrete \
         type, or implement it by hand for each instantiation with a distinct `EVENT_TYPE`",
        errors,
    );
    if let Some(name) = &event.attrs.name {
        check_name_not_empty(&name.value, "event", errors);
    }
    check_version(event, errors);
    check_upcast_from_has_room(event, errors);
    check_json_steps(event, errors);
    check_no_gap(event, errors);
    check_aliases(event, errors);
}

/// `version = 0` or a version that is no `u32`: versions start at 1. Refused at the number.
fn check_version(event: &Event, errors: &mut Errors) {
    if let Some(version) = &event.attrs.version {
        match version.value.base10_parse::<u32>() {
            Ok(0) => errors.push(syn::Error::new(
                version.value.span(),
                "event versions start at 1: the first version of a type is `version = 1` (the \
                 default)",
            )),
            Ok(_) => {}
            Err(error) => errors.push(error),
        }
    }
}

/// `upcast_from = Old` on a type of version 1: the older type needs a lower version, and there
/// is none. Refused at `upcast_from`. (That `Old` has a lower version and this name is checked
/// when the program compiles, by the assertions the expansion writes.)
fn check_upcast_from_has_room(event: &Event, errors: &mut Errors) {
    if let Some(from) = &event.attrs.upcast_from {
        if event.version() < 2 {
            errors.push(syn::Error::new(
                from.key,
                "`upcast_from` reads an older version of this event, so this type needs \
                 `version = 2` or more",
            ));
        }
    }
}

/// `upcast_json(from = N)` with `N` 0, not below this type's version, not a `u32`, or given
/// twice. Refused at the number (the second, with the first noted).
fn check_json_steps(event: &Event, errors: &mut Errors) {
    let version = event.version();
    let mut seen: HashMap<u32, proc_macro2::Span> = HashMap::new();
    for step in &event.attrs.upcast_json {
        let lit = &step.value.from;
        let from = match lit.base10_parse::<u32>() {
            Ok(from) => from,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        if version == 1 {
            errors.push(syn::Error::new(
                step.key,
                "`upcast_json` reads an older version of this event, so this type needs \
                 `version = 2` or more",
            ));
        } else if from == 0 || from >= version {
            errors.push(syn::Error::new(
                lit.span(),
                format!(
                    "`upcast_json(from = {from})` must read a version from 1 to {}, below this \
                     type's `version = {version}`",
                    version.saturating_sub(1)
                ),
            ));
        } else if let Some(first) = seen.get(&from) {
            let mut error = syn::Error::new(
                lit.span(),
                format!("version {from} has two `upcast_json` steps"),
            );
            error.combine(syn::Error::new(*first, "the first one is here"));
            errors.push(error);
        } else {
            seen.insert(from, lit.span());
        }
    }
}

/// Without `upcast_from`, every version below this type's needs an `upcast_json` step, or
/// events stored at it would not decode. Refused at the version, naming the first missing one.
/// (With `upcast_from = Old`, the versions above `Old`'s are checked when the program
/// compiles.)
fn check_no_gap(event: &Event, errors: &mut Errors) {
    let Some(version) = &event.attrs.version else {
        return;
    };
    let current = event.version();
    // A step that failed to parse may be the one that covers the gap: that error is enough.
    if event.attrs.upcast_from.is_some() || current < 2 || event.attrs.incomplete {
        return;
    }
    let steps: Vec<u32> = event.json_steps().iter().map(|(from, _)| *from).collect();
    if let Some(gap) = (1..current).find(|v| !steps.contains(v)) {
        errors.push(syn::Error::new(
            version.value.span(),
            format!(
                "events stored at version {gap} would not decode: nothing upcasts version {gap} \
                 to version {current}; add `upcast_from = ...` (the type of the older version) \
                 or `upcast_json(from = {gap}, with = ...)`"
            ),
        ));
    }
}

/// `aliases(...)` that is empty, holds an empty name or this type's own name, or a name twice.
/// Refused at the name.
fn check_aliases(event: &Event, errors: &mut Errors) {
    let Some(aliases) = &event.attrs.aliases else {
        return;
    };
    if aliases.value.is_empty() {
        errors.push(syn::Error::new(
            aliases.key,
            "`aliases(...)` is empty: list the older names, e.g. `aliases(\"MoneyDeposited\")`",
        ));
    }
    let own = event.event_type().value();
    let mut seen: HashMap<String, proc_macro2::Span> = HashMap::new();
    for alias in &aliases.value {
        let name = alias.value();
        if name.is_empty() {
            errors.push(syn::Error::new(alias.span(), "an alias cannot be empty"));
        } else if name == own {
            errors.push(syn::Error::new(
                alias.span(),
                format!("`{name}` is this event's own name, not an older one"),
            ));
        } else if let Some(first) = seen.get(&name) {
            let mut error =
                syn::Error::new(alias.span(), format!("the alias `{name}` is listed twice"));
            error.combine(syn::Error::new(*first, "first listed here"));
            errors.push(error);
        } else {
            seen.insert(name, alias.span());
        }
    }
}

/// Every rule of `#[derive(Aggregate)]`.
pub fn check_aggregate(aggregate: &Aggregate, errors: &mut Errors) {
    check_not_union(aggregate.input, "Aggregate", errors);
    check_not_generic(
        aggregate.input,
        "generic aggregates are not supported: an aggregate has one `AGGREGATE_TYPE` and one \
         event enum; derive `Aggregate` on a concrete type",
        errors,
    );
    check_events_given(aggregate, errors);
    check_events_unique(aggregate, errors);
    check_handler_names(aggregate, errors);
    if let Some(name) = &aggregate.attrs.name {
        check_name_not_empty(&name.value, "aggregate", errors);
    }
    check_event_enum_is_not_the_aggregate(aggregate, errors);
    check_snapshot_policy(aggregate, errors);
}

/// `snapshot_every = 0` (or not a `u64`), `snapshot_version = 0` (or not a `u32`), and a
/// `snapshot_version` without `snapshot_every`. Refused at the number or the key.
fn check_snapshot_policy(aggregate: &Aggregate, errors: &mut Errors) {
    let attrs = &aggregate.attrs;
    if let Some(every) = &attrs.snapshot_every {
        match every.value.base10_parse::<u64>() {
            Ok(0) => errors.push(syn::Error::new(
                every.value.span(),
                "`snapshot_every` is how many events to replay at most after a snapshot: 1 or \
                 more (remove it to take no snapshots)",
            )),
            Ok(_) => {}
            Err(error) => errors.push(error),
        }
    }
    if let Some(version) = &attrs.snapshot_version {
        match version.value.base10_parse::<u32>() {
            Ok(0) => errors.push(syn::Error::new(
                version.value.span(),
                "snapshot versions start at 1 (the default); raise it to drop older snapshots",
            )),
            Ok(_) => {}
            Err(error) => errors.push(error),
        }
        if attrs.snapshot_every.is_none() {
            errors.push(syn::Error::new(
                version.key,
                "`snapshot_version` needs `snapshot_every = N`: without it no snapshot is taken",
            ));
        }
    }
}

/// A union has no safe way to be serialized or to default: `union U { .. }` is refused at the
/// `union` keyword.
fn check_not_union(input: &DeriveInput, derive: &str, errors: &mut Errors) {
    if let Data::Union(data) = &input.data {
        errors.push(syn::Error::new(
            data.union_token.span,
            format!("`{derive}` cannot be derived for a union; use a struct or an enum"),
        ));
    }
}

/// `struct Moved<T>` or `struct Named<'a>` has no single name to store: refused at the
/// generics. A `where` clause without parameters is fine.
fn check_not_generic(input: &DeriveInput, message: &str, errors: &mut Errors) {
    if !input.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(&input.generics, message));
    }
}

/// `#[event(name = "")]`: a stored event needs a non-empty type name; refused at the string.
fn check_name_not_empty(name: &LitStr, what: &str, errors: &mut Errors) {
    if name.value().is_empty() {
        errors.push(syn::Error::new(
            name.span(),
            format!("the {what} name cannot be empty; remove `name` to use the type's own name"),
        ));
    }
}

/// `#[aggregate(error = E)]` without `events(...)`, or `events()`: an aggregate handles at least
/// one event. Refused at the attribute (missing) or at the empty parentheses; not reported when
/// an attribute already failed to parse, which may be why the key is missing.
fn check_events_given(aggregate: &Aggregate, errors: &mut Errors) {
    match &aggregate.attrs.events {
        None if aggregate.attrs.incomplete => {}
        None => {
            let span = aggregate
                .attrs
                .attr
                .unwrap_or_else(|| aggregate.input.ident.span());
            errors.push(syn::Error::new(
                span,
                "missing `events(...)`: list the events this aggregate handles, e.g. \
                 `#[aggregate(events(UserCreated, UserRenamed))]`",
            ));
        }
        Some(list) if list.value.items.is_empty() => errors.push(syn::Error::new(
            list.value.span,
            "`events(...)` is empty: list at least one event this aggregate handles",
        )),
        Some(_) => {}
    }
}

/// `events(A, A)` lists an event twice, and `events(a::Moved, b::Moved)` gives two events the
/// variant `Moved` (and the handler `on_moved`). Refused at the second, with the first noted.
fn check_events_unique(aggregate: &Aggregate, errors: &mut Errors) {
    let mut seen: HashMap<String, (String, proc_macro2::Span)> = HashMap::new();
    for event in aggregate.events() {
        let path = path_string(event.path);
        let variant = event.variant.to_string();
        match seen.get(&variant) {
            Some((first_path, first_span)) => {
                let mut error = if *first_path == path {
                    syn::Error::new(event.span, format!("`{path}` is listed twice in `events`"))
                } else {
                    syn::Error::new(
                        event.span,
                        format!(
                            "`{path}` and `{first_path}` would both be the variant `{variant}` of \
                             the event enum; give one of the types another name"
                        ),
                    )
                };
                error.combine(syn::Error::new(*first_span, "first listed here"));
                errors.push(error);
            }
            None => {
                seen.insert(variant, (path, event.span));
            }
        }
    }
}

/// An event whose snake-cased name is no identifier (some non-ASCII capitals lowercase to
/// several characters) needs `Event(handler = ...)`. Refused at the event.
fn check_handler_names(aggregate: &Aggregate, errors: &mut Errors) {
    let Some(list) = &aggregate.attrs.events else {
        return;
    };
    for item in &list.value.items {
        let Some(last) = item.path.segments.last() else {
            continue;
        };
        if item.handler.is_none() && default_handler(&last.ident).is_none() {
            errors.push(syn::Error::new(
                last.ident.span(),
                format!(
                    "cannot derive a handler name from `{}`; name it with `{}(handler = ...)`",
                    last.ident, last.ident
                ),
            ));
        }
    }
}

/// `#[aggregate(event_enum = User)]` on `struct User`: the enum would redefine the aggregate.
/// Refused at the `event_enum` value.
fn check_event_enum_is_not_the_aggregate(aggregate: &Aggregate, errors: &mut Errors) {
    if let Some(event_enum) = &aggregate.attrs.event_enum {
        if event_enum.value == aggregate.input.ident {
            errors.push(syn::Error::new(
                event_enum.value.span(),
                "the event enum cannot have the aggregate's own name",
            ));
        }
    }
}
