//! What can go wrong, as one line each: `livenstore: error: <message>`.
//!
//! Exit status 1 when a command fails; 2 ([`CliError::exit_status`]) for a command line that
//! cannot work, found after clap parsed it (a malformed `--postgres` or `--nats` URL, `verify`
//! or `import` with `--postgres`, `verify` or `consumers` with `--nats`), like clap's own usage
//! errors (see `lib.rs`); 3 ([`OUTCOME_UNKNOWN`]) for
//! an append that may have been stored (the connection was lost during its commit).

use std::path::PathBuf;

use livenstore::StoreError;

/// The exit status of an `append` whose outcome is unknown: the connection to the server was lost
/// while its commit was in flight, so the event may or may not be stored. Read the stream to find
/// out, or run the same `append` again with the same `--id` (stored at most once).
pub const OUTCOME_UNKNOWN: u8 = 3;

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
    #[error("no stream named `{name}` in {place}")]
    NoSuchStream {
        /// The name given.
        name: String,
        /// Where the store is: its directory, its schema and server, or its JetStream stream
        /// and server.
        place: String,
    },
    /// The `--nats-stream` does not exist on the server (read commands never create it).
    #[error("no livenstore {place}: the stream does not exist (`append` and `import` create it)")]
    NoJetStream {
        /// ``JetStream stream `NAME` at nats://HOST:PORT``.
        place: String,
    },
    /// The `--schema` does not exist on the server (read commands never create it).
    #[error("no livenstore {place}: the schema does not exist (`append` creates it)")]
    NoSchema {
        /// `schema `NAME` in database `DB` at HOST:PORT`.
        place: String,
    },
    /// The `--schema` exists but holds no livenstore store.
    #[error("{place} is not a livenstore store: it has no livenstore_migrations table")]
    NotAStoreSchema {
        /// `schema `NAME` in database `DB` at HOST:PORT`.
        place: String,
    },
    /// The `--postgres` URL does not parse (the message does not repeat it: it may hold a
    /// password). A usage error.
    #[error(
        "invalid --postgres URL: {0} (expected postgresql://USER@HOST:PORT/DATABASE or \
         `host=.. user=.. dbname=..`; see `livenstore --help`)"
    )]
    InvalidUrl(String),
    /// The `--nats` URL does not parse (the message does not repeat it: it may hold a
    /// password). A usage error.
    #[error(
        "invalid --nats URL: {0} (expected nats://HOST:PORT, several separated by commas; see \
         `livenstore --help`)"
    )]
    InvalidNatsUrl(String),
    /// A command that works on directories only was given `--postgres` or `--nats`. A usage
    /// error.
    #[error(
        "{command} works on a JsonStore directory, not with {option}: {why} (see `livenstore \
         --help`)"
    )]
    DirectoryOnly {
        /// `verify`, `repair`, `import` or `export --skip-damaged`.
        command: &'static str,
        /// `--postgres` or `--nats`.
        option: &'static str,
        /// Why, and what to do instead.
        why: &'static str,
    },
    /// No store was named (clap refuses such a command line first).
    #[error("give a store directory, --postgres URL or --nats URL (see `livenstore --help`)")]
    NoStoreGiven,
    /// Another process holds the writer's lock.
    #[error("the store at {} is locked by another process", dir.display())]
    Locked {
        /// The store directory.
        dir: PathBuf,
    },
    /// The store refused or failed an operation.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A consumer's checkpoint or parked events could not be read or written.
    #[error("{0}")]
    Consumers(#[from] livenstore::pubsub::CheckpointError),
    /// `export` met a damaged record.
    #[error(
        "{0}; `export --skip-damaged` writes every intact event and lists the damaged records"
    )]
    DamagedExport(StoreError),
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
    #[error("{action} {}", path.display())]
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
    /// The exit status: 2 for a command line that cannot work, [`OUTCOME_UNKNOWN`] (3) for an
    /// append that may or may not have been stored, 1 for everything else.
    pub fn exit_status(&self) -> u8 {
        match self {
            CliError::InvalidUrl(_)
            | CliError::InvalidNatsUrl(_)
            | CliError::DirectoryOnly { .. }
            | CliError::NoStoreGiven => 2,
            CliError::Store(e) if e.is_outcome_unknown() => OUTCOME_UNKNOWN,
            _ => 1,
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(outcome_unknown: bool) -> CliError {
        CliError::Store(StoreError::Backend {
            backend: "PostgreSQL",
            operation: "append",
            outcome_unknown,
            source: "connection reset by peer".into(),
        })
    }

    #[test]
    fn an_append_of_unknown_outcome_has_its_own_status_and_says_so() {
        let unknown = backend(true);
        assert_eq!(unknown.exit_status(), OUTCOME_UNKNOWN);
        let text = unknown.to_string();
        assert!(text.contains("may have been stored"), "{text}");
        assert!(text.contains("read the stream"), "{text}");
        let failed = backend(false);
        assert_eq!(failed.exit_status(), 1);
        assert!(!failed.to_string().contains("may have been"), "{failed}");
    }
}
