//! [`PostgresProjection`]: a read model kept in the store's database, updated in the same
//! transaction that moves its checkpoint, so a crash never applies an event twice.
//!
//! Invariants:
//! - A batch is one transaction (see `batch.rs`): lock the projection's checkpoint row, read up
//!   to `batch_size` events after it, hand those passing the filter to the handler with the
//!   transaction, move the checkpoint to the last event read, COMMIT. Effects the handler makes
//!   through that transaction are applied **exactly once**: a crash, a lost connection or a
//!   handler error before COMMIT rolls back the effects and the checkpoint together.
//! - The checkpoint is the row named after the projection in the store's `checkpoints` table,
//!   the one [`PostgresCheckpointStore`](crate::PostgresCheckpointStore) reads, so
//!   `livenstore --postgres URL consumers` lists projections too. Its value is the position of
//!   the last event processed.
//! - Options are checked before any work: a name that is not a consumer name, a batch size of
//!   0 or a zero poll interval are [`ProjectionError`]s, never panics.

mod batch;
mod error;
mod running;

use std::sync::Arc;
use std::time::Duration;

use livenstore::pubsub::{
    validate_consumer_name, CheckpointError, CheckpointStore, EventFilter, HandlerError,
};
use livenstore::{EventStore, RecordedEvent};
use postgres::Transaction;

use crate::inner::Inner;
use crate::pubsub::PostgresSubscriptionManager;
use crate::store::PostgresStore;
use batch::{run_batch, Settings};
use error::is_transient_store;
pub use error::{ProjectionError, ProjectionErrorHook};
pub use running::RunningProjection;
use running::{spawn, Worker};

/// The default [`batch_size`](PostgresProjection::batch_size).
pub const DEFAULT_BATCH_SIZE: usize = 100;

/// The default [`poll_interval`](PostgresProjection::poll_interval).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The default [`max_retry_delay`](PostgresProjection::max_retry_delay).
pub const DEFAULT_MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// A projection whose handler writes its read model through the database transaction in which
/// the projection's checkpoint advances, so every event's effects are applied exactly once,
/// across crashes, lost connections and restarts.
///
/// Each batch is one transaction: it locks the projection's row in the store's `checkpoints`
/// table, reads up to [`batch_size`](Self::batch_size) events after its position, hands those
/// that pass the [`filter`](Self::filter) to the handler together with the transaction, moves
/// the checkpoint to the last event read (filtered-out events move it too) and commits. When
/// the handler fails, the transaction is rolled back and the checkpoint stays before the batch.
///
/// Only what the handler does **through the transaction** is exactly-once. Anything else it
/// does (an e-mail, a call to another service, a write through another connection) happens
/// again when the batch is run again. The handler must not end the transaction itself (a
/// `COMMIT` sent through it would store effects without the checkpoint).
///
/// Run it in the background with [`start`](Self::start), or synchronously with
/// [`run_once`](Self::run_once) and [`catch_up`](Self::catch_up). Several instances of one
/// projection (in several processes, say) are safe: the checkpoint row's lock makes their
/// batches take turns, and each batch starts where the last committed one ended.
///
/// # Examples
///
/// ```no_run
/// use livenstore_postgres::PostgresStore;
///
/// let store = PostgresStore::connect("postgresql://postgres@127.0.0.1:5432/test")?;
/// store.pool().get()?.batch_execute(
///     "CREATE TABLE IF NOT EXISTS balances (account text PRIMARY KEY, total bigint NOT NULL)",
/// )?;
/// let projection = store.projection("balances")?.batch_size(500);
/// let progress = projection.catch_up(|tx, events| {
///     for event in events {
///         let amount = event.payload().to_value()?["amount"].as_i64().unwrap_or(0);
///         tx.execute(
///             "INSERT INTO balances (account, total) VALUES ($1, $2) \
///              ON CONFLICT (account) DO UPDATE SET total = balances.total + EXCLUDED.total",
///             &[&event.stream(), &amount],
///         )?;
///     }
///     Ok(())
/// })?;
/// println!("{} events applied, checkpoint at {}", progress.events_handled, progress.position);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PostgresProjection {
    inner: Arc<Inner>,
    settings: Settings,
    poll_interval: Duration,
    max_retry_delay: Duration,
    wake: Option<PostgresSubscriptionManager>,
    on_error: Option<ProjectionErrorHook>,
}

impl std::fmt::Debug for PostgresProjection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresProjection")
            .field("name", &self.settings.name)
            .field("schema", &self.inner.config.schema_name())
            .field("batch_size", &self.settings.batch_size)
            .field("filter", &self.settings.filter)
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

/// What [`run_once`](PostgresProjection::run_once) or [`catch_up`](PostgresProjection::catch_up)
/// did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProjectionProgress {
    /// Committed batches that read at least one event.
    pub batches: u64,
    /// Events read after the checkpoint, filtered-out ones included: what the checkpoint moved
    /// over.
    pub events_read: u64,
    /// Of those, the events handed to the handler.
    pub events_handled: u64,
    /// The checkpoint afterwards: the position of the last event processed.
    pub position: u64,
}

impl PostgresProjection {
    /// A projection named `name` over `store`, with the default options: batches of
    /// [`DEFAULT_BATCH_SIZE`], every event, a [`DEFAULT_POLL_INTERVAL`].
    ///
    /// The name is the projection's checkpoint row (`consumer` in the `checkpoints` table), so
    /// it must not be shared with a [`Consumer`](livenstore::pubsub::Consumer).
    ///
    /// # Errors
    ///
    /// [`ProjectionError::InvalidName`] when `name` is not a valid consumer name
    /// ([`validate_consumer_name`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use livenstore_postgres::{PostgresProjection, PostgresStore, ProjectionError};
    ///
    /// let store = PostgresStore::connect("postgresql://postgres@127.0.0.1:5432/test")?;
    /// assert!(PostgresProjection::new(&store, "balances").is_ok());
    /// assert!(matches!(
    ///     PostgresProjection::new(&store, "no spaces"),
    ///     Err(ProjectionError::InvalidName { .. })
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(store: &PostgresStore, name: impl Into<String>) -> Result<Self, ProjectionError> {
        let name = name.into();
        validate_consumer_name(&name).map_err(|error| match error {
            CheckpointError::InvalidName { name, reason } => {
                ProjectionError::InvalidName { name, reason }
            }
            other => ProjectionError::InvalidOption(other.to_string()),
        })?;
        Ok(PostgresProjection {
            inner: Arc::clone(&store.inner),
            settings: Settings {
                name,
                batch_size: DEFAULT_BATCH_SIZE,
                filter: None,
            },
            poll_interval: DEFAULT_POLL_INTERVAL,
            max_retry_delay: DEFAULT_MAX_RETRY_DELAY,
            wake: None,
            on_error: None,
        })
    }

    /// The most events one batch (one transaction) reads; at least 1 (0 is refused when the
    /// projection runs). Default [`DEFAULT_BATCH_SIZE`].
    pub fn batch_size(mut self, events: usize) -> Self {
        self.settings.batch_size = events;
        self
    }

    /// Hands the handler only the events `filter` matches. The others still move the
    /// checkpoint; a batch whose events all fail the filter does not call the handler.
    pub fn filter(mut self, filter: EventFilter) -> Self {
        self.settings.filter = Some(filter);
        self
    }

    /// How long a [running](Self::start) projection that reached the head waits before it
    /// looks for new events again (unless woken earlier, see [`wake_on`](Self::wake_on));
    /// more than zero. Default [`DEFAULT_POLL_INTERVAL`].
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// The longest pause between retries of a batch that failed transiently (a lost connection,
    /// a deadlock); the pauses start at 100 ms and double up to it. Default
    /// [`DEFAULT_MAX_RETRY_DELAY`].
    pub fn max_retry_delay(mut self, delay: Duration) -> Self {
        self.max_retry_delay = delay;
        self
    }

    /// Wakes the [running](Self::start) projection as soon as `manager` sees new events (its
    /// follower `LISTEN`s for the store's notifications), instead of at the next poll. The
    /// projection subscribes to the manager while it runs.
    pub fn wake_on(mut self, manager: &PostgresSubscriptionManager) -> Self {
        self.wake = Some(manager.clone());
        self
    }

    /// Sets the hook that receives a running projection's errors: transient ones it retries,
    /// and the one that stops it. Without a hook they go to standard error.
    pub fn on_error(mut self, hook: impl Fn(&ProjectionError) + Send + Sync + 'static) -> Self {
        self.on_error = Some(Arc::new(hook));
        self
    }

    /// The projection's name (its checkpoint's).
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// The stored checkpoint: the position of the last event processed, 0 before the first.
    ///
    /// # Errors
    ///
    /// [`ProjectionError::Store`] when it cannot be read.
    pub fn position(&self) -> Result<u64, ProjectionError> {
        let checkpoints = PostgresStore {
            inner: Arc::clone(&self.inner),
        }
        .checkpoints();
        match checkpoints.load(&self.settings.name) {
            Ok(position) => Ok(position.unwrap_or(0)),
            Err(CheckpointError::InvalidName { name, reason }) => {
                Err(ProjectionError::InvalidName { name, reason })
            }
            Err(CheckpointError::Backend(source)) => Err(self.store_error(source)),
            Err(other) => Err(self.store_error(livenstore::StoreError::Backend {
                backend: crate::error::BACKEND,
                operation: "projection checkpoint",
                outcome_unknown: false,
                source: Box::new(other),
            })),
        }
    }

    fn store_error(&self, source: livenstore::StoreError) -> ProjectionError {
        ProjectionError::Store {
            projection: self.settings.name.clone(),
            transient: is_transient_store(&source),
            source,
        }
    }

    fn check(&self) -> Result<(), ProjectionError> {
        if self.settings.batch_size == 0 {
            return Err(ProjectionError::InvalidOption(
                "batch_size must be at least 1".into(),
            ));
        }
        if self.poll_interval.is_zero() {
            return Err(ProjectionError::InvalidOption(
                "poll_interval must be more than zero".into(),
            ));
        }
        Ok(())
    }

    /// Runs one batch (one transaction) now, in this thread.
    ///
    /// # Errors
    ///
    /// [`ProjectionError::InvalidOption`] for a batch size of 0; [`ProjectionError::Store`],
    /// [`ProjectionError::Handler`] or [`ProjectionError::HandlerPanicked`] when the batch
    /// failed, in which case nothing of it is stored.
    pub fn run_once<F>(&self, mut handler: F) -> Result<ProjectionProgress, ProjectionError>
    where
        F: FnMut(&mut Transaction<'_>, &[RecordedEvent]) -> Result<(), HandlerError>,
    {
        self.check()?;
        let outcome = run_batch(&self.inner, &self.settings, &mut handler)?;
        Ok(ProjectionProgress {
            batches: u64::from(outcome.read > 0),
            events_read: outcome.read as u64,
            events_handled: outcome.handled as u64,
            position: outcome.position,
        })
    }

    /// Runs batches in this thread until the checkpoint reaches the store's last position as
    /// it was when called (events appended meanwhile may be processed too, or not).
    ///
    /// # Errors
    ///
    /// As [`run_once`](Self::run_once): the batches committed before the failure stay
    /// committed.
    pub fn catch_up<F>(&self, mut handler: F) -> Result<ProjectionProgress, ProjectionError>
    where
        F: FnMut(&mut Transaction<'_>, &[RecordedEvent]) -> Result<(), HandlerError>,
    {
        self.check()?;
        let store = PostgresStore {
            inner: Arc::clone(&self.inner),
        };
        let head = store
            .last_position()
            .map_err(|source| self.store_error(source))?;
        let mut progress = ProjectionProgress::default();
        loop {
            let outcome = run_batch(&self.inner, &self.settings, &mut handler)?;
            progress.position = outcome.position;
            if outcome.read == 0 {
                return Ok(progress);
            }
            progress.batches += 1;
            progress.events_read += outcome.read as u64;
            progress.events_handled += outcome.handled as u64;
            if outcome.position >= head {
                return Ok(progress);
            }
        }
    }

    /// Starts the projection on a worker thread of its own, which runs batches until stopped:
    /// back to back while events are waiting, then whenever new ones are found (polling, or
    /// woken through [`wake_on`](Self::wake_on)).
    ///
    /// Failures are reported to the [error hook](Self::on_error). A transient one (a lost
    /// connection, a deadlock or serialization failure, no connection to be had; see
    /// [`ProjectionError::is_transient`]) is retried after a pause; any other one, a handler
    /// error or panic included, stops the worker
    /// ([`is_running`](RunningProjection::is_running) turns false) with the checkpoint before
    /// the failed batch. Restarting the projection (after fixing the handler) runs that batch
    /// again.
    ///
    /// # Errors
    ///
    /// [`ProjectionError::InvalidOption`] for invalid options; [`ProjectionError::Store`] when
    /// the checkpoint cannot be read or the thread cannot start; [`ProjectionError::WakeUp`]
    /// when the manager given to [`wake_on`](Self::wake_on) is closed.
    pub fn start<F>(self, handler: F) -> Result<RunningProjection, ProjectionError>
    where
        F: FnMut(&mut Transaction<'_>, &[RecordedEvent]) -> Result<(), HandlerError>
            + Send
            + 'static,
    {
        self.check()?;
        let position = self.position()?;
        let worker = Worker {
            inner: self.inner,
            settings: self.settings,
            poll_interval: self.poll_interval,
            max_retry_delay: self.max_retry_delay,
            on_error: self.on_error,
            handler,
        };
        spawn(worker, position, self.wake.as_ref())
    }
}

impl PostgresStore {
    /// A [`PostgresProjection`] named `name` over this store (see
    /// [`PostgresProjection::new`]).
    ///
    /// # Errors
    ///
    /// [`ProjectionError::InvalidName`] when `name` is not a valid consumer name.
    pub fn projection(
        &self,
        name: impl Into<String>,
    ) -> Result<PostgresProjection, ProjectionError> {
        PostgresProjection::new(self, name)
    }
}
