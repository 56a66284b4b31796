use livenstore::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
struct UserCreated {
    name: String,
}

#[derive(Default, Aggregate)]
#[aggregate(events(UserCreated))]
struct User {
    name: String,
}

fn main() {}
