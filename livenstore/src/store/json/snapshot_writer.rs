//! [`SnapshotWriter`]: writes a [`JsonStore`](super::JsonStore)'s snapshot files on a background
//! thread (`livenstore-snapshots`, started by the first save), so a save that takes a snapshot
//! costs its caller an encoding and a queue insert, not a file replaced.
//!
//! Invariants:
//! - One pending snapshot per key, the one of the highest version queued; the thread writes
//!   them one at a time (`snapshot_dir::replace_file`: a temporary file, then renames).
//! - A snapshot is visible to this process's loads from the moment it is queued (pending, then
//!   being written, then in its file); other processes see it once its file is renamed in.
//! - The versions known to be stored (written here, or read from a file once) are kept, so an
//!   older snapshot never replaces a newer one and a file is read at most once per key to learn
//!   its version.
//! - A write that fails is kept and returned by the next save: never silent. A crash loses the
//!   snapshots still queued (the aggregate loads by replaying more events), never a file.
//! - `flush` waits until nothing is queued or being written; dropping the store flushes and
//!   stops the thread.
//! - Waking the thread costs more than the rest of a save, so a save wakes it only when it is
//!   parked: after a write it looks for work every millisecond for 100 ms, then parks.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::snapshot_dir::{self, file_name};
use crate::store::Snapshot;
use crate::StoreError;

/// An aggregate's key: `(type, id)`.
pub(crate) type Key = (String, String);

/// A snapshot waiting for the thread: its file's bytes and the snapshot itself (for loads).
struct Pending {
    bytes: Vec<u8>,
    snapshot: Snapshot,
}

#[derive(Default)]
struct State {
    pending: HashMap<Key, Pending>,
    /// The snapshot the thread is writing now.
    writing: Option<(Key, Snapshot)>,
    /// The versions known to be stored, by key.
    stored: HashMap<Key, u64>,
    /// The first failure of the thread since the last save.
    failure: Option<StoreError>,
    stopping: bool,
    /// Whether the thread waits to be woken (idle for a while) rather than looking again
    /// within a millisecond.
    parked: bool,
}

/// The version of the snapshot of `key` this process knows of: queued, being written, or
/// stored; `None` when it has not seen the key (the file may hold one).
fn known_version(state: &State, key: &Key) -> Option<u64> {
    match state.pending.get(key) {
        Some(pending) => Some(pending.snapshot.version()),
        None => match &state.writing {
            Some((k, s)) if k == key => Some(s.version()),
            _ => state.stored.get(key).copied(),
        },
    }
}

struct Shared {
    dir: PathBuf,
    durable: bool,
    state: Mutex<State>,
    /// Wakes the thread: something queued, or stopping.
    work: Condvar,
    /// Wakes flushers: the queue emptied.
    idle: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding it with the state half-changed.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The writer of one store's snapshot files.
pub(crate) struct SnapshotWriter {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for SnapshotWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotWriter")
            .field("dir", &self.shared.dir)
            .finish_non_exhaustive()
    }
}

/// What [`SnapshotWriter::queue`] did.
pub(crate) enum Queued {
    /// Queued: the thread will write it.
    Yes,
    /// A snapshot of a higher version is stored or queued: kept.
    Older,
}

impl SnapshotWriter {
    /// The writer of the snapshot files in `dir` (fsynced when `durable`).
    pub(crate) fn new(dir: PathBuf, durable: bool) -> Self {
        SnapshotWriter {
            shared: Arc::new(Shared {
                dir,
                durable,
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                idle: Condvar::new(),
            }),
            thread: Mutex::new(None),
        }
    }

    /// Queues `snapshot` (whose file is `bytes`) unless one of a higher version is known.
    ///
    /// # Errors
    ///
    /// A failure of an earlier write (reported once); the I/O error of reading the stored
    /// file to learn its version.
    pub(crate) fn queue(&self, snapshot: &Snapshot, bytes: Vec<u8>) -> Result<Queued, StoreError> {
        let key: Key = (
            snapshot.aggregate_type().to_owned(),
            snapshot.aggregate_id().to_owned(),
        );
        let mut state = self.shared.lock();
        if let Some(failure) = state.failure.take() {
            return Err(failure);
        }
        let mut known = known_version(&state, &key);
        if known.is_none() {
            // The file is read without the lock, so loads, other saves and the writer thread
            // do not wait for this I/O; what changed meanwhile is looked at again.
            drop(state);
            let on_disk = self.stored_version(&key)?;
            state = self.shared.lock();
            known = known_version(&state, &key).or(on_disk);
        }
        if let Some(version) = known {
            state.stored.entry(key.clone()).or_insert(version);
            if !snapshot.replaces(version) {
                return Ok(Queued::Older);
            }
        }
        state.pending.insert(
            key,
            Pending {
                bytes,
                snapshot: snapshot.clone(),
            },
        );
        // Waking the thread costs more than the rest of a save (a wake-up of another CPU):
        // only a parked thread is woken; a busy one looks again within a millisecond.
        let wake = state.parked;
        drop(state);
        self.start();
        if wake {
            self.shared.work.notify_one();
        }
        Ok(Queued::Yes)
    }

    /// The version of the snapshot file of `key`, if there is one (a damaged file, or one of
    /// another key, counts as none: a save replaces it).
    fn stored_version(&self, key: &Key) -> Result<Option<u64>, StoreError> {
        match snapshot_dir::read_snapshot(&self.shared.dir, &file_name(&key.0, &key.1)) {
            Ok(Some(s)) if (s.aggregate_type(), s.aggregate_id()) == (&key.0[..], &key.1[..]) => {
                Ok(Some(s.version()))
            }
            Ok(_) | Err(StoreError::Corrupted { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The snapshot of `key` queued or being written, if any.
    pub(crate) fn pending(&self, key: &Key) -> Option<Snapshot> {
        let state = self.shared.lock();
        match state.pending.get(key) {
            Some(pending) => Some(pending.snapshot.clone()),
            None => match &state.writing {
                Some((k, s)) if k == key => Some(s.clone()),
                _ => None,
            },
        }
    }

    /// Waits until nothing is queued or being written.
    pub(crate) fn flush(&self) {
        self.shared.work.notify_one();
        let mut state = self.shared.lock();
        while !state.pending.is_empty() || state.writing.is_some() {
            state = self
                .shared
                .idle
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Forgets the versions stored for the keys of `aggregate_type` (its files were deleted).
    pub(crate) fn forget(&self, aggregate_type: &str) {
        self.shared
            .lock()
            .stored
            .retain(|(t, _), _| t != aggregate_type);
    }

    /// Writes what is queued and stops the thread.
    pub(crate) fn stop(&self) {
        self.shared.lock().stopping = true;
        self.shared.work.notify_one();
        let handle = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    /// Starts the thread, if it is not running. When the system refuses a thread, the queue
    /// is written here and now.
    fn start(&self) {
        let mut thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner);
        if thread.is_some() {
            return;
        }
        let shared = Arc::clone(&self.shared);
        match std::thread::Builder::new()
            .name("livenstore-snapshots".into())
            .spawn(move || run(&shared))
        {
            Ok(handle) => *thread = Some(handle),
            Err(_) => {
                drop(thread);
                write_all_queued(&self.shared);
            }
        }
    }
}

/// How long the thread looks for work every millisecond after its last write, before it parks
/// and waits to be woken.
const LINGER: Duration = Duration::from_millis(100);

/// How often a lingering thread looks for work.
const POLL: Duration = Duration::from_millis(1);

/// The thread: writes queued snapshots until stopped with nothing queued.
fn run(shared: &Shared) {
    let mut last_work = Instant::now();
    loop {
        let mut state = shared.lock();
        if state.pending.is_empty() {
            if state.stopping {
                return;
            }
            if last_work.elapsed() >= LINGER {
                state.parked = true;
                let mut state = shared
                    .work
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                state.parked = false;
            } else {
                drop(
                    shared
                        .work
                        .wait_timeout(state, POLL)
                        .unwrap_or_else(PoisonError::into_inner),
                );
            }
            continue;
        }
        drop(state);
        write_all_queued(shared);
        last_work = Instant::now();
    }
}

/// Writes queued snapshots, one at a time, until none is queued.
fn write_all_queued(shared: &Shared) {
    loop {
        let mut state = shared.lock();
        let Some(key) = state.pending.keys().next().cloned() else {
            shared.idle.notify_all();
            return;
        };
        let Some(pending) = state.pending.remove(&key) else {
            continue;
        };
        let version = pending.snapshot.version();
        state.writing = Some((key.clone(), pending.snapshot));
        drop(state);
        let name = file_name(&key.0, &key.1);
        let written =
            snapshot_dir::replace_file(&shared.dir, &name, &pending.bytes, shared.durable);
        let mut state = shared.lock();
        state.writing = None;
        match written {
            Ok(()) => {
                state.stored.insert(key, version);
            }
            Err(error) => {
                state.failure.get_or_insert(error);
            }
        }
        if state.pending.is_empty() {
            shared.idle.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Payload;

    fn snapshot(version: u64) -> (Snapshot, Vec<u8>) {
        let state = Payload::from_json(format!("{version}")).unwrap();
        let snapshot = Snapshot::new("account", "1", version, state);
        let bytes = super::super::snapshot_file::encode(&snapshot).unwrap();
        (snapshot, bytes)
    }

    #[test]
    fn queued_snapshots_are_seen_at_once_and_written_by_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let writer = SnapshotWriter::new(dir.path().join("snapshots"), false);
        let key = ("account".to_owned(), "1".to_owned());
        for version in [5, 9] {
            let (s, bytes) = snapshot(version);
            assert!(matches!(writer.queue(&s, bytes).unwrap(), Queued::Yes));
        }
        let (older, bytes) = snapshot(7);
        assert!(matches!(
            writer.queue(&older, bytes).unwrap(),
            Queued::Older
        ));
        assert_eq!(writer.pending(&key).map(|s| s.version()).unwrap_or(9), 9);
        writer.flush();
        assert!(writer.pending(&key).is_none());
        let path = dir.path().join("snapshots").join("account.1.snapshot");
        assert_eq!(
            snapshot_dir::read_file(&path).unwrap().map(|s| s.version()),
            Some(9)
        );
        writer.stop();
    }

    #[test]
    fn a_failed_write_is_returned_by_the_next_save() {
        let dir = tempfile::tempdir().unwrap();
        // The temporary file's place is taken by a directory: the write fails.
        let snapshots = dir.path().join("snapshots");
        std::fs::create_dir_all(snapshots.join(".account.1.snapshot.tmp")).unwrap();
        let writer = SnapshotWriter::new(snapshots, false);
        let (first, bytes) = snapshot(1);
        assert!(matches!(writer.queue(&first, bytes).unwrap(), Queued::Yes));
        writer.flush();
        let (second, bytes) = snapshot(2);
        assert!(matches!(
            writer.queue(&second, bytes),
            Err(StoreError::Io { .. })
        ));
        writer.stop();
    }
}
