//! The `livenstore` command: look inside, check, follow, export and import a livenstore
//! [`JsonStore`](livenstore::JsonStore) directory. The binary (`src/main.rs`) only calls
//! [`main`]; everything is here, one module per command group.
//!
//! ```text
//! livenstore <DIR> streams | stream <NAME> | event <ID> | all | tail | stats | verify
//!                  | export --format jsonl | import <FILE> | append <STREAM> <TYPE> <JSON>
//! ```
//!
//! Tables by default, `--json` for one JSON object per line. Exit status: 0 on success, 1 when
//! the command failed or `verify` found damage (one line `livenstore: error: ...` on standard
//! error), 2 for a bad command line.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod args;
mod commands;
mod error;
mod export_format;
mod open;
mod output;

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
            say_error(&e.to_string());
            ExitCode::FAILURE
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

/// Writes `livenstore: error: <message>` to standard error (unlike `eprintln!`, without
/// panicking when standard error is closed).
fn say_error(message: &str) {
    let _ = writeln!(std::io::stderr(), "livenstore: error: {message}");
}
