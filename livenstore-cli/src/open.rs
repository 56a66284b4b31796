//! Opening the store directory for a command.
//!
//! Rules:
//! - Read commands open read-only ([`JsonStore::open_read_only_with`]): no lock is taken,
//!   nothing is written, a torn tail is left alone, and it works while a writer has the store
//!   open. A damaged store opens with a warning; reads that reach the damage fail (`export
//!   --skip-damaged` skips it). A directory that does not exist is an error, never created.
//! - Write commands (`append`, `import`, `repair`) take the writer's lock; another holder is
//!   [`CliError::Locked`], at once or after `--wait SECS`. They create a missing directory, but
//!   refuse an existing one that holds other files and no segment, so a mistyped path does not
//!   turn, say, a home directory into a store. What a writable open recovers (a torn tail moved
//!   to a quarantine file) is a warning on standard error.

use std::path::Path;
use std::time::Duration;

use livenstore::store::json::JsonStoreOptions;
use livenstore::JsonStore;

use crate::error::CliError;
use crate::warning;

/// The options of every open: what it recovers is warned about on standard error.
fn options() -> JsonStoreOptions {
    JsonStoreOptions::new().on_recovery(warning::recovery)
}

/// Opens the store in `dir` for reading; a damaged store opens too (a warning says so), its
/// reads failing on the damaged records, or skipping them when `skip_damaged`.
pub fn for_reading(dir: &Path, skip_damaged: bool) -> Result<JsonStore, CliError> {
    check_store_dir(dir)?;
    JsonStore::open_read_only_with(dir, options().skip_damaged(skip_damaged))
        .map_err(|e| CliError::from_store(dir, e))
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

/// The options of a writer that waits `wait` for the store's lock (`None`: fails at once).
pub fn writer_options(wait: Option<Duration>) -> JsonStoreOptions {
    match wait {
        Some(wait) => options().wait_for_lock(wait),
        None => options(),
    }
}

/// Opens (creating it if needed) the store in `dir` for appending, waiting up to `wait` for
/// another writer to let go of it.
pub fn for_writing(dir: &Path, wait: Option<Duration>) -> Result<JsonStore, CliError> {
    check_writable_dir(dir)?;
    JsonStore::open_with(dir, writer_options(wait)).map_err(|e| CliError::from_store(dir, e))
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
