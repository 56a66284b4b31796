//! One batch of a projection: one transaction that locks the checkpoint, reads the events after
//! it, hands them to the handler and moves the checkpoint.
//!
//! Invariants:
//! - The handler's writes and the checkpoint's move commit together or not at all: the handler
//!   gets the batch's own [`Transaction`], and the checkpoint is updated in it after the
//!   handler returned `Ok`. Every other way out (a handler error or panic, a failed statement,
//!   a lost connection) drops the transaction, which rolls it back.
//! - The checkpoint row is locked (`SELECT ... FOR UPDATE`) in the statement that reads the
//!   events, so two instances of one projection (two processes, or a worker and a
//!   `catch_up`) take turns: the second waits for the first's COMMIT and then reads after the
//!   position the first stored. No event is handed to two committed transactions.
//! - The checkpoint moves to the position of the last event **read**, also when the filter
//!   kept none of them, and never past it: an event is either in a committed batch or after the
//!   checkpoint.
//! - A missing checkpoint row is created at 0 in the batch's transaction (so it is locked too).

use std::panic::{self, AssertUnwindSafe};

use livenstore::backend::panic_message;
use livenstore::pubsub::{EventFilter, HandlerError};
use livenstore::{RecordedEvent, StoreError};
use postgres::{IsolationLevel, Transaction};

use super::error::{is_transient_db, ProjectionError};
use crate::codec::{bigint, EventDecoder, PgCount};
use crate::connection::{discard, prepared};
use crate::error;
use crate::inner::Inner;

/// What a batch is run with: the projection's name, batch size and filter.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The projection's name: its checkpoint row's `consumer`.
    pub(crate) name: String,
    /// The most events read per batch (at least 1).
    pub(crate) batch_size: usize,
    /// The events handed to the handler (all when `None`).
    pub(crate) filter: Option<EventFilter>,
}

/// What one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BatchOutcome {
    /// Events read after the checkpoint (0: the projection is at the head).
    pub(crate) read: usize,
    /// Of those, the events handed to the handler.
    pub(crate) handled: usize,
    /// The checkpoint after the batch.
    pub(crate) position: u64,
}

/// Runs one batch on a connection of `inner`'s pool.
///
/// # Errors
///
/// [`ProjectionError::Store`] when the database work fails, [`ProjectionError::Handler`] or
/// [`ProjectionError::HandlerPanicked`] when the handler does; in every case the transaction
/// was rolled back and the checkpoint did not move.
pub(crate) fn run_batch<F>(
    inner: &Inner,
    settings: &Settings,
    handler: &mut F,
) -> Result<BatchOutcome, ProjectionError>
where
    F: FnMut(&mut Transaction<'_>, &[RecordedEvent]) -> Result<(), HandlerError>,
{
    let store_error = |operation: &'static str, e: postgres::Error| ProjectionError::Store {
        projection: settings.name.clone(),
        transient: is_transient_db(&e),
        source: error::backend(operation, e),
    };
    let mut conn = inner.pool.get().map_err(|e| ProjectionError::Store {
        projection: settings.name.clone(),
        transient: true,
        source: error::pool(&inner.endpoint, e),
    })?;
    let outcome = (|| {
        let sql = &inner.sql;
        let read = prepared(&mut conn, &sql.projection_batch)
            .map_err(|e| store_error("projection read", e))?;
        let advance = prepared(&mut conn, &sql.projection_advance)
            .map_err(|e| store_error("projection checkpoint", e))?;
        let mut transaction = conn
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .map_err(|e| store_error("projection begin", e))?;
        let limit = bigint(settings.batch_size as u64);
        let params: [&(dyn postgres::types::ToSql + Sync); 2] = [&settings.name, &limit];
        let mut rows = transaction
            .query(&read, &params)
            .map_err(|e| store_error("projection read", e))?;
        if rows.is_empty() {
            transaction
                .execute(&sql.projection_init, &[&settings.name])
                .map_err(|e| store_error("projection checkpoint", e))?;
            rows = transaction
                .query(&read, &params)
                .map_err(|e| store_error("projection read", e))?;
        }
        let checkpoint = match rows.first() {
            Some(row) => {
                row.try_get::<_, PgCount>(0)
                    .map_err(|e| store_error("projection read", e))?
                    .0
            }
            None => {
                return Err(ProjectionError::Store {
                    projection: settings.name.clone(),
                    transient: false,
                    source: error::invalid_stored("projection read", "no checkpoint row"),
                })
            }
        };
        let mut decoder = EventDecoder::default();
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            let position: Option<i64> = row
                .try_get(1)
                .map_err(|e| store_error("projection read", e))?;
            if position.is_some() {
                let event = decoder
                    .decode(row, 1)
                    .map_err(|e| store_error("projection read", e))?;
                events.push(event);
            }
        }
        drop(rows);
        let Some(last) = events.last().map(RecordedEvent::position) else {
            // At the head: nothing to hand over. COMMIT keeps a checkpoint row made just now.
            transaction
                .commit()
                .map_err(|e| store_error("projection commit", e))?;
            return Ok(BatchOutcome {
                read: 0,
                handled: 0,
                position: checkpoint,
            });
        };
        let read_count = events.len();
        if let Some(filter) = &settings.filter {
            events.retain(|event| filter.matches(event));
        }
        if let (Some(first), Some(last_handled)) = (events.first(), events.last()) {
            let (first, last_handled) = (first.position(), last_handled.position());
            let result =
                panic::catch_unwind(AssertUnwindSafe(|| handler(&mut transaction, &events)));
            match result {
                Ok(Ok(())) => {}
                Ok(Err(source)) => {
                    let transient = source
                        .downcast_ref::<postgres::Error>()
                        .is_some_and(is_transient_db);
                    return Err(ProjectionError::Handler {
                        projection: settings.name.clone(),
                        first_position: first,
                        last_position: last_handled,
                        transient,
                        source,
                    });
                }
                Err(payload) => {
                    return Err(ProjectionError::HandlerPanicked {
                        projection: settings.name.clone(),
                        first_position: first,
                        last_position: last_handled,
                        message: panic_message(&*payload),
                    })
                }
            }
        }
        transaction
            .execute(&advance, &[&settings.name, &bigint(last)])
            .map_err(|e| store_error("projection checkpoint", e))?;
        transaction
            .commit()
            .map_err(|e| store_error("projection commit", e))?;
        Ok(BatchOutcome {
            read: read_count,
            handled: events.len(),
            position: last,
        })
    })();
    match outcome {
        Ok(outcome) => Ok(outcome),
        Err(mut failure) => {
            // A handler whose own error hides a lost connection: the closed client tells.
            if conn.is_closed() {
                if let ProjectionError::Handler { transient, .. } = &mut failure {
                    *transient = true;
                }
            }
            if failure.is_transient() {
                discard(conn);
            }
            Err(failure)
        }
    }
}

/// The store error of a failed thread start.
pub(crate) fn thread_error(source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: "<projection thread>".into(),
        source,
    }
}
