//! [`Backend`]: the store the service writes to and the subscription manager that wakes its
//! live feeds, for a JSON directory, a PostgreSQL schema or a NATS JetStream stream.
//!
//! Build a backend outside any tokio runtime: the PostgreSQL client is synchronous and runs
//! its own small runtime while it connects, which tokio refuses inside another one. Drop the
//! last handle outside a runtime too (the service's runtime first), for the same reason.

use std::path::Path;
use std::sync::Arc;

use livenstore::pubsub::SubscriptionManager;
use livenstore::{EventStore, InMemorySubscriptionManager, JsonStore, PublishingStore, StoreError};
use livenstore_nats::{JetStreamStore, JetStreamSubscriptionManager};
use livenstore_postgres::{PostgresStore, PostgresSubscriptionManager};

/// A store and the manager that tells its subscriptions about new events. Cloning shares both.
#[derive(Clone)]
pub struct Backend {
    /// Where the events live.
    pub store: Arc<dyn EventStore>,
    /// What wakes the live feeds when an event is appended.
    pub manager: Arc<dyn SubscriptionManager>,
    /// Which store, in words (for the startup line).
    pub description: String,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// A [`JsonStore`] in `dir` (created if missing; `Durability::Always`: every acknowledged
    /// command survives a power loss), wrapped in a [`PublishingStore`] that hands each append
    /// to an [`InMemorySubscriptionManager`], so live feeds hear of it at once, without polling.
    ///
    /// # Errors
    ///
    /// When the store cannot be opened (another process holds its lock, damage).
    pub fn json(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let store = JsonStore::open(dir.as_ref())?;
        let manager = InMemorySubscriptionManager::new();
        Ok(Backend {
            store: Arc::new(PublishingStore::new(store, manager.clone())),
            manager: Arc::new(manager),
            description: format!("JSON store in {}", dir.as_ref().display()),
        })
    }

    /// A [`PostgresStore`] followed by a [`PostgresSubscriptionManager`] (`LISTEN`/`NOTIFY`,
    /// polling as the fallback): live feeds hear of the events any process appends. No
    /// `PublishingStore` here: the manager already publishes every appended event.
    ///
    /// # Errors
    ///
    /// When the manager cannot start (the server cannot be reached).
    pub fn postgres(store: PostgresStore) -> Result<Self, StoreError> {
        let store = Arc::new(store);
        let manager = PostgresSubscriptionManager::start(&store)?;
        Ok(Backend {
            description: format!("PostgreSQL store (schema `{}`)", store.schema()),
            store,
            manager: Arc::new(manager),
        })
    }

    /// A [`JetStreamStore`] followed by a [`JetStreamSubscriptionManager`]: live feeds hear of
    /// the events any process appends to the JetStream stream. No `PublishingStore` here
    /// either: the manager publishes every event the store's replica folds.
    ///
    /// # Errors
    ///
    /// When the manager cannot start (the store's replica is damaged).
    pub fn nats(store: JetStreamStore) -> Result<Self, StoreError> {
        let manager = JetStreamSubscriptionManager::start(&store)?;
        Ok(Backend {
            description: format!(
                "NATS JetStream store (stream `{}` at {})",
                store.config().stream_name(),
                store.endpoint()
            ),
            store: Arc::new(store),
            manager: Arc::new(manager),
        })
    }
}
