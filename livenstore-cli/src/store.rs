//! The store a command works on: a JsonStore directory, a schema on a PostgreSQL server or a
//! JetStream stream on a NATS server.
//!
//! Rules:
//! - [`Target`] is what the command line names; nothing is opened or connected until a command
//!   asks ([`Target::for_reading`], [`Target::for_writing`]). A malformed URL is found when the
//!   target is made, before anything is touched.
//! - Commands read and append through `&dyn EventStore` ([`Store::events`]), so each command is
//!   written once for every kind of store; what only a directory has (its files, its recovery
//!   report) is asked of [`Store::Json`] by name.
//! - `verify` and `repair` need a directory: [`Target::dir_only`] refuses a server target as a
//!   usage error, before anything is opened (so does `import` with `--postgres`).
//! - Read commands create nothing: a missing directory, schema or JetStream stream is an error
//!   (see `open.rs`, `server.rs` and `nats.rs`); a missing place for consumers' checkpoints,
//!   parked events or snapshots (a directory's `checkpoints/`, a NATS store's key-value bucket)
//!   reads as empty.

use std::path::{Path, PathBuf};
use std::time::Duration;

use livenstore::{EventStore, JsonStore, StoreError};
use livenstore_nats::JetStreamStore;
use livenstore_postgres::PostgresStore;

use crate::error::CliError;
use crate::nats::NatsServer;
use crate::open;
use crate::server::Server;

/// The store named on the command line.
#[derive(Debug)]
pub enum Target {
    /// A JsonStore directory (the positional `DIR`).
    Dir(PathBuf),
    /// A schema on a PostgreSQL server (`--postgres URL --schema NAME`); boxed, its parsed
    /// connection settings being large.
    Postgres(Box<Server>),
    /// A JetStream stream on a NATS server (`--nats URL --nats-stream NAME`).
    Nats(Box<NatsServer>),
}

impl Target {
    /// The target named by `DIR`, `--postgres URL` (with `--schema NAME`) or `--nats URL`
    /// (with `--nats-stream NAME`). clap makes sure exactly one of them is given.
    ///
    /// # Errors
    ///
    /// [`CliError::InvalidUrl`] or [`CliError::InvalidNatsUrl`] for a malformed URL,
    /// [`CliError::NoStoreGiven`] when none or several are given.
    pub fn new(named: Named) -> Result<Self, CliError> {
        match named {
            Named {
                dir: Some(dir),
                postgres: None,
                nats: None,
                ..
            } => Ok(Target::Dir(dir)),
            Named {
                dir: None,
                postgres: Some(url),
                nats: None,
                schema,
                ..
            } => Ok(Target::Postgres(Box::new(Server::new(&url, schema)?))),
            Named {
                dir: None,
                postgres: None,
                nats: Some(url),
                nats_stream,
                ..
            } => Ok(Target::Nats(Box::new(NatsServer::new(&url, &nats_stream)?))),
            _ => Err(CliError::NoStoreGiven),
        }
    }

    /// Whether the target is a directory.
    pub fn is_dir(&self) -> bool {
        matches!(self, Target::Dir(_))
    }

    /// The directory, for the commands that work on directories only.
    ///
    /// # Errors
    ///
    /// [`CliError::DirectoryOnly`] naming `command` and saying `why` for a server target.
    pub fn dir_only(&self, command: &'static str, why: &'static str) -> Result<&Path, CliError> {
        match self {
            Target::Dir(dir) => Ok(dir),
            Target::Postgres(_) => Err(CliError::DirectoryOnly {
                command,
                option: "--postgres",
                why,
            }),
            Target::Nats(_) => Err(CliError::DirectoryOnly {
                command,
                option: "--nats",
                why,
            }),
        }
    }

    /// Opens the store for a read command: a directory read-only, without the writer's lock; a
    /// PostgreSQL schema or a JetStream stream only if it exists. Nothing is created.
    pub fn for_reading(&self) -> Result<Store, CliError> {
        self.for_reading_with(false)
    }

    /// [`for_reading`](Self::for_reading); a damaged directory's reads skip the damaged records
    /// when `skip_damaged` (a server's store has none).
    pub fn for_reading_with(&self, skip_damaged: bool) -> Result<Store, CliError> {
        match self {
            Target::Dir(dir) => Ok(Store::Json {
                store: open::for_reading(dir, skip_damaged)?,
                dir: dir.clone(),
            }),
            Target::Postgres(server) => Ok(Store::Postgres {
                store: server.for_reading()?,
                place: server.to_string(),
            }),
            Target::Nats(server) => Ok(Store::Nats {
                store: server.for_reading()?,
                place: server.to_string(),
            }),
        }
    }

    /// Opens the store for `append`: a directory with the writer's lock (created when missing;
    /// waiting up to `wait` for another writer to let go); a PostgreSQL schema or a JetStream
    /// stream, created when missing (neither has such a lock).
    pub fn for_writing(&self, wait: Option<Duration>) -> Result<Store, CliError> {
        match self {
            Target::Dir(dir) => Ok(Store::Json {
                store: open::for_writing(dir, wait)?,
                dir: dir.clone(),
            }),
            Target::Postgres(server) => Ok(Store::Postgres {
                store: server.for_writing()?,
                place: server.to_string(),
            }),
            Target::Nats(server) => Ok(Store::Nats {
                store: server.for_writing()?,
                place: server.to_string(),
            }),
        }
    }
}

/// What the command line names the store with; exactly one of `dir`, `postgres` and `nats` is
/// set (clap makes sure of it).
#[derive(Debug)]
pub struct Named {
    /// The positional `DIR`.
    pub dir: Option<PathBuf>,
    /// `--postgres URL`.
    pub postgres: Option<String>,
    /// `--schema NAME`, or the default schema.
    pub schema: String,
    /// `--nats URL`.
    pub nats: Option<String>,
    /// `--nats-stream NAME`, or the default stream.
    pub nats_stream: String,
}

/// An opened store.
pub enum Store {
    /// A JsonStore directory.
    Json {
        /// The store.
        store: JsonStore,
        /// Its directory.
        dir: PathBuf,
    },
    /// A schema on a PostgreSQL server.
    Postgres {
        /// The store.
        store: PostgresStore,
        /// `schema `NAME` in database `DB` at HOST:PORT`, for messages.
        place: String,
    },
    /// A JetStream stream on a NATS server.
    Nats {
        /// The store.
        store: JetStreamStore,
        /// ``JetStream stream `NAME` at nats://HOST:PORT``, for messages.
        place: String,
    },
}

impl Store {
    /// The store, for what every store can do.
    pub fn events(&self) -> &dyn EventStore {
        match self {
            Store::Json { store, .. } => store,
            Store::Postgres { store, .. } => store,
            Store::Nats { store, .. } => store,
        }
    }

    /// Makes events appended by other processes since the last call visible: a read-only
    /// directory scans what was appended since; a NATS store waits until its replica has every
    /// message the server holds now; a PostgreSQL server always shows them, so there is nothing
    /// to do.
    pub fn refresh(&self) -> Result<(), StoreError> {
        match self {
            Store::Json { store, .. } => store.refresh().map(drop),
            Store::Postgres { .. } => Ok(()),
            Store::Nats { store, .. } => store.sync(),
        }
    }

    /// Where the store is, for messages: the directory, the schema and server, or the JetStream
    /// stream and server.
    pub fn place(&self) -> String {
        match self {
            Store::Json { dir, .. } => dir.display().to_string(),
            Store::Postgres { place, .. } | Store::Nats { place, .. } => place.clone(),
        }
    }
}
