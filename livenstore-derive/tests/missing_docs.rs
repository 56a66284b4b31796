//! A `pub` aggregate in a module that denies missing docs: the generated event enum and its
//! variants are documented.
#![deny(missing_docs)]

/// The documented public API.
pub mod api {
    use livenstore::{Aggregate, DomainError, DomainEvent};
    use serde::{Deserialize, Serialize};

    /// A user signed up.
    #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
    pub struct SignedUp {
        /// Their name.
        pub name: String,
    }

    /// A user.
    #[derive(Debug, Default, Aggregate)]
    #[aggregate(events(SignedUp))]
    pub struct Member {
        /// Their name.
        pub name: String,
    }

    impl Member {
        fn on_signed_up(&mut self, e: &SignedUp) -> Result<(), DomainError> {
            self.name = e.name.clone();
            Ok(())
        }
    }
}

#[test]
fn public_enum_is_usable() {
    use livenstore::Aggregate;
    let mut member = api::Member::default();
    member
        .handle(&api::MemberEvent::SignedUp(api::SignedUp {
            name: "ada".into(),
        }))
        .unwrap();
    assert_eq!(member.name, "ada");
}
