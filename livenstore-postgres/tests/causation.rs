//! Correlation and causation on PostgreSQL: what `Repository::transact_with` stamps is read back
//! by another connection, and a reaction made with `CommandContext::caused_by` links to its cause.

use livenstore::testing::assert_caused_by;
use livenstore::{Aggregate, CommandContext, DomainError, DomainEvent, EventStore, Repository};
use livenstore_postgres::testing::TestSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "order.placed")]
struct Placed {
    total: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "shipment.requested")]
struct Requested {
    order: String,
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(events(Placed, Requested))]
struct Ledger;

impl Ledger {
    fn on_placed(&mut self, _: &Placed) -> Result<(), DomainError> {
        Ok(())
    }
    fn on_requested(&mut self, _: &Requested) -> Result<(), DomainError> {
        Ok(())
    }
}

#[test]
fn transact_with_stamps_events_and_reactions_link_to_their_cause() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let request = CommandContext::new().with_correlation_id("checkout-7");
    {
        let repo = Repository::new(test.connect());
        repo.transact_with::<Ledger, _, _>(&request, "orders", |l| {
            l.apply(Placed { total: 3 })?;
            l.apply(Placed { total: 4 })
        })
        .unwrap();
    }
    // Another connection (another process) reacts to the first event.
    let repo = Repository::new(test.connect());
    let placed = repo.store().read_stream("Ledger-orders", 1, 10).unwrap();
    assert_eq!(placed.len(), 2);
    for event in &placed {
        assert_eq!(event.metadata().correlation_id(), Some("checkout-7"));
        assert_eq!(
            event.metadata().causation_id(),
            Some(request.causation_id())
        );
    }
    let reaction = CommandContext::caused_by(&placed[0]);
    repo.transact_with::<Ledger, _, _>(&reaction, "shipments", |l| {
        l.apply(Requested {
            order: "orders".into(),
        })
    })
    .unwrap();
    let requested = &repo.store().read_stream("Ledger-shipments", 1, 1).unwrap()[0];
    assert_caused_by(requested, &placed[0]);
}
