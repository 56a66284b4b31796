use livenstore::DomainEvent;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, DomainEvent)]
#[event(name = "account.closed")]
struct ClosedV1 {
    owner: String,
}

#[derive(Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened", version = 2, upcast_from = ClosedV1)]
struct Opened {
    owners: Vec<String>,
}

impl From<ClosedV1> for Opened {
    fn from(v1: ClosedV1) -> Self {
        Opened { owners: vec![v1.owner] }
    }
}

fn main() {}
