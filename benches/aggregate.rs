//! Issue 2's speed targets, over 1,000,000 events of three types:
//! (a) dispatch of already-decoded events: the derived table vs a hand-written `match`
//!     (target: within 5%);
//! (b) replay from `RecordedEvent` (decode by type name + dispatch) vs plain
//!     `serde_json::from_slice` of the same payloads into the same structs (target: ≤ 1.3x).
//!
//! Run: `cargo bench --bench aggregate`.

mod support;

use std::hint::black_box;

use livenstore::{
    Aggregate, AggregateEvent, AggregateRoot, DomainEvent, RecordedEvent, RecordedEventParts,
    Timestamp,
};
use serde::{Deserialize, Serialize};
use support::{compare, ratio, Variant};

const EVENTS: usize = 1_000_000;

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
struct ItemAdded {
    sku: String,
    quantity: u32,
    price_cents: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
struct ItemRemoved {
    sku: String,
    quantity: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
struct CartCheckedOut {
    payment_ref: String,
    total_cents: u64,
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(events(ItemAdded, ItemRemoved, CartCheckedOut))]
struct Cart {
    items: u64,
    total: u64,
    checkouts: u64,
    sku_bytes: usize,
}

impl Cart {
    fn on_item_added(&mut self, e: &ItemAdded) -> Result<(), livenstore::DomainError> {
        self.items += u64::from(e.quantity);
        self.total += e.price_cents * u64::from(e.quantity);
        self.sku_bytes += e.sku.len();
        Ok(())
    }

    fn on_item_removed(&mut self, e: &ItemRemoved) -> Result<(), livenstore::DomainError> {
        self.items = self.items.saturating_sub(u64::from(e.quantity));
        self.sku_bytes += e.sku.len();
        Ok(())
    }

    fn on_cart_checked_out(&mut self, e: &CartCheckedOut) -> Result<(), livenstore::DomainError> {
        self.checkouts += 1;
        self.total = self.total.wrapping_add(e.total_cents);
        self.sku_bytes += e.payment_ref.len();
        Ok(())
    }

    /// The hand-written dispatch the derived one is compared with.
    fn handle_by_hand(&mut self, event: &CartEvent) -> Result<(), livenstore::DomainError> {
        match event {
            CartEvent::ItemAdded(e) => self.on_item_added(e),
            CartEvent::ItemRemoved(e) => self.on_item_removed(e),
            CartEvent::CartCheckedOut(e) => self.on_cart_checked_out(e),
        }
    }
}

fn events() -> Vec<CartEvent> {
    (0..EVENTS)
        .map(|i| match i % 3 {
            0 => ItemAdded {
                sku: format!("sku-{:06}", i % 9973),
                quantity: (i % 7) as u32 + 1,
                price_cents: 1999,
            }
            .into(),
            1 => ItemRemoved {
                sku: format!("sku-{:06}", i % 9973),
                quantity: 1,
            }
            .into(),
            _ => CartCheckedOut {
                payment_ref: format!("pay-{i:010}"),
                total_cents: 4242,
            }
            .into(),
        })
        .collect()
}

fn recorded(events: &[CartEvent]) -> Vec<RecordedEvent> {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let (id, event_type, payload, metadata) = e.to_new_event().unwrap().into_parts();
            RecordedEvent::from_parts(RecordedEventParts {
                id: id.unwrap_or_default(),
                event_type: event_type.as_ref().into(),
                stream: "Cart-1".into(),
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

fn main() {
    let events = events();

    // (a) dispatch only.
    let dispatch = compare(
        "(a) dispatch of decoded events",
        EVENTS as u64,
        15,
        vec![
            Variant::timed("hand-written match", || {
                let mut cart = Cart::default();
                for e in &events {
                    cart.handle_by_hand(black_box(e)).unwrap();
                }
                black_box(&cart);
            }),
            Variant::timed("derived dispatch (Aggregate::handle)", || {
                let mut cart = Cart::default();
                for e in &events {
                    cart.handle(black_box(e)).unwrap();
                }
                black_box(&cart);
            }),
        ],
    );
    ratio(
        "derived / hand-written dispatch",
        dispatch[1],
        dispatch[0],
        "<= 1.05",
    );

    // (b) replay from stored envelopes vs the bare parse.
    let stored = recorded(&events);
    let kinds: Vec<(u8, &[u8])> = stored
        .iter()
        .map(|r| {
            let kind = match r.event_type() {
                t if t == ItemAdded::EVENT_TYPE => 0,
                t if t == ItemRemoved::EVENT_TYPE => 1,
                _ => 2,
            };
            (kind, r.payload().as_bytes())
        })
        .collect();
    let replay = compare(
        "(b) replay from RecordedEvent vs bare serde_json::from_slice",
        EVENTS as u64,
        7,
        vec![
            Variant::timed("bare serde_json::from_slice into the structs", || {
                for (kind, bytes) in &kinds {
                    match kind {
                        0 => drop(black_box(
                            serde_json::from_slice::<ItemAdded>(bytes).unwrap(),
                        )),
                        1 => drop(black_box(
                            serde_json::from_slice::<ItemRemoved>(bytes).unwrap(),
                        )),
                        _ => drop(black_box(
                            serde_json::from_slice::<CartCheckedOut>(bytes).unwrap(),
                        )),
                    }
                }
            }),
            Variant::timed(
                "AggregateRoot::replay_all (decode by name + dispatch)",
                || {
                    let mut cart = AggregateRoot::<Cart>::new("1");
                    cart.replay_all(black_box(&stored)).unwrap();
                    black_box(cart.version());
                },
            ),
        ],
    );
    ratio("replay / bare parse", replay[1], replay[0], "<= 1.30");
}
