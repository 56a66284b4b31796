use livenstore::{Aggregate, DomainError, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
struct UserCreated {
    name: String,
}

#[derive(Default, Aggregate)]
#[aggregate(error = DomainError)]
struct User {
    name: String,
}

impl User {
    fn on_user_created(&mut self, e: &UserCreated) -> Result<(), DomainError> {
        self.name = e.name.clone();
        Ok(())
    }
}

fn main() {}
