use livenstore::DomainEvent;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(nmae = "user.created")]
struct UserCreated {
    name: String,
}

fn main() {}
