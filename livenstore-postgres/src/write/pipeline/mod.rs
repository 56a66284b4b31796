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
//! - A locked group starts a new chain from what it read under the lock. The stream versions
//!   the chain before it held are kept when the head's last write is still the chain's: nothing
//!   else wrote since, so they are still the stored ones.
//! - A group run alone in one statement (`predicted`) decides against the chain too, as the
//!   next link after its last write, and checks the head under the lock like a pipelined group;
//!   a stream the chain does not hold it predicts absent, checked by the statement's plain
//!   INSERT of the stream's row. It joins the chain only once it committed (later turns wait to
//!   decide until then), so a prediction that failed leaves the chain as it was. So that it
//!   does not hold up pipelined groups, it runs only after [`QUIET_BEFORE_PREDICTING`] groups
//!   in a row did not pipeline.
//! - A group that decided with a write id and did not commit breaks the chain (`None`): the
//!   groups after it fail their check and run again, locked, and the next few groups run
//!   locked too ([`LOCKED_AFTER_FAILURE`]).
//! - Waiting for one's turn to decide is unbounded, and happens holding no row lock and no
//!   written row. Waiting for one's turn to lock is bounded ([`LOCK_TURN_WAIT`]): a group that
//!   wrote its events may wait there while a row it wrote holds up another transaction, so no
//!   wait that PostgreSQL cannot see lasts forever (its deadlock detector sees the rest).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use livenstore::ExpectedVersion;

use crate::codec::PgTime;
use crate::write::plan::{AppendRequest, GroupState, Plan};

/// The longest a group that wrote its events waits for its turn to take the lock before it
/// asks for the lock anyway.
pub(crate) const LOCK_TURN_WAIT: Duration = Duration::from_secs(1);

/// Groups run locked after a pipelined group failed its check.
pub(crate) const LOCKED_AFTER_FAILURE: u32 = 8;

/// Groups that must have entered since the last pipelined one before a group alone runs in one
/// statement: while groups pipeline, one that runs in one statement would hold up the groups
/// behind it (they decide only once it committed), where a locked group lets them decide as
/// soon as it read.
pub(crate) const QUIET_BEFORE_PREDICTING: u32 = 8;

/// The most requests a group, and the group before it, may hold for it to run in one
/// statement. With more callers, a locked group, which takes its requests once it holds the
/// lock, gathers more of them per commit than one statement saves in round trips.
pub(crate) const PREDICTED_REQUESTS: usize = 4;

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
    /// Groups committed in one statement against a prediction (for tests and diagnostics).
    predicted_commits: u64,
    /// Groups entered since the last pipelined one (saturating).
    since_pipelined: u32,
    /// Requests of the last group that decided.
    last_group_requests: usize,
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
                predicted_commits: 0,
                since_pipelined: QUIET_BEFORE_PREDICTING,
                last_group_requests: 0,
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

    /// Whether there is a chain to decide against.
    #[cfg(test)]
    pub(crate) fn has_chain(&self) -> bool {
        self.lock().chain.is_some()
    }

    /// How many groups committed in one statement against a prediction.
    #[cfg(test)]
    pub(crate) fn predicted_commits(&self) -> u64 {
        self.lock().predicted_commits
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
        order.since_pipelined = if pipelined {
            0
        } else {
            order.since_pipelined.saturating_add(1)
        };
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

/// The state a group run in one statement decides against.
#[derive(Debug)]
pub(crate) struct Prediction {
    /// The chain's head and the versions of the group's streams the chain holds.
    pub(crate) state: GroupState,
    /// The group's streams the chain does not hold, predicted absent.
    pub(crate) absent: HashSet<String>,
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
        self.set_planned(order, plan);
    }

    /// After [`wait_to_lock`](Self::wait_to_lock): the state a group of `requests` run in one
    /// statement decides against, predicted from the chain. A stream the chain does not hold
    /// is predicted absent when its first request expects it absent (`NoStream`, `Exact(0)`);
    /// `None` when there is no chain, the chain holds [`CHAIN_STREAMS`] streams (the group then
    /// runs locked and starts a new one), a stream cannot be predicted, groups pipelined lately
    /// ([`QUIET_BEFORE_PREDICTING`]), or this group or the last one that decided holds more than
    /// [`PREDICTED_REQUESTS`] requests.
    pub(crate) fn predicted<'r>(
        &self,
        requests: impl IntoIterator<Item = &'r AppendRequest>,
    ) -> Option<Prediction> {
        let order = self.pipeline.lock();
        if order.since_pipelined < QUIET_BEFORE_PREDICTING
            || order.last_group_requests > PREDICTED_REQUESTS
        {
            return None;
        }
        let chain = order
            .chain
            .as_ref()
            .filter(|chain| chain.versions.len() < CHAIN_STREAMS)?;
        let mut prediction = Prediction {
            state: GroupState {
                last_position: chain.last_position,
                last_write: *chain.writes.back()?,
                recorded_at: chain.last_recorded_at,
                ..GroupState::default()
            },
            absent: HashSet::new(),
        };
        for (i, request) in requests.into_iter().enumerate() {
            if i == PREDICTED_REQUESTS {
                return None;
            }
            let stream = request.stream.as_str();
            if prediction.state.versions.contains_key(stream) || prediction.absent.contains(stream)
            {
                continue;
            }
            match chain.versions.get(stream) {
                Some(&version) => {
                    prediction.state.versions.insert(stream.to_owned(), version);
                }
                None if matches!(
                    request.expected,
                    ExpectedVersion::NoStream | ExpectedVersion::Exact(0)
                ) =>
                {
                    prediction.absent.insert(stream.to_owned());
                }
                None => return None,
            }
        }
        Some(prediction)
    }

    /// A group run in one statement is about to send its write: if the outcome stays unknown
    /// (the connection is lost), the chain after it is void.
    pub(crate) fn deciding(&mut self) {
        self.outcome = Outcome::Decided;
    }

    /// The statement stored nothing: the group runs again, locked, with this turn.
    pub(crate) fn not_stored(&mut self) {
        self.outcome = Outcome::Undecided;
    }

    /// Records the decisions of a group committed in one statement with write id `id` at
    /// `recorded_at`: the chain goes on from them, and later turns may decide.
    pub(crate) fn committed_predicted(&mut self, plan: &Plan<'_>, recorded_at: PgTime, id: i64) {
        let mut order = self.pipeline.lock();
        if let Some(chain) = order.chain.as_mut() {
            chain.record(plan, recorded_at);
            chain.push_write(id);
        }
        order.predicted_commits += 1;
        self.outcome = Outcome::Done;
        self.set_planned(order, plan);
        self.mark_locked();
    }

    /// Records a locked group's decisions against `state`, read under the lock: a new chain
    /// starts from them (with write id `id` when it writes).
    pub(crate) fn planned_locked(&mut self, state: &GroupState, plan: &Plan<'_>, id: i64) {
        let mut order = self.pipeline.lock();
        let mut versions = match order.chain.take() {
            Some(old)
                if old.writes.back() == Some(&state.last_write)
                    && old.versions.len() < CHAIN_STREAMS =>
            {
                old.versions
            }
            _ => HashMap::new(),
        };
        versions.extend(state.versions.iter().map(|(s, &v)| (s.clone(), v)));
        let mut chain = Chain {
            writes: VecDeque::from([state.last_write]),
            last_position: state.last_position,
            last_recorded_at: state.recorded_at,
            versions,
        };
        chain.record(plan, state.recorded_at);
        if plan.rows.is_empty() {
            self.outcome = Outcome::Done;
        } else {
            chain.push_write(id);
            self.outcome = Outcome::Decided;
        }
        order.chain = Some(chain);
        self.set_planned(order, plan);
    }

    fn set_planned(&mut self, mut order: MutexGuard<'_, Order>, plan: &Plan<'_>) {
        order.last_group_requests = plan.outcomes.len();
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
mod tests;
