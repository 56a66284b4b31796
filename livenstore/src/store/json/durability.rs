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

use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use crate::StoreError;

#[derive(Debug)]
struct SyncState {
    synced: u64,
    syncing: bool,
    failed: Option<String>,
    last_sync: Instant,
}

/// Group commit coordinator.
#[derive(Debug)]
pub(crate) struct Syncer {
    state: Mutex<SyncState>,
    cond: Condvar,
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
            }),
            cond: Condvar::new(),
        }
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
            drop(st);
            let (upto, file, path) = snapshot();
            let result = file.sync_data();
            st = lock(&self.state);
            st.syncing = false;
            match result {
                Ok(()) => {
                    st.synced = st.synced.max(upto);
                    st.last_sync = Instant::now();
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
