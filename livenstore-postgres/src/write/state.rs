//! Reading what a group's decisions depend on: the head, the server's clock, the versions of
//! the group's streams, and the stored events of the ids its callers gave.
//!
//! Two ways to the same [`GroupState`]:
//! - a group whose callers gave no event ids opens its transaction and reads in one round trip
//!   ([`open_and_read`]): one simple-protocol message holding the opening text (`Sql::lock` or
//!   `Sql::begin`) and `EXECUTE` of the schema's SQL-level prepared statement
//!   (`Sql::prepare_state`, made once per connection), the stream names written in as
//!   literals. (The same query sent as plain text is planned on every call, which costs more
//!   than the round trip it saves.)
//! - a group with event ids opens first, then runs the prepared `group_state` statement, whose
//!   binary rows also carry the stored events of those ids ([`read`]).
//!
//! Invariants:
//! - Both statements run generic plans of index lookups (`plan_cache_mode` and
//!   `enable_seqscan` are set by the opening text).
//! - A name enters SQL text only as an `E'...'` literal with `\` written `\\` and `'` written
//!   `''` ([`literal`]): it reads the same whatever `standard_conforming_strings` and
//!   `backslash_quote` say. Stream names
//!   hold no NUL (`validate_stream_name` refuses control characters).
//! - In the text form, times cross as whole microseconds since the Unix epoch.
//! - After `Sql::lock` the read takes a fresh snapshot (READ COMMITTED), so it sees everything
//!   committed before the lock was granted.
//! - `recorded_at` is the server's clock, raised to `log_head.last_recorded_at`.

use std::collections::HashMap;

use postgres::SimpleQueryMessage;

use crate::codec::{EventDecoder, PgCount, PgId, PgTime};
use crate::connection::{prepared, sql_prepared, Conn, DbFailure};
use crate::error;
use crate::inner::Inner;
use crate::write::plan::{AppendRequest, GroupState};

/// What a read found: the state, or why the stored data cannot be used (every append of the
/// group fails with it).
pub(crate) type Read = Result<GroupState, String>;

/// Whether a caller of the group gave an event id (its idempotency check reads stored events).
pub(crate) fn has_event_ids(requests: &[AppendRequest]) -> bool {
    requests
        .iter()
        .any(|r| r.events.iter().any(|e| e.id().is_some()))
}

/// Columns of a row of `Sql::prepare_state`'s statement.
const STATE_COLUMNS: usize = 6;

/// The group's streams, sorted, each once.
fn streams(requests: &[AppendRequest]) -> Vec<&str> {
    let mut streams: Vec<&str> = requests.iter().map(|r| r.stream.as_str()).collect();
    streams.sort_unstable();
    streams.dedup();
    streams
}

/// Sends `open` (the text opening the transaction) and the read of a group whose callers gave
/// no event ids as one message. Makes the schema's SQL-level prepared statement first if this
/// connection has not.
pub(crate) fn open_and_read(
    conn: &mut Conn,
    inner: &Inner,
    open: &str,
    requests: &[AppendRequest],
) -> Result<Read, DbFailure> {
    sql_prepared(conn, &inner.sql.state_name, &inner.sql.prepare_state)
        .map_err(DbFailure::before_write)?;
    let streams = streams(requests);
    let names: usize = streams.iter().map(|s| s.len() + 4).sum();
    let mut text = String::with_capacity(open.len() + inner.sql.state_name.len() + names + 32);
    text.push_str(open);
    text.push_str("; EXECUTE ");
    text.push_str(&inner.sql.state_name);
    text.push_str("(ARRAY[");
    for (i, stream) in streams.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        literal(&mut text, stream);
    }
    text.push_str("]::text[])");
    let messages = conn.simple_query(&text).map_err(DbFailure::before_write)?;
    let mut state = GroupState {
        versions: HashMap::with_capacity(streams.len()),
        ..GroupState::default()
    };
    let mut head = false;
    for message in &messages {
        // The read's rows have six columns (the lock's row has one).
        let SimpleQueryMessage::Row(row) = message else {
            continue;
        };
        if row.len() != STATE_COLUMNS {
            continue;
        }
        let column = |i: usize| row.try_get(i).ok().flatten().unwrap_or_default();
        let parsed = match column(0) {
            "1" => (|| {
                state.last_position = parse(column(1), "a position")?;
                state.last_write = parse(column(2), "a write id")?;
                let last = time(column(3))?;
                let now = time(column(4))?;
                state.recorded_at = now.max(last);
                head = true;
                Ok(())
            })(),
            "2" => parse(column(1), "a version").map(|version| {
                state.versions.insert(column(5).to_owned(), version);
            }),
            other => Err(format!("expected a row kind, read `{other}`")),
        };
        if let Err(reason) = parsed {
            return Ok(Err(reason));
        }
    }
    Ok(found(head, state))
}

/// Appends `value` to `text` as an `E'...'` literal.
fn literal(text: &mut String, value: &str) {
    text.push_str("E'");
    for c in value.chars() {
        match c {
            '\\' => text.push_str("\\\\"),
            // Doubled, not `\'`: a server with `backslash_quote = off` refuses that.
            '\'' => text.push_str("''"),
            c => text.push(c),
        }
    }
    text.push('\'');
}

fn parse<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("expected {what}, read `{text}`"))
}

fn time(text: &str) -> Result<PgTime, String> {
    parse(text, "a time in microseconds").and_then(|micros| {
        PgTime::from_unix_micros(micros)
            .ok_or_else(|| format!("a time outside 1970..2554 ({micros} µs from 1970)"))
    })
}

/// Reads the state the decisions on `requests` depend on, with the prepared `group_state`
/// statement (after the transaction was opened).
pub(crate) fn read(
    conn: &mut Conn,
    inner: &Inner,
    requests: &[AppendRequest],
) -> Result<Read, DbFailure> {
    let streams = streams(requests);
    let ids: Vec<PgId> = requests
        .iter()
        .flat_map(|r| r.events.iter().filter_map(|e| e.id()))
        .map(PgId)
        .collect();
    let statement = prepared(conn, &inner.sql.group_state).map_err(DbFailure::before_write)?;
    let rows = conn
        .query(&statement, &[&streams, &ids])
        .map_err(DbFailure::before_write)?;
    let mut state = GroupState {
        versions: HashMap::with_capacity(streams.len()),
        ..GroupState::default()
    };
    let mut head = false;
    let mut decoder = EventDecoder::default();
    for row in &rows {
        let kind: i32 = row.try_get(0).map_err(DbFailure::before_write)?;
        match kind {
            1 => {
                let position: PgCount = row.try_get(1).map_err(DbFailure::before_write)?;
                let last_write: i64 = row.try_get(4).map_err(DbFailure::before_write)?;
                let last: PgTime = row.try_get(6).map_err(DbFailure::before_write)?;
                let now: PgTime = row.try_get(10).map_err(DbFailure::before_write)?;
                state.last_position = position.0;
                state.last_write = last_write;
                state.recorded_at = now.max(last);
                head = true;
            }
            2 => {
                let stream: String = row.try_get(3).map_err(DbFailure::before_write)?;
                let version: PgCount = row.try_get(4).map_err(DbFailure::before_write)?;
                state.versions.insert(stream, version.0);
            }
            _ => {
                let event = decoder.decode(row, 1).map_err(DbFailure::before_write)?;
                state.stored.insert(event.id(), event);
            }
        }
    }
    Ok(found(head, state))
}

/// The state read, if the head row was there.
fn found(head: bool, state: GroupState) -> Read {
    if head {
        Ok(state)
    } else {
        Err(error::MISSING_HEAD.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_backslashes_and_quotes() {
        let mut text = String::new();
        literal(&mut text, r"it's a \ path");
        assert_eq!(text, r"E'it''s a \\ path'");
    }

    /// Against the test server: a group read with its lock in one message finds the versions
    /// of streams whose names need quoting.
    #[cfg(feature = "testing")]
    #[test]
    fn a_read_sent_with_the_lock_finds_quoted_stream_names() {
        use livenstore::{EventStore, ExpectedVersion, NewEvent, StoreError};
        let Some(test) = crate::testing::TestSchema::new() else {
            return;
        };
        // The strictest quoting rule a server can have.
        let separator = if test.url().contains('?') { '&' } else { '?' };
        let url = format!(
            "{}{separator}options=-c%20backslash_quote%3Doff",
            test.url()
        );
        let store = crate::PostgresStore::connect_with(&url, test.config()).unwrap();
        let stream = r#"it's "quoted" -- ; ' OR 1=1"#;
        // 64 events: enough for the read to go with the lock.
        let batch = || {
            (0..64)
                .map(|n| NewEvent::from_json("Tick", format!(r#"{{"n":{n}}}"#)).unwrap())
                .collect::<Vec<_>>()
        };
        store
            .append(stream, ExpectedVersion::NoStream, batch())
            .unwrap();
        let second = store
            .append(stream, ExpectedVersion::Exact(64), batch())
            .unwrap();
        assert_eq!(second.stream_version, 128);
        match store.append(stream, ExpectedVersion::Exact(64), batch()) {
            Err(StoreError::Conflict { actual, .. }) => assert_eq!(actual, 128),
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(store.read_stream(stream, 1, usize::MAX).unwrap().len(), 128);
    }
}
