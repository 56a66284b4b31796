//! [`AppState`]: what the handlers share, and how the repository is set up.

use std::sync::Arc;

use livenstore::nonblocking::{AsyncRepository, AsyncStore};
use livenstore::{EventStore, Repository};

use super::backend::Backend;

/// How many times a command runs before a version conflict is reported (409 `conflict`): the
/// repository's own retries ([`Repository::with_max_attempts`]), back to back in one call on
/// the blocking pool, each a load (from the cache: only the events saved since) and a save.
///
/// The repository's default, 5, is too few when dozens of clients write to one account: each
/// round only one writer wins, and nothing makes the losers take turns. In the tests' run of
/// 32 clients × 10 deposits into one account, with 5 or with 32 attempts some deposits came
/// back 409; with this limit none did, and the longest run of lost attempts seen for one
/// command was 134 on PostgreSQL and about 30 on the JSON store.
pub const MAX_ATTEMPTS: u32 = 1_000;

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
    /// runs a command up to [`MAX_ATTEMPTS`] times.
    pub fn new(backend: Backend) -> Self {
        let repo = Repository::new(Arc::clone(&backend.store))
            .with_cache(CACHE_CAPACITY)
            .with_max_attempts(MAX_ATTEMPTS);
        AppState {
            repo: AsyncRepository::new(repo),
            store: AsyncStore::from_arc(Arc::clone(&backend.store)),
            backend,
        }
    }
}
