use livenstore::{Aggregate, AggregateRoot, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
struct UserCreated {
    name: String,
}

// Every problem is reported in one pass, and the stub impl keeps the uses below quiet.
#[derive(Default, Aggregate)]
#[aggregate(events(UserCreated, UserCreated), name = "")]
#[aggregate(event_enum = User, error = livenstore::DomainError, error = std::fmt::Error)]
struct User {
    name: String,
}

fn main() {
    let user = AggregateRoot::<User>::new("user-1");
    let _ = user.version();
}
