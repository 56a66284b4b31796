//! [`PostgresCheckpointStore`]: consumer checkpoints in the store's `checkpoints` table.
//!
//! Invariants:
//! - One row per consumer name; a save is one `INSERT ... ON CONFLICT DO UPDATE` statement, so it
//!   is atomic: a reader sees the old position or the new one, never none.
//! - Names pass [`validate_consumer_name`] before any SQL runs, and reach the server only as
//!   bound parameters; the schema name in the SQL text was validated when the store was made.
//! - Positions are stored as `bigint` (the table refuses negative values); a position above
//!   `i64::MAX` is refused before the statement runs, never wrapped.
//! - A statement that fails because the connection was lost runs once more on a checked pooled
//!   connection (`connection::run`; both statements are idempotent, so running one twice is
//!   safe); any other failure is returned as it is.

use std::sync::Arc;

use livenstore::pubsub::{validate_consumer_name, CheckpointError, CheckpointStore};
use livenstore::StoreError;
use postgres::types::ToSql;
use postgres::Statement;

use crate::codec::PgCount;
use crate::connection::{self, Conn};
use crate::inner::Inner;
use crate::store::PostgresStore;

/// Consumer checkpoints kept in the PostgreSQL database of a [`PostgresStore`] (its schema's
/// `checkpoints` table), so a [`Consumer`](livenstore::pubsub::Consumer) resumes where it
/// stopped, in whichever process it runs next.
///
/// Made by [`PostgresStore::checkpoints`]; it shares the store's connection pool. Cloning gives
/// another handle to the same table.
///
/// # Examples
///
/// ```no_run
/// use livenstore::pubsub::CheckpointStore;
/// use livenstore_postgres::PostgresStore;
///
/// let store = PostgresStore::connect("postgresql://postgres@127.0.0.1:5432/test")?;
/// let checkpoints = store.checkpoints();
/// checkpoints.save("balances", 42)?;
/// assert_eq!(checkpoints.load("balances")?, Some(42));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PostgresCheckpointStore {
    store: Arc<Inner>,
}

impl std::fmt::Debug for PostgresCheckpointStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresCheckpointStore")
            .field("endpoint", &self.store.endpoint)
            .field("schema", &self.store.config.schema_name())
            .finish_non_exhaustive()
    }
}

impl PostgresCheckpointStore {
    pub(crate) fn new(store: &PostgresStore) -> Self {
        PostgresCheckpointStore {
            store: Arc::clone(&store.inner),
        }
    }

    fn run<T>(
        &self,
        operation: &'static str,
        text: &str,
        statement: impl Fn(&mut Conn, &Statement) -> Result<T, postgres::Error>,
    ) -> Result<T, CheckpointError> {
        run_bookkeeping(&self.store, operation, text, statement)
    }
}

/// Runs `statement` (prepared once per connection) on a pooled connection, and once more on a
/// checked one when the first was lost: for statements that may run twice (a read, an upsert of
/// the same value, a delete), so "before write" holds for them all.
pub(crate) fn run_bookkeeping<T>(
    inner: &Inner,
    operation: &'static str,
    text: &str,
    statement: impl Fn(&mut Conn, &Statement) -> Result<T, postgres::Error>,
) -> Result<T, CheckpointError> {
    connection::run_statement(inner, operation, text, statement).map_err(CheckpointError::Backend)
}

impl CheckpointStore for PostgresCheckpointStore {
    fn load(&self, consumer: &str) -> Result<Option<u64>, CheckpointError> {
        validate_consumer_name(consumer)?;
        let sql = &self.store.sql.load_checkpoint;
        // `PgCount` refuses a negative position: a `Backend` error, as a lost connection is.
        let stored: Option<PgCount> = self.run("load checkpoint", sql, |conn, load| {
            conn.query_opt(load, &[&consumer])?
                .map(|row| row.try_get(0))
                .transpose()
        })?;
        Ok(stored.map(|position| position.0))
    }

    fn save(&self, consumer: &str, position: u64) -> Result<(), CheckpointError> {
        validate_consumer_name(consumer)?;
        let position = i64::try_from(position).map_err(|_| {
            CheckpointError::Backend(StoreError::InvalidArgument(format!(
                "checkpoint position {position} is larger than PostgreSQL's bigint"
            )))
        })?;
        let params: [&(dyn ToSql + Sync); 2] = [&consumer, &position];
        self.run(
            "save checkpoint",
            &self.store.sql.save_checkpoint,
            |conn, save| conn.execute(save, &params).map(drop),
        )
    }

    fn list(&self) -> Result<Vec<(String, u64)>, CheckpointError> {
        let sql = &self.store.sql.list_checkpoints;
        self.run("list checkpoints", sql, |conn, list| {
            conn.query(list, &[])?
                .iter()
                .map(|row| {
                    let position: PgCount = row.try_get(1)?;
                    Ok((row.try_get(0)?, position.0))
                })
                .collect()
        })
    }

    fn delete(&self, consumer: &str) -> Result<bool, CheckpointError> {
        validate_consumer_name(consumer)?;
        let sql = &self.store.sql.delete_checkpoint;
        self.run("delete checkpoint", sql, |conn, delete| {
            conn.execute(delete, &[&consumer]).map(|rows| rows > 0)
        })
    }
}

impl PostgresStore {
    /// The consumer checkpoints kept in this store's schema (the `checkpoints` table), sharing
    /// the store's connection pool.
    pub fn checkpoints(&self) -> PostgresCheckpointStore {
        PostgresCheckpointStore::new(self)
    }
}
