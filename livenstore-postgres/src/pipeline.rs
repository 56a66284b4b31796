//! Pipelined groups: the next group writes its events while the previous one holds the lock.
//!
//! A group run *locked* takes the `log_head` lock first and decides its appends against what
//! it then reads (`append`). Its events are written while it holds the lock, so a schema's
//! event writes run one after another. With a second leader running (`group_commit`), a group
//! is run *pipelined* instead: it decides its appends against the state the groups before it
//! in this process will leave (the [`Chain`]), writes its events without the lock, and only
//! then takes the lock, in `finalize_group`, which commits the group only if the head is still
//! the one its predecessor wrote. Event writes of consecutive groups then overlap each other
//! and the previous group's COMMIT.
//!
//! Every group holds a [`Turn`], numbered in the order the groups entered. Turns decide (plan)
//! in number order, and ask for the lock in number order.
//!
//! Invariants:
//! - Every write transaction sets `log_head.last_write` to a fresh random id ([`write_id`]). A
//!   pipelined group commits only when `last_write` is its predecessor's id and
//!   `last_position` its predecessor's last position: no other write came between them (no
//!   other process, no link, no predecessor that failed or ran again), so the state it
//!   decided against is the state it commits on. Otherwise it rolls back and runs again,
//!   locked: a wrong prediction costs time, never correctness.
//! - A pipelined group decides against the chain only if its own read of the head (without
//!   the lock) saw a write of the chain: then every write after that read and before its
//!   predecessor is a chain group, whose effects the chain holds, and the streams the chain
//!   does not hold are as the read saw them.
//! - A locked group starts a new chain from what it read under the lock.
//! - A group that decided with a write id and did not commit breaks the chain (`None`): the
//!   groups after it fail their check and run again, locked, and the next few groups run
//!   locked too ([`LOCKED_AFTER_FAILURE`]).
//! - Waiting for one's turn to decide is unbounded, and happens holding no row lock and no
//!   written row. Waiting for one's turn to lock is bounded ([`LOCK_TURN_WAIT`]): a group that
//!   wrote its events may wait there while a row it wrote holds up another transaction, so no
//!   wait that PostgreSQL cannot see lasts forever (its deadlock detector sees the rest).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::codec::PgTime;
use crate::plan::{GroupState, Plan};

/// The longest a group that wrote its events waits for its turn to take the lock before it
/// asks for the lock anyway.
pub(crate) const LOCK_TURN_WAIT: Duration = Duration::from_secs(1);

/// Groups run locked after a pipelined group failed its check.
pub(crate) const LOCKED_AFTER_FAILURE: u32 = 8;

/// Streams a chain remembers before the next group runs locked and starts a new one.
const CHAIN_STREAMS: usize = 65_536;

/// Write ids a chain remembers (a read older than these runs locked).
const CHAIN_WRITES: usize = 64;

/// A fresh random write id (never 0, the id of a schema no write has touched).
pub(crate) fn write_id() -> i64 {
    // Each `RandomState` has its own keys (random per thread, then counted), so hashing
    // nothing gives a fresh 64-bit value.
    let bits = RandomState::new().hash_one(());
    ((bits >> 1) | 1) as i64
}

/// The state the groups decided so far will leave once they all commit.
#[derive(Debug)]
struct Chain {
    /// The write ids of the chain, oldest first: the locked group's read, then each group's
    /// own.
    writes: VecDeque<i64>,
    last_position: u64,
    last_recorded_at: PgTime,
    /// The versions the chain's groups give their streams.
    versions: HashMap<String, u64>,
}

impl Chain {
    fn push_write(&mut self, id: i64) {
        if self.writes.len() == CHAIN_WRITES {
            self.writes.pop_front();
        }
        self.writes.push_back(id);
    }

    fn record(&mut self, plan: &Plan<'_>, recorded_at: PgTime) {
        self.last_position = plan.last_position;
        if !plan.rows.is_empty() {
            self.last_recorded_at = self.last_recorded_at.max(recorded_at);
        }
        for &(stream, version) in &plan.stream_versions {
            self.versions.insert(stream.to_owned(), version);
        }
    }
}

#[derive(Debug)]
struct Order {
    next_turn: u64,
    /// Turns before this one have decided (or left).
    planned: u64,
    /// Turns before this one hold the lock, are done, or stopped waiting for their turn.
    locked: u64,
    /// Turns after `locked` that hold the lock or are done (out of order: their wait for their
    /// turn timed out).
    locked_ahead: BTreeSet<u64>,
    /// Turns entered and not yet left.
    active: usize,
    chain: Option<Chain>,
    /// Groups still to run locked after a failure.
    run_locked: u32,
    /// Pipelined groups committed (for tests and diagnostics).
    pipelined_commits: u64,
}

impl Order {
    /// Turn `number` holds the lock or is done; `locked` moves past every turn before the first
    /// one that is not.
    fn mark_locked(&mut self, number: u64) {
        self.locked_ahead.insert(number);
        while self.locked_ahead.remove(&self.locked) {
            self.locked += 1;
        }
    }
}

/// The order of a store's groups and the chain they decide against.
#[derive(Debug)]
pub(crate) struct Pipeline {
    order: Mutex<Order>,
    changed: Condvar,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline {
            order: Mutex::new(Order {
                next_turn: 0,
                planned: 0,
                locked: 0,
                locked_ahead: BTreeSet::new(),
                active: 0,
                chain: None,
                run_locked: 0,
                pipelined_commits: 0,
            }),
            changed: Condvar::new(),
        }
    }
}

impl Pipeline {
    fn lock(&self) -> MutexGuard<'_, Order> {
        // Every change is one assignment or a whole chain: a panic cannot leave it half made.
        self.order.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many pipelined groups committed.
    #[cfg(test)]
    pub(crate) fn pipelined_commits(&self) -> u64 {
        self.lock().pipelined_commits
    }

    /// A turn for the next group. It may run pipelined when `may_pipeline`, another group is
    /// running and the chain is intact.
    pub(crate) fn enter(&self, may_pipeline: bool) -> Turn<'_> {
        let mut order = self.lock();
        let number = order.next_turn;
        order.next_turn += 1;
        let others = order.active > 0;
        order.active += 1;
        let pipelined = may_pipeline && others && order.run_locked == 0 && order.chain.is_some();
        order.run_locked = order.run_locked.saturating_sub(1);
        Turn {
            pipeline: self,
            number,
            pipelined,
            planned: false,
            locked: false,
            outcome: Outcome::Undecided,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Nothing decided with a write id yet.
    Undecided,
    /// Decided, with a write id the chain expects to be committed.
    Decided,
    /// Committed, or decided without writing.
    Done,
}

/// A group's place in the order.
#[derive(Debug)]
pub(crate) struct Turn<'a> {
    pipeline: &'a Pipeline,
    number: u64,
    pipelined: bool,
    planned: bool,
    locked: bool,
    outcome: Outcome,
}

impl Turn<'_> {
    /// Whether this group runs pipelined (else locked).
    pub(crate) fn pipelined(&self) -> bool {
        self.pipelined
    }

    /// Waits until every earlier turn has decided.
    pub(crate) fn wait_to_plan(&self) {
        let mut order = self.pipeline.lock();
        while order.planned < self.number {
            order = self
                .pipeline
                .changed
                .wait(order)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Waits until every earlier turn holds the lock or is done, at most [`LOCK_TURN_WAIT`].
    pub(crate) fn wait_to_lock(&self) {
        let deadline = Instant::now() + LOCK_TURN_WAIT;
        let mut order = self.pipeline.lock();
        while order.locked < self.number {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            order = self
                .pipeline
                .changed
                .wait_timeout(order, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// This group holds the lock (or gave up on it): later turns may ask for it.
    pub(crate) fn mark_locked(&mut self) {
        if !self.locked {
            self.locked = true;
            let mut order = self.pipeline.lock();
            order.mark_locked(self.number);
            drop(order);
            self.pipeline.changed.notify_all();
        }
    }

    /// After [`wait_to_plan`](Self::wait_to_plan): the state a pipelined group decides against,
    /// given its own read of the store without the lock (`read`, of the group's `streams` and
    /// no event ids); `None` when the chain cannot be used (broken, too long, or `read` saw a
    /// write it does not hold) and the group must run locked.
    /// Its `last_write` is the write id of the group before it, the one `finalize_group` checks.
    pub(crate) fn predecessor(&self, read: &GroupState, streams: &[&str]) -> Option<GroupState> {
        let mut order = self.pipeline.lock();
        let chain = order.chain.as_ref()?;
        if chain.versions.len() >= CHAIN_STREAMS || !chain.writes.contains(&read.last_write) {
            order.chain = None;
            return None;
        }
        let last_write = *chain.writes.back()?;
        let versions = streams
            .iter()
            .filter_map(|&stream| {
                let version = chain
                    .versions
                    .get(stream)
                    .or_else(|| read.versions.get(stream))?;
                Some((stream.to_owned(), *version))
            })
            .collect();
        Some(GroupState {
            last_position: chain.last_position,
            last_write,
            recorded_at: read.recorded_at.max(chain.last_recorded_at),
            versions,
            stored: HashMap::new(),
        })
    }

    /// Records a pipelined group's decisions, made with write id `id`: the chain goes on from
    /// them, and later turns may decide.
    pub(crate) fn planned_pipelined(&mut self, plan: &Plan<'_>, recorded_at: PgTime, id: i64) {
        let mut order = self.pipeline.lock();
        if let Some(chain) = order.chain.as_mut() {
            chain.record(plan, recorded_at);
            chain.push_write(id);
        }
        self.outcome = Outcome::Decided;
        self.set_planned(order);
    }

    /// Records a locked group's decisions against `state`, read under the lock: a new chain
    /// starts from them (with write id `id` when it writes).
    pub(crate) fn planned_locked(&mut self, state: &GroupState, plan: &Plan<'_>, id: i64) {
        let mut order = self.pipeline.lock();
        let mut chain = Chain {
            writes: VecDeque::from([state.last_write]),
            last_position: state.last_position,
            last_recorded_at: state.recorded_at,
            versions: HashMap::new(),
        };
        chain.record(plan, state.recorded_at);
        if plan.rows.is_empty() {
            self.outcome = Outcome::Done;
        } else {
            chain.push_write(id);
            self.outcome = Outcome::Decided;
        }
        order.chain = Some(chain);
        self.set_planned(order);
    }

    fn set_planned(&mut self, mut order: MutexGuard<'_, Order>) {
        self.planned = true;
        order.planned = order.planned.max(self.number + 1);
        drop(order);
        self.pipeline.changed.notify_all();
    }

    /// The group's decisions are committed (or wrote nothing).
    pub(crate) fn done(&mut self) {
        if self.pipelined && self.outcome == Outcome::Decided {
            self.pipeline.lock().pipelined_commits += 1;
        }
        self.outcome = Outcome::Done;
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if !self.planned {
            // Later turns decide after this one: it decides nothing, in its place.
            self.wait_to_plan();
        }
        let mut order = self.pipeline.lock();
        if !self.planned {
            order.planned = order.planned.max(self.number + 1);
        }
        if !self.locked {
            order.mark_locked(self.number);
        }
        if self.outcome == Outcome::Decided {
            // Its write id will never be the head's: the chain after it is void.
            order.chain = None;
            order.run_locked = LOCKED_AFTER_FAILURE;
        }
        order.active -= 1;
        drop(order);
        self.pipeline.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{plan, AppendRequest};
    use livenstore::{ExpectedVersion, NewEvent};

    fn request(stream: &str, events: usize) -> AppendRequest {
        AppendRequest {
            stream: stream.to_owned(),
            expected: ExpectedVersion::Any,
            events: (0..events)
                .map(|n| NewEvent::from_json("Tick", format!(r#"{{"n":{n}}}"#)).unwrap())
                .collect(),
        }
    }

    fn state(last_position: u64, last_write: i64, versions: &[(&str, u64)]) -> GroupState {
        GroupState {
            last_position,
            last_write,
            versions: versions.iter().map(|&(s, v)| (s.to_owned(), v)).collect(),
            ..GroupState::default()
        }
    }

    #[test]
    fn write_ids_are_positive_and_differ() {
        let ids: std::collections::HashSet<i64> = (0..10_000).map(|_| write_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|&id| id > 0));
    }

    // Turns decide in order, and one that leaves without deciding waits for its place: the
    // tests drop them in order.

    #[test]
    fn a_group_pipelines_only_beside_a_running_one_on_an_intact_chain() {
        let pipeline = Pipeline::default();
        let mut first = pipeline.enter(true);
        assert!(!first.pipelined(), "alone");
        let second = pipeline.enter(true);
        assert!(!second.pipelined(), "no chain yet");
        let requests = [request("a", 2)];
        let read = state(10, 7, &[("a", 3)]);
        first.planned_locked(&read, &plan(&requests, &read), 8);
        let third = pipeline.enter(true);
        assert!(third.pipelined());
        let not_asked = pipeline.enter(false);
        assert!(!not_asked.pipelined());
        first.done();
        drop(first);
        drop(second);
        drop(third);
        drop(not_asked);
        assert!(!pipeline.enter(true).pipelined(), "alone again");
        assert_eq!(pipeline.lock().active, 0);
    }

    #[test]
    fn a_pipelined_group_decides_against_its_predecessors() {
        let pipeline = Pipeline::default();
        let mut first = pipeline.enter(true);
        let first_requests = [request("a", 2)];
        let read = state(10, 7, &[("a", 3)]);
        first.planned_locked(&read, &plan(&first_requests, &read), 8);
        let second = pipeline.enter(true);
        second.wait_to_plan();
        // Its read saw the head before the first group committed: a write of the chain.
        let own_read = state(10, 7, &[("a", 3), ("b", 1)]);
        let decide = second.predecessor(&own_read, &["a", "b", "c"]).unwrap();
        assert_eq!(decide.last_position, 12);
        assert_eq!(decide.last_write, 8, "checks the first group's write");
        assert_eq!(decide.versions.get("a"), Some(&5), "the chain's");
        assert_eq!(decide.versions.get("b"), Some(&1), "the read's");
        assert_eq!(decide.versions.get("c"), None, "new");
        // A read of a head the chain does not hold (another process wrote): run locked.
        let foreign = state(11, 99, &[]);
        assert!(second.predecessor(&foreign, &["a"]).is_none());
        let third = pipeline.enter(true);
        assert!(!third.pipelined(), "the chain is gone");
        first.done();
        drop(first);
        drop(second);
        drop(third);
    }

    #[test]
    fn a_group_that_decided_and_did_not_commit_breaks_the_chain() {
        let pipeline = Pipeline::default();
        let mut first = pipeline.enter(true);
        let requests = [request("a", 1)];
        let read = state(0, 0, &[]);
        first.planned_locked(&read, &plan(&requests, &read), 5);
        let mut running = pipeline.enter(false);
        drop(first); // Decided with write 5, never committed.
        assert!(pipeline.lock().chain.is_none());
        // A locked group starts a new chain; the next few groups still run locked.
        let read = state(0, 0, &[]);
        running.planned_locked(&read, &plan(&requests, &read), 6);
        for _ in 0..LOCKED_AFTER_FAILURE {
            assert!(!pipeline.enter(true).pipelined());
        }
        assert!(pipeline.enter(true).pipelined());
        running.done();
    }

    #[test]
    fn the_lock_turn_passes_only_over_turns_that_hold_it() {
        let pipeline = Pipeline::default();
        let mut first = pipeline.enter(true);
        let mut second = pipeline.enter(true);
        let third = pipeline.enter(true);
        second.mark_locked(); // Out of order (its wait timed out).
        assert_eq!(pipeline.lock().locked, 0, "the first still has its turn");
        first.mark_locked();
        assert_eq!(pipeline.lock().locked, 2);
        third.wait_to_lock(); // Its turn: returns at once.
        drop(first);
        drop(second);
        drop(third);
    }

    /// Against the test server: pipelined groups beside a writer of another store (another
    /// process, as far as the store knows) that appends and links into the same stream. Each
    /// batch alone is enough for another group to pipeline (`MIN_EVENTS_TO_PIPELINE`).
    #[cfg(feature = "testing")]
    #[test]
    fn pipelined_groups_store_exactly_what_they_report_beside_another_writer() {
        use livenstore::{EventStore, StoreError};
        const BATCH: usize = 160;
        let Some(test) = crate::testing::TestSchema::new() else {
            return;
        };
        let store = test.connect_with(test.config().pool_size(8));
        let foreign = test.connect_with(test.config().pool_size(1));
        let batch = |n: usize| {
            (0..BATCH)
                .map(|i| NewEvent::from_json("Tick", format!(r#"{{"n":{n},"i":{i}}}"#)).unwrap())
                .collect::<Vec<_>>()
        };
        let (mine, theirs): (Vec<(u64, Vec<u64>)>, u64) = std::thread::scope(|s| {
            let writers: Vec<_> = (0..4)
                .map(|w| {
                    let (store, batch) = (&store, &batch);
                    s.spawn(move || {
                        let (mut stored, mut won) = (0, Vec::new());
                        for n in 0..12 {
                            if n % 3 == 0 {
                                loop {
                                    let current = store.stream_version("shared").unwrap();
                                    let expected = ExpectedVersion::Exact(current);
                                    match store.append("shared", expected, batch(n)) {
                                        Ok(result) => {
                                            won.push(result.stream_version);
                                            break;
                                        }
                                        Err(StoreError::Conflict { .. }) => {}
                                        Err(err) => panic!("{err}"),
                                    }
                                }
                            } else {
                                let stream = format!("w{w}-{}", n % 5);
                                store
                                    .append(&stream, ExpectedVersion::Any, batch(n))
                                    .unwrap();
                            }
                            stored += BATCH as u64;
                        }
                        (stored, won)
                    })
                })
                .collect();
            let other = s.spawn(|| {
                let mut stored = 0;
                for n in 0..40 {
                    let events =
                        vec![NewEvent::from_json("Other", format!(r#"{{"n":{n}}}"#)).unwrap()];
                    let first = foreign
                        .append("other", ExpectedVersion::Any, events)
                        .unwrap();
                    let id = foreign.read_all(first.first_position, 1).unwrap()[0].id();
                    foreign.link_to_stream(id, "shared").unwrap();
                    stored += 1;
                    // Gaps in which the chain stays intact.
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                stored
            });
            let mine = writers.into_iter().map(|w| w.join().unwrap()).collect();
            (mine, other.join().unwrap())
        });
        let acknowledged = mine.iter().map(|(stored, _)| stored).sum::<u64>() + theirs;
        let all = store.read_all(1, usize::MAX).unwrap();
        let positions: Vec<u64> = all.iter().map(|e| e.position()).collect();
        assert_eq!(
            positions,
            (1..=acknowledged).collect::<Vec<_>>(),
            "gap-free, all stored"
        );
        for info in store.streams().unwrap() {
            let events = store.read_stream(&info.stream, 1, usize::MAX).unwrap();
            let versions: Vec<u64> = events
                .iter()
                .map(|e| e.link().map_or(e.version(), |link| link.version))
                .collect();
            let expected: Vec<u64> = (1..=info.last_version).collect();
            assert_eq!(versions, expected, "stream {} is contiguous", info.stream);
        }
        let mut won: Vec<u64> = mine.iter().flat_map(|(_, won)| won.clone()).collect();
        won.sort_unstable();
        won.dedup();
        assert_eq!(won.len(), 4 * 4, "one winner per version of `shared`");
        assert!(
            store.inner.pipeline.pipelined_commits() > 0,
            "no group ran pipelined"
        );
    }
}
