use livenstore::DomainEvent;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened")]
struct OpenedV1 {
    owner: String,
}

// No `From<OpenedV1>` or `TryFrom<OpenedV1>` for `Opened`.
#[derive(Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened", version = 2, upcast_from = OpenedV1)]
struct Opened {
    owners: Vec<String>,
}

fn main() {}
