use livenstore::DomainEvent;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "")]
struct UserCreated {
    name: String,
}

fn main() {}
