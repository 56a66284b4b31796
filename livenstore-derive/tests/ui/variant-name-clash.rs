use livenstore::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

mod v1 {
    use super::*;

    #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
    #[event(name = "v1.UserCreated")]
    pub struct UserCreated;
}

mod v2 {
    use super::*;

    #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
    #[event(name = "v2.UserCreated")]
    pub struct UserCreated;
}

#[derive(Default, Aggregate)]
#[aggregate(events(v1::UserCreated, v2::UserCreated))]
struct User;

fn main() {}
