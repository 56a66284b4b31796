//! [`RunningProjection`]: the worker thread that runs a projection's batches until stopped.
//!
//! Invariants:
//! - The worker runs one batch at a time (`batch::run_batch`); a stop request is looked at
//!   between batches, so a stop waits for the batch in flight to commit or roll back, and never
//!   cuts one in half (a killed process does, and its transaction rolls back on the server).
//! - A batch that read fewer events than the batch size reached the head: the worker then waits
//!   for the poll interval, a wake-up (a notification through the manager given to
//!   [`wake_on`](crate::PostgresProjection::wake_on)) or a stop, whichever comes first. A
//!   wake-up that arrives while a batch runs is kept, so the next wait returns at once.
//! - A transient failure ([`ProjectionError::is_transient`]) is reported and the batch run
//!   again after a pause that doubles from 100 ms up to the maximum retry delay (with jitter); any other
//!   failure is reported and ends the worker (`is_running` turns false). Nothing is applied
//!   twice either way: a failed batch's transaction, checkpoint included, was rolled back.
//! - `position` only moves forward: it is the checkpoint as the last committed batch left it.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use livenstore::pubsub::{EventFilter, HandlerError, RetryPolicy, SubscriptionManager, Watch};
use livenstore::RecordedEvent;
use postgres::Transaction;

use super::batch::{run_batch, Settings};
use super::error::{default_report, ProjectionError, ProjectionErrorHook};
use crate::inner::Inner;
use crate::pubsub::PostgresSubscriptionManager;

/// The first pause after a transient failure.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);

/// What the worker and the handle share.
#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    stop: bool,
    woken: bool,
    running: bool,
    position: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks the worker to look for new events now.
    fn wake(&self) {
        self.lock().woken = true;
        self.changed.notify_all();
    }

    fn request_stop(&self) {
        self.lock().stop = true;
        self.changed.notify_all();
    }

    fn stopping(&self) -> bool {
        self.lock().stop
    }

    fn set_position(&self, position: u64) {
        let mut state = self.lock();
        state.position = state.position.max(position);
        drop(state);
        self.changed.notify_all();
    }

    fn set_stopped(&self) {
        self.lock().running = false;
        self.changed.notify_all();
    }

    /// Waits up to `timeout` for a wake-up or a stop; false when stopping.
    fn pause(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while !state.stop && !state.woken {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state.woken = false;
        !state.stop
    }
}

/// What the worker runs with.
pub(crate) struct Worker<F> {
    pub(crate) inner: Arc<Inner>,
    pub(crate) settings: Settings,
    pub(crate) poll_interval: Duration,
    pub(crate) max_retry_delay: Duration,
    pub(crate) on_error: Option<ProjectionErrorHook>,
    pub(crate) handler: F,
}

impl<F> Worker<F>
where
    F: FnMut(&mut Transaction<'_>, &[RecordedEvent]) -> Result<(), HandlerError> + Send + 'static,
{
    fn report(&self, error: &ProjectionError) {
        match &self.on_error {
            Some(hook) => hook(error),
            None => default_report(error),
        }
    }

    fn run(mut self, shared: &Shared) {
        // Waits that double from the first delay up to the maximum, with jitter, so copies of
        // a projection that failed together do not retry together.
        let backoff = RetryPolicy::new(u32::MAX).backoff(FIRST_RETRY_DELAY, self.max_retry_delay);
        let mut failures = 0u32;
        while !shared.stopping() {
            match run_batch(&self.inner, &self.settings, &mut self.handler) {
                Ok(outcome) => {
                    failures = 0;
                    shared.set_position(outcome.position);
                    if outcome.read < self.settings.batch_size && !shared.pause(self.poll_interval)
                    {
                        break;
                    }
                }
                Err(error) if error.is_transient() => {
                    self.report(&error);
                    failures = failures.saturating_add(1);
                    if !shared.pause(backoff.delay(failures)) {
                        break;
                    }
                }
                Err(error) => {
                    self.report(&error);
                    break;
                }
            }
        }
        shared.set_stopped();
    }
}

/// Starts `worker` on a thread of its own, at checkpoint `position`, woken by `wake_on`'s
/// events when given.
pub(crate) fn spawn<F>(
    worker: Worker<F>,
    position: u64,
    wake_on: Option<&PostgresSubscriptionManager>,
) -> Result<RunningProjection, ProjectionError>
where
    F: FnMut(&mut Transaction<'_>, &[RecordedEvent]) -> Result<(), HandlerError> + Send + 'static,
{
    let name = worker.settings.name.clone();
    let shared = Arc::new(Shared::default());
    {
        let mut state = shared.lock();
        state.position = position;
        state.running = true;
    }
    let wake = match wake_on {
        Some(manager) => {
            let shared = Arc::clone(&shared);
            // A watch, not a subscription: the manager runs it on the publisher's thread after
            // each publish, with no queue and no delivery per event (how catch-up
            // subscriptions wake their reader).
            let subscribed = manager.watch(EventFilter::all(), Arc::new(move || shared.wake()));
            Some(subscribed.map_err(|source| ProjectionError::WakeUp {
                projection: name.clone(),
                source,
            })?)
        }
        None => None,
    };
    let for_worker = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name(format!("projection-{name}"))
        .spawn(move || worker.run(&for_worker))
        .map_err(|e| ProjectionError::Store {
            projection: name.clone(),
            transient: false,
            source: super::batch::thread_error(e),
        })?;
    Ok(RunningProjection {
        name,
        shared,
        thread: Some(thread),
        wake,
    })
}

/// A projection running on a worker thread of its own; made by
/// [`PostgresProjection::start`](crate::PostgresProjection::start).
///
/// Dropping it stops the projection as [`stop`](Self::stop) does.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use livenstore_postgres::PostgresStore;
///
/// let store = PostgresStore::connect("postgresql://postgres@127.0.0.1:5432/test")?;
/// let running = store.projection("audit")?.start(|tx, events| {
///     for event in events {
///         tx.execute("INSERT INTO audit (position) VALUES ($1)", &[&(event.position() as i64)])?;
///     }
///     Ok(())
/// })?;
/// if running.wait_for(10, Duration::from_secs(5)) {
///     println!("events 1 to 10 are in the read model; checkpoint {}", running.position());
/// }
/// running.stop();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping a RunningProjection stops it"]
#[derive(Debug)]
pub struct RunningProjection {
    name: String,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    wake: Option<Watch>,
}

impl RunningProjection {
    /// The projection's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The checkpoint as the last committed batch left it (at start, the stored one).
    pub fn position(&self) -> u64 {
        self.shared.lock().position
    }

    /// Whether the worker still runs: false after [`stop`](Self::stop) was asked for, and after
    /// an error that is not transient (reported to the error hook) ended it.
    pub fn is_running(&self) -> bool {
        let state = self.shared.lock();
        state.running && !state.stop
    }

    /// Waits up to `timeout` for the checkpoint to reach `position`; true when it did, false
    /// on timeout or when the worker ended first.
    pub fn wait_for(&self, position: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if state.position >= position {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if !state.running || left.is_zero() {
                return false;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Stops the worker after the batch in flight commits or rolls back, and joins it.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for RunningProjection {
    fn drop(&mut self) {
        self.shared.request_stop();
        // Dropping the watch detaches it.
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
