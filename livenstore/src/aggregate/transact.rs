//! [`Repository::transact`] and [`Repository::transact_with`]: load, run a command, save; over
//! again on a version conflict.
//!
//! Invariants:
//! - A command's events are saved in one append, all or nothing, with the version the aggregate
//!   was loaded at; a conflict reloads and reruns the command (at most `max_attempts` runs).
//! - `transact_with` stamps every event of every attempt with the same context (correlation id,
//!   causation id, other entries), so a retried command's events carry the chain the first
//!   attempt would have.

use super::repository::{Repository, RepositoryError};
use crate::pubsub::RetryPolicy;
use crate::{Aggregate, AggregateRoot, CommandContext, EventStore, Metadata};

impl<S: EventStore> Repository<S> {
    /// Retries a command that lost a version conflict as `policy` says: its attempts replace
    /// [`with_max_attempts`](Self::with_max_attempts)'s, and it waits the policy's backoff
    /// (exponential, with jitter) between them, so writers that collide spread out instead of
    /// colliding again. Without it a conflict is retried at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use livenstore::pubsub::RetryPolicy;
    /// use livenstore::{InMemoryStore, Repository};
    ///
    /// let policy = RetryPolicy::new(8).backoff(Duration::from_millis(1), Duration::from_millis(50));
    /// let repo = Repository::new(InMemoryStore::new()).with_conflict_backoff(policy);
    /// # drop(repo);
    /// ```
    pub fn with_conflict_backoff(mut self, policy: RetryPolicy) -> Self {
        self.max_attempts = policy.max_attempts.max(1);
        self.conflict_backoff = Some(policy);
        self
    }

    /// Loads aggregate `id` (new when absent), runs `f` on it and saves; on a version conflict,
    /// starts over from a fresh load, at most the configured number of attempts. Returns what `f`
    /// returned.
    ///
    /// `f` may run more than once, so it should only apply events to the aggregate.
    ///
    /// # Errors
    ///
    /// [`RepositoryError::Handler`] with `f`'s error (nothing saved); the last conflict when every
    /// attempt lost; other load or save errors.
    pub fn transact<A, T, F>(&self, id: &str, f: F) -> Result<T, RepositoryError<A::Error>>
    where
        A: Aggregate,
        F: FnMut(&mut AggregateRoot<A>) -> Result<T, A::Error>,
    {
        self.transact_stamped(id, &Metadata::new(), f)
    }

    /// [`transact`](Self::transact), stamping every event the command saves with `context`: its
    /// correlation id, its causation id (the command's id, or the event a consumer reacts to:
    /// [`Delivery::context`](crate::pubsub::Delivery::context)) and its other entries.
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore::{Aggregate, CommandContext, DomainError, DomainEvent, EventStore};
    /// use livenstore::{InMemoryStore, Repository};
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
    /// struct Opened { owner: String }
    ///
    /// #[derive(Debug, Default, Aggregate)]
    /// #[aggregate(events(Opened))]
    /// struct Account { owner: String }
    ///
    /// impl Account {
    ///     fn on_opened(&mut self, e: &Opened) -> Result<(), DomainError> {
    ///         self.owner = e.owner.clone();
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let repo = Repository::new(InMemoryStore::new());
    /// let context = CommandContext::new().with("user", "ada");
    /// repo.transact_with::<Account, _, _>(&context, "acc-1", |acc| {
    ///     acc.apply(Opened { owner: "ada".into() })
    /// })
    /// .unwrap();
    /// let opened = &repo.store().read_stream("Account-acc-1", 1, 1).unwrap()[0];
    /// assert_eq!(opened.metadata().correlation_id(), Some(context.correlation_id()));
    /// assert_eq!(opened.metadata().get("user"), Some("ada"));
    /// ```
    ///
    /// # Errors
    ///
    /// As [`transact`](Self::transact).
    pub fn transact_with<A, T, F>(
        &self,
        context: &CommandContext,
        id: &str,
        f: F,
    ) -> Result<T, RepositoryError<A::Error>>
    where
        A: Aggregate,
        F: FnMut(&mut AggregateRoot<A>) -> Result<T, A::Error>,
    {
        self.transact_stamped(id, context.metadata(), f)
    }

    fn transact_stamped<A, T, F>(
        &self,
        id: &str,
        metadata: &Metadata,
        mut f: F,
    ) -> Result<T, RepositoryError<A::Error>>
    where
        A: Aggregate,
        F: FnMut(&mut AggregateRoot<A>) -> Result<T, A::Error>,
    {
        let mut attempt = 1;
        loop {
            let mut root = self.get_or_create::<A>(id)?;
            let value = f(&mut root).map_err(RepositoryError::Handler)?;
            match self.save_with_metadata(&mut root, metadata) {
                Ok(_) => return Ok(value),
                Err(err) if err.is_conflict() && attempt < self.max_attempts => {
                    if let Some(policy) = &self.conflict_backoff {
                        std::thread::sleep(policy.delay(attempt));
                    }
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }
}
