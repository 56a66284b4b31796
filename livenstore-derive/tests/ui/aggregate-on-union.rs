use livenstore::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
struct UserCreated {
    name: String,
}

#[derive(Aggregate)]
#[aggregate(events(UserCreated))]
union User {
    id: u64,
}

fn main() {}
