//! [`AppState`]: what the handlers share, and how the repository is set up.

use std::sync::Arc;
use std::time::Duration;

use livenstore::nonblocking::{AsyncRepository, AsyncStore};
use livenstore::pubsub::RetryPolicy;
use livenstore::{EventStore, Repository};

use super::backend::Backend;

/// How many times a command runs before a version conflict is reported (409 `conflict`): the
/// repository's own retries, in one call on the blocking pool, each a load (from the cache:
/// only the events saved since) and a save, with [`CONFLICT_BACKOFF`] between them.
///
/// The repository's default, 5 attempts back to back, is too few when dozens of clients write
/// to one account: each round only one writer wins. Retried at once, with 5 or 32 attempts some
/// of the tests' 32 clients × 10 deposits into one account came back 409; the backoff makes the
/// losers take turns instead of colliding again.
pub const MAX_ATTEMPTS: u32 = 200;

/// The pauses between a command's attempts after a conflict: from 1 ms, doubling up to 25 ms,
/// each drawn between half and all of it ([`Repository::with_conflict_backoff`]).
pub const CONFLICT_BACKOFF: RetryPolicy = RetryPolicy {
    max_attempts: MAX_ATTEMPTS,
    initial_backoff: Duration::from_millis(1),
    max_backoff: Duration::from_millis(25),
    jitter: true,
};

/// How many account states the repository keeps, so a command reads only the events appended
/// since its last load of the account.
pub const CACHE_CAPACITY: usize = 10_000;

/// What the handlers share: the repository for commands and loads, the store for reads, the
/// backend for live feeds. Cloning shares them.
#[derive(Clone)]
pub struct AppState {
    /// Commands and loads.
    pub repo: AsyncRepository<Arc<dyn EventStore>>,
    /// Reads of recorded events.
    pub store: AsyncStore<dyn EventStore>,
    /// The store and its subscription manager, for live feeds.
    pub backend: Backend,
}

impl AppState {
    /// The state over `backend`: a repository with a cache of [`CACHE_CAPACITY`] accounts that
    /// runs a command up to [`MAX_ATTEMPTS`] times, pausing as [`CONFLICT_BACKOFF`] says.
    pub fn new(backend: Backend) -> Self {
        let repo = Repository::new(Arc::clone(&backend.store))
            .with_cache(CACHE_CAPACITY)
            .with_conflict_backoff(CONFLICT_BACKOFF);
        AppState {
            repo: AsyncRepository::new(repo),
            store: AsyncStore::from_arc(Arc::clone(&backend.store)),
            backend,
        }
    }
}
