//! A small domain shared by the behaviour tests: an order with three events.
#![allow(dead_code)]

use livenstore::{
    Aggregate, AggregateEvent, DomainEvent, EventId, Metadata, NewEvent, RecordedEvent,
    RecordedEventParts, Timestamp,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
pub struct OrderPlaced {
    pub order_id: String,
    pub customer: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "order.line_added")]
pub struct LineAdded {
    pub sku: String,
    pub quantity: u32,
    pub unit_price: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
pub struct OrderShipped {
    pub carrier: String,
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum OrderError {
    #[error("the order was already placed")]
    AlreadyPlaced,
    #[error("quantity must be positive")]
    ZeroQuantity,
    #[error("a shipped order cannot change")]
    AlreadyShipped,
}

#[derive(Debug, Default, Clone, PartialEq, Aggregate)]
#[aggregate(events(OrderPlaced, LineAdded, OrderShipped), error = OrderError)]
pub struct Order {
    pub placed: bool,
    pub customer: String,
    pub lines: Vec<(String, u32)>,
    pub total: u64,
    pub shipped_by: Option<String>,
    /// Every handler call in order, to check ordering.
    pub log: Vec<String>,
}

impl Order {
    fn on_order_placed(&mut self, e: &OrderPlaced) -> Result<(), OrderError> {
        if self.placed {
            return Err(OrderError::AlreadyPlaced);
        }
        self.placed = true;
        self.customer = e.customer.clone();
        self.log.push(format!("placed:{}", e.order_id));
        Ok(())
    }

    fn on_line_added(&mut self, e: &LineAdded) -> Result<(), OrderError> {
        if self.shipped_by.is_some() {
            return Err(OrderError::AlreadyShipped);
        }
        if e.quantity == 0 {
            return Err(OrderError::ZeroQuantity);
        }
        self.lines.push((e.sku.clone(), e.quantity));
        self.total += u64::from(e.quantity) * e.unit_price;
        self.log.push(format!("line:{}", e.sku));
        Ok(())
    }

    fn on_order_shipped(&mut self, e: &OrderShipped) -> Result<(), OrderError> {
        if self.shipped_by.is_some() {
            return Err(OrderError::AlreadyShipped);
        }
        self.shipped_by = Some(e.carrier.clone());
        self.log.push(format!("shipped:{}", e.carrier));
        Ok(())
    }
}

/// Wraps new events as a store would record them in stream `stream`, from version 1.
pub fn record(stream: &str, events: Vec<NewEvent>) -> Vec<RecordedEvent> {
    events
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let (id, event_type, payload, metadata) = e.into_parts();
            RecordedEvent::from_parts(RecordedEventParts {
                id: id.unwrap_or_default(),
                event_type: event_type.as_ref().into(),
                stream: stream.into(),
                version: i as u64 + 1,
                position: i as u64 + 1,
                recorded_at: Timestamp::now(),
                metadata,
                payload,
                event_version: 1,
            })
        })
        .collect()
}

/// One recorded event with the given type and raw JSON payload.
pub fn raw_event(event_type: &str, json: &str) -> RecordedEvent {
    record(
        "Order-raw",
        vec![NewEvent::from_json(event_type.to_owned(), json)
            .unwrap()
            .with_id(EventId::new())],
    )
    .remove(0)
}

/// A valid order history of `n` events: placed, then lines.
pub fn order_history(n: usize) -> Vec<<Order as Aggregate>::Event> {
    let mut events = Vec::with_capacity(n);
    if n > 0 {
        events.push(
            OrderPlaced {
                order_id: "o-1".into(),
                customer: "ada".into(),
            }
            .into(),
        );
    }
    for i in 1..n {
        events.push(
            LineAdded {
                sku: format!("sku-{i}"),
                quantity: (i % 5 + 1) as u32,
                unit_price: 3,
            }
            .into(),
        );
    }
    events
}

/// The envelopes of an event enum's values (JSON only, no typed value kept).
pub fn envelopes(events: &[<Order as Aggregate>::Event]) -> Vec<NewEvent> {
    events
        .iter()
        .map(|e| e.to_new_event().unwrap().with_metadata(Metadata::new()))
        .collect()
}
