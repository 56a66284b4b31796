//! The given/when/then kit (`livenstore::testing::AggregateTest`, `ConsumerTest`): scenarios
//! that pass, and the failure messages of those that must not.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

use livenstore::testing::{assert_caused_by, AggregateTest, ConsumerTest};
use livenstore::{Aggregate, AggregateRoot, DomainEvent, Repository};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened")]
struct Opened {
    owner: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited")]
struct Deposited {
    amount: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.withdrawn")]
struct Withdrawn {
    amount: u64,
}

#[derive(Debug, PartialEq, thiserror::Error)]
enum AccountError {
    #[error("the account is not open")]
    NotOpen,
    #[error("{needed} needed, {available} available")]
    InsufficientFunds { needed: u64, available: u64 },
}

#[derive(Debug, Default, PartialEq, Aggregate)]
#[aggregate(events(Opened, Deposited, Withdrawn), error = AccountError)]
struct Account {
    owner: Option<String>,
    balance: u64,
}

impl Account {
    fn on_opened(&mut self, e: &Opened) -> Result<(), AccountError> {
        self.owner = Some(e.owner.clone());
        Ok(())
    }
    fn on_deposited(&mut self, e: &Deposited) -> Result<(), AccountError> {
        self.balance += e.amount;
        Ok(())
    }
    fn on_withdrawn(&mut self, e: &Withdrawn) -> Result<(), AccountError> {
        self.balance -= e.amount;
        Ok(())
    }
}

fn withdraw(acc: &mut AggregateRoot<Account>, amount: u64) -> Result<u64, AccountError> {
    if acc.owner.is_none() {
        return Err(AccountError::NotOpen);
    }
    if acc.balance < amount {
        let available = acc.balance;
        return Err(AccountError::InsufficientFunds {
            needed: amount,
            available,
        });
    }
    acc.apply(Withdrawn { amount })?;
    Ok(acc.balance)
}

fn opened() -> AccountEvent {
    Opened {
        owner: "ada".into(),
    }
    .into()
}

fn deposited(amount: u64) -> AccountEvent {
    Deposited { amount }.into()
}

/// The panic message of `f`, which must panic.
fn failure(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("the scenario must fail");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[test]
fn passing_scenarios_of_every_kind() {
    AggregateTest::<Account>::given([opened(), deposited(5)])
        .when(|acc| withdraw(acc, 3))
        .then_events([Withdrawn { amount: 3 }])
        .then_state(|s| assert_eq!(s.balance, 2));
    AggregateTest::<Account>::given([opened(), deposited(5)])
        .when(|acc| withdraw(acc, 8))
        .then_error(|e| matches!(e, AccountError::InsufficientFunds { available: 5, .. }));
    AggregateTest::<Account>::given_no_events()
        .when(|acc| withdraw(acc, 1))
        .then_error(|e| *e == AccountError::NotOpen);
    let outcome = AggregateTest::<Account>::given([opened()]).when(|_| Ok::<_, AccountError>(7));
    outcome.then_no_events();
    assert_eq!(outcome.result().as_ref().ok(), Some(&7));
}

#[test]
fn different_events_are_shown_side_by_side_with_the_first_difference_marked() {
    let message = failure(|| {
        AggregateTest::<Account>::given([opened(), deposited(5)])
            .named("withdraw three")
            .when(|acc| {
                acc.apply(Withdrawn { amount: 3 })?;
                acc.apply(Withdrawn { amount: 1 })
            })
            .then_events([Withdrawn { amount: 3 }, Withdrawn { amount: 2 }]);
    });
    assert!(message.starts_with("`withdraw three`: the events differ (event 2 first)"));
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(
        lines[2],
        "  Withdrawn(Withdrawn { amount: 3 }) | Withdrawn(Withdrawn { amount: 3 })"
    );
    assert_eq!(
        lines[3],
        "> Withdrawn(Withdrawn { amount: 2 }) | Withdrawn(Withdrawn { amount: 1 })   <- first difference"
    );
}

#[test]
fn an_unnamed_scenario_is_named_by_its_place_and_each_then_fails_as_it_says() {
    let message = failure(|| {
        AggregateTest::<Account>::given([opened()])
            .when(|acc| acc.apply(Deposited { amount: 1 }))
            .then_no_events();
    });
    assert!(
        message.starts_with("Account scenario at tests/test_kit.rs:"),
        "{message}"
    );
    assert!(
        message.contains("> (none)   | Deposited(Deposited { amount: 1 })"),
        "{message}"
    );

    let message = failure(|| {
        AggregateTest::<Account>::given([opened()])
            .when(|acc| withdraw(acc, 1))
            .then_events([Withdrawn { amount: 1 }]);
    });
    assert!(message.contains("`when` returned an error"), "{message}");
    assert!(message.contains("InsufficientFunds"), "{message}");

    let message = failure(|| {
        AggregateTest::<Account>::given([opened(), deposited(2)])
            .when(|acc| withdraw(acc, 1))
            .then_error(|_| true);
    });
    assert!(
        message.contains("`when` succeeded, where an error was expected"),
        "{message}"
    );
    assert!(
        message.contains("Withdrawn(Withdrawn { amount: 1 })"),
        "{message}"
    );

    let message = failure(|| {
        AggregateTest::<Account>::given([opened()])
            .when(|acc| withdraw(acc, 1))
            .then_error(|e| *e == AccountError::NotOpen);
    });
    assert!(
        message.contains("the error does not match: InsufficientFunds"),
        "{message}"
    );
}

/// An event whose serde loses a field the handler reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "counter.bumped")]
struct Bumped {
    #[serde(skip)]
    by: u64,
}

/// An event whose handler reads a global counter besides its event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "counter.ticked")]
struct Ticked;

static TICKS: AtomicU64 = AtomicU64::new(0);

/// No `PartialEq`: compared by `Debug`.
#[derive(Debug, Default, Aggregate)]
#[aggregate(events(Bumped, Ticked))]
struct Counter {
    total: u64,
}

impl Counter {
    fn on_bumped(&mut self, e: &Bumped) -> Result<(), livenstore::DomainError> {
        self.total += e.by;
        Ok(())
    }
    fn on_ticked(&mut self, _: &Ticked) -> Result<(), livenstore::DomainError> {
        self.total += TICKS.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

#[test]
fn an_event_that_does_not_round_trip_through_serde_fails_naming_it() {
    let message = failure(|| {
        AggregateTest::<Counter>::given_no_events()
            .when(|c| {
                c.apply(Bumped { by: 0 })
                    .and_then(|()| c.apply(Bumped { by: 2 }))
            })
            .then_state(|_| {});
    });
    assert!(
        message.contains("event 2 of `when` (counter.bumped)"),
        "{message}"
    );
    assert!(message.contains("JSON loses"), "{message}");
    assert!(message.contains("total: 2"), "{message}");
}

#[test]
fn a_handler_that_reads_more_than_its_event_fails_naming_the_event() {
    let message = failure(|| {
        AggregateTest::<Counter>::given_no_events()
            .when(|c| c.apply(Ticked))
            .then_events([Ticked]);
    });
    assert!(
        message.contains("event 1 of `when` (counter.ticked)"),
        "{message}"
    );
    assert!(message.contains("depends on something besides the state and the event"));
}

#[test]
fn given_events_reach_the_aggregate_as_a_store_hands_them_back() {
    // A given event is replayed from its JSON: `Bumped { by: 5 }` is read back as `by: 0`,
    // which the handler accepts; the scenario starts, and its state is what the store would
    // give.
    AggregateTest::<Counter>::given([Bumped { by: 5 }])
        .when(|_| Ok::<_, livenstore::DomainError>(()))
        .then_state(|c| assert_eq!(c.total, 0));
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "mailbox.welcomed")]
struct Welcomed {
    to: String,
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(events(Welcomed))]
struct Mailbox;

impl Mailbox {
    fn on_welcomed(&mut self, _: &Welcomed) -> Result<(), livenstore::DomainError> {
        Ok(())
    }
}

#[test]
fn a_consumer_scenario_checks_what_the_handler_appended_and_its_causes() {
    let test = ConsumerTest::new()
        .given::<Account, _>("1", [opened(), deposited(5)])
        .given::<Account, _>("2", [opened()]);
    let repo = Repository::new(test.store());
    let outcome = test.run(|delivery| {
        if delivery.event().event_type() != "account.opened" {
            return Ok(());
        }
        let opened: Opened = delivery.event().to_domain()?;
        repo.transact_with::<Mailbox, _, _>(&delivery.context(), &opened.owner, |m| {
            m.apply(Welcomed {
                to: opened.owner.clone(),
            })
        })?;
        Ok(())
    });
    outcome.then_no_errors().then_appended::<Mailbox, _>(
        "ada",
        [Welcomed { to: "ada".into() }, Welcomed { to: "ada".into() }],
    );
    assert_eq!(outcome.given().len(), 3);
    assert_caused_by(&outcome.appended()[0], &outcome.given()[0]);
    assert_caused_by(&outcome.appended()[1], &outcome.given()[2]);

    let message = failure(|| assert_caused_by(&outcome.appended()[1], &outcome.given()[0]));
    assert!(message.contains("was not caused by"), "{message}");

    let message = failure(|| {
        outcome.then_appended::<Mailbox, _>("ada", [Welcomed { to: "bob".into() }]);
    });
    assert!(message.contains("the events appended to Mailbox-ada differ (event 1 first)"));
    let message = failure(|| {
        outcome.then_nothing_appended();
    });
    assert!(
        message.contains("Mailbox-ada@1 mailbox.welcomed"),
        "{message}"
    );
}

#[test]
fn a_projection_scenario_checks_a_read_model_and_reports_handler_errors() {
    let mut balances = std::collections::BTreeMap::<String, u64>::new();
    let outcome = ConsumerTest::new()
        .named("balances")
        .given::<Account, _>("1", [opened(), deposited(5), deposited(2)])
        .given::<Account, _>("2", [opened(), deposited(1)])
        .run(|delivery| {
            let event = delivery.event();
            if event.event_type() == "account.deposited" {
                let d: Deposited = event.to_domain()?;
                if d.amount == 1 {
                    return Err("amounts of 1 are refused".into());
                }
                *balances.entry(event.stream().to_owned()).or_default() += d.amount;
            }
            Ok(())
        });
    outcome.then_nothing_appended();
    assert_eq!(balances.get("Account-1"), Some(&7));
    assert_eq!(
        outcome.errors(),
        &[(5, "amounts of 1 are refused".to_owned())]
    );
    let message = failure(|| {
        outcome.then_no_errors();
    });
    assert!(
        message.starts_with("`balances`: the handler failed"),
        "{message}"
    );
    assert!(
        message.contains("at position 5: amounts of 1 are refused"),
        "{message}"
    );
}
