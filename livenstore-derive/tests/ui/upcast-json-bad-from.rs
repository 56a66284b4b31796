use livenstore::{DomainEvent, UpcastError};
use serde::{Deserialize, Serialize};

fn step(value: serde_json::Value) -> Result<serde_json::Value, UpcastError> {
    Ok(value)
}

#[derive(Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened", version = 2)]
#[event(upcast_json(from = 0, with = step))]
#[event(upcast_json(from = 1, with = step), upcast_json(from = 1, with = step))]
#[event(upcast_json(from = 2, with = step))]
#[event(upcast_json(with = step))]
struct Opened {
    owner: String,
}

fn main() {}
