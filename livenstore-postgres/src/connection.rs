//! Connections: checking them out of the pool, their prepared statements, write transactions,
//! and the one retry after a lost connection.
//!
//! Invariants:
//! - A statement is prepared once per connection and kept in the pooled connection's
//!   extensions, keyed by its text; executing it is one round trip with binary parameters.
//! - A connection is never returned to the pool inside a transaction: a write transaction that
//!   fails is rolled back before the connection goes back (a connection whose server is gone
//!   has no transaction left, and the pool drops it as closed).
//! - Work runs at most twice. It is run again only when its connection was lost and nothing can
//!   have been written: before a write statement was sent ([`Stage::BeforeWrite`]). The second
//!   run gets a connection that answered a round trip first, so dead idle connections (all of
//!   them, after a server restart) are dropped instead of failing the call again.
//! - A failure is reported with the stage it happened in: only a connection lost while COMMIT
//!   was in flight leaves an append's outcome unknown.

use std::collections::{HashMap, HashSet};

use livenstore::StoreError;
use postgres::{NoTls, Statement};
use r2d2::PooledConnection;
use r2d2_postgres::PostgresConnectionManager;

use crate::error::{self, ClientError, PoolError};
use crate::inner::Inner;
use crate::sql;

/// A connection checked out of the store's pool.
pub(crate) type Conn = PooledConnection<PostgresConnectionManager<NoTls>>;

/// How far a write transaction got when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Nothing was sent that writes: a lost connection may be retried.
    BeforeWrite,
    /// A write statement was sent, COMMIT was not: nothing is stored.
    WriteSent,
    /// COMMIT was sent: if the connection was lost, the outcome is unknown.
    CommitSent,
    /// The work may or may not be stored, whatever the error: the outcome is unknown.
    Unknown,
}

/// A database failure and the stage it happened in.
#[derive(Debug)]
pub(crate) struct DbFailure {
    pub(crate) error: postgres::Error,
    pub(crate) stage: Stage,
}

impl DbFailure {
    /// A failure before anything was written (every failure of a read).
    pub(crate) fn before_write(error: postgres::Error) -> Self {
        DbFailure {
            error,
            stage: Stage::BeforeWrite,
        }
    }

    /// A failure of a write statement.
    pub(crate) fn write_sent(error: postgres::Error) -> Self {
        DbFailure {
            error,
            stage: Stage::WriteSent,
        }
    }
}

/// Why work on a connection failed, shareable by the appends of one group.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// No connection could be had.
    Pool(PoolError),
    /// The server or the connection failed.
    Db {
        /// The client library's error.
        error: ClientError,
        /// How far a write got.
        stage: Stage,
    },
}

impl Failure {
    fn db(failure: DbFailure) -> Self {
        Failure::Db {
            error: ClientError::new(failure.error),
            stage: failure.stage,
        }
    }

    /// The error a caller of `operation` gets.
    pub(crate) fn to_store_error(&self, operation: &'static str, endpoint: &str) -> StoreError {
        match self {
            Failure::Pool(error) => error.to_store_error(endpoint),
            Failure::Db { error, stage } => {
                let unknown = *stage == Stage::Unknown
                    || (*stage == Stage::CommitSent && error::is_connection_lost(error.get()));
                error.to_store_error(operation, unknown)
            }
        }
    }

    /// The same failure, of work known to have stored nothing.
    pub(crate) fn not_stored(self) -> Self {
        self.at_stage(Stage::WriteSent)
    }

    /// The same failure, of work that may or may not be stored.
    pub(crate) fn outcome_unknown(self) -> Self {
        self.at_stage(Stage::Unknown)
    }

    fn at_stage(self, stage: Stage) -> Self {
        match self {
            Failure::Db { error, .. } => Failure::Db { error, stage },
            pool => pool,
        }
    }

    /// The constraint a unique violation broke, if that is what this is.
    pub(crate) fn unique_violation(&self) -> Option<&str> {
        match self {
            Failure::Db { error, .. } => error::unique_violation(error.get()),
            Failure::Pool(_) => None,
        }
    }
}

/// Prepared statements of one connection, by text.
#[derive(Default)]
struct Statements(HashMap<String, Statement>);

/// The names of the SQL-level prepared statements (`PREPARE`) made on one connection.
#[derive(Default)]
struct SqlPrepared(HashSet<String>);

/// Runs `f` on what `conn` keeps of type `T` (made now on first use) in the pooled
/// connection's extensions. (`None` cannot happen: the value was just inserted.)
fn with_kept<T: Default + Send + Sync + 'static, R>(
    conn: &mut Conn,
    f: impl FnOnce(&mut T) -> R,
) -> Option<R> {
    let extensions = PooledConnection::extensions_mut(conn);
    if extensions.get::<T>().is_none() {
        extensions.insert(T::default());
    }
    extensions.get_mut::<T>().map(f)
}

/// The statement `text` prepared on `conn` (prepared now on first use).
pub(crate) fn prepared(conn: &mut Conn, text: &str) -> Result<Statement, postgres::Error> {
    let cached = with_kept(conn, |kept: &mut Statements| kept.0.get(text).cloned());
    if let Some(statement) = cached.flatten() {
        return Ok(statement);
    }
    let statement = conn.prepare(text)?;
    with_kept(conn, |kept: &mut Statements| {
        kept.0.insert(text.to_owned(), statement.clone())
    });
    Ok(statement)
}

/// Runs `prepare` (a `PREPARE name ...` text) on `conn` unless this connection ran it before.
pub(crate) fn sql_prepared(
    conn: &mut Conn,
    name: &str,
    prepare: &str,
) -> Result<(), postgres::Error> {
    if with_kept(conn, |done: &mut SqlPrepared| done.0.contains(name)) == Some(true) {
        return Ok(());
    }
    conn.batch_execute(prepare)?;
    with_kept(conn, |done: &mut SqlPrepared| {
        done.0.insert(name.to_owned())
    });
    Ok(())
}

/// Runs `work` on a pooled connection, and once more on a checked connection when the first
/// run lost its connection before writing anything.
pub(crate) fn run<T>(
    inner: &Inner,
    mut work: impl FnMut(&mut Conn) -> Result<T, DbFailure>,
) -> Result<T, Failure> {
    let mut conn = inner
        .pool
        .get()
        .map_err(|e| Failure::Pool(PoolError::new(e)))?;
    match work(&mut conn) {
        Ok(value) => Ok(value),
        Err(failure) => {
            let lost = error::is_connection_lost(&failure.error);
            if lost {
                discard(conn);
            }
            if !(lost && failure.stage == Stage::BeforeWrite) {
                return Err(Failure::db(failure));
            }
            let mut conn = checked_connection(inner)?;
            work(&mut conn).map_err(|failure| {
                if error::is_connection_lost(&failure.error) {
                    discard(conn);
                }
                Failure::db(failure)
            })
        }
    }
}

/// Runs one statement, `text` (prepared once per connection), through `work`, as [`run`] does:
/// once more on a checked connection when the first was lost. For statements that may run
/// twice (a read, an upsert of the same row, a delete): every failure counts as before the
/// write. `operation` names it in the error.
pub(crate) fn run_statement<T>(
    inner: &Inner,
    operation: &'static str,
    text: &str,
    mut work: impl FnMut(&mut Conn, &Statement) -> Result<T, postgres::Error>,
) -> Result<T, StoreError> {
    run(inner, |conn| {
        let statement = prepared(conn, text).map_err(DbFailure::before_write)?;
        work(conn, &statement).map_err(DbFailure::before_write)
    })
    .map_err(|failure| failure.to_store_error(operation, &inner.endpoint))
}

/// Makes sure the pool drops `conn`, whose server is gone: the pool keeps a connection unless
/// its client reports itself closed, and the client notices the closed socket only on its next
/// use after the error.
pub(crate) fn discard(mut conn: Conn) {
    if !conn.is_closed() {
        let _ = conn.simple_query("");
    }
}

/// A connection that answered a round trip. Tries each connection the pool can hold once more
/// than its size, so a pool full of dead connections is emptied and refilled.
fn checked_connection(inner: &Inner) -> Result<Conn, Failure> {
    let mut tries = inner.pool.max_size() + 1;
    loop {
        let mut conn = inner
            .pool
            .get()
            .map_err(|e| Failure::Pool(PoolError::new(e)))?;
        match conn.simple_query("") {
            Ok(_) => return Ok(conn),
            Err(error) => {
                discard(conn);
                tries -= 1;
                if tries == 0 {
                    return Err(Failure::db(DbFailure::before_write(error)));
                }
            }
        }
    }
}

/// Whether a write transaction's body wants its work stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// COMMIT.
    Commit,
    /// ROLLBACK: nothing was written (the body decided every call fails or is a no-op).
    Rollback,
}

/// Sends `text`, a simple-protocol opening (`Sql::lock` or `Sql::begin`): the `open` of a
/// [`write_transaction`] that reads nothing with it.
pub(crate) fn send(conn: &mut Conn, text: &str) -> Result<(), DbFailure> {
    conn.batch_execute(text).map_err(DbFailure::before_write)
}

/// Runs a write transaction: `open` begins it (sending `Sql::lock`, which also takes the
/// `log_head` lock, or `Sql::begin`, maybe with a read in the same message), `body` does the
/// work with what `open` returned and says how it ends. Every way out but a successful COMMIT
/// rolls back, unwinding from a panic included: a connection never goes back to the pool
/// holding the lock.
pub(crate) fn write_transaction<O, T>(
    conn: &mut Conn,
    open: impl FnOnce(&mut Conn) -> Result<O, DbFailure>,
    body: impl FnOnce(&mut Conn, O) -> Result<(T, End), DbFailure>,
) -> Result<T, DbFailure> {
    let mut transaction = OpenTransaction {
        conn,
        committed: false,
    };
    let result =
        open(&mut *transaction.conn).and_then(|opened| body(&mut *transaction.conn, opened));
    match result {
        Ok((value, End::Commit)) => match transaction.conn.batch_execute(sql::COMMIT) {
            Ok(()) => {
                transaction.committed = true;
                Ok(value)
            }
            Err(error) => Err(DbFailure {
                error,
                stage: Stage::CommitSent,
            }),
        },
        // The decisions stand whether or not the ROLLBACK arrives: nothing was written.
        Ok((value, End::Rollback)) => Ok(value),
        Err(failure) => Err(failure),
    }
}

/// A transaction that is rolled back when dropped unless it committed.
struct OpenTransaction<'a> {
    conn: &'a mut Conn,
    committed: bool,
}

impl Drop for OpenTransaction<'_> {
    fn drop(&mut self) {
        if !self.committed {
            rollback_quietly(self.conn);
        }
    }
}

/// Ends any transaction on `conn`; a connection that is gone needs nothing. Outside a
/// transaction ROLLBACK only warns.
fn rollback_quietly(conn: &mut Conn) {
    if !conn.is_closed() {
        let _ = conn.batch_execute(sql::ROLLBACK);
    }
}
