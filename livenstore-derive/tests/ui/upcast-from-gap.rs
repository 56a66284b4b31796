use livenstore::DomainEvent;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened")]
struct OpenedV1 {
    owner: String,
}

// Version 2 has no upcast: `OpenedV1` reads only version 1.
#[derive(Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened", version = 3, upcast_from = OpenedV1)]
struct Opened {
    owners: Vec<String>,
}

impl From<OpenedV1> for Opened {
    fn from(v1: OpenedV1) -> Self {
        Opened { owners: vec![v1.owner] }
    }
}

fn main() {}
