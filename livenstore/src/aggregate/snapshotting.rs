//! How a [`Repository`](super::Repository) uses snapshots: which stored snapshot it trusts, when
//! it writes one, and what it reports when it cannot do either ([`SnapshotNotice`]).
//!
//! Invariants:
//! - A snapshot is used only when its fingerprint is the state type's shape fingerprint
//!   ([`Aggregate::STATE_SHAPE`]), its snapshot version is [`Aggregate::SNAPSHOT_VERSION`], its
//!   state decodes, and the stream holds its version (checked by reading the event at that
//!   version before the ones after it). Anything else is reported and the stream is replayed
//!   whole: a snapshot never gives a wrong state, and a problem with one never fails a load.
//! - A snapshot is written only after the append it follows succeeded, when at least
//!   [`Aggregate::SNAPSHOT_EVERY`] events were applied or replayed since the last one; a failure
//!   to write it is reported and never fails the save.

use std::fmt;

use crate::store::{Snapshot, SnapshotStore};
use crate::{Aggregate, AggregateRoot, EventStore, StoreError};

/// Why the repository did not use a stored snapshot, or could not write one.
///
/// # Examples
///
/// ```
/// use livenstore::SnapshotProblem;
///
/// let problem = SnapshotProblem::AheadOfStream { snapshot: 120, stream: 100 };
/// assert!(problem.to_string().contains("120"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotProblem {
    /// The store could not read it (damaged, an I/O or connection error).
    #[error("the stored snapshot cannot be read")]
    Unreadable(#[source] StoreError),
    /// Taken by code whose state type has another shape, or another snapshot version.
    #[error(
        "the stored snapshot was taken by other code (shape {stored_fingerprint:016x}, snapshot \
         version {stored_snapshot_version}; this code: {fingerprint:016x}, {snapshot_version})"
    )]
    Mismatch {
        /// The snapshot's fingerprint.
        stored_fingerprint: u64,
        /// The snapshot's snapshot version.
        stored_snapshot_version: u32,
        /// The state type's fingerprint.
        fingerprint: u64,
        /// The aggregate's snapshot version.
        snapshot_version: u32,
    },
    /// Its state does not decode into the state type.
    #[error("the stored snapshot's state does not decode")]
    Undecodable(#[source] serde_json::Error),
    /// It was taken at a version the stream does not hold.
    #[error("the stored snapshot is at version {snapshot}, but the stream is at version {stream}")]
    AheadOfStream {
        /// The snapshot's version.
        snapshot: u64,
        /// The stream's version.
        stream: u64,
    },
    /// The state could not be encoded for a new snapshot.
    #[error("the state cannot be encoded for a snapshot")]
    NotEncoded(#[source] serde_json::Error),
    /// Writing a new snapshot failed (the save it follows succeeded).
    #[error("a new snapshot cannot be written")]
    NotWritten(#[source] StoreError),
}

/// What a [`Repository`](crate::Repository) reports through its snapshot hook
/// ([`Repository::on_snapshot_problem`](crate::Repository::on_snapshot_problem)): which
/// aggregate, and the [`SnapshotProblem`]. The load or save goes on without the snapshot.
///
/// # Examples
///
/// ```
/// use livenstore::{SnapshotNotice, SnapshotProblem};
///
/// let notice = SnapshotNotice {
///     aggregate_type: "account",
///     aggregate_id: "42".into(),
///     problem: SnapshotProblem::AheadOfStream { snapshot: 120, stream: 100 },
/// };
/// assert!(notice.to_string().starts_with("snapshot of account 42: "));
/// ```
#[derive(Debug)]
pub struct SnapshotNotice {
    /// The aggregate's type.
    pub aggregate_type: &'static str,
    /// The aggregate's id.
    pub aggregate_id: String,
    /// What went wrong.
    pub problem: SnapshotProblem,
}

impl fmt::Display for SnapshotNotice {
    /// The notice and the problem's chain of causes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "snapshot of {} {}: {}",
            self.aggregate_type,
            self.aggregate_id,
            crate::error_chain::ErrorChain(&self.problem)
        )
    }
}

/// Where snapshot problems go.
pub(crate) type SnapshotHook = dyn Fn(&SnapshotNotice) + Send + Sync;

/// The default hook: a warning on standard error (a problem is never silent).
pub(crate) fn warn(notice: &SnapshotNotice) {
    eprintln!("livenstore: warning: {notice}");
}

/// The snapshots `store` keeps for `A`: `None` when `A` takes none or the store keeps none.
pub(crate) fn snapshots_for<A: Aggregate, S: EventStore + ?Sized>(
    store: &S,
) -> Option<&dyn SnapshotStore> {
    if A::SNAPSHOT_EVERY == 0 {
        return None;
    }
    store.snapshots()
}

/// The aggregate from `snapshot` when this code can use it (its fingerprint and snapshot
/// version are the code's and its state decodes), or why not. The stream's holding the
/// snapshot's version is checked by the caller, which reads the events from it.
pub(crate) fn usable<A: Aggregate>(
    snapshot: &Snapshot,
    id: &str,
) -> Result<AggregateRoot<A>, SnapshotProblem> {
    let fingerprint = A::STATE_SHAPE.fingerprint();
    if snapshot.fingerprint() != fingerprint || snapshot.snapshot_version() != A::SNAPSHOT_VERSION {
        return Err(SnapshotProblem::Mismatch {
            stored_fingerprint: snapshot.fingerprint(),
            stored_snapshot_version: snapshot.snapshot_version(),
            fingerprint,
            snapshot_version: A::SNAPSHOT_VERSION,
        });
    }
    match A::decode_snapshot(snapshot.state().as_bytes()) {
        Some(Ok(state)) => Ok(AggregateRoot::from_state(
            id,
            state,
            snapshot.version(),
            snapshot.version(),
        )),
        Some(Err(error)) => Err(SnapshotProblem::Undecodable(error)),
        // An aggregate without a snapshot codec (a hand-written impl that set
        // `SNAPSHOT_EVERY` alone) cannot use one.
        None => Err(SnapshotProblem::Mismatch {
            stored_fingerprint: snapshot.fingerprint(),
            stored_snapshot_version: snapshot.snapshot_version(),
            fingerprint,
            snapshot_version: A::SNAPSHOT_VERSION,
        }),
    }
}

/// Writes a snapshot of `root` when the policy says so (at least [`Aggregate::SNAPSHOT_EVERY`]
/// events since the last one); problems go to `report`.
pub(crate) fn take_if_due<A: Aggregate>(
    snapshots: &dyn SnapshotStore,
    root: &mut AggregateRoot<A>,
    report: &mut dyn FnMut(SnapshotProblem),
) {
    if root.since_snapshot() < A::SNAPSHOT_EVERY {
        return;
    }
    let state = match root.state().encode_snapshot() {
        Some(Ok(state)) => state,
        Some(Err(error)) => return report(SnapshotProblem::NotEncoded(error)),
        None => return,
    };
    let snapshot = Snapshot::new(A::AGGREGATE_TYPE, root.id(), root.version(), state)
        .with_fingerprint(A::STATE_SHAPE.fingerprint())
        .with_snapshot_version(A::SNAPSHOT_VERSION);
    match snapshots.save_snapshot(&snapshot) {
        // Kept or not (a newer one is stored), the state need not be written again soon.
        Ok(_) => root.snapshot_taken(),
        Err(error) => report(SnapshotProblem::NotWritten(error)),
    }
}
