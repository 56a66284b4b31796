use livenstore::{DomainEvent, UpcastError};
use serde::{Deserialize, Serialize};

fn step(value: serde_json::Value) -> Result<serde_json::Value, UpcastError> {
    Ok(value)
}

// Version 1 has no older version to upcast from.
#[derive(Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened", upcast_json(from = 1, with = step))]
struct Opened {
    owner: String,
}

// A step that does not parse: one error, not another about a gap it would have covered.
#[derive(Serialize, Deserialize, DomainEvent)]
#[event(name = "account.closed", version = 2, upcast_json(from = 1, with = |v| Ok(v)))]
struct Closed {
    reason: String,
}

fn main() {}
