//! Linking a stored event into another stream.
//!
//! Invariants:
//! - A link takes the `log_head` lock like an append, so its version is decided against every
//!   committed append and link: the target stream's versions (own events and links together)
//!   stay contiguous.
//! - A link adds no position and sends no notification; it bumps the target stream's version
//!   and last time in `streams`.
//! - A link sets `log_head.last_write` to a fresh id, like every write: a pipelined append
//!   group planned before it fails its check and runs again (`pipeline`).
//! - `linked_at` is the server's clock under the lock, raised to `log_head.last_recorded_at`
//!   and stored back, so it is never before the linked event's `recorded_at`.
//! - Linking an event into its own stream, or into a stream it is already linked into, is
//!   refused before anything is written.

use livenstore::backend::validate_stream_name;
use livenstore::{EventId, StoreError};

use crate::codec::{bigint, PgCount, PgId, PgTime};
use crate::connection::{self, prepared, write_transaction, Conn, DbFailure, End};
use crate::error::{self, MISSING_HEAD};
use crate::inner::Inner;
use crate::write::pipeline::write_id;

const OPERATION: &str = "link_to_stream";

/// Links event `id` into `stream`; returns the link's version there.
pub(crate) fn link(inner: &Inner, id: EventId, stream: &str) -> Result<u64, StoreError> {
    validate_stream_name(stream)?;
    let outcome = connection::run(inner, |conn| {
        let lock = |conn: &mut Conn| connection::send(conn, &inner.sql.lock);
        write_transaction(conn, lock, |conn, ()| {
            let statement =
                prepared(conn, &inner.sql.link_state).map_err(DbFailure::before_write)?;
            let Some(row) = conn
                .query_opt(&statement, &[&PgId(id), &stream])
                .map_err(DbFailure::before_write)?
            else {
                return Ok((
                    Err(error::invalid_stored(OPERATION, MISSING_HEAD)),
                    End::Rollback,
                ));
            };
            let position: Option<PgCount> = row.try_get(0).map_err(DbFailure::before_write)?;
            let Some(position) = position else {
                return Ok((Err(StoreError::EventNotFound(id)), End::Rollback));
            };
            let own: &str = row.try_get(1).map_err(DbFailure::before_write)?;
            let current: Option<PgCount> = row.try_get(2).map_err(DbFailure::before_write)?;
            let linked: bool = row.try_get(3).map_err(DbFailure::before_write)?;
            let last: PgTime = row.try_get(4).map_err(DbFailure::before_write)?;
            let now: PgTime = row.try_get(5).map_err(DbFailure::before_write)?;
            if own == stream || linked {
                return Ok((Err(already_in(id, stream)), End::Rollback));
            }
            let version = current.map_or(0, |v| v.0) + 1;
            let linked_at = now.max(last);
            let write = prepared(conn, &inner.sql.write_link).map_err(DbFailure::before_write)?;
            conn.execute(
                &write,
                &[
                    &bigint(position.0),
                    &stream,
                    &bigint(version),
                    &linked_at,
                    &write_id(),
                ],
            )
            .map_err(DbFailure::write_sent)?;
            Ok((Ok(version), End::Commit))
        })
    });
    match outcome {
        Ok(result) => result,
        // A writer that does not take the lock linked it meanwhile.
        Err(failure) if failure.unique_violation() == Some("links_stream_position_key") => {
            Err(already_in(id, stream))
        }
        Err(failure) => Err(failure.to_store_error(OPERATION, &inner.endpoint)),
    }
}

fn already_in(id: EventId, stream: &str) -> StoreError {
    StoreError::InvalidArgument(format!("event {id} is already in stream `{stream}`"))
}
