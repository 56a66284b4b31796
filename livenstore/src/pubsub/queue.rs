//! The bounded queue between publishers and one subscription's worker.
//!
//! One `Mutex` + two `Condvar`s. Publishers push under the lock; the worker takes the whole
//! queue at once by swapping it with its own (empty) buffer, so each event costs one push and
//! one pop, and the lock is taken once per batch on the worker side. Condition variables are
//! signalled only when someone waits on them, which keeps the uncontended path free of system
//! calls.
//!
//! The worker does not chase the publishers event by event. With a fast handler, a worker that
//! took the lock as soon as an event or two were queued moved the lock's, the buffer's and the
//! length hint's cache lines between its core and the publisher's at every publish: one
//! subscriber then received events far slower than through a bare `mpsc` channel, with almost
//! no context switch (`benches/pubsub.rs`). Instead, the worker backs off
//! (spins of growing length, then `yield_now`s) while watching an atomic length hint kept on
//! its own cache line, and takes the queue once it holds a worthwhile batch (half the capacity,
//! at most `MAX_BATCH_TARGET` events), once queued events have waited `LINGER_STEPS` backoff
//! steps (a few microseconds), or at once when a publisher waits for room. With nothing queued
//! after `BACKOFF_STEPS` it sleeps on the condition variable, and the next push wakes it.

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

/// A value alone on its cache line(s), so polling it does not disturb its neighbours.
#[repr(align(128))]
struct OwnLine<T>(T);

pub(crate) struct Queue {
    state: Mutex<State>,
    not_empty: Condvar,
    not_full: Condvar,
    capacity: usize,
    /// How many queued events make the worker take the queue without lingering: half the
    /// capacity (a publisher blocked on a full queue never waits on the linger), at most
    /// `MAX_BATCH_TARGET`.
    batch_target: usize,
    /// `buf.len()`, written under the lock, read without it by the backing-off worker.
    len_hint: OwnLine<AtomicUsize>,
}

/// Backoff steps: spins of 2^step pauses for the first `SPIN_STEPS`, then `yield_now`s.
const SPIN_STEPS: u32 = 6;
/// Steps after which queued events are taken even if fewer than the batch target.
const LINGER_STEPS: u32 = 8;
/// Steps after which an empty queue puts the worker to sleep.
const BACKOFF_STEPS: u32 = 10;
/// The largest batch target (events).
const MAX_BATCH_TARGET: usize = 128;

/// One backoff step: 2^step spin-loop hints for the first `SPIN_STEPS` steps, then a
/// `yield_now`.
fn back_off(step: u32) {
    if step < SPIN_STEPS {
        for _ in 0..(1u32 << step) {
            std::hint::spin_loop();
        }
    } else {
        std::thread::yield_now();
    }
}

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
            batch_target: (capacity / 2).clamp(1, MAX_BATCH_TARGET),
            len_hint: OwnLine(AtomicUsize::new(0)),
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
                // Full: let the worker see (and wake up to) what is queued before waiting or
                // failing.
                self.len_hint.0.store(state.buf.len(), Ordering::Release);
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
            self.len_hint.0.store(state.buf.len(), Ordering::Release);
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
        loop {
            let queued = self.len_hint.0.load(Ordering::Acquire);
            let enough = queued >= self.batch_target
                || (queued > 0 && step >= LINGER_STEPS)
                || step >= BACKOFF_STEPS;
            if enough {
                break;
            }
            back_off(step);
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
                self.len_hint.0.store(0, Ordering::Release);
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
            self.len_hint.0.store(0, Ordering::Release);
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{EventId, Metadata, Payload, RecordedEventParts, Timestamp};

    fn event(position: u64) -> RecordedEvent {
        RecordedEvent::from_parts(RecordedEventParts {
            id: EventId::new(),
            event_type: "Tick".into(),
            stream: "s".into(),
            version: position,
            position,
            recorded_at: Timestamp::now(),
            metadata: Metadata::new(),
            payload: Payload::from_trusted_json("{}"),
            event_version: 1,
        })
    }

    fn positions(batch: &mut VecDeque<RecordedEvent>) -> Vec<u64> {
        batch.drain(..).map(|e| e.position()).collect()
    }

    /// Runs `f` on a new thread; the receiver gets its result.
    fn on_thread<T: Send + 'static>(
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::sync::mpsc::Receiver<T> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx
    }

    const WAIT: Duration = Duration::from_secs(10);

    /// Waits until a publisher sleeps on the full queue's condition variable.
    fn wait_for_sleeping_publisher(queue: &Queue) {
        let start = Instant::now();
        while queue.lock().publishers_waiting == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no publisher slept"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_few_events_are_taken_without_waiting_for_a_full_batch() {
        let queue = Queue::new(1024);
        let events: Vec<_> = (1..=3).map(event).collect();
        assert_eq!(queue.push(events.iter(), FullMode::Block, || false), Ok(()));
        let mut batch = VecDeque::new();
        assert!(queue.take_batch(&mut batch));
        assert_eq!(positions(&mut batch), vec![1, 2, 3]);
    }

    #[test]
    fn a_sleeping_worker_is_woken_by_a_push() {
        let queue = Arc::new(Queue::new(8));
        let worker = {
            let queue = Arc::clone(&queue);
            on_thread(move || {
                let mut batch = VecDeque::new();
                queue.take_batch(&mut batch).then(|| positions(&mut batch))
            })
        };
        let start = Instant::now();
        while !queue.lock().worker_waiting {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the worker never slept"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            queue.push([event(1)].iter(), FullMode::Block, || false),
            Ok(())
        );
        assert_eq!(worker.recv_timeout(WAIT), Ok(Some(vec![1])));
    }

    #[test]
    fn a_blocked_publisher_sleeps_and_resumes_in_order() {
        const EVENTS: u64 = 12;
        const CAPACITY: usize = 2;
        let queue = Arc::new(Queue::new(CAPACITY));
        let publisher = {
            let queue = Arc::clone(&queue);
            on_thread(move || {
                let events: Vec<_> = (1..=EVENTS).map(event).collect();
                queue.push(events.iter(), FullMode::Block, || false)
            })
        };
        let mut got = Vec::new();
        let mut batch = VecDeque::new();
        while (got.len() as u64) < EVENTS {
            if got.len() as u64 + (CAPACITY as u64) < EVENTS {
                // Events are left to push, so the publisher ends up asleep on the full queue.
                wait_for_sleeping_publisher(&queue);
            }
            assert!(queue.take_batch(&mut batch));
            assert!(batch.len() <= CAPACITY);
            got.extend(positions(&mut batch));
        }
        assert_eq!(publisher.recv_timeout(WAIT), Ok(Ok(())));
        assert_eq!(got, (1..=EVENTS).collect::<Vec<_>>());
    }

    #[test]
    fn aborting_wakes_a_blocked_publisher_and_discards_the_queue() {
        let queue = Arc::new(Queue::new(1));
        assert_eq!(
            queue.push([event(1)].iter(), FullMode::Block, || false),
            Ok(())
        );
        let publisher = {
            let queue = Arc::clone(&queue);
            on_thread(move || queue.push([event(2)].iter(), FullMode::Block, || false))
        };
        wait_for_sleeping_publisher(&queue);
        queue.stop(StopMode::Abort);
        // Offered to a stopped queue: ignored, as for a subscription that is gone.
        assert_eq!(publisher.recv_timeout(WAIT), Ok(Ok(())));
        assert_eq!(queue.len(), 0);
        assert!(!queue.take_batch(&mut VecDeque::new()));
    }

    #[test]
    fn block_for_fails_once_its_time_is_up() {
        let queue = Queue::new(1);
        assert_eq!(
            queue.push([event(1)].iter(), FullMode::Block, || false),
            Ok(())
        );
        let timeout = Duration::from_millis(5);
        let start = Instant::now();
        assert_eq!(
            queue.push([event(2)].iter(), FullMode::BlockFor(timeout), || false),
            Err(PushRefused::Full)
        );
        assert!(start.elapsed() >= timeout);
        assert_eq!(queue.len(), 1);
    }

    #[test]
    fn fail_and_would_deadlock_refuse_at_once_and_keep_what_fitted() {
        let queue = Queue::new(2);
        let events: Vec<_> = (1..=3).map(event).collect();
        assert_eq!(
            queue.push(events.iter(), FullMode::Fail, || false),
            Err(PushRefused::Full)
        );
        assert_eq!(
            queue.push(events.iter(), FullMode::Block, || true),
            Err(PushRefused::WouldDeadlock)
        );
        let mut batch = VecDeque::new();
        assert!(queue.take_batch(&mut batch));
        assert_eq!(positions(&mut batch), vec![1, 2]);
    }

    #[test]
    fn a_drain_delivers_what_is_queued_then_stops() {
        let queue = Queue::new(8);
        let events: Vec<_> = (1..=3).map(event).collect();
        assert_eq!(queue.push(events.iter(), FullMode::Block, || false), Ok(()));
        queue.stop(StopMode::Drain);
        assert_eq!(
            queue.push([event(4)].iter(), FullMode::Block, || false),
            Ok(())
        );
        let mut batch = VecDeque::new();
        assert!(queue.take_batch(&mut batch));
        assert_eq!(positions(&mut batch), vec![1, 2, 3]);
        assert!(!queue.take_batch(&mut batch));
    }
}
