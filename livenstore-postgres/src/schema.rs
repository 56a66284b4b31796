//! The store's tables, created or upgraded on connect by versioned SQL files kept in the crate.
//!
//! Invariants:
//! - Migration `n` is `sql/000n_*.sql`; versions are contiguous from 1 and a file never changes
//!   once released (a change is a new file).
//! - `<schema>.livenstore_migrations` lists every applied version. All missing versions are
//!   applied in one transaction that holds an advisory lock on the schema's name, so processes
//!   connecting at the same time apply each migration exactly once, and a failed migration leaves
//!   the schema as it was.
//! - A schema migrated by a newer livenstore-postgres (a version this crate does not know) is
//!   refused rather than used.

use livenstore::StoreError;

use crate::error;

/// One schema migration.
///
/// # Examples
///
/// ```
/// use livenstore_postgres::schema::{current_version, Migration, MIGRATIONS};
///
/// let first: &Migration = &MIGRATIONS[0];
/// assert_eq!((first.version, first.name), (1, "initial"));
/// assert!(first.sql.contains("CREATE TABLE"));
/// // Versions are contiguous from 1; the last one is the version this crate creates.
/// for (i, migration) in MIGRATIONS.iter().enumerate() {
///     assert_eq!(migration.version, i as i32 + 1);
/// }
/// assert_eq!(current_version(), MIGRATIONS[MIGRATIONS.len() - 1].version);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its version, from 1.
    pub version: i32,
    /// A short name.
    pub name: &'static str,
    /// The SQL, run with `search_path` set to the store's schema.
    pub sql: &'static str,
}

/// Every migration, in version order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../sql/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "last_write",
        sql: include_str!("../sql/0002_last_write.sql"),
    },
    Migration {
        version: 3,
        name: "event_version",
        sql: include_str!("../sql/0003_event_version.sql"),
    },
    Migration {
        version: 4,
        name: "snapshots",
        sql: include_str!("../sql/0004_snapshots.sql"),
    },
    Migration {
        version: 5,
        name: "correlation_index",
        sql: include_str!("../sql/0005_correlation_index.sql"),
    },
    Migration {
        version: 6,
        name: "parked",
        sql: include_str!("../sql/0006_parked.sql"),
    },
];

/// The schema version this crate creates and understands.
pub fn current_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Creates `schema` if needed and applies the migrations it lacks. `schema` must have passed
/// [`validate_schema_name`](crate::config::validate_schema_name). Returns the versions applied.
pub(crate) fn migrate(client: &mut postgres::Client, schema: &str) -> Result<Vec<i32>, StoreError> {
    let fail = |e| error::backend("migrate", e);
    let mut tx = client.transaction().map_err(fail)?;
    // Key: the schema's name, so different schemas migrate independently.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('livenstore-schema:' || $1, 0))",
        &[&schema],
    )
    .map_err(fail)?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS \"{schema}\";
         CREATE TABLE IF NOT EXISTS \"{schema}\".livenstore_migrations (
             version integer PRIMARY KEY,
             name text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
         );"
    ))
    .map_err(fail)?;
    let applied: i32 = tx
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM \"{schema}\".livenstore_migrations"),
            &[],
        )
        .map_err(fail)?
        .get(0);
    if applied > current_version() {
        return Err(StoreError::InvalidArgument(format!(
            "schema `{schema}` is at version {applied}, newer than the {} this livenstore-postgres \
             knows; upgrade livenstore-postgres",
            current_version()
        )));
    }
    let mut done = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| m.version > applied) {
        tx.batch_execute(&format!("SET LOCAL search_path TO \"{schema}\""))
            .map_err(fail)?;
        tx.batch_execute(migration.sql).map_err(fail)?;
        tx.execute(
            &format!(
                "INSERT INTO \"{schema}\".livenstore_migrations (version, name) VALUES ($1, $2)"
            ),
            &[&migration.version, &migration.name],
        )
        .map_err(fail)?;
        done.push(migration.version);
    }
    tx.commit().map_err(fail)?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_correlation_index_is_on_the_expression_reads_use() {
        let index = MIGRATIONS[4].sql;
        let expression = crate::sql::CORRELATION_KEY.replace("e.metadata", "metadata");
        assert!(index.contains(&expression), "{expression} not in {index}");
    }

    #[test]
    fn versions_are_contiguous_from_one() {
        for (i, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, i as i32 + 1, "{}", migration.name);
            assert!(!migration.sql.trim().is_empty());
        }
        assert_eq!(current_version(), MIGRATIONS.len() as i32);
    }
}
