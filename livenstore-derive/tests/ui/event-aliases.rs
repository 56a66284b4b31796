use livenstore::DomainEvent;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, DomainEvent)]
#[event(name = "account.credited", aliases("MoneyDeposited", "", "account.credited", "MoneyDeposited"))]
struct Credited {
    amount: u64,
}

#[derive(Serialize, Deserialize, DomainEvent)]
#[event(name = "account.debited", aliases())]
struct Debited {
    amount: u64,
}

fn main() {}
