//! Where a [`JsonStore`](super::JsonStore) keeps its snapshot files: `<dir>/snapshots/`, one
//! file per aggregate, named after its key (see `snapshots.rs` for the invariants).

use std::collections::HashMap;
use std::fs;
use std::io::ErrorKind;
use std::path::Path;
use std::sync::Mutex;

use super::io::io_err;
use crate::StoreError;

/// The directory of snapshot files, inside the store's.
pub(crate) const DIR: &str = "snapshots";

pub(crate) const SUFFIX: &str = ".snapshot";
pub(crate) const TEMP_SUFFIX: &str = ".tmp";
const MAX_NAME_BYTES: usize = 200;

/// The versions of the snapshots this process has saved or read, by key: the save lock.
#[derive(Debug, Default)]
pub(crate) struct SnapshotVersions {
    pub(crate) seen: Mutex<HashMap<(String, String), u64>>,
}

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
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in aggregate_type
        .bytes()
        .chain([0])
        .chain(aggregate_id.bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
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

/// Removes the temporary files a crash left in a store's snapshot directory (a writable open).
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
        if name.starts_with('.') && name.ends_with(TEMP_SUFFIX) {
            let path = entry.path();
            fs::remove_file(&path).map_err(io_err(&path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
