//! `repair`: moves damaged lines and a torn tail out of the log into quarantine files, leaving a
//! hole record for each lost position and stream version (see
//! [`livenstore::store::json::repair`]). Explicit only: nothing else repairs a store.
//!
//! Takes the writer's lock (`--wait SECS` waits for it). Prints one line per record moved, with
//! what it held when that could be told, the quarantine files written, and a summary; `--json`
//! prints one object. Exit status 0 whether or not there was anything to repair.

use std::path::Path;
use std::time::Duration;

use livenstore::store::json::{repair_with, DamagedRecord, RepairReport};
use serde::Serialize;

use crate::error::CliError;
use crate::open;
use crate::output::Output;

/// Why `repair` refuses `--postgres`.
pub const NOT_FOR_SERVERS: &str =
    "it repairs segment files; a server (PostgreSQL, NATS) checks and repairs its own data";

/// The report, as `--json` prints it.
#[derive(Serialize)]
struct Report<'a> {
    repaired: bool,
    quarantined: Vec<Record<'a>>,
    torn_tail_bytes: u64,
    quarantine_files: Vec<String>,
    holes: u64,
}

#[derive(Serialize)]
struct Record<'a> {
    file: String,
    line: u64,
    bytes: u64,
    reason: &'a str,
    position: Option<u64>,
    stream: Option<&'a str>,
    version: Option<u64>,
    id: Option<String>,
}

impl<'a> From<&'a DamagedRecord> for Record<'a> {
    fn from(r: &'a DamagedRecord) -> Self {
        Record {
            file: r.path.display().to_string(),
            line: r.line,
            bytes: r.bytes,
            reason: &r.reason,
            position: r.position,
            stream: r.stream.as_deref(),
            version: r.version,
            id: r.id.map(|id| id.to_string()),
        }
    }
}

/// `repair [--wait SECS]`.
pub fn run(
    dir: &Path,
    wait: Option<Duration>,
    json: bool,
    out: &mut Output,
) -> Result<(), CliError> {
    open::check_store_dir(dir)?;
    let report: RepairReport =
        repair_with(dir, &open::writer_options(wait)).map_err(|e| CliError::from_store(dir, e))?;
    let torn_bytes = report.torn_tail.as_ref().map_or(0, |t| t.bytes);
    let files: Vec<String> = report
        .quarantine_files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    if json {
        return out.json(&Report {
            repaired: !report.is_empty(),
            quarantined: report.quarantined.iter().map(Record::from).collect(),
            torn_tail_bytes: torn_bytes,
            quarantine_files: files,
            holes: report.holes,
        });
    }
    if report.is_empty() {
        return out.line(&format!(
            "nothing to repair: every line of {} is intact",
            dir.display()
        ));
    }
    for record in &report.quarantined {
        let what = if record.bytes > 0 {
            "moved to a quarantine file"
        } else {
            "recorded as a hole"
        };
        out.line(&format!("{record}: {what}"))?;
    }
    if let Some(torn) = &report.torn_tail {
        out.line(&format!(
            "{}:{}: torn tail ({} bytes of an append that never finished): moved to a \
             quarantine file",
            torn.path.display(),
            torn.line,
            torn.bytes
        ))?;
    }
    for file in &files {
        out.line(&format!("quarantine file: {file}"))?;
    }
    out.line(&format!(
        "repaired {}: {} damaged record(s) and {torn_bytes} torn-tail byte(s) moved out, {} \
         hole record(s) written; intact events keep their ids, positions and versions",
        dir.display(),
        report.quarantined.len(),
        report.holes
    ))
}
