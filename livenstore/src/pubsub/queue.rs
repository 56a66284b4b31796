//! The bounded queue between publishers and one subscription's worker.
//!
//! One `Mutex` + two `Condvar`s. Publishers push under the lock; the worker takes the whole
//! queue at once by swapping it with its own (empty) buffer, so each event costs one push and
//! one pop, and the lock is taken once per batch on the worker side. Condition variables are
//! signalled only when someone waits on them, which keeps the uncontended path free of system
//! calls. Before it sleeps, an idle worker backs off briefly (a few spins, then a few
//! `yield_now`s) watching an atomic length hint: under a steady stream of events it then finds
//! work without a sleep/wake round trip per event, and takes events in batches.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::RecordedEvent;

/// How the queue is being stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum StopMode {
    Running,
    /// Deliver what is queued, accept nothing more, then stop.
    Drain,
    /// Stop now; what is queued is discarded.
    Abort,
}

/// What a push that is not fully accepted reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushRefused {
    Full,
    WouldDeadlock,
}

/// What a publisher does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FullMode {
    Block,
    BlockFor(Duration),
    Fail,
}

struct State {
    buf: VecDeque<RecordedEvent>,
    stop: StopMode,
    worker_waiting: bool,
    publishers_waiting: usize,
}

pub(crate) struct Queue {
    state: Mutex<State>,
    not_empty: Condvar,
    not_full: Condvar,
    capacity: usize,
    /// `buf.len()`, written under the lock, read without it by the backing-off worker.
    len_hint: AtomicUsize,
}

/// Backoff steps before the worker sleeps: spins of 2^step for the first ones, then yields.
const SPIN_STEPS: u32 = 6;
const BACKOFF_STEPS: u32 = 10;

impl Queue {
    pub(crate) fn new(capacity: usize) -> Self {
        Queue {
            state: Mutex::new(State {
                buf: VecDeque::with_capacity(capacity.min(4096)),
                stop: StopMode::Running,
                worker_waiting: false,
                publishers_waiting: 0,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            capacity,
            len_hint: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues every event of `events`, in order. Events offered to a stopped queue are ignored
    /// (the subscription is gone).
    pub(crate) fn push<'a>(
        &self,
        events: impl Iterator<Item = &'a RecordedEvent>,
        mode: FullMode,
        is_worker_thread: impl Fn() -> bool,
    ) -> Result<(), PushRefused> {
        let mut state = self.lock();
        let mut pushed = false;
        let mut result = Ok(());
        'events: for event in events {
            let mut deadline: Option<Instant> = None;
            loop {
                if state.stop != StopMode::Running {
                    break 'events;
                }
                if state.buf.len() < self.capacity {
                    state.buf.push_back(event.clone());
                    pushed = true;
                    break;
                }
                // Full: let the worker know there is work before waiting or failing.
                if pushed && state.worker_waiting {
                    self.not_empty.notify_one();
                }
                match mode {
                    FullMode::Fail => {
                        result = Err(PushRefused::Full);
                        break 'events;
                    }
                    FullMode::Block => {
                        if is_worker_thread() {
                            result = Err(PushRefused::WouldDeadlock);
                            break 'events;
                        }
                        state.publishers_waiting += 1;
                        state = self
                            .not_full
                            .wait(state)
                            .unwrap_or_else(PoisonError::into_inner);
                        state.publishers_waiting -= 1;
                    }
                    FullMode::BlockFor(timeout) => {
                        let deadline = *deadline.get_or_insert_with(|| Instant::now() + timeout);
                        let now = Instant::now();
                        if now >= deadline {
                            result = Err(PushRefused::Full);
                            break 'events;
                        }
                        state.publishers_waiting += 1;
                        state = self
                            .not_full
                            .wait_timeout(state, deadline - now)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0;
                        state.publishers_waiting -= 1;
                    }
                }
            }
        }
        if pushed {
            self.len_hint.store(state.buf.len(), Ordering::Release);
            if state.worker_waiting {
                self.not_empty.notify_one();
            }
        }
        result
    }

    /// Moves every queued event into `batch` (which must be empty), waiting for one when the
    /// queue is empty. Returns `false` when the worker must stop.
    pub(crate) fn take_batch(&self, batch: &mut VecDeque<RecordedEvent>) -> bool {
        let mut step = 0;
        while step < BACKOFF_STEPS && self.len_hint.load(Ordering::Acquire) == 0 {
            if step < SPIN_STEPS {
                for _ in 0..(1u32 << step) {
                    std::hint::spin_loop();
                }
            } else {
                std::thread::yield_now();
            }
            step += 1;
        }
        let mut state = self.lock();
        loop {
            match state.stop {
                StopMode::Abort => return false,
                StopMode::Drain if state.buf.is_empty() => return false,
                _ => {}
            }
            if !state.buf.is_empty() {
                std::mem::swap(&mut state.buf, batch);
                self.len_hint.store(0, Ordering::Release);
                if state.publishers_waiting > 0 {
                    self.not_full.notify_all();
                }
                return true;
            }
            state.worker_waiting = true;
            state = self
                .not_empty
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.worker_waiting = false;
        }
    }

    /// Stops the queue (an abort wins over a drain) and wakes everyone.
    pub(crate) fn stop(&self, mode: StopMode) {
        let mut state = self.lock();
        if mode > state.stop {
            state.stop = mode;
        }
        if state.stop == StopMode::Abort {
            state.buf.clear();
            self.len_hint.store(0, Ordering::Release);
        }
        drop(state);
        self.not_empty.notify_all();
        self.not_full.notify_all();
    }

    /// Whether the queue still accepts events.
    pub(crate) fn is_running(&self) -> bool {
        self.lock().stop == StopMode::Running
    }

    /// Number of queued events.
    pub(crate) fn len(&self) -> usize {
        self.lock().buf.len()
    }
}
