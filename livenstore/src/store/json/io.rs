//! File-system calls with the path in their errors: [`io_err`] and [`sync_dir`].

use std::fs::File;
use std::path::Path;

use crate::StoreError;

/// Wraps an I/O error with the path it happened on.
pub(crate) fn io_err(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Syncs a directory, so a file created or removed in it survives a power loss.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}
