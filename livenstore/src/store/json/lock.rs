//! The `LOCK` file: one writer per store directory.
//!
//! Invariant: while a writable [`JsonStore`](super::JsonStore) is open, its process holds an
//! exclusive advisory lock (`File::try_lock`, `flock` on Unix) on `<dir>/LOCK`. The lock belongs
//! to the open file, so a second open in the same process fails as well; it is released when the
//! store is dropped or the process dies (even by `SIGKILL`). Read-only opens take no lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use super::io_err;
use crate::StoreError;

/// Name of the lock file inside the store directory.
pub(crate) const LOCK_FILE: &str = "LOCK";

/// The held lock; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
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
            Ok(()) => Ok(DirLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(StoreError::Locked { path }),
            Err(TryLockError::Error(source)) => Err(StoreError::Io { path, source }),
        }
    }
}
