use livenstore::DomainEvent;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
struct Created<T> {
    value: T,
}

fn main() {}
