//! Schema evolution: three releases of one application share one store. Release 1 writes
//! deposits in whole euros under the name `MoneyDeposited`; release 2 renames the event and
//! stores cents; release 3 adds a currency. Each release reads everything the earlier ones
//! wrote, through the upcasts its event types declare, and the store is never rewritten.
//!
//! Run with `cargo run --example schema_evolution`.

use livenstore::{EventStore, JsonStore, Repository, UpcastError};

/// Release 1: `MoneyDeposited`, whole euros.
mod release_1 {
    use livenstore::{Aggregate, DomainError, DomainEvent};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
    #[event(name = "MoneyDeposited")]
    pub struct MoneyDeposited {
        pub euros: u64,
    }

    #[derive(Debug, Default, Aggregate)]
    #[aggregate(name = "account", events(MoneyDeposited))]
    pub struct Account {
        pub euros: u64,
    }

    impl Account {
        fn on_money_deposited(&mut self, e: &MoneyDeposited) -> Result<(), DomainError> {
            self.euros += e.euros;
            Ok(())
        }
    }
}

/// Release 2: renamed to `account.deposited` (the old name stays an alias) and in cents, with a
/// typed upcast from release 1's type.
mod release_2 {
    use livenstore::{Aggregate, DomainError, DomainEvent};
    use serde::{Deserialize, Serialize};

    use crate::release_1::MoneyDeposited;

    #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
    #[event(
        name = "account.deposited",
        version = 2,
        aliases("MoneyDeposited"),
        upcast_from = MoneyDeposited
    )]
    pub struct Deposited {
        pub cents: u64,
    }

    impl From<MoneyDeposited> for Deposited {
        fn from(v1: MoneyDeposited) -> Self {
            Deposited {
                cents: v1.euros * 100,
            }
        }
    }

    #[derive(Debug, Default, Aggregate)]
    #[aggregate(name = "account", events(Deposited))]
    pub struct Account {
        pub cents: u64,
    }

    impl Account {
        fn on_deposited(&mut self, e: &Deposited) -> Result<(), DomainError> {
            self.cents += e.cents;
            Ok(())
        }
    }
}

/// Release 3: a currency. Version 2 goes through release 2's type (and version 1 through its
/// chain); a `TryFrom` could refuse a value, here every one converts.
mod release_3 {
    use livenstore::{Aggregate, DomainError, DomainEvent};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
    #[event(
        name = "account.deposited",
        version = 3,
        aliases("MoneyDeposited"),
        upcast_from = crate::release_2::Deposited
    )]
    pub struct Deposited {
        pub cents: u64,
        pub currency: String,
    }

    impl From<crate::release_2::Deposited> for Deposited {
        fn from(v2: crate::release_2::Deposited) -> Self {
            Deposited {
                cents: v2.cents,
                currency: "EUR".into(),
            }
        }
    }

    /// An event whose version-1 Rust type no longer exists: a JSON-level upcast adds the field.
    #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
    #[event(
        name = "account.frozen",
        version = 2,
        upcast_json(from = 1, with = super::frozen_v1_to_v2)
    )]
    pub struct Frozen {
        pub reason: String,
    }

    #[derive(Debug, Default, Aggregate)]
    #[aggregate(name = "account", events(Deposited, Frozen))]
    pub struct Account {
        pub cents: u64,
        pub currencies: Vec<String>,
        pub frozen: Option<String>,
    }

    impl Account {
        fn on_deposited(&mut self, e: &Deposited) -> Result<(), DomainError> {
            self.cents += e.cents;
            if !self.currencies.contains(&e.currency) {
                self.currencies.push(e.currency.clone());
            }
            Ok(())
        }

        fn on_frozen(&mut self, e: &Frozen) -> Result<(), DomainError> {
            self.frozen = Some(e.reason.clone());
            Ok(())
        }
    }
}

/// `account.frozen` version 1 had no reason.
fn frozen_v1_to_v2(mut v1: serde_json::Value) -> Result<serde_json::Value, UpcastError> {
    let object = v1
        .as_object_mut()
        .ok_or_else(|| UpcastError::new("a frozen event is a JSON object"))?;
    object.insert("reason".into(), "not recorded before release 3".into());
    Ok(v1)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let repository = Repository::new(JsonStore::open(dir.path())?);

    // Release 1 writes two deposits.
    let mut account = repository.create::<release_1::Account>("42")?;
    account.apply(release_1::MoneyDeposited { euros: 3 })?;
    account.apply(release_1::MoneyDeposited { euros: 4 })?;
    repository.save(&mut account)?;
    println!("release 1: {} euros", account.euros);

    // Release 2 reads them as cents, and writes a deposit of its own.
    let mut account = repository.load::<release_2::Account>("42")?;
    println!(
        "release 2: {} cents at version {}",
        account.cents,
        account.version()
    );
    account.apply(release_2::Deposited { cents: 50 })?;
    repository.save(&mut account)?;

    // A version-1 freeze, as a tool of release 2 wrote it (its Rust type is gone since).
    let frozen_v1 = livenstore::NewEvent::from_json("account.frozen", "{}")?;
    repository.store().append(
        "account-42",
        livenstore::ExpectedVersion::Exact(3),
        vec![frozen_v1],
    )?;

    // Release 3 reads all three generations.
    let account = repository.load::<release_3::Account>("42")?;
    println!(
        "release 3: {} cents in {:?}, frozen: {:?}",
        account.cents, account.currencies, account.frozen
    );
    assert_eq!(account.cents, 750);
    assert_eq!(account.currencies, ["EUR"]);

    // The store still holds every event as it was written.
    for event in repository
        .store()
        .read_stream("account-42", 1, usize::MAX)?
    {
        println!(
            "stored: {:<18} version {}  {}",
            event.event_type(),
            event.event_version(),
            event.payload().as_str()
        );
    }
    Ok(())
}
