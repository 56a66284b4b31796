//! What the derives generate, exercised through the traits.

use livenstore::{
    Aggregate, AggregateEvent, AggregateRoot, DomainError, DomainEvent, EventDecodeError,
    EventRegistry,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
struct HTTPRequestSent {
    url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "order.placed.v2")]
struct Order2Placed {
    amount: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
struct Cancelled;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
struct Tagged(String);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
enum Shipped {
    ByAir,
    BySea { days: u8 },
}

#[derive(Debug, thiserror::Error)]
#[error("refused: {0}")]
struct OrderError(&'static str);

#[derive(Debug, Default, Aggregate)]
#[aggregate(
    events(HTTPRequestSent, Order2Placed, Cancelled, Tagged(handler = tag), Shipped),
    error = OrderError,
    name = "order",
    event_enum = OrderChange
)]
struct Order {
    requests: Vec<String>,
    total: u64,
    cancelled: bool,
    tags: Vec<String>,
    shipments: usize,
}

impl Order {
    fn on_http_request_sent(&mut self, e: &HTTPRequestSent) -> Result<(), OrderError> {
        self.requests.push(e.url.clone());
        Ok(())
    }

    fn on_order2_placed(&mut self, e: &Order2Placed) -> Result<(), OrderError> {
        if self.cancelled {
            return Err(OrderError("cancelled"));
        }
        self.total += e.amount;
        Ok(())
    }

    fn on_cancelled(&mut self, _: &Cancelled) -> Result<(), OrderError> {
        self.cancelled = true;
        Ok(())
    }

    fn tag(&mut self, e: &Tagged) -> Result<(), OrderError> {
        self.tags.push(e.0.clone());
        Ok(())
    }

    fn on_shipped(&mut self, _: &Shipped) -> Result<(), OrderError> {
        self.shipments += 1;
        Ok(())
    }
}

#[test]
fn snake_case_handlers_dispatch() {
    let mut order = Order::default();
    order
        .handle(&OrderChange::HTTPRequestSent(HTTPRequestSent {
            url: "/a".into(),
        }))
        .unwrap();
    order.handle(&Order2Placed { amount: 3 }.into()).unwrap();
    order.handle(&Tagged("vip".into()).into()).unwrap();
    order.handle(&Shipped::BySea { days: 3 }.into()).unwrap();
    assert_eq!(order.requests, ["/a"]);
    assert_eq!(order.total, 3);
    assert_eq!(order.tags, ["vip"]);
    assert_eq!(order.shipments, 1);

    order.handle(&OrderChange::Cancelled(Cancelled)).unwrap();
    let err = order
        .handle(&Order2Placed { amount: 1 }.into())
        .unwrap_err();
    assert_eq!(err.0, "cancelled");
    assert_eq!(order.total, 3);
}

#[test]
fn handle_typed_dispatches_listed_types_only() {
    let mut order = Order::default();
    let typed: &dyn std::any::Any = &Order2Placed { amount: 9 };
    assert!(matches!(order.handle_typed(typed), Some(Ok(()))));
    assert_eq!(order.total, 9);
    assert!(order.handle_typed(&42_u32).is_none());
    assert_eq!(order.total, 9);
}

#[test]
fn event_names() {
    assert_eq!(HTTPRequestSent::EVENT_TYPE, "HTTPRequestSent");
    assert_eq!(Order2Placed::EVENT_TYPE, "order.placed.v2");
    assert_eq!(
        OrderChange::EVENT_TYPES,
        [
            "HTTPRequestSent",
            "order.placed.v2",
            "Cancelled",
            "Tagged",
            "Shipped"
        ]
    );
    let event: OrderChange = Order2Placed { amount: 1 }.into();
    assert_eq!(event.event_type(), "order.placed.v2");
    assert_eq!(Order::AGGREGATE_TYPE, "order");
}

#[test]
fn decode_round_trips_by_name() {
    let event = OrderChange::from(Shipped::BySea { days: 4 });
    let envelope = event.to_new_event().unwrap();
    assert_eq!(envelope.event_type(), "Shipped");
    let json = serde_json_bytes(&Shipped::BySea { days: 4 });
    match OrderChange::decode("Shipped", 1, &json).unwrap() {
        OrderChange::Shipped(Shipped::BySea { days }) => assert_eq!(days, 4),
        other => panic!("decoded {other:?}"),
    }
    match OrderChange::decode("order.placed.v2", 1, br#"{"amount":12}"#).unwrap() {
        OrderChange::Order2Placed(e) => assert_eq!(e, Order2Placed { amount: 12 }),
        other => panic!("decoded {other:?}"),
    }
    assert!(matches!(
        OrderChange::decode("Order2Placed", 1, br#"{"amount":12}"#),
        Err(EventDecodeError::UnknownEventType)
    ));
    assert!(matches!(
        OrderChange::decode("order.placed.v2", 1, b"{oops"),
        Err(EventDecodeError::InvalidPayload(_))
    ));
    let owned = OrderChange::from(Cancelled).into_new_event().unwrap();
    assert_eq!(owned.event_type(), "Cancelled");
}

fn serde_json_bytes(shipped: &Shipped) -> Vec<u8> {
    match shipped {
        Shipped::ByAir => br#""ByAir""#.to_vec(),
        Shipped::BySea { days } => format!(r#"{{"BySea":{{"days":{days}}}}}"#).into_bytes(),
    }
}

#[test]
fn registry_holds_derived_events() {
    let registry = EventRegistry::global().unwrap();
    for name in ["HTTPRequestSent", "order.placed.v2", "Cancelled", "Shipped"] {
        assert!(registry.contains(name), "{name} is not registered");
    }
    let reg = registry.get("order.placed.v2").unwrap();
    assert_eq!(reg.rust_path(), "expand::Order2Placed");
    let value = registry
        .decode("order.placed.v2", 1, br#"{"amount":5}"#)
        .unwrap();
    assert_eq!(
        value.downcast_ref::<Order2Placed>(),
        Some(&Order2Placed { amount: 5 })
    );
}

mod nested {
    pub mod deeper {
        use livenstore::{Aggregate, DomainEvent};
        use serde::{Deserialize, Serialize};

        #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
        pub struct Opened;

        #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
        pub struct Closed;

        /// Default options: `<Ident>Event`, the type's name, `DomainError`.
        #[derive(Debug, Default, Aggregate)]
        #[aggregate(events(Opened, self::Closed))]
        pub enum Door {
            #[default]
            Closed,
            Open,
        }

        impl Door {
            fn on_opened(&mut self, _: &Opened) -> Result<(), livenstore::DomainError> {
                *self = Door::Open;
                Ok(())
            }

            fn on_closed(&mut self, _: &Closed) -> Result<(), livenstore::DomainError> {
                match self {
                    Door::Closed => Err(livenstore::DomainError::new("already closed")),
                    Door::Open => {
                        *self = Door::Closed;
                        Ok(())
                    }
                }
            }
        }
    }
}

#[test]
fn defaults_in_a_nested_module() {
    use nested::deeper::{Closed, Door, DoorEvent, Opened};

    assert_eq!(Door::AGGREGATE_TYPE, "Door");
    let mut door = AggregateRoot::<Door>::new("front");
    door.apply(Opened).unwrap();
    door.apply(DoorEvent::Closed(Closed)).unwrap();
    let err: DomainError = door.apply(Closed).unwrap_err();
    assert_eq!(err.message(), "already closed");
    assert_eq!(door.version(), 2);
    assert_eq!(door.collect_unsaved().len(), 2);
    assert_eq!(
        EventRegistry::global()
            .unwrap()
            .get("Opened")
            .unwrap()
            .rust_path(),
        "expand::nested::deeper::Opened"
    );
}

/// Struct shapes: tuple and unit aggregates.
#[derive(Default, Aggregate)]
#[aggregate(events(Cancelled))]
struct Counter(u32);

impl Counter {
    fn on_cancelled(&mut self, _: &Cancelled) -> Result<(), DomainError> {
        self.0 += 1;
        Ok(())
    }
}

#[derive(Default, Aggregate)]
#[aggregate(events(Cancelled))]
struct Nothing;

impl Nothing {
    fn on_cancelled(&mut self, _: &Cancelled) -> Result<(), DomainError> {
        Ok(())
    }
}

#[test]
fn tuple_and_unit_aggregates() {
    let mut counter = Counter::default();
    counter.handle(&CounterEvent::Cancelled(Cancelled)).unwrap();
    assert_eq!(counter.0, 1);
    Nothing.handle(&Cancelled.into()).unwrap();
}
