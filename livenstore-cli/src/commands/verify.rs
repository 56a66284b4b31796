//! `verify`: checks every line of every segment, reporting each damaged one with file and line.
//!
//! Exit status 1 when anything is found, corrupted lines and torn tails alike: a torn tail is
//! what a crash in the middle of an append leaves (the next writable open moves it to a
//! quarantine file), a corrupted line is damage that only `repair`, run by hand, moves out. The
//! report says which is which, and lists the holes and quarantine files earlier repairs left
//! (which are no problem).

use std::path::Path;

use livenstore::store::json::{verify, QuarantineKind, VerifyProblem};
use serde::Serialize;

use crate::error::CliError;
use crate::open;
use crate::output::Output;

/// Why `verify` refuses `--postgres` and `--nats`.
pub const NOT_FOR_SERVERS: &str =
    "it checks segment files; a server (PostgreSQL, NATS) checks its own data";

/// The report, as `--json` prints it (one object).
#[derive(Serialize)]
struct Report<'a> {
    healthy: bool,
    segments: u64,
    lines: u64,
    events: u64,
    links: u64,
    holes: u64,
    quarantine: Vec<Quarantined>,
    problems: Vec<Problem<'a>>,
}

#[derive(Serialize)]
struct Quarantined {
    file: String,
    kind: &'static str,
    bytes: u64,
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
    let quarantine: Vec<Quarantined> = report
        .quarantine
        .iter()
        .map(|q| Quarantined {
            file: q.path.display().to_string(),
            kind: match q.kind {
                QuarantineKind::TornTail => "torn_tail",
                _ => "damaged",
            },
            bytes: q.bytes,
        })
        .collect();
    if json {
        out.json(&Report {
            healthy: problems.is_empty(),
            segments: report.segments,
            lines: report.lines,
            events: report.events,
            links: report.links,
            holes: report.holes,
            quarantine,
            problems,
        })?;
    } else {
        for p in &problems {
            let what = if p.kind == "torn_tail" {
                "torn tail (an unfinished append; the next writable open moves it to a \
                 quarantine file)"
            } else {
                "corrupted"
            };
            out.line(&format!("{}:{}: {what}: {}", p.file, p.line, p.reason))?;
        }
        for q in &quarantine {
            let what = match q.kind {
                "torn_tail" => "a torn tail cut off",
                _ => "damaged lines moved out by repair",
            };
            out.line(&format!(
                "quarantine file: {} ({} bytes, {what})",
                q.file, q.bytes
            ))?;
        }
        let holes = match report.holes {
            0 => String::new(),
            n => format!(", {n} hole(s)"),
        };
        out.line(&format!(
            "checked {} segment(s), {} line(s): {} event(s), {} link(s){holes}; {} corrupted, {} \
             torn",
            report.segments, report.lines, report.events, report.links, corrupted, torn
        ))?;
        if corrupted > 0 {
            out.line(&format!(
                "`livenstore {} repair` moves the corrupted lines to a quarantine file",
                dir.display()
            ))?;
        }
    }
    if report.problems.is_empty() {
        Ok(())
    } else {
        Err(CliError::VerifyFailed { corrupted, torn })
    }
}
