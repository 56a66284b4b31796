//! [`PostgresParkedStore`]: the events consumers parked, in the store's schema (the
//! `parked_events` and `parked_replays` tables, migration 6).
//!
//! Invariants:
//! - Every statement may run twice after a lost connection (an upsert of the same row, a
//!   delete, a read), so each is retried once on a checked connection.
//! - Consumer names pass `validate_consumer_name` before any SQL runs; a position or attempt
//!   count that does not fit its column is refused before the statement runs.

use std::sync::Arc;

use livenstore::pubsub::{validate_consumer_name, CheckpointError, ParkedEvent, ParkedEventStore};
use livenstore::{EventId, StoreError};
use postgres::types::ToSql;
use postgres::Row;

use crate::checkpoints::run_bookkeeping;
use crate::codec::{PgCount, PgId, PgTime};
use crate::inner::Inner;
use crate::store::PostgresStore;

/// Parked events in a PostgreSQL schema, sharing the store's connection pool
/// ([`PostgresStore::parked`]).
#[derive(Clone)]
pub struct PostgresParkedStore {
    store: Arc<Inner>,
}

impl std::fmt::Debug for PostgresParkedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresParkedStore")
            .field("endpoint", &self.store.endpoint)
            .finish_non_exhaustive()
    }
}

fn too_large(what: &str) -> CheckpointError {
    CheckpointError::Backend(StoreError::InvalidArgument(format!(
        "a parked event's {what} does not fit its column"
    )))
}

fn parked_row(row: &Row) -> Result<ParkedEvent, postgres::Error> {
    let id: PgId = row.try_get(1)?;
    let position: PgCount = row.try_get(2)?;
    let attempts: i32 = row.try_get(6)?;
    let parked_at: PgTime = row.try_get(7)?;
    Ok(ParkedEvent {
        consumer: row.try_get(0)?,
        event_id: id.0,
        position: position.0,
        stream: row.try_get(3)?,
        event_type: row.try_get(4)?,
        error: row.try_get(5)?,
        // The column's check keeps it positive.
        attempts: attempts.unsigned_abs(),
        parked_at: parked_at.timestamp(),
    })
}

impl ParkedEventStore for PostgresParkedStore {
    fn park(&self, event: &ParkedEvent) -> Result<(), CheckpointError> {
        validate_consumer_name(&event.consumer)?;
        let position = i64::try_from(event.position).map_err(|_| too_large("position"))?;
        let attempts = i32::try_from(event.attempts).map_err(|_| too_large("attempts"))?;
        let id = PgId(event.event_id);
        let parked_at = PgTime::floor(event.parked_at);
        let params: [&(dyn ToSql + Sync); 8] = [
            &event.consumer,
            &id,
            &position,
            &event.stream,
            &event.event_type,
            &event.error,
            &attempts,
            &parked_at,
        ];
        let sql = &self.store.sql.park_event;
        run_bookkeeping(&self.store, "park event", sql, |conn, park| {
            conn.execute(park, &params).map(drop)
        })
    }

    fn list(&self, consumer: Option<&str>) -> Result<Vec<ParkedEvent>, CheckpointError> {
        if let Some(name) = consumer {
            validate_consumer_name(name)?;
        }
        let sql = &self.store.sql.list_parked;
        run_bookkeeping(&self.store, "list parked events", sql, |conn, list| {
            conn.query(list, &[&consumer])?
                .iter()
                .map(parked_row)
                .collect()
        })
    }

    fn remove(&self, consumer: &str, event_id: Option<EventId>) -> Result<usize, CheckpointError> {
        validate_consumer_name(consumer)?;
        let id = event_id.map(PgId);
        let sql = &self.store.sql.remove_parked;
        run_bookkeeping(&self.store, "remove parked events", sql, |conn, remove| {
            conn.execute(remove, &[&consumer, &id])
                .map(|rows| usize::try_from(rows).unwrap_or(usize::MAX))
        })
    }

    fn request_replay(&self, consumer: &str) -> Result<(), CheckpointError> {
        validate_consumer_name(consumer)?;
        let sql = &self.store.sql.request_replay;
        run_bookkeeping(&self.store, "request replay", sql, |conn, request| {
            conn.execute(request, &[&consumer]).map(drop)
        })
    }

    fn replay_requested(&self, consumer: &str) -> Result<bool, CheckpointError> {
        validate_consumer_name(consumer)?;
        let sql = &self.store.sql.replay_requested;
        run_bookkeeping(&self.store, "replay requested", sql, |conn, query| {
            conn.query_opt(query, &[&consumer]).map(|row| row.is_some())
        })
    }

    fn replay_done(&self, consumer: &str) -> Result<(), CheckpointError> {
        validate_consumer_name(consumer)?;
        let sql = &self.store.sql.replay_done;
        run_bookkeeping(&self.store, "replay done", sql, |conn, done| {
            conn.execute(done, &[&consumer]).map(drop)
        })
    }
}

impl PostgresStore {
    /// The events this store's consumers parked (the `parked_events` table), sharing the
    /// store's connection pool. Give it to `Consumer::park_to`.
    pub fn parked(&self) -> PostgresParkedStore {
        PostgresParkedStore {
            store: Arc::clone(&self.inner),
        }
    }
}
