//! The `livenstore` command: look inside, check, repair, follow, export and import a livenstore
//! store, a [`JsonStore`](livenstore::JsonStore) directory, a schema on a PostgreSQL server
//! ([`PostgresStore`](livenstore_postgres::PostgresStore)) or a JetStream stream on a NATS server
//! ([`JetStreamStore`](livenstore_nats::JetStreamStore)). The binary (`src/main.rs`) only calls
//! [`main`]; everything is here, one module per command group.
//!
//! ```text
//! livenstore <DIR> streams | stream <NAME> | event <ID> | trace <ID> | all | tail | stats | verify | repair
//!                  | export [--skip-damaged] | import <FILE> | append <STREAM> <TYPE> <JSON|-|@FILE>
//!                  | snapshots [--type T | --delete T]
//!                  | consumers [reset NAME [--to N] | delete NAME]
//!                  | parked [--consumer NAME] [replay NAME | drop NAME [--id ID]]
//! livenstore --postgres <URL> [--schema NAME] streams | stream <NAME> | event <ID> | trace <ID>
//!                  | all | tail
//!                  | stats | export | append <STREAM> <TYPE> <JSON|-|@FILE>
//!                  | snapshots [--type T | --delete T] | consumers [...] | parked [...]
//! livenstore --nats <URL> [--nats-stream NAME] streams | stream <NAME> | event <ID> | trace <ID>
//!                  | all | tail | stats | export | import <FILE>
//!                  | append <STREAM> <TYPE> <JSON|-|@FILE>
//!                  | snapshots [--type T | --delete T] | consumers [...] | parked [...]
//! ```
//!
//! Exactly one of `DIR`, `--postgres URL` and `--nats URL` names the store. Commands work on
//! every store through the [`EventStore`](livenstore::EventStore) trait, except `verify`,
//! `repair`, `import` and `export --skip-damaged`, which read and write segment files and take a
//! directory only; `import` also fills a NATS store, through the store's own import (everything
//! the file holds, times included; a file with holes is refused). Read commands create nothing:
//! a missing directory, a missing `--schema` (default `livenstore`) on the PostgreSQL server, or
//! a missing `--nats-stream` (default `LIVENSTORE`) on the NATS server, is an error; `append`
//! creates any of them, and so does `import` a directory or a JetStream stream. A directory's
//! missing `checkpoints/` or `parked/`, or a NATS store's missing key-value bucket, reads as
//! empty and is created only by a command that writes there.
//!
//! Tables by default, `--json` for one JSON object per line. A table names an event's type with
//! its event version when that is not 1 (`account.credited@2`); the JSON form, `export` and
//! `import` carry it as `"event_version"` (left out when 1), and `append --event-version N` sets
//! it. What a command goes on after but
//! its user must hear of (a torn tail moved to a quarantine file, a damaged store read around
//! its damage) is a `livenstore: warning: ...` line on standard error. Exit status: 0 on
//! success, 1 when the command failed or `verify` found damage (one line `livenstore: error:
//! ...` on standard error), 2 for a bad command line: clap's errors, and those found after
//! parsing (a malformed `--postgres` or `--nats` URL, a directory-only command with `--postgres`
//! or `--nats`, a command `--nats` does not support yet), 3 when
//! an append's outcome is unknown (the connection was lost while its commit was in flight: read
//! the stream to find out, or repeat it with the same `--id`, which stores it at most once).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod args;
mod commands;
mod error;
mod export_format;
mod nats;
mod open;
mod output;
mod server;
mod store;
mod warning;

/// Entry points of the fuzz targets (`fuzz/`), compiled only when fuzzing (`--cfg fuzzing`).
#[cfg(fuzzing)]
pub mod fuzz {
    use livenstore::store::json::{verify, JsonImporter, JsonStoreOptions};

    /// An import file of any bytes, through `import`'s reader into an empty store: each line is
    /// imported or refused with its line number, never a panic; an import that finishes leaves
    /// a store that verifies healthy.
    pub fn import(data: &[u8]) {
        let dir =
            std::env::temp_dir().join(format!("livenstore-fuzz-import-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let importer = JsonImporter::create(&dir, JsonStoreOptions::new()).expect("an importer");
        let mut input = data;
        if crate::commands::import::import_lines(&mut input, "input", importer, &dir).is_ok() {
            let report = verify(&dir).expect("verify");
            assert!(report.problems.is_empty(), "{:?}", report.problems);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

use std::io::Write;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

/// Parses the command line, runs the command, and says how it went as an exit status.
pub fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            say_error(&with_causes(&e));
            ExitCode::from(e.exit_status())
        }
    }
}

/// Help and version go to standard output (exit 0); no arguments at all prints the help to
/// standard error (exit 2); any other bad command line is one line on standard error (exit 2):
/// clap's message, with the arguments it lists and its tips.
fn usage_error(e: &clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // Nothing useful is left to do if standard output is gone.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return ExitCode::from(2);
        }
        _ => {}
    }
    say_error(&format!(
        "{} (see `livenstore --help`)",
        one_line(&e.render().to_string())
    ));
    ExitCode::from(2)
}

/// clap's multi-line message as one line: the text before `Usage:` (or its "For more
/// information" line), the lines it lists joined
/// with spaces, tips after a `;`.
fn one_line(text: &str) -> String {
    let mut lines = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("invalid command line");
    let mut message = first.strip_prefix("error: ").unwrap_or(first).to_owned();
    for line in lines {
        message.push_str(if line.starts_with("tip:") { "; " } else { " " });
        message.push_str(line);
    }
    message
}

/// The error's message followed by those of its causes (`: cause`), each unless the message so
/// far already holds it. The PostgreSQL client keeps what went wrong in its causes: "error
/// connecting to server" says why (`Connection refused`) only there.
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = e.source();
    }
    message
}

/// Writes `livenstore: error: <message>` to standard error (unlike `eprintln!`, without
/// panicking when standard error is closed), as one line: a message of several lines (a
/// server's error with its `DETAIL:` and `HINT:` lines) has its lines joined with spaces.
fn say_error(message: &str) {
    let line = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let _ = writeln!(std::io::stderr(), "livenstore: error: {line}");
}
