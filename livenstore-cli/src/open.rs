//! Opening the store directory for a command.
//!
//! Rules:
//! - Read commands open read-only ([`JsonStore::open_read_only`]): no lock is taken, nothing is
//!   written, a torn tail is left alone, and it works while a writer has the store open. A
//!   directory that does not exist is an error, never created.
//! - Write commands (`append`, `import`) take the writer's lock; another holder is
//!   [`CliError::Locked`]. They create a missing directory, but refuse an existing one that
//!   holds other files and no segment, so a mistyped path does not turn, say, a home directory
//!   into a store.

use std::path::Path;

use livenstore::JsonStore;

use crate::error::CliError;

/// Opens the store in `dir` for reading.
pub fn for_reading(dir: &Path) -> Result<JsonStore, CliError> {
    check_store_dir(dir)?;
    JsonStore::open_read_only(dir).map_err(|e| CliError::from_store(dir, e))
}

/// Checks that `dir` is an existing directory holding segment files.
pub fn check_store_dir(dir: &Path) -> Result<(), CliError> {
    if has_segments(dir)? {
        Ok(())
    } else {
        Err(CliError::NotAStore {
            dir: dir.to_path_buf(),
        })
    }
}

/// Checks that `dir` may be written as a store: it is missing, empty, or holds segments.
pub fn check_writable_dir(dir: &Path) -> Result<(), CliError> {
    match has_segments(dir) {
        Err(CliError::NoStore { .. }) | Ok(true) => Ok(()),
        Ok(false) if is_empty(dir)? => Ok(()),
        Ok(false) => Err(CliError::NotAStore {
            dir: dir.to_path_buf(),
        }),
        Err(other) => Err(other),
    }
}

/// Opens (creating it if needed) the store in `dir` for appending.
pub fn for_writing(dir: &Path) -> Result<JsonStore, CliError> {
    check_writable_dir(dir)?;
    JsonStore::open(dir).map_err(|e| CliError::from_store(dir, e))
}

/// Whether `dir` holds at least one `segment-*.jsonl` file.
fn has_segments(dir: &Path) -> Result<bool, CliError> {
    let entries = list(dir)?;
    for entry in entries {
        let entry = entry.map_err(|source| read_error(dir, source))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("segment-") && name.ends_with(".jsonl") {
            return Ok(true);
        }
    }
    Ok(false)
}

fn is_empty(dir: &Path) -> Result<bool, CliError> {
    Ok(list(dir)?.next().is_none())
}

fn list(dir: &Path) -> Result<std::fs::ReadDir, CliError> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CliError::NoStore {
                dir: dir.to_path_buf(),
            })
        }
        Ok(meta) if !meta.is_dir() => {
            return Err(CliError::NotADirectory {
                dir: dir.to_path_buf(),
            })
        }
        _ => {}
    }
    std::fs::read_dir(dir).map_err(|source| read_error(dir, source))
}

fn read_error(dir: &Path, source: std::io::Error) -> CliError {
    CliError::File {
        action: "cannot list",
        path: dir.to_path_buf(),
        source,
    }
}
