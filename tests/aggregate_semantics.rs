//! The aggregate contract: apply, replay, collect_unsaved, versions and decode errors.

mod common;

use common::*;
use livenstore::{
    Aggregate, AggregateEvent, AggregateRoot, DomainEvent, EnvelopeError, NewEvent, ReplayError,
};
use proptest::prelude::*;

#[test]
fn apply_runs_the_handler_and_tracks_the_event() {
    let mut order = AggregateRoot::<Order>::new("o-1");
    assert_eq!((order.version(), order.has_unsaved()), (0, false));
    order
        .apply(OrderPlaced {
            order_id: "o-1".into(),
            customer: "ada".into(),
        })
        .unwrap();
    assert!(order.placed);
    assert_eq!(order.state().customer, "ada");
    assert_eq!((order.version(), order.saved_version()), (1, 0));
    assert!(order.has_unsaved());
    assert_eq!(order.id(), "o-1");
    assert_eq!(order.stream_name(), "Order-o-1");
}

#[test]
fn failed_apply_leaves_tracking_and_version_unchanged() {
    let mut order = AggregateRoot::<Order>::new("o-1");
    order
        .apply(OrderPlaced {
            order_id: "o-1".into(),
            customer: "ada".into(),
        })
        .unwrap();
    let before = order.state().clone();

    let err = order
        .apply(LineAdded {
            sku: "x".into(),
            quantity: 0,
            unit_price: 1,
        })
        .unwrap_err();
    assert_eq!(
        err,
        OrderError::ZeroQuantity,
        "the handler's own typed error comes back"
    );
    let err = order
        .apply(OrderPlaced {
            order_id: "o-2".into(),
            customer: "bob".into(),
        })
        .unwrap_err();
    assert_eq!(err, OrderError::AlreadyPlaced);

    assert_eq!(order.version(), 1);
    assert_eq!(order.unsaved().len(), 1);
    assert_eq!(order.state(), &before);
}

#[test]
fn collect_unsaved_drains_in_apply_order() {
    let mut order = AggregateRoot::<Order>::new("o-1");
    assert!(
        order.collect_unsaved().is_empty(),
        "empty Vec, not a panic, when nothing is tracked"
    );
    let history = order_history(20);
    for event in history.clone() {
        order.apply(event).unwrap();
    }
    let collected = order.collect_unsaved();
    assert_eq!(collected.len(), 20);
    let types: Vec<_> = collected.iter().map(|e| e.event_type()).collect();
    let expected: Vec<_> = history.iter().map(|e| e.event_type()).collect();
    assert_eq!(types, expected);
    assert_eq!(
        format!("{collected:?}"),
        format!("{history:?}"),
        "same events, same order"
    );
    assert!(
        order.collect_unsaved().is_empty(),
        "a second call returns an empty Vec"
    );
    assert!(!order.has_unsaved());
    assert_eq!((order.version(), order.saved_version()), (20, 20));
}

#[test]
fn handlers_run_in_order() {
    let mut order = AggregateRoot::<Order>::new("o-1");
    for event in order_history(4) {
        order.apply(event).unwrap();
    }
    order
        .apply(OrderShipped {
            carrier: "ups".into(),
        })
        .unwrap();
    assert_eq!(
        order.log,
        [
            "placed:o-1",
            "line:sku-1",
            "line:sku-2",
            "line:sku-3",
            "shipped:ups"
        ]
    );
}

#[test]
fn replay_of_100k_events_matches_apply() {
    let history = order_history(100_000);
    let mut applied = AggregateRoot::<Order>::new("o-1");
    for event in history.clone() {
        applied.apply(event).unwrap();
    }

    let recorded = record("Order-o-1", envelopes(&history));
    let mut replayed = AggregateRoot::<Order>::new("o-1");
    replayed.replay_all(&recorded).unwrap();

    assert_eq!(replayed.state(), applied.state());
    assert_eq!(replayed.version(), 100_000);
    assert!(!replayed.has_unsaved(), "replay never tracks");
    assert!(replayed.collect_unsaved().is_empty());
}

#[test]
fn replay_of_typed_payloads_matches_replay_of_json() {
    let history = order_history(50);
    let typed: Vec<NewEvent> = history
        .iter()
        .cloned()
        .map(|e| e.into_new_event().unwrap())
        .collect();
    assert!(typed[0].payload().typed::<OrderPlaced>().is_some());
    let mut from_typed = AggregateRoot::<Order>::new("o-1");
    from_typed.replay_all(record("Order-o-1", typed)).unwrap();

    let mut from_json = AggregateRoot::<Order>::new("o-1");
    from_json
        .replay_all(record("Order-o-1", envelopes(&history)))
        .unwrap();
    assert_eq!(from_typed.state(), from_json.state());
    assert_eq!(from_typed.version(), 50);
}

#[test]
fn replay_of_an_unknown_type_names_the_event() {
    let event = raw_event("CouponApplied", r#"{"code":"X"}"#);
    let mut order = AggregateRoot::<Order>::new("o-1");
    let err = order.replay(&event).unwrap_err();
    match &err {
        ReplayError::UnknownEventType {
            event_id,
            event_type,
            aggregate,
        } => {
            assert_eq!(*event_id, event.id());
            assert_eq!(event_type, "CouponApplied");
            assert_eq!(*aggregate, "Order");
        }
        other => panic!("expected UnknownEventType, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&event.id().to_string()) && text.contains("CouponApplied"),
        "{text}"
    );
    assert_eq!(order.version(), 0);
}

#[test]
fn replay_of_bad_json_names_the_event() {
    let event = raw_event("order.line_added", r#"{"sku":"x","quantity":"many"}"#);
    let mut order = AggregateRoot::<Order>::new("o-1");
    let err = order.replay(&event).unwrap_err();
    assert!(
        matches!(&err, ReplayError::InvalidPayload { event_id, .. } if *event_id == event.id())
    );
    let text = err.to_string();
    assert!(
        text.contains(&event.id().to_string()) && text.contains("order.line_added"),
        "{text}"
    );
    assert_eq!(order.version(), 0);
}

#[test]
fn replay_handler_error_is_typed_and_names_the_event() {
    let placed = NewEvent::from_domain(&OrderPlaced {
        order_id: "o".into(),
        customer: "c".into(),
    })
    .unwrap();
    let events = record("Order-o", vec![placed.clone(), placed]);
    let mut order = AggregateRoot::<Order>::new("o");
    let err = order.replay_all(&events).unwrap_err();
    match err {
        ReplayError::Handler {
            event_id, source, ..
        } => {
            assert_eq!(event_id, events[1].id());
            assert_eq!(source, OrderError::AlreadyPlaced);
        }
        other => panic!("expected a handler error, got {other:?}"),
    }
    assert_eq!(
        order.version(),
        1,
        "the events before the failing one stay replayed"
    );
}

#[test]
fn envelope_round_trip_and_type_check() {
    let line = LineAdded {
        sku: "x".into(),
        quantity: 2,
        unit_price: 7,
    };
    let new_event = NewEvent::from_domain(&line).unwrap();
    assert_eq!(new_event.event_type(), "order.line_added");
    assert_eq!(LineAdded::EVENT_TYPE, "order.line_added");
    assert_eq!(OrderPlaced::EVENT_TYPE, "OrderPlaced");
    let recorded = record("Order-o", vec![new_event]).remove(0);
    assert_eq!(recorded.to_domain::<LineAdded>().unwrap(), line);

    let err = recorded.to_domain::<OrderShipped>().unwrap_err();
    match &err {
        EnvelopeError::TypeMismatch {
            expected, actual, ..
        } => {
            assert_eq!(*expected, "OrderShipped");
            assert_eq!(actual, "order.line_added");
        }
        other => panic!("expected a type mismatch, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("OrderShipped") && text.contains("order.line_added"),
        "{text}"
    );
}

#[test]
fn decode_by_name_through_the_event_enum_and_the_registry() {
    type Event = <Order as Aggregate>::Event;
    assert_eq!(
        Event::EVENT_TYPES,
        ["OrderPlaced", "order.line_added", "OrderShipped"]
    );
    let decoded = Event::decode("OrderShipped", 1, br#"{"carrier":"dhl"}"#).unwrap();
    assert_eq!(decoded.event_type(), "OrderShipped");
    assert!(Event::decode("Nope", 1, b"{}").is_err());
    assert!(Event::decode("OrderShipped", 1, b"{").is_err());

    let registry = livenstore::EventRegistry::global().unwrap();
    for name in Event::EVENT_TYPES {
        assert!(registry.contains(name), "{name} is registered");
    }
    let value = registry
        .decode(
            "order.line_added",
            1,
            br#"{"sku":"a","quantity":1,"unit_price":2}"#,
        )
        .unwrap();
    assert_eq!(
        value.downcast_ref::<LineAdded>().map(|l| l.quantity),
        Some(1)
    );
}

#[derive(Debug, Clone)]
enum Op {
    Place,
    Line(u32),
    Ship,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Place),
        (0u32..4).prop_map(Op::Line),
        Just(Op::Ship)
    ]
}

proptest! {
    /// Whatever is applied (successes and refusals mixed), replaying the collected events
    /// rebuilds the same state and version, and version = number of successful applies.
    #[test]
    fn replaying_collected_events_rebuilds_the_state(ops in proptest::collection::vec(op(), 0..60)) {
        let mut order = AggregateRoot::<Order>::new("p");
        let mut successes = 0u64;
        for (i, op) in ops.into_iter().enumerate() {
            let result = match op {
                Op::Place => order.apply(OrderPlaced { order_id: format!("{i}"), customer: "c".into() }),
                Op::Line(q) => order.apply(LineAdded { sku: format!("s{i}"), quantity: q, unit_price: 2 }),
                Op::Ship => order.apply(OrderShipped { carrier: format!("c{i}") }),
            };
            successes += u64::from(result.is_ok());
        }
        prop_assert_eq!(order.version(), successes);
        let collected = order.collect_unsaved();
        prop_assert_eq!(collected.len() as u64, successes);
        let mut replayed = AggregateRoot::<Order>::new("p");
        replayed.replay_all(record("Order-p", envelopes(&collected))).unwrap();
        prop_assert_eq!(replayed.state(), order.state());
        prop_assert_eq!(replayed.version(), order.version());
    }
}
