//! The README's first example: derive events and an aggregate, apply events, collect them.
//!
//! Run with `cargo run --example quickstart`.

use livenstore::{Aggregate, AggregateRoot, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
struct UserCreated {
    user_id: String,
    username: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "user.renamed")] // optional: a stable name other than the type's
struct UserRenamed {
    new_username: String,
}

#[derive(Debug, thiserror::Error)]
enum UserError {
    #[error("username cannot be empty")]
    EmptyName,
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(events(UserCreated, UserRenamed), error = UserError)]
struct User {
    id: String,
    username: String,
}

impl User {
    fn on_user_created(&mut self, e: &UserCreated) -> Result<(), UserError> {
        if e.username.is_empty() {
            return Err(UserError::EmptyName);
        }
        self.id = e.user_id.clone();
        self.username = e.username.clone();
        Ok(())
    }

    fn on_user_renamed(&mut self, e: &UserRenamed) -> Result<(), UserError> {
        if e.new_username.is_empty() {
            return Err(UserError::EmptyName);
        }
        self.username = e.new_username.clone();
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut user = AggregateRoot::<User>::new("user-001");
    user.apply(UserCreated {
        user_id: "user-001".into(),
        username: "john_doe".into(),
    })?; // runs on_user_created, tracks it as unsaved
    user.apply(UserRenamed {
        new_username: "john_smith".into(),
    })?;
    assert_eq!(user.state().username, "john_smith");

    // A handler error is returned as the handler's own type and changes nothing.
    let refused = user.apply(UserRenamed {
        new_username: String::new(),
    });
    assert!(matches!(refused, Err(UserError::EmptyName)));
    assert_eq!(user.version(), 2);

    let unsaved = user.collect_unsaved(); // drains: a second call returns an empty Vec
    assert_eq!(unsaved.len(), 2);
    assert!(user.collect_unsaved().is_empty());

    println!(
        "user {} is now {:?} at version {}",
        user.id(),
        user.username,
        user.version()
    );
    for event in unsaved {
        println!("  collected {event:?}");
    }
    Ok(())
}
