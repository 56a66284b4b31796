//! Quarantine files: where bytes go that the log no longer counts, so that none is discarded.
//!
//! Beside each segment, in the store's directory:
//! - `segment-00000001.jsonl.torn-<unix nanos>`: a torn tail that a writable open cut off (an
//!   append that never finished), the bytes as they were.
//! - `segment-00000001.jsonl.damaged-<unix nanos>`: the damaged lines that `repair` moved out of
//!   that segment, one after the other, verbatim; the hole record `repair` left for each says
//!   which bytes (offset and length) were its line.
//!
//! Neither name is a segment name, so opening a store ignores them; [`list_quarantine`] (and
//! `verify`, `stats`) list them.
//!
//! Invariants:
//! - A quarantine file is written whole and synced, and its directory synced, before the segment
//!   that held its bytes is cut or replaced. A crash at any moment leaves the bytes in the
//!   segment, in the quarantine file, or in both; never in neither.
//! - A name is never reused: files are created with `create_new`, and a name that exists is
//!   retried with a later time.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::io::{io_err, sync_dir};
use super::recovery::parse_segment_name;
use crate::{StoreError, Timestamp};

/// Why bytes were quarantined.
///
/// # Examples
///
/// ```
/// use livenstore::store::json::{list_quarantine, QuarantineKind};
/// use livenstore::{EventStore, ExpectedVersion, JsonStore, NewEvent};
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = JsonStore::open(dir.path()).unwrap();
/// let event = NewEvent::from_json("Counted", r#"{"n":1}"#).unwrap();
/// store.append("counter", ExpectedVersion::NoStream, vec![event]).unwrap();
/// drop(store);
/// // A crash in the middle of the next append: its line is cut short.
/// let segment = dir.path().join("segment-00000001.jsonl");
/// let intact = std::fs::metadata(&segment).unwrap().len();
/// let mut bytes = std::fs::read(&segment).unwrap();
/// bytes.extend_from_slice(br#"{"crc":"9a0b"#);
/// std::fs::write(&segment, bytes).unwrap();
///
/// // The next writable open moves the torn tail to a quarantine file.
/// JsonStore::open(dir.path()).unwrap();
/// let files = list_quarantine(dir.path()).unwrap();
/// assert_eq!(files[0].kind, QuarantineKind::TornTail);
/// let name = files[0].path.file_name().unwrap().to_string_lossy();
/// assert!(name.starts_with(&format!("segment-00000001.jsonl.{}-", files[0].kind.as_str())));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QuarantineKind {
    /// A torn tail: the unfinished last append that a writable open cut off.
    TornTail,
    /// Damaged lines that `repair` moved out of the log.
    Damaged,
}

impl QuarantineKind {
    /// The word in the file name: `torn` or `damaged`.
    pub fn as_str(self) -> &'static str {
        match self {
            QuarantineKind::TornTail => "torn",
            QuarantineKind::Damaged => "damaged",
        }
    }
}

/// A quarantine file of a store directory.
///
/// # Examples
///
/// ```
/// use livenstore::store::json::{list_quarantine, repair, QuarantineKind};
/// use livenstore::{EventStore, ExpectedVersion, JsonStore, NewEvent};
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = JsonStore::open(dir.path()).unwrap();
/// for n in 1..=3 {
///     let event = NewEvent::from_json("Counted", format!(r#"{{"n":{n}}}"#)).unwrap();
///     store.append("counter", ExpectedVersion::Any, vec![event]).unwrap();
/// }
/// drop(store);
/// // Bit rot in the second line.
/// let segment = dir.path().join("segment-00000001.jsonl");
/// let text = std::fs::read_to_string(&segment).unwrap();
/// std::fs::write(&segment, text.replacen(r#"{"n":2}"#, r#"{"n":7}"#, 1)).unwrap();
///
/// repair(dir.path()).unwrap();
/// let files = list_quarantine(dir.path()).unwrap();
/// assert_eq!(files.len(), 1);
/// let file = &files[0];
/// assert_eq!((file.segment, file.kind), (1, QuarantineKind::Damaged));
/// assert_eq!(file.bytes, std::fs::metadata(&file.path).unwrap().len());
/// assert!(std::fs::read_to_string(&file.path).unwrap().contains(r#"{"n":7}"#));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineFile {
    /// The file.
    pub path: PathBuf,
    /// The id of the segment its bytes came from.
    pub segment: u32,
    /// Why they were moved.
    pub kind: QuarantineKind,
    /// The file's size.
    pub bytes: u64,
}

/// Writes `bytes` to a new quarantine file for the segment at `segment_path` and syncs it and
/// the directory. Returns its path.
///
/// # Errors
///
/// [`StoreError::Io`] with the path.
pub(crate) fn write_quarantine(
    segment_path: &Path,
    kind: QuarantineKind,
    bytes: &[u8],
) -> Result<PathBuf, StoreError> {
    let dir = segment_path.parent().unwrap_or(Path::new("."));
    let name = segment_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut nanos = Timestamp::now().as_unix_nanos();
    let (path, mut file) = loop {
        let path = dir.join(format!("{name}.{}-{nanos}", kind.as_str()));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => break (path, file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => nanos += 1,
            Err(source) => return Err(StoreError::Io { path, source }),
        }
    };
    file.write_all(bytes).map_err(io_err(&path))?;
    file.sync_all().map_err(io_err(&path))?;
    sync_dir(dir)?;
    Ok(path)
}

/// What a file name says when it is a quarantine file: its segment and kind.
pub(crate) fn parse_quarantine_name(name: &str) -> Option<(u32, QuarantineKind)> {
    let (segment, rest) = name.split_once(".jsonl.")?;
    let segment = parse_segment_name(&format!("{segment}.jsonl"))?;
    let (kind, nanos) = rest.split_once('-')?;
    let kind = match kind {
        "torn" => QuarantineKind::TornTail,
        "damaged" => QuarantineKind::Damaged,
        _ => return None,
    };
    (!nanos.is_empty() && nanos.bytes().all(|b| b.is_ascii_digit())).then_some((segment, kind))
}

/// Every quarantine file in the store directory `dir`, sorted by name (so by segment, kind and
/// time).
///
/// # Errors
///
/// [`StoreError::Io`] when the directory cannot be listed.
///
/// # Examples
///
/// ```
/// use livenstore::store::json::list_quarantine;
///
/// let dir = tempfile::tempdir().unwrap();
/// livenstore::JsonStore::open(dir.path()).unwrap();
/// assert!(list_quarantine(dir.path()).unwrap().is_empty());
/// ```
pub fn list_quarantine(dir: impl AsRef<Path>) -> Result<Vec<QuarantineFile>, StoreError> {
    let dir = dir.as_ref();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name();
        let Some((segment, kind)) = name.to_str().and_then(parse_quarantine_name) else {
            continue;
        };
        let path = entry.path();
        let bytes = entry.metadata().map_err(io_err(&path))?.len();
        found.push(QuarantineFile {
            path,
            segment,
            kind,
            bytes,
        });
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_recognised_and_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let segment = dir.path().join("segment-00000003.jsonl");
        let a = write_quarantine(&segment, QuarantineKind::TornTail, b"abc").unwrap();
        let b = write_quarantine(&segment, QuarantineKind::TornTail, b"de").unwrap();
        let c = write_quarantine(&segment, QuarantineKind::Damaged, b"f").unwrap();
        assert_ne!(a, b);
        std::fs::write(dir.path().join("segment-00000003.jsonl.torn-x"), b"not one").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"not one").unwrap();
        let listed = list_quarantine(dir.path()).unwrap();
        let mut expected = vec![(a, 3), (b, 2), (c, 1)];
        expected.sort();
        let got: Vec<_> = listed.iter().map(|q| (q.path.clone(), q.bytes)).collect();
        assert_eq!(got, expected);
        assert!(listed.iter().all(|q| q.segment == 3));
        assert_eq!(
            parse_quarantine_name("segment-00000001.jsonl.damaged-17"),
            Some((1, QuarantineKind::Damaged))
        );
        assert_eq!(parse_quarantine_name("segment-00000001.jsonl"), None);
        assert_eq!(parse_quarantine_name("segment-x.jsonl.torn-1"), None);
    }
}
