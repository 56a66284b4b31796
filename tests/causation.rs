//! Correlation and causation carried for you: `Repository::transact_with` stamps a command's
//! events, a consumer's `Delivery::context` links what it writes to the event it handles, on the
//! in-memory and JSON stores (PostgreSQL: `livenstore-postgres/tests/causation.rs`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use livenstore::pubsub::{CatchUpOptions, Consumer, EventFilter, InMemoryCheckpointStore};
use livenstore::testing::assert_caused_by;
use livenstore::{
    Aggregate, CommandContext, DomainError, DomainEvent, EventStore, ExpectedVersion,
    InMemorySubscriptionManager, JsonStore, NewEvent, RecordedEvent, Repository,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "order.placed")]
struct Placed {
    total: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "order.paid")]
struct Paid;

#[derive(Debug, Default, Aggregate)]
#[aggregate(events(Placed, Paid))]
struct Order;

impl Order {
    fn on_placed(&mut self, _: &Placed) -> Result<(), DomainError> {
        Ok(())
    }
    fn on_paid(&mut self, _: &Paid) -> Result<(), DomainError> {
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "shipment.requested")]
struct Requested {
    order: String,
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(events(Requested))]
struct Shipment;

impl Shipment {
    fn on_requested(&mut self, _: &Requested) -> Result<(), DomainError> {
        Ok(())
    }
}

/// Every event of `store`, in position order.
fn all<S: EventStore>(store: &S) -> Vec<RecordedEvent> {
    store.read_all(1, usize::MAX).unwrap()
}

/// A command of two events, stamped; then a consumer that answers each `order.placed` with a
/// shipment request through its delivery's context; then one more level (a consumer of the
/// requests), all in one conversation.
fn a_conversation_is_carried_through_commands_and_consumers<S: EventStore + 'static>(store: S) {
    let store = Arc::new(store);
    let repo = Arc::new(Repository::new(Arc::clone(&store)));
    let request = CommandContext::new()
        .with_correlation_id("checkout-42")
        .with("user", "ada");
    repo.transact_with::<Order, _, _>(&request, "1", |order| {
        order.apply(Placed { total: 30 })?;
        order.apply(Paid)
    })
    .unwrap();
    let [placed, paid] = <[RecordedEvent; 2]>::try_from(all(&*store)).unwrap();
    for event in [&placed, &paid] {
        assert_eq!(event.metadata().correlation_id(), Some("checkout-42"));
        assert_eq!(
            event.metadata().causation_id(),
            Some(request.causation_id())
        );
        assert_eq!(event.metadata().get("user"), Some("ada"));
    }

    // Level 2: a consumer of the orders. Level 3: a consumer of the shipments, which appends a
    // raw event with its delivery's context.
    let manager = InMemorySubscriptionManager::new();
    let options = || CatchUpOptions::new().poll_interval(Duration::from_millis(5));
    let (done, finished) = mpsc::channel();
    let shipping = {
        let repo = Arc::clone(&repo);
        let done = done.clone();
        Consumer::new("shipping", Arc::new(InMemoryCheckpointStore::new()))
            .unwrap()
            .options(options())
            .start(Arc::clone(&store), &manager, EventFilter::all(), move |d| {
                if d.event().event_type() == "order.placed" {
                    let id = d.event().stream().to_owned();
                    repo.transact_with::<Shipment, _, _>(&d.context(), "s-1", |s| {
                        s.apply(Requested { order: id.clone() })
                    })?;
                    done.send(())?;
                }
                Ok(())
            })
            .unwrap()
    };
    finished.recv_timeout(Duration::from_secs(10)).unwrap();
    let mailing = {
        let store = Arc::clone(&store);
        Consumer::new("mailing", Arc::new(InMemoryCheckpointStore::new()))
            .unwrap()
            .options(options())
            .start(Arc::clone(&store), &manager, EventFilter::all(), move |d| {
                if d.event().event_type() == "shipment.requested" {
                    let mail = NewEvent::from_json("mail.sent", "{}")?
                        .with_metadata(d.context().metadata().clone());
                    store.append("mail-1", ExpectedVersion::Any, vec![mail])?;
                    done.send(())?;
                }
                Ok(())
            })
            .unwrap()
    };
    finished.recv_timeout(Duration::from_secs(10)).unwrap();
    shipping.stop();
    mailing.stop();

    let events = all(&*store);
    let requested = events
        .iter()
        .find(|e| e.event_type() == "shipment.requested")
        .unwrap();
    let mail = events
        .iter()
        .find(|e| e.event_type() == "mail.sent")
        .unwrap();
    assert_caused_by(requested, &placed);
    assert_caused_by(mail, requested);
    assert_eq!(mail.metadata().correlation_id(), Some("checkout-42"));
    assert_eq!(
        requested.metadata().get("user"),
        None,
        "only the chain is carried"
    );
}

/// A command retried after a conflict stamps its saved events with the same context.
fn a_retried_command_keeps_its_context<S: EventStore>(store: S) {
    let repo = Repository::new(store);
    repo.transact::<Order, _, _>("1", |o| o.apply(Placed { total: 1 }))
        .unwrap();
    let context = CommandContext::new();
    let runs = AtomicU32::new(0);
    repo.transact_with::<Order, _, _>(&context, "1", |order| {
        if runs.fetch_add(1, Ordering::Relaxed) == 0 {
            // Another writer gets in first: this attempt's save conflicts.
            let paid = NewEvent::from_json("order.paid", "null").unwrap();
            repo.store()
                .append("Order-1", ExpectedVersion::Exact(1), vec![paid])
                .unwrap();
        }
        order.apply(Paid)
    })
    .unwrap();
    assert_eq!(runs.load(Ordering::Relaxed), 2);
    let events = repo.store().read_stream("Order-1", 1, 10).unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[1].metadata().correlation_id(),
        None,
        "the other writer's"
    );
    assert_eq!(
        events[2].metadata().correlation_id(),
        Some(context.correlation_id())
    );
    assert_eq!(
        events[2].metadata().causation_id(),
        Some(context.causation_id())
    );
}

/// A JSON store keeps the chain across a reopen.
#[test]
fn json_store_keeps_the_chain_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let context = CommandContext::new().with_correlation_id("c-1");
    {
        let repo = Repository::new(JsonStore::open(dir.path()).unwrap());
        repo.transact_with::<Order, _, _>(&context, "1", |o| o.apply(Placed { total: 2 }))
            .unwrap();
    }
    let store = JsonStore::open(dir.path()).unwrap();
    let placed = &store.read_stream("Order-1", 1, 1).unwrap()[0];
    assert_eq!(placed.metadata().correlation_id(), Some("c-1"));
    assert_eq!(
        placed.metadata().causation_id(),
        Some(context.causation_id())
    );
}

macro_rules! on_every_store {
    ($($case:ident),* $(,)?) => {
        mod in_memory {
            $(#[test] fn $case() { super::$case(livenstore::InMemoryStore::new()); })*
        }
        mod json {
            $(#[test] fn $case() {
                let dir = tempfile::tempdir().unwrap();
                super::$case(livenstore::JsonStore::open(dir.path()).unwrap());
            })*
        }
    };
}

on_every_store!(
    a_conversation_is_carried_through_commands_and_consumers,
    a_retried_command_keeps_its_context,
);
