//! `verify`: a read-only check of every segment, reporting every damaged line.
//!
//! Invariant: it never writes and takes no lock, so it can check a store another process has
//! open. Unlike opening, it does not stop at the first problem: it surveys the whole log
//! (`survey.rs`), the way a read-only open of a damaged store and `repair` do, so the three
//! agree on what is damaged.

use std::path::{Path, PathBuf};

use super::lines::LineKind;
use super::quarantine::{list_quarantine, QuarantineFile};
use super::survey::Survey;
use crate::StoreError;

/// One problem [`verify`] found.
///
/// # Examples
///
/// ```
/// use livenstore::store::json::verify;
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
/// let report = verify(dir.path()).unwrap();
/// assert!(!report.is_healthy());
/// let problem = &report.problems[0];
/// assert_eq!((problem.line, problem.torn_tail), (2, false));
/// assert!(problem.path.ends_with("segment-00000001.jsonl"));
/// assert!(problem.reason.contains("position 2"), "{}", problem.reason);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyProblem {
    /// The segment file.
    pub path: PathBuf,
    /// The 1-based line.
    pub line: u64,
    /// Whether this is the unfinished final batch of the last segment (which the next writable
    /// open moves to a quarantine file) rather than corruption.
    pub torn_tail: bool,
    /// What is wrong, and what the damaged record held when that is known.
    pub reason: String,
}

/// What [`verify`] found.
///
/// # Examples
///
/// ```
/// use livenstore::store::json::verify;
/// use livenstore::{EventStore, ExpectedVersion, JsonStore, NewEvent};
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = JsonStore::open(dir.path()).unwrap();
/// let events = vec![
///     NewEvent::from_json("Opened", "{}").unwrap(),
///     NewEvent::from_json("Closed", "{}").unwrap(),
/// ];
/// store.append("account-1", ExpectedVersion::NoStream, events).unwrap();
/// let first = store.read_all(1, 1).unwrap()[0].id();
/// store.link_to_stream(first, "audit").unwrap();
///
/// let report = verify(dir.path()).unwrap();
/// assert_eq!((report.segments, report.lines), (1, 3));
/// assert_eq!((report.events, report.links, report.holes), (2, 1, 0));
/// assert!(report.quarantine.is_empty() && report.problems.is_empty());
/// assert!(report.is_healthy());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segment files checked.
    pub segments: u64,
    /// Lines read.
    pub lines: u64,
    /// Events in complete batches.
    pub events: u64,
    /// Links.
    pub links: u64,
    /// Hole records: records that `repair` moved to a quarantine file (not problems: the store
    /// keeps their positions and versions taken).
    pub holes: u64,
    /// The quarantine files in the directory (not problems: what was moved out of the log).
    pub quarantine: Vec<QuarantineFile>,
    /// Every problem, in file order.
    pub problems: Vec<VerifyProblem>,
}

impl VerifyReport {
    /// Whether no line is corrupted (a torn tail alone counts as healthy: the next writable open
    /// moves it to a quarantine file).
    pub fn is_healthy(&self) -> bool {
        self.problems.iter().all(|p| p.torn_tail)
    }
}

/// Checks every line of every segment in `dir`: checksums, batch markers, and the log rules
/// (increasing positions and versions with every gap accounted for, unique ids, links to
/// earlier events), and lists the quarantine files.
///
/// # Errors
///
/// [`StoreError::Io`] when a file cannot be read; damage is reported in the
/// [`VerifyReport`], not as an error.
///
/// # Examples
///
/// ```
/// use livenstore::store::json::verify;
/// use livenstore::{EventStore, ExpectedVersion, JsonStore, NewEvent};
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = JsonStore::open(dir.path()).unwrap();
/// let event = NewEvent::from_json("UserCreated", r#"{"name":"ada"}"#).unwrap();
/// store.append("user-1", ExpectedVersion::NoStream, vec![event]).unwrap();
/// let report = verify(dir.path()).unwrap();
/// assert!(report.is_healthy());
/// assert_eq!((report.events, report.problems.len()), (1, 0));
/// ```
pub fn verify(dir: impl AsRef<Path>) -> Result<VerifyReport, StoreError> {
    let dir = dir.as_ref();
    let mut report = VerifyReport {
        quarantine: list_quarantine(dir)?,
        ..VerifyReport::default()
    };
    let survey = match Survey::take(dir) {
        Ok(s) => s,
        Err(StoreError::Corrupted { path, line, reason }) => {
            report.problems.push(VerifyProblem {
                path,
                line,
                torn_tail: false,
                reason,
            });
            return Ok(report);
        }
        Err(e) => return Err(e),
    };
    report.segments = survey.segments.len() as u64;
    report.lines = survey.lines.len() as u64;
    for line in &survey.lines[..survey.counted_end()] {
        match line.kind {
            LineKind::Event(_) => report.events += 1,
            LineKind::Link(_) => report.links += 1,
            LineKind::Hole(_) => report.holes += 1,
            LineKind::Damaged(_) => {}
        }
    }
    for damaged in survey.damaged_records() {
        let what = damaged.to_string();
        let prefix = format!("{}:{}: ", damaged.path.display(), damaged.line);
        report.problems.push(VerifyProblem {
            reason: what.strip_prefix(&prefix).unwrap_or(&what).to_owned(),
            path: damaged.path,
            line: damaged.line,
            torn_tail: false,
        });
    }
    if let Some(torn) = survey.torn_tail() {
        report.problems.push(VerifyProblem {
            path: torn.path,
            line: torn.line,
            torn_tail: true,
            reason: torn.reason,
        });
    }
    Ok(report)
}
