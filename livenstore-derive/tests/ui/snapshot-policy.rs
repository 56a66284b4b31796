use livenstore::{Aggregate, DomainError, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
struct Added {
    n: u64,
}

#[derive(Default, Serialize, Deserialize, Aggregate)]
#[aggregate(events(Added), snapshot_every = 0, snapshot_version = 0)]
struct Zero {
    total: u64,
}

impl Zero {
    fn on_added(&mut self, e: &Added) -> Result<(), DomainError> {
        self.total += e.n;
        Ok(())
    }
}

// A snapshot version without snapshots.
#[derive(Default, Aggregate)]
#[aggregate(events(Added), snapshot_version = 2)]
struct NoSnapshots {
    total: u64,
}

impl NoSnapshots {
    fn on_added(&mut self, e: &Added) -> Result<(), DomainError> {
        self.total += e.n;
        Ok(())
    }
}

fn main() {}
