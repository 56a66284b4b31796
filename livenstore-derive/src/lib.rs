//! Derive macros for [livenstore](https://docs.rs/livenstore): `#[derive(DomainEvent)]` and
//! `#[derive(Aggregate)]`. Use them through `livenstore`, which re-exports both and documents
//! the traits they implement.
//!
//! # `#[derive(DomainEvent)]`
//!
//! On a non-generic struct or enum that also derives `Serialize` and `Deserialize`:
//!
//! ```text
//! #[event(
//!     name = "account.deposited",     // EVENT_TYPE, default the type's name
//!     version = 3,                    // EVENT_VERSION, default 1
//!     upcast_from = DepositedV2,      // older versions decode through it and TryFrom/From
//!     upcast_json(from = 1, with = f),// version 1 becomes 2 through f (repeatable)
//!     aliases("MoneyDeposited"),      // older names
//! )]
//! ```
//!
//! Implements `DomainEvent` with those constants, `SHAPE` (a description of the type's fields,
//! variants and `#[serde]` attributes, with its fingerprint), and, when the type upcasts,
//! `from_stored` and `upcasts_from` following the chain; registers the type in the global
//! `EventRegistry`. A version 0, a version below this one without an upcast, an `upcast_json`
//! out of range or given twice, and an `upcast_from` on a version-1 type are errors at the
//! attribute; an `upcast_from` type of another name, of a version not below this one, or that
//! leaves a gap, fails to compile at the `upcast_from` path.
//!
//! # `#[derive(Aggregate)]`
//!
//! On a non-generic struct or enum that implements `Default`:
//!
//! ```text
//! #[aggregate(
//!     events(UserCreated, UserRenamed(handler = on_rename), billing::Charged), // required
//!     error = UserError,            // default ::livenstore::DomainError
//!     name = "user",                // AGGREGATE_TYPE, default the type's name
//!     event_enum = UserEvent,       // default <Type>Event
//!     snapshot_every = 100,         // SNAPSHOT_EVERY: a snapshot after every 100 events
//!     snapshot_version = 2,         // SNAPSHOT_VERSION, default 1: bump to drop old snapshots
//! )]
//! ```
//!
//! It writes, next to the aggregate and with its visibility, the event enum (one variant per
//! event, named after the last segment of its path; it derives `Debug` and `Clone`, so every
//! listed event must implement both), a `From` impl per event, `AggregateEvent` for the enum, and
//! `Aggregate` for the type. Each event is handled by the method
//! `on_<snake_case_event>(&mut self, &Event) -> Result<(), Error>` (`HTTPRequestSent` →
//! `on_http_request_sent`, `Order2Placed` → `on_order2_placed`), or by the method named with
//! `handler = ...`. A missing or mistyped handler, or a listed type that is not a `DomainEvent`,
//! is a compile error at the event in the list.
//!
//! It also writes `STATE_SHAPE`, the fingerprint of the aggregate type's own fields, types and
//! `#[serde]` attributes, which a snapshot is stored with: a snapshot taken by code whose state
//! type had another shape, or another `snapshot_version`, is never used. `snapshot_every`
//! needs the type to implement `Serialize` and `DeserializeOwned` (a compile error at the key
//! otherwise); 0, or a `snapshot_version` of 0 or without `snapshot_every`, is an error at the
//! attribute. When the type is `Clone + Send + Sync`, a repository's cache keeps clones of it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

mod ast;
mod attr;
mod case;
mod ctxt;
mod expand;
mod fallback;
mod shape;
mod state;
mod valid;

/// `#[derive(DomainEvent)]`, with the optional `#[event(name = "...", version = N, ...)]`.
#[proc_macro_derive(DomainEvent, attributes(event))]
pub fn derive_domain_event(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive_domain_event(&input).into()
}

/// `#[derive(Aggregate)]`, with `#[aggregate(events(...), ...)]`.
#[proc_macro_derive(Aggregate, attributes(aggregate))]
pub fn derive_aggregate(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive_aggregate(&input).into()
}
