//! [`RetryPolicy`]: how often, and how long apart, a failed call is tried again (a consumer's
//! handler, a repository command that lost a version conflict).
//!
//! Invariants:
//! - The `n`-th wait (n = 1 after the first failure) is `initial_backoff * 2^(n-1)`, capped at
//!   `max_backoff`; with jitter, a uniformly drawn value between half of it and all of it, so
//!   retries of many callers spread out instead of colliding again.
//! - `max_attempts` counts every call, the first included; it is at least 1.

use std::cell::Cell;
use std::time::Duration;

/// How a failed call is retried: attempts, exponential backoff, jitter.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use livenstore::pubsub::RetryPolicy;
///
/// let policy = RetryPolicy::default();
/// assert_eq!(policy.max_attempts, 3);
/// assert_eq!(policy.initial_backoff, Duration::from_millis(100));
///
/// let exact = RetryPolicy::new(5)
///     .backoff(Duration::from_millis(10), Duration::from_millis(50))
///     .without_jitter();
/// let waits: Vec<_> = (1..5).map(|n| exact.delay(n)).collect();
/// assert_eq!(waits, [10, 20, 40, 50].map(Duration::from_millis));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Calls in all, the first included (at least 1).
    pub max_attempts: u32,
    /// The wait after the first failure.
    pub initial_backoff: Duration,
    /// The longest wait.
    pub max_backoff: Duration,
    /// Whether each wait is drawn between half of it and all of it.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    /// 3 attempts, waits of 100 ms then 200 ms (at most 5 s), with jitter.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// The default policy with `max_attempts` calls (at least 1).
    pub fn new(max_attempts: u32) -> Self {
        RetryPolicy {
            max_attempts: max_attempts.max(1),
            ..RetryPolicy::default()
        }
    }

    /// No retry: one call.
    pub fn never() -> Self {
        RetryPolicy::new(1)
    }

    /// Sets the first wait and the longest one (raised to `initial` when below it).
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Waits exactly as computed (for tests and for callers that want fixed steps).
    pub fn without_jitter(mut self) -> Self {
        self.jitter = false;
        self
    }

    /// The wait after failed attempt `attempt` (1 for the first).
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        let full = self
            .initial_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff);
        if !self.jitter || full.is_zero() {
            return full;
        }
        let half = full / 2;
        let span = u64::try_from((full - half).as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(random() % span.max(1))
    }
}

/// A cheap per-thread pseudo-random number (xorshift64*), seeded from the clock and the
/// thread: jitter needs spread, not secrecy.
fn random() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            let local = 0u8;
            (nanos ^ (&local as *const u8 as u64).rotate_left(32)) | 1
        });
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_jitter_stays_between_half_and_all() {
        let policy =
            RetryPolicy::new(10).backoff(Duration::from_millis(8), Duration::from_millis(100));
        for attempt in 1..=10 {
            let full = policy.without_jitter().delay(attempt);
            let expected = Duration::from_millis((8u64 << (attempt - 1)).min(100));
            assert_eq!(full, expected);
            for _ in 0..50 {
                let jittered = policy.delay(attempt);
                assert!(
                    jittered >= full / 2 && jittered <= full,
                    "{jittered:?} of {full:?}"
                );
            }
        }
        assert_eq!(RetryPolicy::new(0).max_attempts, 1);
        assert_eq!(
            policy.without_jitter().delay(u32::MAX),
            Duration::from_millis(100)
        );
        let zero = RetryPolicy::new(2).backoff(Duration::ZERO, Duration::ZERO);
        assert_eq!(zero.delay(1), Duration::ZERO);
    }
}
