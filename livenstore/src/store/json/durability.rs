//! Making appends durable: group commit and the background flusher.
//!
//! Invariants:
//! - `written` counts the batches written to segment files (under the writer lock); `synced`
//!   counts those known to be on disk. `synced <= written`, and both only grow.
//! - Rolling to a new segment syncs the old one first (under the writer lock), so syncing the
//!   current segment makes every batch counted in `written` at that moment durable.
//! - At most one thread runs `fsync` at a time (the leader); appenders that wrote meanwhile wait
//!   on the condvar and are covered by the next `fsync`, so N concurrent appenders share a few
//!   `fsync`s instead of N.
//! - After a failed `fsync` the store refuses further appends: the kernel may have dropped the
//!   dirty pages, so nothing written since the last good sync can be trusted to be on disk.
//! - Gathering: `in_progress` counts appends that have started but not written yet (an
//!   [`AppendTicket`] each). A leader about to `fsync` while some are in progress waits for
//!   them to write, at most half as long as the previous `fsync` took (and never more than
//!   [`MAX_GATHER`]), so one `fsync` covers them too instead of each waiting for a later one.
//!   A lone appender never waits (nobody else is in progress), and the wait only delays an
//!   acknowledgement, never makes one early.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::StoreError;

#[derive(Debug)]
struct SyncState {
    synced: u64,
    syncing: bool,
    failed: Option<String>,
    last_sync: Instant,
    /// How long the last `fsync` took.
    last_sync_took: Duration,
}

/// The longest a leader waits for appends in progress before its `fsync`.
pub(crate) const MAX_GATHER: Duration = Duration::from_millis(2);

/// Group commit coordinator.
#[derive(Debug)]
pub(crate) struct Syncer {
    state: Mutex<SyncState>,
    cond: Condvar,
    /// Appends started and not written yet.
    in_progress: AtomicUsize,
    /// A leader waits on `cond` for `in_progress` to reach zero.
    leader_gathering: AtomicBool,
}

/// One append between its start and its write (see the gathering invariant); dropping it
/// (written or failed) ends it.
pub(crate) struct AppendTicket<'a>(&'a Syncer);

impl Drop for AppendTicket<'_> {
    fn drop(&mut self) {
        let syncer = self.0;
        if syncer.in_progress.fetch_sub(1, Ordering::SeqCst) == 1
            && syncer.leader_gathering.load(Ordering::SeqCst)
        {
            // Taking the lock orders this wake-up after the leader's wait began.
            drop(lock(&syncer.state));
            syncer.cond.notify_all();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Syncer {
    pub fn new() -> Self {
        Syncer {
            state: Mutex::new(SyncState {
                synced: 0,
                syncing: false,
                failed: None,
                last_sync: Instant::now(),
                last_sync_took: Duration::ZERO,
            }),
            cond: Condvar::new(),
            in_progress: AtomicUsize::new(0),
            leader_gathering: AtomicBool::new(false),
        }
    }

    /// Marks an append as started; it counts as in progress until the ticket is dropped.
    pub fn begin_append(&self) -> AppendTicket<'_> {
        self.in_progress.fetch_add(1, Ordering::SeqCst);
        AppendTicket(self)
    }

    /// As the leader, waits (with the state lock released) for the appends in progress to
    /// write, at most half the last `fsync`'s time.
    fn gather<'a>(&'a self, st: MutexGuard<'a, SyncState>) -> MutexGuard<'a, SyncState> {
        let limit = (st.last_sync_took / 2).min(MAX_GATHER);
        self.gather_for(st, limit)
    }

    fn gather_for<'a>(
        &'a self,
        mut st: MutexGuard<'a, SyncState>,
        limit: Duration,
    ) -> MutexGuard<'a, SyncState> {
        if limit.is_zero() {
            return st;
        }
        let deadline = Instant::now() + limit;
        // Set before reading the count: an append finishing after this sees the flag.
        self.leader_gathering.store(true, Ordering::SeqCst);
        while self.in_progress.load(Ordering::SeqCst) > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = self
                .cond
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        self.leader_gathering.store(false, Ordering::SeqCst);
        st
    }

    /// The error to return when an earlier `fsync` failed.
    pub fn check_failed(&self, path: &std::path::Path) -> Result<(), StoreError> {
        match &lock(&self.state).failed {
            Some(msg) => Err(failed_error(path.to_path_buf(), msg)),
            None => Ok(()),
        }
    }

    /// Time since the last completed sync.
    pub fn since_last_sync(&self) -> std::time::Duration {
        lock(&self.state).last_sync.elapsed()
    }

    pub fn synced(&self) -> u64 {
        lock(&self.state).synced
    }

    /// Returns once batch number `target` is durable. `snapshot` reports, under the writer lock,
    /// how many batches are written and the current segment (file and path).
    ///
    /// # Errors
    ///
    /// `Io` when the `fsync` fails (now or earlier).
    pub fn wait_durable(
        &self,
        target: u64,
        snapshot: impl Fn() -> (u64, Arc<File>, PathBuf),
    ) -> Result<(), StoreError> {
        let mut st = lock(&self.state);
        loop {
            if st.synced >= target {
                return Ok(());
            }
            if let Some(msg) = &st.failed {
                let (_, _, path) = snapshot();
                return Err(failed_error(path, msg));
            }
            if st.syncing {
                st = self
                    .cond
                    .wait(st)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            st.syncing = true;
            st = self.gather(st);
            drop(st);
            let (upto, file, path) = snapshot();
            let started = Instant::now();
            let result = file.sync_data();
            st = lock(&self.state);
            st.syncing = false;
            match result {
                Ok(()) => {
                    st.synced = st.synced.max(upto);
                    st.last_sync = Instant::now();
                    st.last_sync_took = started.elapsed();
                }
                Err(source) => {
                    st.failed = Some(source.to_string());
                    self.cond.notify_all();
                    return Err(StoreError::Io { path, source });
                }
            }
            self.cond.notify_all();
        }
    }
}

fn failed_error(path: PathBuf, msg: &str) -> StoreError {
    StoreError::Io {
        path,
        source: std::io::Error::other(format!(
            "an earlier fsync failed ({msg}); reopen the store to recover"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(60);

    #[test]
    fn a_leader_with_nobody_in_progress_does_not_wait() {
        let syncer = Syncer::new();
        drop(syncer.begin_append());
        let start = Instant::now();
        drop(syncer.gather_for(lock(&syncer.state), LONG));
        assert!(
            start.elapsed() < LONG / 2,
            "waited although nobody was in progress"
        );
    }

    #[test]
    fn a_leader_waits_for_an_append_in_progress_and_wakes_when_it_writes() {
        let syncer = Syncer::new();
        let written = AtomicUsize::new(1);
        let ticket = syncer.begin_append();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(50));
                written.store(2, Ordering::SeqCst);
                drop(ticket);
            });
            let start = Instant::now();
            drop(syncer.gather_for(lock(&syncer.state), LONG));
            assert_eq!(
                written.load(Ordering::SeqCst),
                2,
                "returned before the write"
            );
            assert!(
                start.elapsed() < LONG / 2,
                "the finished append did not wake the leader"
            );
        });
    }
}
