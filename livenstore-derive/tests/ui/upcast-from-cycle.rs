use livenstore::DomainEvent;
use serde::{Deserialize, Serialize};

// Each claims to upcast from the other: one of them cannot have the lower version.
#[derive(Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened", version = 2, upcast_from = OpenedB)]
struct OpenedA {
    owner: String,
}

#[derive(Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened", version = 2, upcast_from = OpenedA)]
struct OpenedB {
    owner: String,
}

impl From<OpenedB> for OpenedA {
    fn from(b: OpenedB) -> Self {
        OpenedA { owner: b.owner }
    }
}

impl From<OpenedA> for OpenedB {
    fn from(a: OpenedA) -> Self {
        OpenedB { owner: a.owner }
    }
}

fn main() {}
