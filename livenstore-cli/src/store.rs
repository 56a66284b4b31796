//! The store a command works on: a JsonStore directory or a schema on a PostgreSQL server.
//!
//! Rules:
//! - [`Target`] is what the command line names; nothing is opened or connected until a command
//!   asks ([`Target::for_reading`], [`Target::for_writing`]). A malformed URL is found when the
//!   target is made, before anything is touched.
//! - Commands read and append through `&dyn EventStore` ([`Store::events`]), so each command is
//!   written once for both kinds of store; what only a directory has (its files, its recovery
//!   report) is asked of [`Store::Json`] by name.
//! - `verify` and `import` need a directory: [`Target::dir_only`] refuses a PostgreSQL target as
//!   a usage error, before anything is opened.
//! - Read commands create nothing: a missing directory or a missing schema is an error (see
//!   `open.rs` and `server.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use livenstore::{EventStore, JsonStore, StoreError};
use livenstore_postgres::PostgresStore;

use crate::error::CliError;
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
}

impl Target {
    /// The target named by `DIR` or `--postgres URL` (with `--schema NAME`). clap makes sure
    /// exactly one of them is given.
    ///
    /// # Errors
    ///
    /// [`CliError::InvalidUrl`] for a malformed URL, [`CliError::NoStoreGiven`] when neither
    /// is given.
    pub fn new(
        dir: Option<PathBuf>,
        postgres: Option<String>,
        schema: String,
    ) -> Result<Self, CliError> {
        match (dir, postgres) {
            (Some(dir), None) => Ok(Target::Dir(dir)),
            (None, Some(url)) => Ok(Target::Postgres(Box::new(Server::new(&url, schema)?))),
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
    /// [`CliError::DirectoryOnly`] naming `command` and saying `why` for a PostgreSQL target.
    pub fn dir_only(&self, command: &'static str, why: &'static str) -> Result<&Path, CliError> {
        match self {
            Target::Dir(dir) => Ok(dir),
            Target::Postgres(_) => Err(CliError::DirectoryOnly { command, why }),
        }
    }

    /// Opens the store for a read command: a directory read-only, without the writer's lock; a
    /// PostgreSQL schema only if it exists. Nothing is created.
    pub fn for_reading(&self) -> Result<Store, CliError> {
        self.for_reading_with(false)
    }

    /// [`for_reading`](Self::for_reading); a damaged directory's reads skip the damaged records
    /// when `skip_damaged` (a PostgreSQL store has none).
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
        }
    }

    /// Opens the store for `append`: a directory with the writer's lock (created when missing;
    /// waiting up to `wait` for another writer to let go); a PostgreSQL schema, created when
    /// missing (it has no such lock).
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
        }
    }
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
}

impl Store {
    /// The store, for what every store can do.
    pub fn events(&self) -> &dyn EventStore {
        match self {
            Store::Json { store, .. } => store,
            Store::Postgres { store, .. } => store,
        }
    }

    /// Makes events appended by other processes since the last call visible: a read-only
    /// directory scans what was appended since; a server always shows them, so there is
    /// nothing to do.
    pub fn refresh(&self) -> Result<(), StoreError> {
        match self {
            Store::Json { store, .. } => store.refresh().map(drop),
            Store::Postgres { .. } => Ok(()),
        }
    }

    /// Where the store is, for messages: the directory, or the schema and server.
    pub fn place(&self) -> String {
        match self {
            Store::Json { dir, .. } => dir.display().to_string(),
            Store::Postgres { place, .. } => place.clone(),
        }
    }
}
