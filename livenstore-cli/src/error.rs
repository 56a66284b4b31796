//! What can go wrong, as one line each: `livenstore: error: <message>`, exit status 1.
//!
//! Usage errors are clap's (exit status 2, see `main.rs`).

use std::path::PathBuf;

use livenstore::StoreError;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The store directory does not exist (read commands never create it).
    #[error("no store at {}: the directory does not exist", dir.display())]
    NoStore {
        /// The directory given.
        dir: PathBuf,
    },
    /// The path given is a file, not a directory.
    #[error("{} is not a directory", dir.display())]
    NotADirectory {
        /// The path given.
        dir: PathBuf,
    },
    /// The directory holds no segment file (and, for writes, other files).
    #[error("{} is not a livenstore store: it holds no segment-*.jsonl file", dir.display())]
    NotAStore {
        /// The directory given.
        dir: PathBuf,
    },
    /// `stream NAME` names a stream the store does not have.
    #[error("no stream named `{name}` in {}", dir.display())]
    NoSuchStream {
        /// The name given.
        name: String,
        /// The store directory.
        dir: PathBuf,
    },
    /// Another process holds the writer's lock.
    #[error("the store at {} is locked by another process", dir.display())]
    Locked {
        /// The store directory.
        dir: PathBuf,
    },
    /// The store refused or failed an operation.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The payload given to `append` is not JSON.
    #[error("the payload is not valid JSON: {0}")]
    InvalidPayload(serde_json::Error),
    /// A line of an import file is not a record or was refused.
    #[error(
        "import stopped at {file} line {line}: {reason} (the store keeps the {events} events and \
         {links} links imported before it)"
    )]
    Import {
        /// The import file (`-` for standard input).
        file: String,
        /// The 1-based line.
        line: u64,
        /// What is wrong.
        reason: String,
        /// Events imported before the line.
        events: u64,
        /// Links imported before the line.
        links: u64,
    },
    /// A file could not be read, created or written.
    #[error("{action} {}: {source}", path.display())]
    File {
        /// What was being done ("cannot read", ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Standard output could not be written.
    #[error("cannot write to standard output: {0}")]
    Output(std::io::Error),
    /// `verify` found damage.
    #[error("verify found {corrupted} corrupted line(s) and {torn} torn tail(s)")]
    VerifyFailed {
        /// Corrupted lines.
        corrupted: usize,
        /// Torn tails.
        torn: usize,
    },
}

impl CliError {
    /// Whether this is the reader of our output going away (`livenstore DIR all | head`), which
    /// ends the command quietly rather than as a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// The store error in the store's context: a lock held elsewhere says so plainly.
    pub fn from_store(dir: &std::path::Path, error: StoreError) -> Self {
        match error {
            StoreError::Locked { .. } => CliError::Locked {
                dir: dir.to_path_buf(),
            },
            other => CliError::Store(other),
        }
    }
}
