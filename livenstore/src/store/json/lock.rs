//! The `LOCK` file: one writer per store directory.
//!
//! Invariant: while a writable [`JsonStore`](super::JsonStore) is open, its process holds an
//! exclusive advisory lock (`File::try_lock`, `flock` on Unix) on `<dir>/LOCK`. The lock belongs
//! to the open file, so a second open in the same process fails as well; it is released when the
//! store is dropped or the process dies (even by `SIGKILL`). Read-only opens take no lock.
//!
//! Dropping unlocks explicitly before closing: a child process forked by another thread of this
//! process shares the open file (until its `exec` closes it), so closing alone would leave the
//! store locked for that moment and a reopen right after the drop could fail with `Locked`.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use super::io_err;
use crate::StoreError;

/// Name of the lock file inside the store directory.
pub(crate) const LOCK_FILE: &str = "LOCK";

/// The held lock; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct DirLock {
    file: File,
}

impl DirLock {
    /// Takes the lock of `dir` without waiting.
    ///
    /// # Errors
    ///
    /// [`StoreError::Locked`] when someone holds it, [`StoreError::Io`] otherwise.
    pub(crate) fn acquire(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err(&path))?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock { file }),
            Err(TryLockError::WouldBlock) => Err(StoreError::Locked { path }),
            Err(TryLockError::Error(source)) => Err(StoreError::Io { path, source }),
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // An error here leaves the lock to the close that follows; there is nothing to report to.
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_and_a_dropped_one_is_free_again() {
        let dir = tempfile::tempdir().unwrap();
        let held = DirLock::acquire(dir.path()).unwrap();
        assert!(matches!(
            DirLock::acquire(dir.path()),
            Err(StoreError::Locked { .. })
        ));
        drop(held);
        DirLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn drop_releases_the_lock_even_while_another_handle_shares_the_file() {
        // A forked child shares the open file like a `try_clone` does.
        let dir = tempfile::tempdir().unwrap();
        let held = DirLock::acquire(dir.path()).unwrap();
        let shared = held.file.try_clone().unwrap();
        drop(held);
        DirLock::acquire(dir.path()).unwrap();
        drop(shared);
    }
}
