use livenstore::DomainEvent;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened")]
struct OpenedV1 {
    owner: String,
}

// No `version = 2`: there is no lower version to upcast from.
#[derive(Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened", upcast_from = OpenedV1)]
struct Opened {
    owners: Vec<String>,
}

fn main() {}
