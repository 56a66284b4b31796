//! The snapshots of a [`PostgresStore`]: its schema's `snapshots` table (migration 4).
//!
//! Invariants:
//! - A save is one upsert that applies only when the stored version is not higher (see
//!   `sql/0004_snapshots.sql`), so an older snapshot never replaces a newer one whatever the
//!   order concurrent saves commit in; it may run twice after a lost connection (the second run
//!   writes the same row, or finds it and keeps it).
//! - Keys pass `validate_snapshot_key` before any SQL runs and reach the server as bound
//!   parameters; a version above `i64::MAX` or a snapshot version above `i32::MAX` is refused
//!   before the statement runs, never wrapped. The fingerprint is stored as the same 64 bits in
//!   a `bigint`.
//! - `taken_at` is kept to the microsecond, as every time of this store (rounded down).

use livenstore::store::{validate_snapshot_key, Snapshot, SnapshotInfo, SnapshotStore};
use livenstore::StoreError;
use postgres::Row;

use crate::codec::{self, JsonText, PgCount, PgTime};
use crate::connection;
use crate::read::query;
use crate::store::PostgresStore;

/// The columns of `sql::SNAPSHOT_COLUMNS` as what a listing says of a snapshot (the state's size
/// left at 0).
fn info_row(row: &Row) -> Result<SnapshotInfo, postgres::Error> {
    let version: PgCount = row.try_get(2)?;
    let fingerprint: i64 = row.try_get(3)?;
    let snapshot_version: i32 = row.try_get(4)?;
    let taken_at: PgTime = row.try_get(5)?;
    Ok(SnapshotInfo {
        aggregate_type: row.try_get(0)?,
        aggregate_id: row.try_get(1)?,
        version: version.0,
        fingerprint: u64::from_ne_bytes(fingerprint.to_ne_bytes()),
        // The column is written from a `u32` checked to fit: never negative.
        snapshot_version: snapshot_version.unsigned_abs(),
        taken_at: taken_at.timestamp(),
        state_bytes: 0,
    })
}

fn too_large(what: &str, value: u64) -> StoreError {
    StoreError::InvalidArgument(format!(
        "a snapshot {what} of {value} does not fit the table"
    ))
}

impl SnapshotStore for PostgresStore {
    fn save_snapshot(&self, snapshot: &Snapshot) -> Result<bool, StoreError> {
        validate_snapshot_key(snapshot.aggregate_type(), snapshot.aggregate_id())?;
        let version = i64::try_from(snapshot.version())
            .map_err(|_| too_large("version", snapshot.version()))?;
        let snapshot_version = i32::try_from(snapshot.snapshot_version())
            .map_err(|_| too_large("snapshot version", u64::from(snapshot.snapshot_version())))?;
        let fingerprint = i64::from_ne_bytes(snapshot.fingerprint().to_ne_bytes());
        let taken_at = PgTime::floor(snapshot.taken_at());
        let inner = &self.inner;
        let written = connection::run_statement(
            inner,
            "save_snapshot",
            &inner.sql.save_snapshot,
            |conn, statement| {
                conn.query(
                    statement,
                    &[
                        &snapshot.aggregate_type(),
                        &snapshot.aggregate_id(),
                        &version,
                        &fingerprint,
                        &snapshot_version,
                        &JsonText(snapshot.state().as_str()),
                        &taken_at,
                    ],
                )
            },
        )?;
        Ok(!written.is_empty())
    }

    fn load_snapshot(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Option<Snapshot>, StoreError> {
        validate_snapshot_key(aggregate_type, aggregate_id)?;
        let inner = &self.inner;
        Ok(query(
            inner,
            "load_snapshot",
            &inner.sql.load_snapshot,
            &[&aggregate_type, &aggregate_id],
            |row| codec::snapshot_row(row, 2, aggregate_type, aggregate_id),
        )?
        .pop())
    }

    fn list_snapshots(
        &self,
        aggregate_type: Option<&str>,
    ) -> Result<Vec<SnapshotInfo>, StoreError> {
        let inner = &self.inner;
        query(
            inner,
            "list_snapshots",
            &inner.sql.list_snapshots,
            &[&aggregate_type],
            |row| {
                let mut info = info_row(row)?;
                let bytes: i32 = row.try_get(6)?;
                info.state_bytes = u64::from(bytes.unsigned_abs());
                Ok(info)
            },
        )
    }

    fn delete_snapshots(&self, aggregate_type: &str) -> Result<u64, StoreError> {
        let inner = &self.inner;
        connection::run_statement(
            inner,
            "delete_snapshots",
            &inner.sql.delete_snapshots,
            |conn, statement| conn.execute(statement, &[&aggregate_type]),
        )
    }
}
