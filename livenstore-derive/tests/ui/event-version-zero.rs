use livenstore::DomainEvent;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened", version = 0)]
struct Opened {
    owner: String,
}

fn main() {}
