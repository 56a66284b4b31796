//! [`CommandContext`]: the correlation and causation a command's events are stamped with.
//!
//! Invariants:
//! - A context always has a correlation id and a causation id, never empty: what is not given is
//!   made (a new ULID for the conversation, the command's own new id for the cause).
//! - A context made from an event ([`CommandContext::caused_by`]) keeps the event's correlation
//!   id (the event's own id when it has none: the conversation starts there) and names the event
//!   as the cause, so the events written in response link back to it.

use crate::{EventId, Metadata, RecordedEvent, CAUSATION_ID, CORRELATION_ID};

/// The correlation id and causation id (and any other metadata) that every event written for one
/// command carries: pass it to
/// [`Repository::transact_with`](crate::Repository::transact_with).
///
/// - An incoming request or command: [`CommandContext::new`] starts a conversation (a new
///   correlation id) whose cause is the command itself (a new command id);
///   [`with_correlation_id`](Self::with_correlation_id) continues one a caller named (an HTTP
///   header), [`with_causation_id`](Self::with_causation_id) names the command's own id.
/// - A consumer reacting to an event: [`Delivery::context`](crate::pubsub::Delivery::context),
///   or [`CommandContext::caused_by`] with the event, keeps the event's correlation id and names
///   the event as the cause.
///
/// # Examples
///
/// ```
/// use livenstore::{Aggregate, CommandContext, DomainError, DomainEvent, EventStore};
/// use livenstore::{InMemoryStore, Repository};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
/// struct Deposited { amount: u64 }
///
/// #[derive(Debug, Default, Aggregate)]
/// #[aggregate(events(Deposited))]
/// struct Account { balance: u64 }
///
/// impl Account {
///     fn on_deposited(&mut self, e: &Deposited) -> Result<(), DomainError> {
///         self.balance += e.amount;
///         Ok(())
///     }
/// }
///
/// let repo = Repository::new(InMemoryStore::new());
/// let request = CommandContext::new().with_correlation_id("request-7");
/// repo.transact_with::<Account, _, _>(&request, "acc-1", |acc| acc.apply(Deposited { amount: 5 }))
///     .unwrap();
///
/// let deposited = &repo.store().read_stream("Account-acc-1", 1, 10).unwrap()[0];
/// assert_eq!(deposited.metadata().correlation_id(), Some("request-7"));
/// assert_eq!(deposited.metadata().causation_id(), Some(request.causation_id()));
///
/// // What a consumer of that event writes links back to it.
/// let reaction = CommandContext::caused_by(deposited);
/// assert_eq!(reaction.correlation_id(), "request-7");
/// assert_eq!(reaction.causation_id(), deposited.id().to_string());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CommandContext {
    metadata: Metadata,
}

impl CommandContext {
    /// A new conversation: a new correlation id, and a new id for the command, its cause.
    pub fn new() -> Self {
        let command = EventId::new().to_string();
        CommandContext {
            metadata: Metadata::new()
                .with_correlation_id(command.clone())
                .with_causation_id(command),
        }
    }

    /// The context of what is done in response to `event`: its correlation id (its own id when
    /// it has none) and the event as the cause. Any other metadata of the event is not carried.
    pub fn caused_by(event: &RecordedEvent) -> Self {
        let id = event.id().to_string();
        let correlation = match event.metadata().correlation_id() {
            Some(correlation) if !correlation.is_empty() => correlation.to_owned(),
            _ => id.clone(),
        };
        CommandContext {
            metadata: Metadata::new()
                .with_correlation_id(correlation)
                .with_causation_id(id),
        }
    }

    /// Continues the conversation `id` (from a caller, a message header); an empty `id` keeps
    /// the current one.
    pub fn with_correlation_id(mut self, id: impl Into<String>) -> Self {
        let id = id.into();
        if !id.is_empty() {
            self.metadata = self.metadata.with_correlation_id(id);
        }
        self
    }

    /// Names the command's own id as the cause; an empty `id` keeps the current one.
    pub fn with_causation_id(mut self, id: impl Into<String>) -> Self {
        let id = id.into();
        if !id.is_empty() {
            self.metadata = self.metadata.with_causation_id(id);
        }
        self
    }

    /// Adds another metadata entry (a user, a tenant) to every event; the correlation and
    /// causation keys are kept as they are (use the methods above).
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        if key != CORRELATION_ID && key != CAUSATION_ID {
            self.metadata = self.metadata.with(key, value);
        }
        self
    }

    /// The conversation's id.
    pub fn correlation_id(&self) -> &str {
        self.metadata.correlation_id().unwrap_or_default()
    }

    /// The cause's id: the command's, or the causing event's.
    pub fn causation_id(&self) -> &str {
        self.metadata.causation_id().unwrap_or_default()
    }

    /// The metadata every event of the command gets.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }
}

impl Default for CommandContext {
    /// [`CommandContext::new`].
    fn default() -> Self {
        CommandContext::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Payload, RecordedEventParts, Timestamp};

    fn event(metadata: Metadata) -> RecordedEvent {
        RecordedEvent::from_parts(RecordedEventParts {
            id: EventId::new(),
            event_type: "Opened".into(),
            stream: "account-1".into(),
            version: 1,
            position: 1,
            recorded_at: Timestamp::now(),
            metadata,
            payload: Payload::from_json("{}").unwrap(),
            event_version: 1,
        })
    }

    #[test]
    fn a_new_context_starts_a_conversation_caused_by_the_command() {
        let a = CommandContext::new();
        let b = CommandContext::new();
        assert_eq!(a.correlation_id(), a.causation_id());
        assert_ne!(a.correlation_id(), b.correlation_id());
        assert_eq!(a.correlation_id().len(), 26, "a ULID");
        let named = a.clone().with_correlation_id("req-1").with_causation_id("");
        assert_eq!(named.correlation_id(), "req-1");
        assert_eq!(named.causation_id(), a.causation_id(), "empty keeps");
    }

    #[test]
    fn caused_by_keeps_the_correlation_or_starts_at_the_event() {
        let with = event(
            Metadata::new()
                .with_correlation_id("c-9")
                .with("user", "ada"),
        );
        let context = CommandContext::caused_by(&with);
        assert_eq!(context.correlation_id(), "c-9");
        assert_eq!(context.causation_id(), with.id().to_string());
        assert_eq!(
            context.metadata().get("user"),
            None,
            "only the chain is carried"
        );

        let without = event(Metadata::new());
        let context = CommandContext::caused_by(&without);
        assert_eq!(context.correlation_id(), without.id().to_string());
        assert_eq!(context.causation_id(), without.id().to_string());
    }

    #[test]
    fn with_never_overwrites_the_chain() {
        let context = CommandContext::new()
            .with_correlation_id("c")
            .with(CORRELATION_ID, "x")
            .with("tenant", "t-1");
        assert_eq!(context.correlation_id(), "c");
        assert_eq!(context.metadata().get("tenant"), Some("t-1"));
    }
}
