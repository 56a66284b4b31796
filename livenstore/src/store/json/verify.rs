//! `verify`: a read-only check of every segment, reporting every damaged line.
//!
//! Invariant: it never writes and takes no lock, so it can check a store another process has
//! open. Unlike opening, it does not stop at the first problem.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::format::{decode_line, Record};
use std::collections::{HashMap, HashSet};

use super::io_err;
use super::recovery::list_segments;
use crate::StoreError;

/// One problem [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyProblem {
    /// The segment file.
    pub path: PathBuf,
    /// The 1-based line.
    pub line: u64,
    /// Whether this is the unfinished final batch of the last segment (which the next writable
    /// open cuts off) rather than corruption.
    pub torn_tail: bool,
    /// What is wrong.
    pub reason: String,
}

/// What [`verify`] found.
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
    /// Every problem, in file order.
    pub problems: Vec<VerifyProblem>,
}

impl VerifyReport {
    /// Whether no line is corrupted (a torn tail alone counts as healthy: opening repairs it).
    pub fn is_healthy(&self) -> bool {
        self.problems.iter().all(|p| p.torn_tail)
    }
}

/// Checks every line of every segment in `dir`: checksums, batch markers, and the log rules
/// (contiguous positions and versions, unique ids).
///
/// # Errors
///
/// [`StoreError::Io`] when a file cannot be read; damage is reported in the
/// [`VerifyReport`], not as an error.
pub fn verify(dir: impl AsRef<Path>) -> Result<VerifyReport, StoreError> {
    let dir = dir.as_ref();
    let mut report = VerifyReport::default();
    let segments = match list_segments(dir) {
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
    let mut rules = Rules::default();
    let count = segments.len();
    for (k, (_, path)) in segments.into_iter().enumerate() {
        report.segments += 1;
        let file = std::fs::File::open(&path).map_err(io_err(&path))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut buf = Vec::new();
        let mut line = 0u64;
        let mut open_batch: Option<(u64, u32, u32)> = None; // first line, next i, n
                                                            // The last line that decodes and ends a batch: problems after it in the last segment
                                                            // form a torn tail.
        let mut last_complete = 0u64;
        let mut problems = Vec::new();
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf).map_err(io_err(&path))?;
            if n == 0 {
                break;
            }
            line += 1;
            report.lines += 1;
            let text = match buf.strip_suffix(b"\n") {
                Some(t) => t,
                None => {
                    problems.push((line, "the last line has no newline".to_string()));
                    break;
                }
            };
            let record = match decode_line(text) {
                Ok(r) => r,
                Err(reason) => {
                    rules.damage();
                    problems.push((line, reason));
                    open_batch = None;
                    continue;
                }
            };
            let (i, total) = record.batch();
            if i == total {
                last_complete = line;
            }
            let expected = open_batch.map_or(1, |(_, next, _)| next);
            if i != expected || open_batch.is_some_and(|(_, _, n)| n != total) {
                problems.push((line, format!("batch marker [{i},{total}] out of sequence")));
            }
            open_batch = (i < total).then(|| (open_batch.map_or(line, |b| b.0), i + 1, total));
            let checked = match record {
                Record::Event { header, .. } => {
                    report.events += 1;
                    rules.event(
                        header.position,
                        header.id.to_u128(),
                        &header.stream,
                        header.version,
                    )
                }
                Record::Link(link) => {
                    report.links += 1;
                    rules.version(&link.stream, link.version)
                }
            };
            if let Err(reason) = checked {
                problems.push((line, reason));
            }
        }
        if let Some((first, _, _)) = open_batch {
            problems.push((first, "the last batch is incomplete".into()));
        }
        let is_last = k + 1 == count;
        for (line, reason) in problems {
            report.problems.push(VerifyProblem {
                path: path.clone(),
                line,
                torn_tail: is_last && line > last_complete,
                reason,
            });
        }
    }
    Ok(report)
}

/// The log rules, checked so that one bad line is reported once: each check compares with the
/// previous line seen and then takes the line's own values as the new reference.
#[derive(Default)]
struct Rules {
    position: u64,
    versions: HashMap<String, u64>,
    ids: HashSet<u128>,
    /// After an unreadable line: the next position and each stream's next version are taken
    /// as they come, since the lost line may have held them.
    position_unsure: bool,
    damaged: bool,
    seen_since_damage: HashSet<String>,
}

impl Rules {
    fn damage(&mut self) {
        self.position_unsure = true;
        self.damaged = true;
        self.seen_since_damage.clear();
    }

    fn event(&mut self, position: u64, id: u128, stream: &str, version: u64) -> Result<(), String> {
        let expected = self.position + 1;
        self.position = position;
        let fresh = self.ids.insert(id);
        self.version(stream, version)?;
        let unsure = std::mem::take(&mut self.position_unsure);
        if position != expected && !unsure {
            return Err(format!("position {position}, expected {expected}"));
        }
        if !fresh {
            return Err("event id stored twice".into());
        }
        Ok(())
    }

    fn version(&mut self, stream: &str, version: u64) -> Result<(), String> {
        let last = self
            .versions
            .insert(stream.to_owned(), version)
            .unwrap_or(0);
        let unsure = self.damaged && self.seen_since_damage.insert(stream.to_owned());
        if version != last + 1 && !unsure {
            return Err(format!("stream version {version}, expected {}", last + 1));
        }
        Ok(())
    }
}
