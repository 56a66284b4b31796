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
use std::time::{Duration, Instant};

use super::io::io_err;
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
        Self::acquire_within(dir, None)
    }

    /// Takes the lock of `dir`, waiting up to `timeout` for its holder to let go (polling, 1 ms
    /// at first and at most 50 ms apart): `flock` cannot wait with a deadline.
    ///
    /// # Errors
    ///
    /// [`StoreError::Locked`] when someone still holds it at the deadline (at once for
    /// `None`), [`StoreError::Io`] otherwise.
    pub(crate) fn acquire_within(
        dir: &Path,
        timeout: Option<Duration>,
    ) -> Result<Self, StoreError> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err(&path))?;
        // A wait too long to have a deadline (`Duration::MAX`) waits for as long as it takes.
        let deadline = timeout.map(|t| Instant::now().checked_add(t));
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(DirLock { file }),
                Err(TryLockError::WouldBlock) => {
                    let now = Instant::now();
                    let left = match deadline {
                        Some(Some(deadline)) if now < deadline => deadline - now,
                        Some(None) => Duration::MAX,
                        _ => return Err(StoreError::Locked { path }),
                    };
                    std::thread::sleep(pause.min(left));
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(TryLockError::Error(source)) => return Err(StoreError::Io { path, source }),
            }
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
    fn a_waiting_lock_gets_the_lock_once_it_is_released_or_gives_up() {
        let dir = tempfile::tempdir().unwrap();
        let held = DirLock::acquire(dir.path()).unwrap();
        let gave_up = DirLock::acquire_within(dir.path(), Some(Duration::from_millis(30)));
        assert!(matches!(gave_up, Err(StoreError::Locked { .. })));
        std::thread::scope(|s| {
            let waiter = s.spawn(|| DirLock::acquire_within(dir.path(), Some(Duration::MAX)));
            std::thread::sleep(Duration::from_millis(50));
            drop(held);
            waiter.join().unwrap().unwrap();
        });
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
