//! [`AggregateTest`]: given events, when a command, then events, an error or a state; every
//! `then_*` also checks that the state is what replaying the events from their JSON gives.
//!
//! Invariants:
//! - The given events reach the aggregate as a store would hand them back: encoded to JSON,
//!   decoded by type name, replayed (so a given event that does not round-trip fails at once,
//!   naming it).
//! - The replay check (`replay_check.rs`) runs before any `then_*` assertion of the user's, so a
//!   state that only `when` could reach is reported as such, not as a wrong balance.
//! - Failures panic (the kit is for `#[test]`s) with the scenario's name first.

use std::any::type_name;
use std::fmt::Debug;
use std::panic::Location;

use super::event_diff::{debug_lines, first_difference, side_by_side, Compared};
use super::replay_check::{self, recorded};
use crate::{Aggregate, AggregateEvent, AggregateRoot, RecordedEvent};

/// The id of the aggregate a scenario runs on (its stream is `<AGGREGATE_TYPE>-test`).
const TEST_ID: &str = "test";

/// A given/when/then scenario of one aggregate.
///
/// `given` takes the events the aggregate already has (anything that converts into its event
/// enum: the event structs themselves, or the enum); `when` runs your command code on an
/// [`AggregateRoot`] rebuilt from them; the `then_*` methods of the [`AggregateOutcome`] check
/// what it did.
///
/// Every `then_*` first checks **replay equivalence**: the state `when` reached must equal the
/// state rebuilt from the given events and the events `when` produced, each encoded to JSON and
/// decoded by type name as a store would hand it back. It fails naming the event when one does
/// not round-trip through serde, or when a handler gives another state replayed from JSON than
/// applied (a handler that reads a clock, a counter, anything besides its state and event). States
/// are compared with `PartialEq` when the aggregate type implements it (the derive sees it),
/// otherwise by their `Debug` output.
///
/// # Examples
///
/// ```
/// use livenstore::testing::AggregateTest;
/// use livenstore::{Aggregate, AggregateRoot, DomainEvent};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
/// struct Deposited { amount: u64 }
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
/// struct Withdrawn { amount: u64 }
///
/// #[derive(Debug, thiserror::Error)]
/// enum AccountError {
///     #[error("{needed} needed, {available} available")]
///     InsufficientFunds { needed: u64, available: u64 },
/// }
///
/// #[derive(Debug, Default, PartialEq, Aggregate)]
/// #[aggregate(events(Deposited, Withdrawn), error = AccountError)]
/// struct Account { balance: u64 }
///
/// impl Account {
///     fn on_deposited(&mut self, e: &Deposited) -> Result<(), AccountError> {
///         self.balance += e.amount;
///         Ok(())
///     }
///     fn on_withdrawn(&mut self, e: &Withdrawn) -> Result<(), AccountError> {
///         self.balance -= e.amount;
///         Ok(())
///     }
/// }
///
/// // The command, as the application writes it.
/// fn withdraw(acc: &mut AggregateRoot<Account>, amount: u64) -> Result<(), AccountError> {
///     if acc.balance < amount {
///         let available = acc.balance;
///         return Err(AccountError::InsufficientFunds { needed: amount, available });
///     }
///     acc.apply(Withdrawn { amount })
/// }
///
/// AggregateTest::<Account>::given([Deposited { amount: 5 }])
///     .when(|acc| withdraw(acc, 3))
///     .then_events([Withdrawn { amount: 3 }])
///     .then_state(|account| assert_eq!(account.balance, 2));
///
/// AggregateTest::<Account>::given([Deposited { amount: 5 }])
///     .named("withdrawing more than the balance")
///     .when(|acc| withdraw(acc, 8))
///     .then_error(|e| matches!(e, AccountError::InsufficientFunds { available: 5, .. }));
/// ```
#[must_use = "a scenario does nothing until `when` runs it"]
pub struct AggregateTest<A: Aggregate> {
    name: String,
    given: Vec<A::Event>,
}

impl<A> AggregateTest<A>
where
    A: Aggregate + Debug,
    A::Event: Clone + Debug,
{
    /// A scenario whose aggregate already has `events`, in order. Its name, until
    /// [`named`](Self::named) gives one, is the aggregate type and where `given` was called.
    #[track_caller]
    pub fn given<E: Into<A::Event>>(events: impl IntoIterator<Item = E>) -> Self {
        let caller = Location::caller();
        let short = type_name::<A>().rsplit("::").next().unwrap_or_default();
        AggregateTest {
            name: format!("{short} scenario at {}:{}", caller.file(), caller.line()),
            given: events.into_iter().map(Into::into).collect(),
        }
    }

    /// A scenario of a new aggregate (no events yet).
    #[track_caller]
    pub fn given_no_events() -> Self {
        Self::given(Vec::<A::Event>::new())
    }

    /// Names the scenario in failure messages.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = format!("`{}`", name.into());
        self
    }

    /// Rebuilds the aggregate from the given events and runs `command` on it, as
    /// [`Repository::transact`](crate::Repository::transact) would.
    ///
    /// # Panics
    ///
    /// When a given event does not encode to JSON, does not decode back by its type name, or
    /// its handler fails: the scenario cannot start.
    pub fn when<T, F>(self, command: F) -> AggregateOutcome<A, T>
    where
        F: FnOnce(&mut AggregateRoot<A>) -> Result<T, A::Error>,
    {
        let mut root = AggregateRoot::<A>::new(TEST_ID);
        let stream = root.stream_name();
        let mut given = Vec::with_capacity(self.given.len());
        for (i, event) in self.given.iter().enumerate() {
            let number = i + 1;
            let stored = recorded::<A>(event, &stream, number as u64)
                .unwrap_or_else(|problem| panic!("{}: given event {number}: {problem}", self.name));
            if let Err(err) = root.replay(&stored) {
                panic!(
                    "{}: given event {number} ({}) cannot be replayed: {err}\n  {event:?}",
                    self.name,
                    event.event_type()
                );
            }
            given.push(stored);
        }
        let result = command(&mut root);
        AggregateOutcome {
            name: self.name,
            given,
            root,
            result,
        }
    }
}

/// What a scenario's `when` did, to check with the `then_*` methods (each returns the outcome, so
/// they chain).
#[must_use = "an outcome checks nothing until a `then_*` method runs"]
pub struct AggregateOutcome<A: Aggregate, T> {
    name: String,
    given: Vec<RecordedEvent>,
    root: AggregateRoot<A>,
    result: Result<T, A::Error>,
}

impl<A, T> AggregateOutcome<A, T>
where
    A: Aggregate + Debug,
    A::Event: Clone + Debug,
{
    /// Checks that `when` succeeded and produced exactly `expected`, in order (compared by type
    /// name and JSON payload, shown by `Debug` side by side).
    ///
    /// # Panics
    ///
    /// When `when` returned an error, the events differ, or the replay check fails.
    #[track_caller]
    pub fn then_events<E: Into<A::Event>>(&self, expected: impl IntoIterator<Item = E>) -> &Self {
        let expected: Vec<A::Event> = expected.into_iter().map(Into::into).collect();
        let expected = self.compared(&expected, "expected");
        let actual = self.compared(self.root.unsaved(), "produced");
        if let Err(err) = &self.result {
            panic!(
                "{}: `when` returned an error, where events were expected\n  error: {err:?}\n{}",
                self.name,
                side_by_side(&debug_lines(&expected), &debug_lines(&actual))
            );
        }
        if let Some(i) = first_difference(&expected, &actual) {
            panic!(
                "{}: the events differ (event {} first)\n{}",
                self.name,
                i + 1,
                side_by_side(&debug_lines(&expected), &debug_lines(&actual))
            );
        }
        self.check_replay()
    }

    /// Checks that `when` succeeded without producing an event.
    ///
    /// # Panics
    ///
    /// When `when` returned an error or produced events, or the replay check fails.
    #[track_caller]
    pub fn then_no_events(&self) -> &Self {
        self.then_events(Vec::<A::Event>::new())
    }

    /// Checks that `when` returned an error for which `matches` is true.
    ///
    /// # Panics
    ///
    /// When `when` succeeded, `matches` is false, or the replay check fails.
    #[track_caller]
    pub fn then_error(&self, matches: impl FnOnce(&A::Error) -> bool) -> &Self {
        match &self.result {
            Ok(_) => {
                let produced = self.compared(self.root.unsaved(), "produced");
                panic!(
                    "{}: `when` succeeded, where an error was expected; it produced:\n{}",
                    self.name,
                    side_by_side(&[], &debug_lines(&produced))
                );
            }
            Err(err) if !matches(err) => {
                panic!("{}: the error does not match: {err:?}", self.name)
            }
            Err(_) => self.check_replay(),
        }
    }

    /// Runs the replay check, then `check` on the state `when` left (assert in it).
    ///
    /// # Panics
    ///
    /// When the replay check fails, or `check` panics.
    #[track_caller]
    pub fn then_state(&self, check: impl FnOnce(&A)) -> &Self {
        self.check_replay();
        check(self.root.state());
        self
    }

    /// What `when` returned.
    pub fn result(&self) -> &Result<T, A::Error> {
        &self.result
    }

    /// The events `when` produced (applied and not saved), in order.
    pub fn events(&self) -> &[A::Event] {
        self.root.unsaved()
    }

    /// The aggregate as `when` left it.
    pub fn root(&self) -> &AggregateRoot<A> {
        &self.root
    }

    #[track_caller]
    fn check_replay(&self) -> &Self {
        if let Err(problem) = replay_check::check(&self.root, &self.given) {
            panic!("{}: {problem}", self.name);
        }
        self
    }

    /// `events` as compared; an event that does not encode fails the scenario (`which` says
    /// whose list it is in).
    #[track_caller]
    fn compared(&self, events: &[A::Event], which: &str) -> Vec<Compared> {
        events
            .iter()
            .enumerate()
            .map(|(i, event)| {
                replay_check::compared(event).unwrap_or_else(|problem| {
                    panic!("{}: {which} event {}: {problem}", self.name, i + 1)
                })
            })
            .collect()
    }
}
