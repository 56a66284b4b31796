use livenstore::{Aggregate, DomainError, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
struct Added {
    n: u64,
}

// Snapshots need a state that serde can write and read.
#[derive(Default, Aggregate)]
#[aggregate(events(Added), snapshot_every = 100)]
struct Counter {
    total: u64,
}

impl Counter {
    fn on_added(&mut self, e: &Added) -> Result<(), DomainError> {
        self.total += e.n;
        Ok(())
    }
}

fn main() {}
