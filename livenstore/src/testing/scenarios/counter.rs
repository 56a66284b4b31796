//! The snapshot scenarios' aggregate, written by hand: a derived event would join the event
//! registry, and so the duplicate-name checks and schema locks, of every program built with
//! `testing`.

use std::any::Any;

use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, AggregateEvent, EventDecodeError};
use crate::{DomainError, DomainEvent, EnvelopeError, NewEvent, Payload, Shape, UpcastError};

/// `n` added to a counter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Added {
    pub(super) n: u64,
}

impl DomainEvent for Added {
    const EVENT_TYPE: &'static str = "counter.added";
}

impl AggregateEvent for Added {
    const EVENT_TYPES: &'static [&'static str] = &["counter.added"];

    fn event_type(&self) -> &'static str {
        Self::EVENT_TYPE
    }

    fn decode(event_type: &str, version: u32, json: &[u8]) -> Result<Self, EventDecodeError> {
        if event_type != Self::EVENT_TYPE {
            return Err(EventDecodeError::UnknownEventType);
        }
        if version != 1 {
            return Err(UpcastError::Newer {
                stored: version,
                known: 1,
            }
            .into());
        }
        Ok(serde_json::from_slice(json)?)
    }

    fn to_new_event(&self) -> Result<NewEvent, EnvelopeError> {
        NewEvent::from_domain(self)
    }

    fn into_new_event(self) -> Result<NewEvent, EnvelopeError> {
        NewEvent::from_domain_owned(self)
    }
}

/// The sum of what was added, snapshotted every 10 events as `{"total":n}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Counter {
    pub(super) total: u64,
}

impl Aggregate for Counter {
    const AGGREGATE_TYPE: &'static str = "counter";
    const STATE_SHAPE: Shape = Shape::of("struct Counter { total: u64 }");
    const SNAPSHOT_EVERY: u64 = 10;
    type Event = Added;
    type Error = DomainError;

    fn handle(&mut self, event: &Added) -> Result<(), DomainError> {
        self.total += event.n;
        Ok(())
    }

    fn handle_typed(&mut self, event: &dyn Any) -> Option<Result<(), DomainError>> {
        event.downcast_ref::<Added>().map(|e| self.handle(e))
    }

    fn encode_snapshot(&self) -> Option<Result<Payload, serde_json::Error>> {
        Some(Payload::from_serialize(self))
    }

    fn decode_snapshot(json: &[u8]) -> Option<Result<Self, serde_json::Error>> {
        Some(serde_json::from_slice(json))
    }

    fn cache_copy(&self) -> Option<Box<dyn Any + Send + Sync>> {
        Some(Box::new(self.clone()))
    }

    fn from_cache(copy: &(dyn Any + Send + Sync)) -> Option<Self> {
        copy.downcast_ref::<Self>().cloned()
    }
}
