use livenstore::{DomainEvent, UpcastError};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened")]
struct OpenedV1 {
    owner: String,
}

fn step(value: serde_json::Value) -> Result<serde_json::Value, UpcastError> {
    Ok(value)
}

// Version 1 is read both by `OpenedV1` and by the JSON step.
#[derive(Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened", version = 2, upcast_from = OpenedV1)]
#[event(upcast_json(from = 1, with = step))]
struct Opened {
    owners: Vec<String>,
}

impl From<OpenedV1> for Opened {
    fn from(v1: OpenedV1) -> Self {
        Opened { owners: vec![v1.owner] }
    }
}

fn main() {}
