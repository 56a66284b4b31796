//! The clocks stores stamp events with: the system clock, and a [`CoarseClock`] that reuses a
//! recent system clock reading instead of reading the clock on every call.
//!
//! Reading the system clock costs, on a virtual machine, about as much as the rest of an
//! in-memory append, so a busy store reads it about once per millisecond instead of once per call.
//!
//! Invariants:
//! - `LATEST` is the largest system clock reading taken through [`read_system_clock`] in this
//!   process ([`Timestamp::now`] is one); it never decreases.
//! - `TICKS` is incremented every [`TICK`] by the ticker thread while `TICKER_RUNNING` is set. It
//!   never decreases, across ticker restarts too.
//! - A [`CoarseClock`] answers `LATEST` without reading the system clock only while `TICKS` still
//!   has the value it had before the clock's own last reading, the ticker runs, and fewer than
//!   [`READINGS_PER_REFRESH`] answers were given since that reading.
//!
//! Hence every coarse reading is a real system clock reading (taken by this clock or by another
//! caller in the process), never earlier than a reading that happened before it (such as a
//! `Timestamp::now()` made before an append), and taken less than one tick before the call, plus
//! whatever time the operating system lets pass before it runs the ticker thread.
//!
//! The ticker is one thread per process (`livenstore-clock`), started by the first coarse reading.
//! It stops after [`IDLE_TICKS_BEFORE_STOP`] ticks in which no coarse clock read the system clock,
//! and the next coarse reading starts it again; while it is stopped (or when the OS refuses a
//! thread) every coarse reading reads the system clock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::Timestamp;

/// How often the ticker ticks: the precision a coarse reading promises.
pub(crate) const TICK: Duration = Duration::from_millis(1);

/// A coarse clock reads the system clock at least once per this many readings, so a busy store
/// also gets fresh times between ticks.
pub(crate) const READINGS_PER_REFRESH: u32 = 64;

/// Ticks without a coarse clock reading the system clock after which the ticker stops.
const IDLE_TICKS_BEFORE_STOP: u32 = 1000;

static LATEST: AtomicU64 = AtomicU64::new(0);
static TICKS: AtomicU64 = AtomicU64::new(0);
static TICKER_RUNNING: AtomicBool = AtomicBool::new(false);
/// Set by every coarse refresh; the ticker clears it at each tick to see whether it is still used.
static TICKER_USED: AtomicBool = AtomicBool::new(false);
/// Set when the OS refused the ticker thread: it is not asked again.
static TICKER_REFUSED: AtomicBool = AtomicBool::new(false);

/// Reads the system clock and records the reading as the latest one. Returns the reading.
pub(crate) fn read_system_clock() -> Timestamp {
    let now = Timestamp::from_system_time(SystemTime::now());
    LATEST.fetch_max(now.as_unix_nanos(), Ordering::AcqRel);
    now
}

impl Timestamp {
    /// The current time, read from the system clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore::Timestamp;
    ///
    /// let before = Timestamp::now();
    /// assert!(Timestamp::now() >= before);
    /// assert!(before > Timestamp::UNIX_EPOCH);
    /// ```
    pub fn now() -> Self {
        read_system_clock()
    }
}

/// A per-owner clock that reuses the latest system clock reading (see the module documentation
/// for what it guarantees). Not shared: each store holds its own, behind its own lock.
#[derive(Debug, Clone)]
pub(crate) struct CoarseClock {
    /// `TICKS` as loaded just before this clock's last system clock reading.
    tick: u64,
    /// Answers given since that reading.
    served: u32,
}

impl Default for CoarseClock {
    fn default() -> Self {
        CoarseClock {
            tick: u64::MAX,
            served: READINGS_PER_REFRESH,
        }
    }
}

impl CoarseClock {
    /// The current time, to within one tick: see the module documentation.
    #[inline(always)]
    pub(crate) fn now(&mut self) -> Timestamp {
        if self.served < READINGS_PER_REFRESH
            && TICKER_RUNNING.load(Ordering::Acquire)
            && TICKS.load(Ordering::Acquire) == self.tick
        {
            self.served += 1;
            return Timestamp::from_unix_nanos(LATEST.load(Ordering::Acquire));
        }
        self.refresh()
    }

    /// Reads the system clock; the answer is the latest reading in the process (this one unless
    /// the system clock was set back).
    #[cold]
    fn refresh(&mut self) -> Timestamp {
        // Loaded before reading the clock: a tick during the reading makes the next call read again.
        self.tick = TICKS.load(Ordering::Acquire);
        self.served = 0;
        let now = read_system_clock();
        TICKER_USED.store(true, Ordering::Relaxed);
        if !TICKER_RUNNING.load(Ordering::Acquire) {
            start_ticker();
        }
        now.max(Timestamp::from_unix_nanos(LATEST.load(Ordering::Acquire)))
    }
}

/// Starts the ticker thread unless another caller just did. Without a thread (the OS refused
/// one, which is then not asked again), every coarse reading reads the system clock.
fn start_ticker() {
    if TICKER_REFUSED.load(Ordering::Relaxed)
        || TICKER_RUNNING
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
    {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("livenstore-clock".into())
        .spawn(|| {
            let mut idle = 0;
            loop {
                std::thread::sleep(TICK);
                TICKS.fetch_add(1, Ordering::AcqRel);
                if TICKER_USED.swap(false, Ordering::Relaxed) {
                    idle = 0;
                } else {
                    idle += 1;
                    if idle >= IDLE_TICKS_BEFORE_STOP {
                        TICKER_RUNNING.store(false, Ordering::Release);
                        return;
                    }
                }
            }
        });
    if spawned.is_err() {
        TICKER_REFUSED.store(true, Ordering::Relaxed);
        TICKER_RUNNING.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn never_earlier_than_a_reading_made_before() {
        let mut clock = CoarseClock::default();
        for _ in 0..3 * READINGS_PER_REFRESH {
            let before = Timestamp::now();
            let coarse = clock.now();
            assert!(coarse >= before, "{coarse:?} < {before:?}");
        }
    }

    #[test]
    fn readings_never_decrease() {
        let mut clock = CoarseClock::default();
        let mut last = clock.now();
        for _ in 0..10_000 {
            let now = clock.now();
            assert!(now >= last);
            last = now;
        }
    }

    #[test]
    fn a_tick_makes_the_next_reading_fresh() {
        let mut clock = CoarseClock::default();
        clock.now();
        let tick = clock.tick;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TICKS.load(Ordering::Acquire) == tick {
            assert!(Instant::now() < deadline, "the ticker never ticked");
            std::thread::sleep(Duration::from_micros(200));
        }
        // Not published through `read_system_clock`: only a fresh reading can reach it.
        let after_tick = Timestamp::from_system_time(SystemTime::now());
        assert!(clock.now() >= after_tick);
    }

    #[test]
    fn refreshes_every_readings_per_refresh_calls() {
        let mut clock = CoarseClock::default();
        clock.now();
        // Keep the ticker from invalidating the reading is impossible from here, so check the count
        // only: it restarts at 0 on every refresh and never exceeds the bound.
        for _ in 0..5 * READINGS_PER_REFRESH {
            clock.now();
            assert!(clock.served <= READINGS_PER_REFRESH);
        }
        clock.served = READINGS_PER_REFRESH;
        let before_refresh = Timestamp::from_system_time(SystemTime::now());
        assert!(
            clock.now() >= before_refresh,
            "a full count reads the clock"
        );
        assert_eq!(clock.served, 0);
    }
}
