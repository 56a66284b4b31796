use livenstore::{Aggregate, DomainError, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "deposited")]
struct DepositedV1 {
    amount: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "deposited", version = 2, upcast_from = DepositedV1)]
struct Deposited {
    cents: u64,
}

impl From<DepositedV1> for Deposited {
    fn from(v1: DepositedV1) -> Self {
        Deposited { cents: v1.amount * 100 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "credited", aliases("deposited.old"))]
struct Credited {
    cents: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "deposited.old")]
struct OldName {
    cents: u64,
}

// Both versions of one event listed, and a type next to its alias's owner.
#[derive(Default, Aggregate)]
#[aggregate(events(DepositedV1, Deposited, Credited, OldName))]
struct Account {
    cents: u64,
}

impl Account {
    fn on_deposited_v1(&mut self, e: &DepositedV1) -> Result<(), DomainError> {
        self.cents += e.amount * 100;
        Ok(())
    }
    fn on_deposited(&mut self, e: &Deposited) -> Result<(), DomainError> {
        self.cents += e.cents;
        Ok(())
    }
    fn on_credited(&mut self, e: &Credited) -> Result<(), DomainError> {
        self.cents += e.cents;
        Ok(())
    }
    fn on_old_name(&mut self, e: &OldName) -> Result<(), DomainError> {
        self.cents += e.cents;
        Ok(())
    }
}

fn main() {}
