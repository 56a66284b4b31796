//! Everything an event is: the domain trait and its registry by name, the envelope callers append
//! ([`NewEvent`]) and stores hand back ([`RecordedEvent`]), and its parts: [`EventId`],
//! [`Payload`], [`Metadata`], [`LinkInfo`].
//!
//! | file | holds |
//! |---|---|
//! | `domain_event.rs` | [`DomainEvent`]: a domain type's stable event type name |
//! | `registration.rs`, `registry.rs` | [`EventRegistry`]: every `DomainEvent` type of the program, by name and version |
//! | `new_event.rs` | [`NewEvent`] |
//! | `recorded_event.rs` | [`RecordedEvent`], [`RecordedEventParts`] |
//! | `link.rs` | [`LinkInfo`] |
//! | `error.rs` | [`EnvelopeError`] |
//! | `id.rs`, `payload.rs`, `metadata.rs` | [`EventId`], [`Payload`], [`Metadata`] |
//! | `shape.rs` | [`Shape`]: a type's declared shape and its fingerprint (the schema lock) |
//! | `upcast.rs`, `upcast_steps.rs` | [`UpcastError`]; the steps of the upcast chains the derive writes |
//! | `chunk.rs`, `type_names.rs` | how a store keeps events so that reads share them without a copy |
//!
//! The crate root re-exports every public item here, so `livenstore::NewEvent` and
//! `livenstore::event::NewEvent` are the same type.

pub(crate) mod chunk;
mod command_context;
pub(crate) mod domain_event;
mod error;
mod id;
mod link;
mod metadata;
mod new_event;
mod payload;
mod recorded_event;
mod registration;
mod registry;
mod shape;
pub(crate) mod type_names;
pub(crate) mod upcast;
pub(crate) mod upcast_steps;

pub use command_context::CommandContext;
pub use domain_event::DomainEvent;
pub use error::EnvelopeError;
pub use id::{EventId, ParseEventIdError};
pub use link::LinkInfo;
pub use metadata::{Metadata, CAUSATION_ID, CORRELATION_ID};
pub use new_event::NewEvent;
pub use payload::Payload;
pub use recorded_event::{RecordedEvent, RecordedEventParts};
pub use registration::EventRegistration;
pub use registry::{EventRegistry, RegistryDecodeError, RegistryError};
pub use shape::Shape;
pub use upcast::UpcastError;
