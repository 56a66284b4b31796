//! Where a [`JsonStore`](super::JsonStore) keeps its snapshot files: `<dir>/snapshots/`, one
//! file per aggregate, named after its key, and the file operations on them (see
//! `snapshots.rs` for the invariants).

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use super::io::{io_err, sync_dir};
use super::snapshot_file;
use crate::store::Snapshot;
use crate::StoreError;

/// The directory of snapshot files, inside the store's.
pub(crate) const DIR: &str = "snapshots";

const SUFFIX: &str = ".snapshot";
const TEMP_SUFFIX: &str = ".tmp";
const OLD_SUFFIX: &str = ".old";
const MAX_NAME_BYTES: usize = 200;

/// `bytes` with every byte outside `[A-Za-z0-9_-]` written `%XX`.
fn escape(out: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// The file name of a key (see the module's invariants).
pub(crate) fn file_name(aggregate_type: &str, aggregate_id: &str) -> String {
    let mut name = String::with_capacity(aggregate_type.len() + aggregate_id.len() + 16);
    escape(&mut name, aggregate_type);
    name.push('.');
    escape(&mut name, aggregate_id);
    name.push_str(SUFFIX);
    if name.len() <= MAX_NAME_BYTES {
        return name;
    }
    let hash = crate::fnv::hash(aggregate_type.as_bytes());
    let hash = crate::fnv::continue_over(
        crate::fnv::continue_over(hash, &[0]),
        aggregate_id.as_bytes(),
    );
    format!("~{hash:016x}{SUFFIX}")
}

/// The aggregate type a file name says, when it says one (not for a `~hash` name).
pub(crate) fn type_of_name(name: &str) -> Option<String> {
    let escaped = name.strip_suffix(SUFFIX)?.split('.').next()?;
    if escaped.starts_with('~') {
        return None;
    }
    let bytes = escaped.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The snapshot in the file at `path`, if the file exists; `Err` when it is damaged.
pub(crate) fn read_file(path: &Path) -> Result<Option<Snapshot>, StoreError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    snapshot_file::decode(&bytes)
        .map(Some)
        .map_err(|reason| StoreError::Corrupted {
            path: path.to_path_buf(),
            line: 1,
            reason,
        })
}

/// Writes `bytes` as file `name` of `dir`, fsyncing the file and the directory when `durable`
/// (creating `dir` when missing): the new file is written as `.<name>.tmp`; the old one, if
/// any, is moved aside to `<name>.old`; the new one is renamed to `name`; the old one is
/// removed. At every step `name` or `<name>.old` holds a whole snapshot ([`read_file`] reads
/// the second when the first is missing), and no rename replaces a file: on ext4 a rename over
/// an existing file forces the new file's data out first, ten times the cost of these steps.
pub(crate) fn replace_file(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    durable: bool,
) -> Result<(), StoreError> {
    if !dir.exists() {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        if let (true, Some(store_dir)) = (durable, dir.parent()) {
            sync_dir(store_dir)?;
        }
    }
    let temp = dir.join(format!(".{name}{TEMP_SUFFIX}"));
    let path = dir.join(name);
    let aside = dir.join(format!("{name}{OLD_SUFFIX}"));
    {
        let mut file = fs::File::create(&temp).map_err(io_err(&temp))?;
        std::io::Write::write_all(&mut file, bytes).map_err(io_err(&temp))?;
        if durable {
            file.sync_all().map_err(io_err(&temp))?;
        }
    }
    let moved_aside = match fs::rename(&path, &aside) {
        Ok(()) => true,
        Err(e) if e.kind() == ErrorKind::NotFound => false,
        Err(e) => return Err(io_err(&path)(e)),
    };
    fs::rename(&temp, &path).map_err(io_err(&path))?;
    if moved_aside {
        fs::remove_file(&aside).map_err(io_err(&aside))?;
    }
    if durable {
        sync_dir(dir)?;
    }
    Ok(())
}

/// The snapshot of file `name` of `dir`: the file, or the old one moved aside while a new one
/// is being put in place (see [`replace_file`]); `Err` when the one read is damaged.
pub(crate) fn read_snapshot(dir: &Path, name: &str) -> Result<Option<Snapshot>, StoreError> {
    let path = dir.join(name);
    if let Some(snapshot) = read_file(&path)? {
        return Ok(Some(snapshot));
    }
    if let Some(snapshot) = read_file(&dir.join(format!("{name}{OLD_SUFFIX}")))? {
        return Ok(Some(snapshot));
    }
    // The replacement may have finished between the two reads.
    read_file(&path)
}

/// Every snapshot file's name in `dir` (none when it does not exist).
pub(crate) fn files(dir: &Path) -> Result<Vec<String>, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err(dir))?;
        if let Some(name) = entry.file_name().to_str() {
            if name.ends_with(SUFFIX) && !name.starts_with('.') {
                names.push(name.to_owned());
            }
        }
    }
    Ok(names)
}

/// Finishes what a crash interrupted in a store's snapshot directory (a writable open): removes
/// `.tmp` files, and for each `<name>.old`, removes it when `name` exists, else moves it back.
pub(crate) fn remove_temp_files(store_dir: &Path) -> Result<(), StoreError> {
    let dir = store_dir.join(DIR);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(&dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_err(&dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = entry.path();
        if name.starts_with('.') && name.ends_with(TEMP_SUFFIX) {
            fs::remove_file(&path).map_err(io_err(&path))?;
        } else if let Some(current) = name.strip_suffix(OLD_SUFFIX) {
            let current = dir.join(current);
            if current.exists() {
                fs::remove_file(&path).map_err(io_err(&path))?;
            } else {
                fs::rename(&path, &current).map_err(io_err(&current))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(version: u64) -> Vec<u8> {
        let state = crate::Payload::from_json("{}").unwrap();
        snapshot_file::encode(&Snapshot::new("account", "1", version, state)).unwrap()
    }

    #[test]
    fn a_replacement_leaves_a_whole_snapshot_at_every_step() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(DIR);
        let name = "account.1.snapshot";
        let version = || read_snapshot(&dir, name).unwrap().map(|s| s.version());
        replace_file(&dir, name, &sample(1), false).unwrap();
        replace_file(&dir, name, &sample(2), true).unwrap();
        assert_eq!(version(), Some(2));
        assert!(!dir.join("account.1.snapshot.old").exists());
        // Interrupted after moving the old one aside: it is read, and an open restores it.
        fs::rename(dir.join(name), dir.join("account.1.snapshot.old")).unwrap();
        fs::write(dir.join(".account.1.snapshot.tmp"), &sample(3)[..10]).unwrap();
        assert_eq!(version(), Some(2));
        remove_temp_files(root.path()).unwrap();
        assert_eq!(version(), Some(2));
        assert_eq!(files(&dir).unwrap(), [name]);
        // Interrupted after the new one is in place: the old one is removed.
        fs::write(dir.join("account.1.snapshot.old"), sample(2)).unwrap();
        replace_file(&dir, name, &sample(4), false).unwrap();
        remove_temp_files(root.path()).unwrap();
        assert_eq!(version(), Some(4));
        assert!(!dir.join("account.1.snapshot.old").exists());
    }

    #[test]
    fn names_escape_what_a_file_name_cannot_hold_and_read_back() {
        assert_eq!(file_name("account", "42"), "account.42.snapshot");
        assert_eq!(file_name("a.b", "x/y z"), "a%2Eb.x%2Fy%20z.snapshot");
        assert_eq!(
            type_of_name("a%2Eb.x%2Fy%20z.snapshot").as_deref(),
            Some("a.b")
        );
        assert_eq!(file_name("ü", ".."), "%C3%BC.%2E%2E.snapshot");
        assert_eq!(type_of_name("%C3%BC.%2E%2E.snapshot").as_deref(), Some("ü"));
        let long = "x".repeat(250);
        let hashed = file_name("account", &long);
        assert!(hashed.starts_with('~') && hashed.len() < 30, "{hashed}");
        assert_ne!(hashed, file_name("account", &"y".repeat(250)));
        assert_eq!(type_of_name(&hashed), None);
        assert_eq!(type_of_name("bad%G1.x.snapshot"), None);
    }
}
