use livenstore::{DomainEvent, UpcastError};
use serde::{Deserialize, Serialize};

fn v1_to_v2(v1: serde_json::Value) -> Result<serde_json::Value, UpcastError> {
    Ok(v1)
}

// Version 2 has no step to version 3.
#[derive(Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened", version = 3, upcast_json(from = 1, with = v1_to_v2))]
struct Opened {
    owner: String,
}

fn main() {}
