//! [`ConsumerTest`]: given recorded events, run a consumer's handler over them, then check what it
//! wrote; and [`assert_caused_by`], the check that an event links back to its cause.
//!
//! Invariants:
//! - The given events are appended to an [`InMemoryStore`] the test owns, so they have real ids,
//!   versions and positions; the handler sees them as [`Delivery`]s of stored history, in
//!   position order, each once.
//! - What the handler appends to the same store comes after the given events: "appended" means
//!   every event past the last given position.
//! - A handler error is recorded with its event's position and the run goes on (a consumer that
//!   reports and skips); `then_no_errors` fails on any.

use std::fmt::Debug;
use std::panic::Location;
use std::sync::Arc;

use super::event_diff::{debug_lines, first_difference, side_by_side, Compared};
use super::replay_check::compared;
use crate::pubsub::{Delivery, HandlerError};
use crate::{
    stream_name, Aggregate, AggregateEvent, EventStore, ExpectedVersion, InMemoryStore, NewEvent,
    RecordedEvent,
};

/// A scenario of one consumer (or projection) handler.
///
/// # Examples
///
/// A handler that answers each opened account with a welcome message, written through
/// [`Repository::transact_with`](crate::Repository::transact_with) so it links to its cause:
///
/// ```
/// use std::sync::Arc;
/// use livenstore::testing::{assert_caused_by, ConsumerTest};
/// use livenstore::{Aggregate, DomainError, DomainEvent, InMemoryStore, Repository};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
/// struct Opened { owner: String }
/// #[derive(Debug, Default, Aggregate)]
/// #[aggregate(events(Opened))]
/// struct Account;
/// impl Account {
///     fn on_opened(&mut self, _: &Opened) -> Result<(), DomainError> { Ok(()) }
/// }
///
/// #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
/// struct Welcomed { to: String }
/// #[derive(Debug, Default, Aggregate)]
/// #[aggregate(events(Welcomed))]
/// struct Mailbox;
/// impl Mailbox {
///     fn on_welcomed(&mut self, _: &Welcomed) -> Result<(), DomainError> { Ok(()) }
/// }
///
/// let test = ConsumerTest::new()
///     .given::<Account, _>("1", [Opened { owner: "ada".into() }])
///     .given::<Account, _>("2", [Opened { owner: "bob".into() }]);
/// let repo = Repository::new(test.store());
/// let outcome = test.run(|delivery| {
///     let opened: Opened = delivery.event().to_domain()?;
///     repo.transact_with::<Mailbox, _, _>(&delivery.context(), &opened.owner, |mailbox| {
///         mailbox.apply(Welcomed { to: opened.owner.clone() })
///     })?;
///     Ok(())
/// });
/// outcome
///     .then_no_errors()
///     .then_appended::<Mailbox, _>("ada", [Welcomed { to: "ada".into() }])
///     .then_appended::<Mailbox, _>("bob", [Welcomed { to: "bob".into() }]);
/// assert_caused_by(&outcome.appended()[0], &outcome.given()[0]);
/// ```
#[must_use = "a scenario does nothing until `run` runs it"]
pub struct ConsumerTest {
    name: String,
    store: Arc<InMemoryStore>,
}

impl ConsumerTest {
    /// A scenario with no events yet. Its name, until [`named`](Self::named) gives one, is where
    /// it was made.
    #[track_caller]
    pub fn new() -> Self {
        let caller = Location::caller();
        ConsumerTest {
            name: format!("consumer scenario at {}:{}", caller.file(), caller.line()),
            store: Arc::new(InMemoryStore::new()),
        }
    }

    /// Names the scenario in failure messages.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = format!("`{}`", name.into());
        self
    }

    /// Appends `events` to the stream of aggregate `id` of `A`, as its repository would.
    ///
    /// # Panics
    ///
    /// When an event does not serialize.
    #[track_caller]
    pub fn given<A, E>(self, id: &str, events: impl IntoIterator<Item = E>) -> Self
    where
        A: Aggregate,
        E: Into<A::Event>,
    {
        let events = events
            .into_iter()
            .map(|event| {
                let event: A::Event = event.into();
                event.to_new_event().unwrap_or_else(|err| {
                    panic!("{}: a given event does not serialize: {err}", self.name)
                })
            })
            .collect();
        self.given_new_events(&stream_name::<A>(id), events)
    }

    /// Appends `events` (any types, with metadata of your own) to `stream`.
    ///
    /// # Panics
    ///
    /// When the store refuses them (a bad stream name, a bad event).
    #[track_caller]
    pub fn given_new_events(self, stream: &str, events: Vec<NewEvent>) -> Self {
        if let Err(err) = self.store.append(stream, ExpectedVersion::Any, events) {
            panic!("{}: the given events cannot be appended: {err}", self.name);
        }
        self
    }

    /// The store of the scenario: the given events are in it, and the handler may write to it
    /// (a [`Repository`](crate::Repository) over it, or its `append`).
    pub fn store(&self) -> Arc<InMemoryStore> {
        Arc::clone(&self.store)
    }

    /// Hands every given event to `handler`, in position order, as a consumer would.
    ///
    /// # Panics
    ///
    /// When the given events cannot be read back (never, for an in-memory store).
    pub fn run(self, mut handler: impl FnMut(&Delivery) -> Result<(), HandlerError>) -> Outcome {
        let given = self
            .store
            .read_all(1, usize::MAX)
            .unwrap_or_else(|err| panic!("{}: reading the given events: {err}", self.name));
        let mut errors = Vec::new();
        for event in &given {
            let delivery = Delivery {
                event: event.clone(),
                live: false,
            };
            if let Err(err) = handler(&delivery) {
                errors.push((event.position(), err.to_string()));
            }
        }
        let last = given.last().map_or(0, RecordedEvent::position);
        let appended = self
            .store
            .read_all(last + 1, usize::MAX)
            .unwrap_or_else(|err| panic!("{}: reading what was appended: {err}", self.name));
        Outcome {
            name: self.name,
            given,
            appended,
            errors,
        }
    }
}

impl Default for ConsumerTest {
    #[track_caller]
    fn default() -> Self {
        ConsumerTest::new()
    }
}

/// What a [`ConsumerTest`]'s handler did; the `then_*` methods return it, so they chain.
#[derive(Debug)]
pub struct Outcome {
    name: String,
    given: Vec<RecordedEvent>,
    appended: Vec<RecordedEvent>,
    errors: Vec<(u64, String)>,
}

impl Outcome {
    /// Checks that the handler returned no error.
    ///
    /// # Panics
    ///
    /// When it returned one (each is listed with its event's position).
    #[track_caller]
    pub fn then_no_errors(&self) -> &Self {
        if !self.errors.is_empty() {
            let list: Vec<String> = self
                .errors
                .iter()
                .map(|(position, error)| format!("  at position {position}: {error}"))
                .collect();
            panic!("{}: the handler failed\n{}", self.name, list.join("\n"));
        }
        self
    }

    /// Checks that the handler appended exactly `expected` to the stream of aggregate `id` of `A`
    /// (compared by type name and JSON payload, shown by `Debug` side by side).
    ///
    /// # Panics
    ///
    /// When the events differ.
    #[track_caller]
    pub fn then_appended<A, E>(&self, id: &str, expected: impl IntoIterator<Item = E>) -> &Self
    where
        A: Aggregate,
        A::Event: Debug,
        E: Into<A::Event>,
    {
        let stream = stream_name::<A>(id);
        let expected: Vec<Compared> = expected
            .into_iter()
            .map(|event| {
                compared(&event.into())
                    .unwrap_or_else(|problem| panic!("{}: an expected event: {problem}", self.name))
            })
            .collect();
        let actual: Vec<Compared> = self
            .appended
            .iter()
            .filter(|event| event.stream() == stream)
            .map(|event| self.decoded::<A>(event))
            .collect();
        if let Some(i) = first_difference(&expected, &actual) {
            panic!(
                "{}: the events appended to {stream} differ (event {} first)\n{}",
                self.name,
                i + 1,
                side_by_side(&debug_lines(&expected), &debug_lines(&actual))
            );
        }
        self
    }

    /// Checks that the handler appended nothing.
    ///
    /// # Panics
    ///
    /// When it appended events (they are listed).
    #[track_caller]
    pub fn then_nothing_appended(&self) -> &Self {
        if !self.appended.is_empty() {
            let list: Vec<String> = self.appended.iter().map(describe).collect();
            panic!("{}: the handler appended\n{}", self.name, list.join("\n"));
        }
        self
    }

    /// The given events, as delivered.
    pub fn given(&self) -> &[RecordedEvent] {
        &self.given
    }

    /// Every event the handler appended, in position order.
    pub fn appended(&self) -> &[RecordedEvent] {
        &self.appended
    }

    /// The handler's errors: the position of the event and the error's text.
    pub fn errors(&self) -> &[(u64, String)] {
        &self.errors
    }

    #[track_caller]
    fn decoded<A>(&self, event: &RecordedEvent) -> Compared
    where
        A: Aggregate,
        A::Event: Debug,
    {
        let value = A::Event::decode(
            event.event_type(),
            event.event_version(),
            event.payload().as_bytes(),
        )
        .unwrap_or_else(|err| panic!("{}: {}: {err}", self.name, describe(event)));
        compared(&value).unwrap_or_else(|problem| panic!("{}: {problem}", self.name))
    }
}

fn describe(event: &RecordedEvent) -> String {
    format!(
        "  {}@{} {} {}",
        event.stream(),
        event.version(),
        event.event_type(),
        event.payload().as_str()
    )
}

/// Checks that `event` was written in response to `cause`: its causation id is `cause`'s id and
/// its correlation id is `cause`'s (or `cause`'s own id, when `cause` has none), as
/// [`CommandContext::caused_by`](crate::CommandContext::caused_by) stamps them.
///
/// # Panics
///
/// When either id differs (both are shown).
///
/// # Examples
///
/// See [`ConsumerTest`].
#[track_caller]
pub fn assert_caused_by(event: &RecordedEvent, cause: &RecordedEvent) {
    // The rule is `CommandContext::caused_by`'s: asked of it, so the two cannot drift.
    let expected = crate::CommandContext::caused_by(cause);
    let (cause_id, correlation) = (expected.causation_id(), expected.correlation_id());
    let meta = event.metadata();
    if meta.causation_id() != Some(cause_id) || meta.correlation_id() != Some(correlation) {
        panic!(
            "{} ({}) was not caused by {} ({}):\n  causation id   {:?}, expected {:?}\n  \
             correlation id {:?}, expected {:?}",
            event.id(),
            event.event_type(),
            cause.id(),
            cause.event_type(),
            meta.causation_id(),
            cause_id,
            meta.correlation_id(),
            correlation
        );
    }
}
