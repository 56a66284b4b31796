use livenstore::DomainEvent;
use serde::{Deserialize, Serialize};

fn step(value: serde_json::Value) -> serde_json::Value {
    value
}

#[derive(Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened", version = 2, upcast_json(from = 1, with = step))]
struct Opened {
    owner: String,
}

fn main() {}
