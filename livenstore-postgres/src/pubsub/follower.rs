//! The follower thread: reads what any process appended and publishes it to the in-process
//! manager.
//!
//! Invariants:
//! - `next` is the first position not yet published. The follower publishes only what
//!   `read_all(next, page)` returns, in that order, then moves `next` past it: each event is
//!   published once, in position order, and none is skipped (the store hands out positions
//!   without gaps and makes them visible in order).
//! - A notification, a poll tick, a (re)connection of the listener and a failed read all lead to
//!   a read from `next`, never from the notified position: a lost or coalesced notification
//!   delays events, it cannot lose them. Notifications announcing only positions below `next`
//!   cause no read, and an announced position that a read does not find is forgotten (polling
//!   covers it), so a stray notification cannot make the follower read in a loop.
//! - The listener is connected before `next` is first fixed (and before every read that follows
//!   a reconnection), so an append committed after that read notifies the listener.
//! - Nothing here blocks for longer than [`STOP_CHECK`] without looking at the stop flag, except
//!   a store read, a publication into a full blocking queue (which `close` unblocks) and the
//!   listener's own network calls: connecting (up to the pool's or the connection's timeout)
//!   and the liveness round trip to a server that stopped answering (until TCP gives up).

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use livenstore::pubsub::{
    ErrorHook, InMemorySubscriptionManager, PublishError, SubscriptionError, SubscriptionErrorKind,
    SubscriptionManager,
};
use livenstore::{EventStore, StoreError};

use super::follower_options::FollowerOptions;
use super::listener::{ListenSource, Listener, Wake};

/// The longest the follower waits on the listener before looking at the stop flag (the most a
/// `close` waits for it, besides a read in progress).
pub(crate) const STOP_CHECK: Duration = Duration::from_millis(50);

/// The first delay before retrying a failed read or reconnection; it doubles up to
/// [`FollowerOptions::max_retry_delay`].
pub(crate) const FIRST_RETRY_DELAY: Duration = Duration::from_millis(50);

/// How long the listener may stay silent before a round trip checks it is still there.
const LISTENER_CHECK: Duration = Duration::from_secs(10);

/// What the follower and the manager share.
#[derive(Default)]
pub(crate) struct FollowerState {
    stop: Mutex<bool>,
    wake: Condvar,
    /// The last position published.
    pub(crate) position: AtomicU64,
    /// The server process id of the listening connection, 0 when there is none.
    pub(crate) listener_pid: AtomicI32,
}

impl FollowerState {
    pub(crate) fn request_stop(&self) {
        *self.stop.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
    }

    fn stopped(&self) -> bool {
        *self.stop.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps until `deadline` or a stop request.
    fn sleep_until(&self, deadline: Instant) {
        let mut stop = self.stop.lock().unwrap_or_else(PoisonError::into_inner);
        while !*stop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            stop = self
                .wake
                .wait_timeout(stop, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Records which connection listens (for [`listener_backend_pid`]).
///
/// [`listener_backend_pid`]: super::PostgresSubscriptionManager::listener_backend_pid
pub(crate) fn show_listener(state: &FollowerState, listener: Option<&Listener>) {
    state
        .listener_pid
        .store(listener.map_or(0, Listener::pid), Ordering::SeqCst);
}

/// The follower: one per manager, on its own thread.
pub(crate) struct Follower {
    pub(crate) store: Arc<dyn EventStore>,
    pub(crate) local: InMemorySubscriptionManager,
    /// `None`: polling only.
    pub(crate) source: Option<ListenSource>,
    pub(crate) options: FollowerOptions,
    pub(crate) state: Arc<FollowerState>,
    /// The name in error reports.
    pub(crate) name: String,
    /// The first position to publish.
    pub(crate) next: u64,
}

/// A doubling delay for retries.
struct Backoff {
    delay: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    fn new(max: Duration) -> Self {
        Backoff {
            delay: FIRST_RETRY_DELAY.min(max),
            max,
            failures: 0,
        }
    }

    /// Records a failure; returns when to try again and whether the failure is worth a report
    /// (the first of a series, then one per longest delay).
    fn failed(&mut self, now: Instant) -> (Instant, bool) {
        self.failures += 1;
        let report = self.failures == 1 || self.delay == self.max;
        let at = later(now, self.delay);
        self.delay = (self.delay * 2).min(self.max);
        (at, report)
    }

    fn succeeded(&mut self) {
        self.delay = FIRST_RETRY_DELAY.min(self.max);
        self.failures = 0;
    }
}

/// `now + delay`, or far ahead when that does not fit in an `Instant`.
fn later(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay)
        .or_else(|| now.checked_add(Duration::from_secs(86_400 * 365)))
        .unwrap_or(now)
}

/// When the follower does what next.
struct Schedule {
    /// A read is due whatever the clock says (start, reconnection, failed read, odd payload).
    read_needed: bool,
    /// The highest position notifications announced.
    announced: u64,
    next_poll: Instant,
    read_retry: Backoff,
    /// Set after a failed read: no read before then.
    read_retry_at: Option<Instant>,
    reconnect: Backoff,
    reconnect_at: Instant,
    /// The last notification or successful check of the listener.
    last_heard: Instant,
}

impl Follower {
    /// Runs until stopped; `listener` is the connection opened by `start` (if listening).
    pub(crate) fn run(mut self, mut listener: Option<Listener>) {
        let report = self.local.error_reporter();
        let now = Instant::now();
        let mut schedule = Schedule {
            read_needed: true,
            announced: 0,
            next_poll: later(now, self.options.poll_interval),
            read_retry: Backoff::new(self.options.max_retry_delay),
            read_retry_at: None,
            reconnect: Backoff::new(self.options.max_retry_delay),
            reconnect_at: now,
            last_heard: now,
        };
        while !self.state.stopped() {
            let now = Instant::now();
            if listener.is_none() && now >= schedule.reconnect_at {
                self.reconnect(&mut schedule, &mut listener, &report);
            }
            let read_due = schedule.read_needed
                || schedule.announced >= self.next
                || now >= schedule.next_poll;
            if read_due && schedule.read_retry_at.is_none_or(|at| now >= at) {
                if !self.read(&mut schedule, &report) {
                    break;
                }
                continue;
            }
            let deadline = if read_due {
                schedule.read_retry_at.unwrap_or(now)
            } else {
                schedule.next_poll
            };
            self.wait(&mut schedule, &mut listener, deadline, &report);
        }
        self.set_listener(None);
        drop(listener);
    }

    /// Tries to open the listener; on failure, schedules the next attempt.
    fn reconnect(
        &self,
        schedule: &mut Schedule,
        listener: &mut Option<Listener>,
        report: &ErrorHook,
    ) {
        let Some(source) = &self.source else {
            return;
        };
        match source.connect() {
            Ok(connected) => {
                *listener = Some(connected);
                self.set_listener(listener.as_ref());
                schedule.reconnect.succeeded();
                schedule.last_heard = Instant::now();
                // Appends may have committed while nobody listened.
                schedule.read_needed = true;
            }
            Err(e) => {
                let (at, worth_reporting) = schedule.reconnect.failed(Instant::now());
                schedule.reconnect_at = at;
                if worth_reporting {
                    self.report(report, e);
                }
            }
        }
    }

    /// Reads and publishes what is new. `false` when the manager was closed.
    fn read(&mut self, schedule: &mut Schedule, report: &ErrorHook) -> bool {
        match self.catch_up(report) {
            Ok(open) => {
                schedule.read_needed = false;
                schedule.read_retry_at = None;
                schedule.read_retry.succeeded();
                schedule.next_poll = later(Instant::now(), self.options.poll_interval);
                // A position announced but not found (a stray NOTIFY on the channel) must not
                // make every loop read again: polling covers it.
                schedule.announced = schedule.announced.min(self.next - 1);
                open
            }
            Err(e) => {
                schedule.read_needed = true;
                let (at, worth_reporting) = schedule.read_retry.failed(Instant::now());
                schedule.read_retry_at = Some(at);
                if worth_reporting {
                    self.report(report, e);
                }
                true
            }
        }
    }

    /// Waits for a notification (or checks a quiet listener) until `deadline`, at most
    /// [`STOP_CHECK`]; without a listener, sleeps until `deadline` or the next reconnection.
    fn wait(
        &self,
        schedule: &mut Schedule,
        listener: &mut Option<Listener>,
        deadline: Instant,
        report: &ErrorHook,
    ) {
        let Some(connected) = listener.as_mut() else {
            let wake_at = if self.source.is_some() {
                deadline.min(schedule.reconnect_at)
            } else {
                deadline
            };
            self.state.sleep_until(wake_at);
            return;
        };
        let quiet = schedule.last_heard.elapsed() >= LISTENER_CHECK;
        let outcome = if quiet {
            connected.check().map(|()| Wake::Timeout)
        } else {
            let timeout = deadline.saturating_duration_since(Instant::now());
            connected.wait(timeout.min(STOP_CHECK))
        };
        match outcome {
            Ok(Wake::Timeout) => {
                if quiet {
                    schedule.last_heard = Instant::now();
                }
            }
            Ok(Wake::Notified { up_to }) => {
                schedule.last_heard = Instant::now();
                match up_to {
                    Some(position) => schedule.announced = schedule.announced.max(position),
                    None => schedule.read_needed = true,
                }
            }
            Err(e) => {
                self.report(report, e);
                *listener = None;
                self.set_listener(None);
                // Try again at once (a terminated backend is back at once), then with backoff.
                schedule.reconnect_at = Instant::now();
                schedule.read_needed = true;
            }
        }
    }

    fn set_listener(&self, listener: Option<&Listener>) {
        show_listener(&self.state, listener);
    }

    fn report(&self, report: &ErrorHook, error: StoreError) {
        report(&SubscriptionError::new(
            self.name.clone(),
            SubscriptionErrorKind::Store(error),
        ));
    }

    /// Reads and publishes everything after `next`. `Ok(false)` when the manager was closed.
    fn catch_up(&mut self, report: &ErrorHook) -> Result<bool, StoreError> {
        let page_size = self.options.page_size;
        loop {
            let page = self.store.read_all(self.next, page_size)?;
            let Some(last) = page.last().map(|event| event.position()) else {
                return Ok(true);
            };
            match self.local.publish_batch(&page) {
                Ok(()) => {}
                Err(PublishError::Closed) => return Ok(false),
                // The subscriptions not named got the events: publishing again would hand them
                // over twice. The error hook says which subscriptions missed them.
                Err(e) => report(&SubscriptionError::new(
                    self.name.clone(),
                    SubscriptionErrorKind::Publish(e),
                )),
            }
            self.next = last + 1;
            self.state.position.store(last, Ordering::SeqCst);
            if page.len() < page_size || self.state.stopped() {
                return Ok(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_reports_the_first_failure_then_each_at_the_cap() {
        let mut backoff = Backoff::new(Duration::from_millis(300));
        let now = Instant::now();
        let mut seen = Vec::new();
        for _ in 0..5 {
            let (at, report) = backoff.failed(now);
            seen.push((at - now, report));
        }
        let ms = Duration::from_millis;
        assert_eq!(
            seen,
            vec![
                (ms(50), true),
                (ms(100), false),
                (ms(200), false),
                (ms(300), true),
                (ms(300), true),
            ]
        );
        backoff.succeeded();
        assert_eq!(backoff.failed(now), (now + ms(50), true));
        // A cap below the first delay is the delay.
        let mut tight = Backoff::new(ms(10));
        assert_eq!(tight.failed(now), (now + ms(10), true));
    }

    #[test]
    fn later_never_overflows() {
        let now = Instant::now();
        assert!(later(now, Duration::MAX) > now);
        assert_eq!(
            later(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
    }
}
