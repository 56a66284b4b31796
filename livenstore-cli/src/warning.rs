//! Warnings: one line each on standard error, `livenstore: warning: ...`, for what a command
//! goes on after but its user must hear of: a torn tail moved to a quarantine file, a damaged
//! store read around its damage, damaged records an export skipped.
//!
//! They reach the user through the store's recovery hook
//! ([`JsonStoreOptions::on_recovery`](livenstore::store::json::JsonStoreOptions::on_recovery)),
//! so a `tail` that meets new damage says so too. A torn tail that a read-only open leaves alone
//! is not warned about: it may be an append another process is writing right now (`stats` and
//! `verify` show it).

use std::io::Write;
use std::path::Path;

use livenstore::store::json::{DamagedRecord, RecoveryReport};

/// Writes `livenstore: warning: <message>` to standard error (never panicking when it is closed).
pub fn warn(message: &str) {
    let _ = writeln!(std::io::stderr(), "livenstore: warning: {message}");
}

/// The store directory a segment file is in.
fn dir_of(path: &Path) -> String {
    path.parent()
        .map_or_else(|| ".".to_owned(), |d| d.display().to_string())
}

/// Tells what an open recovered (the recovery hook of the command's stores).
pub fn recovery(report: &RecoveryReport) {
    if let Some(torn) = &report.torn_tail {
        if let Some(quarantine) = &torn.quarantine {
            warn(&format!(
                "{}: cut off a torn tail at line {} ({} bytes of an append that never finished: \
                 {}) and moved it to {}",
                torn.path.display(),
                torn.line,
                torn.bytes,
                torn.reason,
                quarantine.display()
            ));
        }
    }
    if let Some(first) = report.damaged.first() {
        let dir = dir_of(&first.path);
        warn(&format!(
            "the store at {dir} is damaged: {} record(s) cannot be read (the first: {first}); \
             reads that reach them fail; `livenstore {dir} verify` lists them and `livenstore \
             {dir} repair` moves them to a quarantine file",
            report.damaged.len()
        ));
    }
}

/// Tells that `record` was skipped (`export --skip-damaged`).
pub fn skipped(record: &DamagedRecord) {
    warn(&format!("skipped damaged record {record}"));
}
