//! `verify`: checks every line of every segment, reporting each damaged one with file and line.
//!
//! Exit status 1 when anything is found, corrupted lines and torn tails alike: a torn tail is
//! what a crash in the middle of an append leaves (the next writable open cuts it off), a
//! corrupted line is damage that nothing repairs. The report says which is which.

use std::path::Path;

use livenstore::store::json::{verify, VerifyProblem};
use serde::Serialize;

use crate::error::CliError;
use crate::open;
use crate::output::Output;

/// Why `verify` refuses `--postgres`.
pub const NOT_FOR_POSTGRES: &str =
    "it checks segment files; a PostgreSQL server checks its own data";

/// The report, as `--json` prints it (one object).
#[derive(Serialize)]
struct Report<'a> {
    healthy: bool,
    segments: u64,
    lines: u64,
    events: u64,
    links: u64,
    problems: Vec<Problem<'a>>,
}

#[derive(Serialize)]
struct Problem<'a> {
    file: String,
    line: u64,
    kind: &'static str,
    reason: &'a str,
}

impl<'a> From<&'a VerifyProblem> for Problem<'a> {
    fn from(p: &'a VerifyProblem) -> Self {
        Problem {
            file: p.path.display().to_string(),
            line: p.line,
            kind: if p.torn_tail {
                "torn_tail"
            } else {
                "corrupted"
            },
            reason: &p.reason,
        }
    }
}

/// `verify`.
pub fn run(dir: &Path, json: bool, out: &mut Output) -> Result<(), CliError> {
    open::check_store_dir(dir)?;
    let report = verify(dir)?;
    let problems: Vec<Problem<'_>> = report.problems.iter().map(Problem::from).collect();
    let torn = report.problems.iter().filter(|p| p.torn_tail).count();
    let corrupted = report.problems.len() - torn;
    if json {
        out.json(&Report {
            healthy: problems.is_empty(),
            segments: report.segments,
            lines: report.lines,
            events: report.events,
            links: report.links,
            problems,
        })?;
    } else {
        for p in &problems {
            let what = if p.kind == "torn_tail" {
                "torn tail (an unfinished append; the next writable open cuts it off)"
            } else {
                "corrupted"
            };
            out.line(&format!("{}:{}: {what}: {}", p.file, p.line, p.reason))?;
        }
        out.line(&format!(
            "checked {} segment(s), {} line(s): {} event(s), {} link(s); {} corrupted, {} torn",
            report.segments, report.lines, report.events, report.links, corrupted, torn
        ))?;
    }
    if report.problems.is_empty() {
        Ok(())
    } else {
        Err(CliError::VerifyFailed { corrupted, torn })
    }
}
