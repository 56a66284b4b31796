//! Group commit inside one process: appends from many threads share one transaction.
//!
//! Every append transaction holds the one `log_head` row lock to its COMMIT, so a schema's
//! appends commit one after another, and each transaction costs a commit (a WAL flush) that no
//! other writer overlaps. Writers in one process therefore queue their appends here; a leader
//! takes every pending append (up to [`Limits`]), runs them in one transaction and hands each
//! caller its own result. The others wait. Up to `max_leaders` leaders run at once, each with
//! its own group: the later ones write their groups' events while the first holds the lock
//! and commits (`pipeline`).
//!
//! Invariants:
//! - Requests are taken in arrival order (first in, first out), and their outputs are handed
//!   back by ticket, each to the caller that submitted it.
//! - At most `max_leaders` leaders run at a time (`leaders`); they run outside the mutex, so
//!   callers queue while they work. A caller becomes a leader only while its own request is
//!   still queued, and joins running leaders only when the queue holds at least
//!   [`JoinRule::events`] events, or [`JoinRule::events_when_written`] once every running
//!   group has written its events (`writing` is 0, [`Group::written`]): a small group gains
//!   nothing from running beside another one that writes, and costs a commit of its own, so
//!   small appends wait to share the next group instead; but while the running groups only
//!   wait for their lock and commit, a new group's write uses a server core that would idle.
//! - A leader takes its group off the queue when it asks for it ([`Group::requests`]): as late
//!   as it can, once it holds its database lock, so the callers the previous group answered
//!   (who queue their next appends right away) join this group instead of waiting a whole
//!   transaction for the next one.
//! - A caller returns only with its own output. A leader whose own request was not in its group
//!   (the queue was longer than the limits) leads again.
//! - A leader that panics still hands every request of its group an output (`abandoned`) and
//!   gives up leadership, so no caller waits forever.
//! - A group holds at least one request, so a request larger than the limits still runs; the
//!   one exception is a leader that asks after other leaders took every queued request, whose
//!   group is empty.

use std::cell::{Cell, OnceCell};
use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// How much one group may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Requests per group.
    pub(crate) requests: usize,
    /// Events per group.
    pub(crate) events: usize,
    /// Payload bytes per group.
    pub(crate) bytes: usize,
}

impl Limits {
    /// 256 appends, 10,000 events, 64 MiB of payloads.
    pub(crate) const DEFAULT: Limits = Limits {
        requests: 256,
        events: 10_000,
        bytes: 64 * 1024 * 1024,
    };
}

/// The size of a request, for the limits.
pub(crate) trait Weight {
    /// Events in the request.
    fn events(&self) -> usize;
    /// Payload bytes in the request.
    fn bytes(&self) -> usize;
}

struct Queue<R, O> {
    pending: VecDeque<(u64, R)>,
    done: HashMap<u64, O>,
    next_ticket: u64,
    leaders: usize,
    /// Running leaders whose groups have not written their events yet.
    writing: usize,
    /// Events in `pending`.
    pending_events: usize,
}

/// When a caller may lead a group beside running ones: the events that must be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JoinRule {
    /// While some running group still writes its events.
    pub(crate) events: usize,
    /// Once every running group has written its events.
    pub(crate) events_when_written: usize,
}

impl JoinRule {
    /// `events` whether or not the running groups have written their events.
    #[cfg(test)]
    pub(crate) const fn always(events: usize) -> Self {
        JoinRule {
            events,
            events_when_written: events,
        }
    }
}

/// A queue of requests run in groups by one leader at a time.
pub(crate) struct GroupCommit<R, O> {
    queue: Mutex<Queue<R, O>>,
    wake: Condvar,
    limits: Limits,
    max_leaders: usize,
    join: JoinRule,
}

impl<R: Weight, O> GroupCommit<R, O> {
    /// An empty queue whose groups stay within `limits`, run by up to `max_leaders` leaders at
    /// once (at least one); a leader joins running ones as `join` says.
    pub(crate) fn new(limits: Limits, max_leaders: usize, join: JoinRule) -> Self {
        GroupCommit {
            queue: Mutex::new(Queue {
                pending: VecDeque::new(),
                done: HashMap::new(),
                next_ticket: 0,
                leaders: 0,
                writing: 0,
                pending_events: 0,
            }),
            wake: Condvar::new(),
            limits,
            max_leaders: max_leaders.max(1),
            join,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue<R, O>> {
        // The queue's state is consistent between statements: a panic elsewhere cannot leave it
        // half changed, so a poisoned lock is still usable.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `request` and returns its output: `run` is called (by this thread or another
    /// caller's) with a group, asks for its requests ([`Group::requests`]) and returns one output
    /// per request, in order.
    /// `abandoned` is the output of requests whose leader panicked.
    pub(crate) fn submit(
        &self,
        request: R,
        mut run: impl FnMut(&mut Group<'_, R, O>) -> Vec<O>,
        abandoned: impl Fn() -> O,
    ) -> O {
        let mut queue = self.lock();
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.pending_events += request.events();
        queue.pending.push_back((ticket, request));
        loop {
            if let Some(output) = queue.done.remove(&ticket) {
                return output;
            }
            // Requests leave the queue in ticket order: this one is still queued exactly when
            // the first queued ticket is not after it.
            let queued = queue
                .pending
                .front()
                .is_some_and(|&(first, _)| first <= ticket);
            let to_join = if queue.writing == 0 {
                self.join.events_when_written
            } else {
                self.join.events
            };
            let may_lead = queue.leaders == 0
                || (queue.leaders < self.max_leaders && queue.pending_events >= to_join);
            if !queued || !may_lead {
                queue = self
                    .wake
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            queue.leaders += 1;
            queue.writing += 1;
            drop(queue);
            let mut leader = Leader {
                group: Group {
                    owner: self,
                    taken: OnceCell::new(),
                    writing: Cell::new(true),
                },
                abandoned: &abandoned,
                outputs: None,
            };
            let outputs = run(&mut leader.group);
            leader.outputs = Some(outputs);
            drop(leader);
            queue = self.lock();
        }
    }

    /// Takes the next group off the queue: at least one request, then as many as the limits
    /// allow.
    fn take_group(&self, queue: &mut Queue<R, O>) -> (Vec<u64>, Vec<R>) {
        let (mut events, mut bytes) = (0usize, 0usize);
        let mut tickets = Vec::new();
        let mut group = Vec::new();
        while let Some((_, next)) = queue.pending.front() {
            let fits = group.len() < self.limits.requests
                && events + next.events() <= self.limits.events
                && bytes + next.bytes() <= self.limits.bytes;
            if !group.is_empty() && !fits {
                break;
            }
            events += next.events();
            bytes += next.bytes();
            let Some((ticket, request)) = queue.pending.pop_front() else {
                break;
            };
            queue.pending_events -= request.events();
            tickets.push(ticket);
            group.push(request);
        }
        (tickets, group)
    }
}

/// A leader's group of requests, taken off the queue when first asked for.
pub(crate) struct Group<'a, R, O> {
    owner: &'a GroupCommit<R, O>,
    /// The tickets and requests, once taken.
    taken: OnceCell<(Vec<u64>, Vec<R>)>,
    /// Whether the group has not written its events yet (counted in `writing`).
    writing: Cell<bool>,
}

impl<R: Weight, O> Group<'_, R, O> {
    /// The group's requests. The first call takes them off the queue: a leader asks as late as
    /// it can (once it holds its database lock), so that requests arriving meanwhile, from the
    /// callers the previous group just answered, join this group instead of waiting for the
    /// next.
    pub(crate) fn requests(&self) -> &[R] {
        let (_, requests) = self
            .taken
            .get_or_init(|| self.owner.take_group(&mut self.owner.lock()));
        requests
    }

    /// The group has written its events (what is left is its lock and commit): callers may
    /// lead groups beside it by [`JoinRule::events_when_written`]. Said once: a group that
    /// writes again (a pipelined group whose check failed, run again locked) does not count as
    /// writing again, which only lets a new group start a little early.
    pub(crate) fn written(&self) {
        if self.writing.replace(false) {
            self.owner.lock().writing -= 1;
            self.owner.wake.notify_all();
        }
    }
}

impl<R: Weight, O> Group<'_, R, O> {
    /// Runs `f` on the group's requests if they are taken, else on the requests queued now
    /// (what [`requests`](Self::requests) would take, limits aside), without taking them.
    /// `f` runs holding the queue's mutex: it may take other locks (the store's turn order
    /// takes the pipeline's) as long as nothing waits for this mutex while holding them.
    pub(crate) fn peek<T>(&self, f: impl FnOnce(&mut dyn Iterator<Item = &R>) -> T) -> T {
        if let Some((_, requests)) = self.taken.get() {
            return f(&mut requests.iter());
        }
        let queue = self.owner.lock();
        f(&mut queue.pending.iter().map(|(_, request)| request))
    }

    /// Whether the group's requests are taken already, or the queue holds at least `events`
    /// events now (what [`requests`](Self::requests) would take, limits aside).
    pub(crate) fn taken_or_at_least(&self, events: usize) -> bool {
        self.taken.get().is_some() || self.owner.lock().pending_events >= events
    }
}

/// Hands a group's outputs out when dropped, even while unwinding from a panic of `run`.
struct Leader<'a, R: Weight, O, A: Fn() -> O> {
    group: Group<'a, R, O>,
    abandoned: &'a A,
    outputs: Option<Vec<O>>,
}

impl<R: Weight, O, A: Fn() -> O> Drop for Leader<'_, R, O, A> {
    fn drop(&mut self) {
        // `run` always asks for its group; if it did not (a bug), its requests are abandoned
        // rather than left for a leader that never runs them.
        self.group.requests();
        let mut outputs = self.outputs.take().unwrap_or_default().into_iter();
        let mut queue = self.group.owner.lock();
        if self.group.writing.get() {
            queue.writing -= 1;
        }
        let tickets = self.group.taken.get().map(|(tickets, _)| &tickets[..]);
        for &ticket in tickets.unwrap_or_default() {
            // `run` returns one output per request; a short list (a bug) abandons the rest
            // rather than leaving their callers waiting.
            let output = outputs.next().unwrap_or_else(self.abandoned);
            queue.done.insert(ticket, output);
        }
        queue.leaders -= 1;
        drop(queue);
        self.group.owner.wake.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[derive(Debug)]
    struct Req {
        value: usize,
        events: usize,
    }

    impl Weight for Req {
        fn events(&self) -> usize {
            self.events
        }
        fn bytes(&self) -> usize {
            self.events * 10
        }
    }

    #[test]
    fn every_caller_gets_its_own_output_and_groups_form() {
        let group: Arc<GroupCommit<Req, usize>> =
            Arc::new(GroupCommit::new(Limits::DEFAULT, 1, JoinRule::always(0)));
        let runs = Arc::new(AtomicUsize::new(0));
        let largest = Arc::new(AtomicUsize::new(0));
        std::thread::scope(|s| {
            for t in 0..8 {
                let (group, runs, largest) = (&group, &runs, &largest);
                s.spawn(move || {
                    for n in 0..200 {
                        let value = t * 1000 + n;
                        let out = group.submit(
                            Req { value, events: 1 },
                            |group| {
                                let reqs = group.requests();
                                runs.fetch_add(1, Ordering::Relaxed);
                                largest.fetch_max(reqs.len(), Ordering::Relaxed);
                                // Slow enough for the other threads to queue up.
                                std::thread::sleep(std::time::Duration::from_micros(200));
                                reqs.iter().map(|r| r.value * 2).collect()
                            },
                            || usize::MAX,
                        );
                        assert_eq!(out, value * 2);
                    }
                });
            }
        });
        let runs = runs.load(Ordering::Relaxed);
        assert!(runs < 1600, "{runs} runs for 1600 requests: no grouping");
        assert!(largest.load(Ordering::Relaxed) > 1);
    }

    #[test]
    fn two_leaders_run_groups_at_once_and_every_caller_gets_its_own_output() {
        let group: GroupCommit<Req, usize> =
            GroupCommit::new(Limits::DEFAULT, 2, JoinRule::always(1));
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for t in 0..8 {
                let (group, running, most) = (&group, &running, &most);
                s.spawn(move || {
                    for n in 0..100 {
                        let value = t * 1000 + n;
                        let out = group.submit(
                            Req { value, events: 1 },
                            |group| {
                                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                                most.fetch_max(now, Ordering::SeqCst);
                                let outputs =
                                    group.requests().iter().map(|r| r.value * 2).collect();
                                std::thread::sleep(std::time::Duration::from_micros(300));
                                running.fetch_sub(1, Ordering::SeqCst);
                                outputs
                            },
                            || usize::MAX,
                        );
                        assert_eq!(out, value * 2);
                    }
                });
            }
        });
        assert_eq!(
            most.load(Ordering::SeqCst),
            2,
            "never more than two, and two at times"
        );
    }

    #[test]
    fn a_small_group_joins_a_running_one_only_once_that_one_has_written() {
        let rule = JoinRule {
            events: 10,
            events_when_written: 2,
        };
        let group: GroupCommit<Req, usize> = GroupCommit::new(Limits::DEFAULT, 2, rule);
        let (entered, written, joined) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        );
        std::thread::scope(|s| {
            let first = s.spawn(|| {
                group.submit(
                    Req {
                        value: 1,
                        events: 1,
                    },
                    |g| {
                        let outputs = g.requests().iter().map(|r| r.value).collect();
                        entered.store(1, Ordering::SeqCst);
                        // Two requests of 2 events queue meanwhile: 4 < 10, no second leader.
                        while group.lock().pending.len() < 2 {
                            std::thread::yield_now();
                        }
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        assert_eq!(joined.load(Ordering::SeqCst), 0, "joined while writing");
                        written.store(1, Ordering::SeqCst);
                        g.written();
                        // Now 4 >= 2: the next group runs beside this one.
                        let deadline =
                            std::time::Instant::now() + std::time::Duration::from_secs(5);
                        while joined.load(Ordering::SeqCst) == 0
                            && std::time::Instant::now() < deadline
                        {
                            std::thread::yield_now();
                        }
                        assert_eq!(
                            joined.load(Ordering::SeqCst),
                            1,
                            "did not join once written"
                        );
                        outputs
                    },
                    || usize::MAX,
                )
            });
            while entered.load(Ordering::SeqCst) == 0 {
                std::thread::yield_now();
            }
            let later: Vec<_> = (2..4)
                .map(|value| {
                    let (group, written, joined) = (&group, &written, &joined);
                    s.spawn(move || {
                        group.submit(
                            Req { value, events: 2 },
                            |g| {
                                assert_eq!(written.load(Ordering::SeqCst), 1);
                                joined.store(1, Ordering::SeqCst);
                                g.requests().iter().map(|r| r.value).collect()
                            },
                            || usize::MAX,
                        )
                    })
                })
                .collect();
            assert_eq!(first.join().unwrap(), 1);
            for (value, later) in (2..4).zip(later) {
                assert_eq!(later.join().unwrap(), value);
            }
        });
    }

    #[test]
    fn groups_respect_the_limits_but_hold_at_least_one() {
        let limits = Limits {
            requests: 3,
            events: 5,
            bytes: 1000,
        };
        let group: GroupCommit<Req, usize> = GroupCommit::new(limits, 1, JoinRule::always(0));
        let mut queue = group.lock();
        for (value, events) in [(1, 9), (2, 1), (3, 1), (4, 1), (5, 1), (6, 3), (7, 1)] {
            let ticket = queue.next_ticket;
            queue.next_ticket += 1;
            queue.pending_events += events;
            queue.pending.push_back((ticket, Req { value, events }));
        }
        let values = |g: Vec<Req>| g.iter().map(|r| r.value).collect::<Vec<_>>();
        // Larger than the event limit alone: still runs, alone.
        assert_eq!(values(group.take_group(&mut queue).1), [1]);
        // Three requests at most.
        assert_eq!(values(group.take_group(&mut queue).1), [2, 3, 4]);
        // 1 + 3 + 1 events: exactly the event limit.
        assert_eq!(values(group.take_group(&mut queue).1), [5, 6, 7]);
        assert!(group.take_group(&mut queue).1.is_empty());
    }

    #[test]
    fn a_panicking_leader_abandons_its_group_and_steps_down() {
        let group: GroupCommit<Req, usize> =
            GroupCommit::new(Limits::DEFAULT, 1, JoinRule::always(0));
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            group.submit(
                Req {
                    value: 1,
                    events: 1,
                },
                |_| panic!("bug in run"),
                || usize::MAX,
            )
        }));
        assert!(caught.is_err());
        // Its output was left for it; the next caller is not blocked by a stale leader.
        let out = group.submit(
            Req {
                value: 2,
                events: 1,
            },
            |group| group.requests().iter().map(|r| r.value).collect(),
            || usize::MAX,
        );
        assert_eq!(out, 2);
    }
}
