//! The statements a store runs, written once per schema.
//!
//! Invariants:
//! - Table names are qualified with the schema (`"<schema>".events`), never found through
//!   `search_path`, so a connection shared with other code reads and writes this store only.
//!   The schema name passed `validate_schema_name`, so quoting it cannot inject SQL.
//! - Every statement that returns events lists the columns as [`EVENT_COLUMNS`] does (the order
//!   `codec::EventDecoder` reads).
//! - [`Sql::lock`] starts a READ COMMITTED transaction and takes the `log_head` row lock; every
//!   write (appends and links) takes it first and holds it to COMMIT. Statements after it take
//!   a fresh snapshot (READ COMMITTED), so they see everything committed before the lock was
//!   granted. READ COMMITTED is named explicitly: under REPEATABLE READ (a server's
//!   `default_transaction_isolation`) the snapshot would be the lock statement's.
//! - The write transactions plan their statements with `enable_seqscan = off` and
//!   `plan_cache_mode = force_generic_plan` (`SET LOCAL` in [`Sql::lock`], so nothing leaks to
//!   other work on the connection). Every statement they run is an index lookup by design, but a
//!   prepared statement keeps the plan it got first: planned while the tables were small, a
//!   sequential scan of `events` or `streams` stayed in the cached plan after the tables grew
//!   (until autovacuum's next ANALYZE), making every append cost a scan of the table; and the
//!   state query, whose arrays the planner sizes only when it sees them, was planned anew on
//!   every append (custom plans). Forced generic plans without sequential scans are planned once
//!   per connection and stay index lookups.
//! - Time-range bounds are whole microseconds, rounded up from nanoseconds (`codec::PgTime::ceil`).
//! - `streams()` sorts with `COLLATE "C"`: byte order, which is Rust's `str` order.

/// The columns of an event, in the order `codec::EventDecoder` reads them, from table alias `e`.
pub(crate) const EVENT_COLUMNS: &str = "e.position, e.id, e.stream, e.version, e.event_type, \
     e.recorded_at, e.metadata, e.payload, e.event_version";

/// The key of an event's correlation id in the index of migration 5
/// (`sql/0005_correlation_index.sql`), read from the metadata's text of table alias `e`: the
/// id's escaped JSON text up to its first quote (see the migration for why the text, not the
/// JSON). The index is on this expression without the alias; a query uses it only with this
/// exact expression.
pub(crate) const CORRELATION_KEY: &str =
    r#"NULLIF(split_part(split_part(e.metadata::text, '"correlation_id":"', 2), '"', 1), '')"#;

/// How many columns [`EVENT_COLUMNS`] lists: a statement's own columns follow at this index.
pub(crate) const EVENT_COLUMN_COUNT: usize = 9;

/// Ends a transaction, storing what it wrote.
pub(crate) const COMMIT: &str = "COMMIT";

/// Ends a transaction, storing nothing.
pub(crate) const ROLLBACK: &str = "ROLLBACK";

/// The statement texts of one schema.
#[derive(Debug)]
pub(crate) struct Sql {
    /// `BEGIN` (READ COMMITTED), the planner settings of write transactions and the `log_head`
    /// row lock, as one simple-protocol message.
    pub(crate) lock: String,
    /// [`lock`](Self::lock) without the lock: the transaction of a pipelined group, which
    /// writes its events first and takes the lock in [`finalize_group`](Self::finalize_group).
    pub(crate) begin: String,
    /// One row per kind (column 0): `1` the head (last_position in column 1, last_write in
    /// column 4, last_recorded_at in column 6, `clock_timestamp()` in column 10); `2` a stream
    /// of `$1` (name in column 3, version in column 4); `3` a stored event whose id is in `$2`
    /// (event columns 1 to 9).
    pub(crate) group_state: String,
    /// The name of the SQL-level prepared statement [`prepare_state`](Self::prepare_state)
    /// makes on a connection (one per schema: `livenstore_state_` and a hash of the schema).
    pub(crate) state_name: String,
    /// `PREPARE`s the head and stream rows of [`group_state`](Self::group_state) for `EXECUTE`
    /// in a simple-protocol message (text results): kind `1` (last position, last write, last
    /// recorded at and `clock_timestamp()` as microseconds since the Unix epoch), kind `2`
    /// (version in column 1, name in column 5), for the streams in `$1`.
    pub(crate) prepare_state: String,
    /// Writes a group: events (`$1`..`$7` arrays, recorded at `$8`, event versions `$15`),
    /// stream versions (`$9`, `$10`), the head (`$11` last position, recorded at `$8`, last
    /// write `$14`), and a notification on channel `$12` carrying the last position when `$13`.
    /// (In every event statement the event versions are the last parameter.)
    pub(crate) write_group: String,
    /// The events of a pipelined group, before its lock: `$1`..`$8` as in
    /// [`write_group`](Self::write_group), event versions `$9`.
    pub(crate) insert_events: String,
    /// Ends a pipelined group: takes the `log_head` lock and, only if the head is still what
    /// the group was planned against (last write `$4`, last position `$5`), moves it (last
    /// position `$1`, recorded at `$2`, last write `$3`), writes the stream versions (`$6`,
    /// `$7`) and notifies channel `$8` with the last position when `$9`. One row: whether the
    /// head was as planned.
    pub(crate) finalize_group: String,
    /// A whole group in one statement, outside any transaction (`predicted`): takes the
    /// `log_head` lock and, only if the head is what the group was predicted against (last
    /// write `$8`, last position `$9`), moves it (last position `$10`, the server's clock raised
    /// to the last recorded time, last write `$11`), writes the events (`$1`..`$7` as in
    /// [`write_group`](Self::write_group), recorded at that time), the rows of the streams
    /// predicted absent (`$12`, `$13`: a plain INSERT) and the versions of the others (`$14`,
    /// `$15`), and notifies channel `$16` with the last position; event versions `$17`. One
    /// row: whether the head was as predicted, and the time the events are recorded at.
    pub(crate) write_predicted: String,
    /// Sets the head's last write to `$1` (after a group's statement lost its connection: any
    /// check against the head before it now fails).
    pub(crate) bump_write: String,
    /// The current version of stream `$1` as the events and links tables say (after a unique
    /// violation, when `streams` disagreed with them).
    pub(crate) stored_version: String,
    /// After the lock, for linking event `$1` into stream `$2`: one row with the event's
    /// position and stream (NULL when there is no such event), the target stream's version
    /// (NULL when new), whether the event is linked there already, `last_recorded_at` and
    /// `clock_timestamp()`.
    pub(crate) link_state: String,
    /// Writes a link: position `$1` into stream `$2` at version `$3`, linked at `$4`, last
    /// write `$5`.
    pub(crate) write_link: String,
    /// The event with id `$1`.
    pub(crate) read_by_id: String,
    /// Events and links of stream `$1` from version `$2`, at most `$3`, in version order; columns
    /// 8 and 9 are the link's version and time (NULL for the stream's own events).
    pub(crate) read_stream: String,
    /// Events from position `$1`, at most `$2`.
    pub(crate) read_all: String,
    /// Events of type `$1` from position `$2`, at most `$3`.
    pub(crate) read_by_type: String,
    /// Events recorded in `[$1, $2)`, in position order.
    pub(crate) read_time_range: String,
    /// Events whose correlation id's key ([`CORRELATION_KEY`]) is `$1`
    /// (`codec::correlation_id_key`), in position order: a lookup of the index of migration 5.
    /// Ids that share a key are told apart by the caller.
    pub(crate) read_correlated: String,
    /// Stream `$1`: name, version, first and last recorded times.
    pub(crate) stream_info: String,
    /// Every stream, as `stream_info`, sorted by name.
    pub(crate) streams: String,
    /// The last position.
    pub(crate) last_position: String,
    /// The checkpoint of consumer `$1`.
    pub(crate) load_checkpoint: String,
    /// Stores position `$2` as the checkpoint of consumer `$1`.
    pub(crate) save_checkpoint: String,
    /// Every checkpoint, by consumer.
    pub(crate) list_checkpoints: String,
    /// Deletes the checkpoint of consumer `$1`.
    pub(crate) delete_checkpoint: String,
    /// A projection's batch, in its transaction: locks the checkpoint row of consumer `$1`
    /// (`FOR UPDATE`) and reads up to `$2` events after its position. Column 0 the checkpoint,
    /// then [`EVENT_COLUMNS`] (NULL in the one row returned when no event follows); no row when
    /// the consumer has no checkpoint row.
    pub(crate) projection_batch: String,
    /// Creates the checkpoint row of consumer `$1` at position 0 unless it exists.
    pub(crate) projection_init: String,
    /// Moves the checkpoint of consumer `$1` (whose row the transaction locked) to `$2`.
    pub(crate) projection_advance: String,
    /// Parks an event (an upsert by consumer and event id).
    pub(crate) park_event: String,
    /// The parked events of consumer `$1` (of all with NULL), by consumer and position.
    pub(crate) list_parked: String,
    /// Removes the parked event `$2` of consumer `$1` (all of that consumer's with NULL).
    pub(crate) remove_parked: String,
    /// Records a replay request of consumer `$1`.
    pub(crate) request_replay: String,
    /// Whether consumer `$1` has a replay request.
    pub(crate) replay_requested: String,
    /// Deletes the replay request of consumer `$1`.
    pub(crate) replay_done: String,
    /// Stores a snapshot (type `$1`, id `$2`, version `$3`, fingerprint `$4`, snapshot version
    /// `$5`, state `$6`, time `$7`) unless one of a higher version is stored; one row per row
    /// written (none when the stored one was kept).
    pub(crate) save_snapshot: String,
    /// The snapshot of type `$1`, id `$2`: [`SNAPSHOT_COLUMNS`] and the state.
    pub(crate) load_snapshot: String,
    /// Every snapshot (of type `$1` when not NULL), sorted by type and id (byte order):
    /// [`SNAPSHOT_COLUMNS`] and the state's size in bytes.
    pub(crate) list_snapshots: String,
    /// Deletes the snapshots of type `$1`.
    pub(crate) delete_snapshots: String,
    /// The snapshot of type `$1`, id `$2` and the events and links of stream `$3` from its
    /// version, at most `$4`, in version order, in one statement: no row without a snapshot;
    /// column 0 the kind: `0` the snapshot (columns 1-5: version, fingerprint, snapshot version,
    /// time, state), `1` an event (the columns of `read_stream` from column 6). Rows come in no
    /// promised order (no sort of the whole result): the reader orders the events.
    pub(crate) snapshot_and_tail: String,
}

/// The columns of a snapshot without its state, in the order `snapshots.rs` reads them.
pub(crate) const SNAPSHOT_COLUMNS: &str =
    "aggregate_type, aggregate_id, version, fingerprint, snapshot_version, taken_at";

impl Sql {
    /// The statements of `schema` (which passed `validate_schema_name`).
    pub(crate) fn new(schema: &str) -> Self {
        let s = format!("\"{schema}\"");
        Sql {
            lock: format!(
                "BEGIN ISOLATION LEVEL READ COMMITTED; \
                 SET LOCAL enable_seqscan = off; SET LOCAL plan_cache_mode = force_generic_plan; \
                 SELECT 1 FROM {s}.log_head WHERE id = 1 FOR UPDATE"
            ),
            begin: "BEGIN ISOLATION LEVEL READ COMMITTED; \
                    SET LOCAL enable_seqscan = off; \
                    SET LOCAL plan_cache_mode = force_generic_plan"
                .to_owned(),
            group_state: format!(
                "SELECT 1, h.last_position, NULL::uuid, NULL::text, h.last_write, NULL::text, \
                        h.last_recorded_at, NULL::json, NULL::json, NULL::integer, \
                        clock_timestamp() \
                 FROM {s}.log_head h WHERE h.id = 1 \
                 UNION ALL \
                 SELECT 2, NULL, NULL, st.stream, st.version, NULL, NULL, NULL, NULL, NULL, NULL \
                 FROM {s}.streams st WHERE st.stream = ANY($1::text[]) \
                 UNION ALL \
                 SELECT 3, {EVENT_COLUMNS}, NULL FROM {s}.events e WHERE e.id = ANY($2::uuid[])"
            ),
            write_group: format!(
                "WITH new_events AS ({events}), new_versions AS ({versions}), new_head AS ( \
                     UPDATE {s}.log_head \
                     SET last_position = $11::bigint, last_recorded_at = $8::timestamptz, \
                         last_write = $14::bigint \
                     WHERE id = 1 \
                 ) \
                 SELECT pg_notify($12::text, ($11::bigint)::text) WHERE $13::boolean",
                events = insert_events(&s, "$8::timestamptz", Gate::Always, "$15"),
                versions = set_versions(&s, "$9", "$10", "$8::timestamptz", Gate::Always, Upsert::Yes),
            ),
            state_name: state_name(schema),
            prepare_state: format!(
                "PREPARE {name} (text[]) AS \
                 SELECT 1, h.last_position, h.last_write, \
                        (extract(epoch FROM h.last_recorded_at) * 1000000)::bigint, \
                        (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, NULL::text \
                 FROM {s}.log_head h WHERE h.id = 1 \
                 UNION ALL \
                 SELECT 2, st.version, NULL, NULL, NULL, st.stream \
                 FROM {s}.streams st WHERE st.stream = ANY($1)",
                name = state_name(schema)
            ),
            insert_events: insert_events(&s, "$8::timestamptz", Gate::Always, "$9"),
            // The head UPDATE runs first (the stream versions read it), so the lock is taken
            // before any stream row, in the order every writer takes them. A head that is not
            // as planned is written back unchanged (the group then rolls back).
            finalize_group: format!(
                "WITH head AS ({head}), new_versions AS ({versions}) \
                 SELECT h.ok FROM head AS h \
                 LEFT JOIN LATERAL ( \
                     SELECT pg_notify($8::text, ($1::bigint)::text) WHERE h.ok AND $9::boolean \
                 ) AS n ON true",
                head = checked_head(&s, "$4", "$5", "$1", "$2::timestamptz", "$3"),
                versions = set_versions(&s, "$6", "$7", "$2::timestamptz", Gate::Head, Upsert::Yes),
            ),
            // The head UPDATE runs first (the main query reads it; the INSERTs run after it),
            // so the lock is taken before any stream row. A head that is not as predicted is
            // written back unchanged and nothing else is written. A stream predicted absent gets
            // a plain INSERT: if it exists after all, the unique violation rolls the whole
            // statement back.
            write_predicted: format!(
                "WITH head AS ({head}), new_events AS ({events}), new_streams AS ({absent}), \
                      known_streams AS ({known}) \
                 SELECT h.ok, h.at FROM head AS h \
                 LEFT JOIN LATERAL ( \
                     SELECT pg_notify($16::text, ($10::bigint)::text) WHERE h.ok \
                 ) AS n ON true",
                head = checked_head(
                    &s,
                    "$8",
                    "$9",
                    "$10",
                    "greatest(last_recorded_at, clock_timestamp())",
                    "$11",
                ),
                events = insert_events(&s, "h.at", Gate::Head, "$17"),
                absent = set_versions(&s, "$12", "$13", "h.at", Gate::Head, Upsert::No),
                known = set_versions(&s, "$14", "$15", "h.at", Gate::Head, Upsert::Yes),
            ),
            bump_write: format!("UPDATE {s}.log_head SET last_write = $1::bigint WHERE id = 1"),
            stored_version: format!(
                "SELECT greatest( \
                     (SELECT coalesce(max(version), 0) FROM {s}.events WHERE stream = $1::text), \
                     (SELECT coalesce(max(version), 0) FROM {s}.links WHERE stream = $1::text))"
            ),
            link_state: format!(
                "SELECT e.position, e.stream, \
                        (SELECT st.version FROM {s}.streams st WHERE st.stream = $2::text), \
                        EXISTS (SELECT 1 FROM {s}.links l \
                                WHERE l.stream = $2::text AND l.position = e.position), \
                        h.last_recorded_at, clock_timestamp() \
                 FROM {s}.log_head h LEFT JOIN {s}.events e ON e.id = $1::uuid \
                 WHERE h.id = 1"
            ),
            write_link: format!(
                "WITH new_link AS ( \
                     INSERT INTO {s}.links (stream, version, position, linked_at) \
                     VALUES ($2::text, $3::bigint, $1::bigint, $4::timestamptz) \
                 ), new_version AS ( \
                     INSERT INTO {s}.streams AS old \
                         (stream, version, first_recorded_at, last_recorded_at) \
                     VALUES ($2::text, $3::bigint, $4::timestamptz, $4::timestamptz) \
                     ON CONFLICT (stream) DO UPDATE \
                         SET version = excluded.version, last_recorded_at = excluded.last_recorded_at \
                 ) \
                 UPDATE {s}.log_head SET last_recorded_at = $4::timestamptz, last_write = $5::bigint \
                 WHERE id = 1"
            ),
            read_by_id: format!("SELECT {EVENT_COLUMNS} FROM {s}.events e WHERE e.id = $1::uuid"),
            // Each branch is an index scan in version order ((stream, version) is unique in
            // both tables) cut at the limit, so a page of a long stream reads at most twice the
            // page, whatever plan the server picks for the merge.
            read_stream: format!(
                "SELECT * FROM ( \
                     (SELECT {EVENT_COLUMNS}, NULL::bigint AS link_version, \
                             NULL::timestamptz AS linked_at, e.version AS stream_version \
                      FROM {s}.events e WHERE e.stream = $1::text AND e.version >= $2::bigint \
                      ORDER BY e.version LIMIT $3::bigint) \
                     UNION ALL \
                     (SELECT {EVENT_COLUMNS}, l.version, l.linked_at, l.version \
                      FROM {s}.links l JOIN {s}.events e ON e.position = l.position \
                      WHERE l.stream = $1::text AND l.version >= $2::bigint \
                      ORDER BY l.version LIMIT $3::bigint) \
                 ) AS merged ORDER BY stream_version LIMIT $3::bigint"
            ),
            read_all: format!(
                "SELECT {EVENT_COLUMNS} FROM {s}.events e WHERE e.position >= $1::bigint \
                 ORDER BY e.position LIMIT $2::bigint"
            ),
            read_by_type: format!(
                "SELECT {EVENT_COLUMNS} FROM {s}.events e \
                 WHERE e.event_type = $1::text AND e.position >= $2::bigint \
                 ORDER BY e.position LIMIT $3::bigint"
            ),
            read_time_range: format!(
                "SELECT {EVENT_COLUMNS} FROM {s}.events e \
                 WHERE e.recorded_at >= $1::timestamptz AND e.recorded_at < $2::timestamptz \
                 ORDER BY e.position"
            ),
            read_correlated: format!(
                "SELECT {EVENT_COLUMNS} FROM {s}.events e \
                 WHERE {CORRELATION_KEY} = $1::text \
                 ORDER BY e.position"
            ),
            stream_info: format!(
                "SELECT stream, version, first_recorded_at, last_recorded_at \
                 FROM {s}.streams WHERE stream = $1::text"
            ),
            streams: format!(
                "SELECT stream, version, first_recorded_at, last_recorded_at \
                 FROM {s}.streams ORDER BY stream COLLATE \"C\""
            ),
            last_position: format!("SELECT last_position FROM {s}.log_head WHERE id = 1"),
            load_checkpoint: format!("SELECT position FROM {s}.checkpoints WHERE consumer = $1"),
            list_checkpoints: format!(
                "SELECT consumer, position FROM {s}.checkpoints ORDER BY consumer"
            ),
            delete_checkpoint: format!("DELETE FROM {s}.checkpoints WHERE consumer = $1"),
            projection_batch: format!(
                "WITH checkpoint AS (SELECT position FROM {s}.checkpoints \
                 WHERE consumer = $1::text FOR UPDATE) \
                 SELECT checkpoint.position, {EVENT_COLUMNS} FROM checkpoint \
                 LEFT JOIN LATERAL (SELECT {EVENT_COLUMNS} FROM {s}.events e \
                 WHERE e.position > checkpoint.position ORDER BY e.position LIMIT $2::bigint) e \
                 ON true ORDER BY e.position"
            ),
            projection_init: format!(
                "INSERT INTO {s}.checkpoints (consumer, position) VALUES ($1::text, 0) \
                 ON CONFLICT (consumer) DO NOTHING"
            ),
            projection_advance: format!(
                "UPDATE {s}.checkpoints SET position = $2::bigint, updated_at = clock_timestamp() \
                 WHERE consumer = $1::text"
            ),
            park_event: format!(
                "INSERT INTO {s}.parked_events (consumer, event_id, position, stream, event_type, \
                 error, attempts, parked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (consumer, event_id) DO UPDATE SET position = EXCLUDED.position, \
                 stream = EXCLUDED.stream, event_type = EXCLUDED.event_type, \
                 error = EXCLUDED.error, attempts = EXCLUDED.attempts, \
                 parked_at = EXCLUDED.parked_at"
            ),
            list_parked: format!(
                "SELECT consumer, event_id, position, stream, event_type, error, attempts, \
                 parked_at FROM {s}.parked_events WHERE $1::text IS NULL OR consumer = $1 \
                 ORDER BY consumer, position"
            ),
            remove_parked: format!(
                "DELETE FROM {s}.parked_events WHERE consumer = $1 \
                 AND ($2::uuid IS NULL OR event_id = $2)"
            ),
            request_replay: format!(
                "INSERT INTO {s}.parked_replays (consumer) VALUES ($1) ON CONFLICT DO NOTHING"
            ),
            replay_requested: format!(
                "SELECT 1 FROM {s}.parked_replays WHERE consumer = $1"
            ),
            replay_done: format!("DELETE FROM {s}.parked_replays WHERE consumer = $1"),
            save_checkpoint: format!(
                "INSERT INTO {s}.checkpoints (consumer, position) VALUES ($1, $2) \
                 ON CONFLICT (consumer) DO UPDATE \
                 SET position = EXCLUDED.position, updated_at = clock_timestamp()"
            ),
            save_snapshot: format!(
                "INSERT INTO {s}.snapshots AS old ({SNAPSHOT_COLUMNS}, state) \
                 VALUES ($1::text, $2::text, $3::bigint, $4::bigint, $5::integer, $7::timestamptz, \
                         $6::json) \
                 ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE \
                 SET version = excluded.version, fingerprint = excluded.fingerprint, \
                     snapshot_version = excluded.snapshot_version, state = excluded.state, \
                     taken_at = excluded.taken_at \
                 WHERE old.version <= excluded.version \
                 RETURNING 1"
            ),
            load_snapshot: format!(
                "SELECT {SNAPSHOT_COLUMNS}, state FROM {s}.snapshots \
                 WHERE aggregate_type = $1::text AND aggregate_id = $2::text"
            ),
            list_snapshots: format!(
                "SELECT {SNAPSHOT_COLUMNS}, octet_length(state::text) FROM {s}.snapshots \
                 WHERE $1::text IS NULL OR aggregate_type = $1::text \
                 ORDER BY aggregate_type COLLATE \"C\", aggregate_id COLLATE \"C\""
            ),
            delete_snapshots: format!("DELETE FROM {s}.snapshots WHERE aggregate_type = $1::text"),
            // The snapshot's row (kind 0), then the stream's events and links from its version
            // (kind 1), bounded by a scalar subquery on the snapshot: one index lookup each.
            snapshot_and_tail: format!(
                "SELECT 0 AS kind, sn.version, sn.fingerprint, sn.snapshot_version, sn.taken_at, \
                        sn.state, NULL::bigint, NULL::uuid, NULL::text, NULL::bigint, NULL::text, \
                        NULL::timestamptz, NULL::json, NULL::json, NULL::integer, NULL::bigint, \
                        NULL::timestamptz, NULL::bigint AS stream_version \
                 FROM {s}.snapshots sn \
                 WHERE sn.aggregate_type = $1::text AND sn.aggregate_id = $2::text \
                 UNION ALL \
                 SELECT 1, NULL, NULL, NULL, NULL, NULL, merged.* FROM ( \
                     SELECT * FROM ( \
                         (SELECT {EVENT_COLUMNS}, NULL::bigint AS link_version, \
                                 NULL::timestamptz AS linked_at, e.version AS stream_version \
                          FROM {s}.events e WHERE e.stream = $3::text AND e.version >= ({from}) \
                          ORDER BY e.version LIMIT $4::bigint) \
                         UNION ALL \
                         (SELECT {EVENT_COLUMNS}, l.version, l.linked_at, l.version \
                          FROM {s}.links l JOIN {s}.events e ON e.position = l.position \
                          WHERE l.stream = $3::text AND l.version >= ({from}) \
                          ORDER BY l.version LIMIT $4::bigint) \
                     ) AS tail ORDER BY stream_version LIMIT $4::bigint \
                 ) AS merged",
                from = format!(
                    "SELECT version FROM {s}.snapshots \
                     WHERE aggregate_type = $1::text AND aggregate_id = $2::text"
                ),
            ),
        }
    }
}

/// Whether a write of a statement with a `head` CTE ([`checked_head`]) happens only when the
/// head was as expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// Always (no `head` CTE).
    Always,
    /// Only when `head.ok`.
    Head,
}

/// Whether a stream's row may exist already ([`set_versions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upsert {
    /// It may: its version and last time are updated.
    Yes,
    /// It must not: a plain INSERT, which fails when it does.
    No,
}

/// `FROM` items and `WHERE` of a write gated by `gate`, before `unnest(...)`.
fn gated(gate: Gate) -> (&'static str, &'static str) {
    match gate {
        Gate::Always => ("", ""),
        Gate::Head => ("head AS h, ", " WHERE h.ok"),
    }
}

/// The event rows of `$1`..`$7` and `event_versions` (the event statements' columns),
/// recorded at `recorded_at`.
fn insert_events(s: &str, recorded_at: &str, gate: Gate, event_versions: &str) -> String {
    let (from, condition) = gated(gate);
    format!(
        "INSERT INTO {s}.events \
             (position, id, stream, version, event_type, recorded_at, metadata, payload, \
              event_version) \
         SELECT p, i, st, v, t, {recorded_at}, m, d, ev \
         FROM {from}unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], \
                           $6::json[], $7::json[], {event_versions}::integer[]) \
              AS u(p, i, st, v, t, m, d, ev){condition}"
    )
}

/// The stream rows of the names in `names` at the versions in `versions`, last recorded at
/// `recorded_at` (and first, for a new one).
fn set_versions(
    s: &str,
    names: &str,
    versions: &str,
    recorded_at: &str,
    gate: Gate,
    upsert: Upsert,
) -> String {
    let (from, condition) = gated(gate);
    let on_conflict = match upsert {
        Upsert::Yes => {
            " ON CONFLICT (stream) DO UPDATE \
             SET version = excluded.version, last_recorded_at = excluded.last_recorded_at"
        }
        Upsert::No => "",
    };
    format!(
        "INSERT INTO {s}.streams AS old (stream, version, first_recorded_at, last_recorded_at) \
         SELECT st, v, {recorded_at}, {recorded_at} \
         FROM {from}unnest({names}::text[], {versions}::bigint[]) AS u(st, v){condition}\
         {on_conflict}"
    )
}

/// The `log_head` UPDATE of a group that decided without the lock: once the lock is granted,
/// only if the head's last write is `last_write` and its last position `last_position`, it
/// moves the head to `position`, `recorded_at` and `write` (a fresh id); else it writes the
/// row back unchanged. Returns `ok` (whether it moved) and `at` (the head's time). The check
/// is in the SET expressions, evaluated on the newest row version; its WHERE names only the
/// row (a WHERE that compared the columns would be evaluated on the version in the
/// statement's snapshot first, and skip the row without waiting).
fn checked_head(
    s: &str,
    last_write: &str,
    last_position: &str,
    position: &str,
    recorded_at: &str,
    write: &str,
) -> String {
    let expected =
        format!("last_write = {last_write}::bigint AND last_position = {last_position}::bigint");
    format!(
        "UPDATE {s}.log_head \
         SET last_position = CASE WHEN {expected} THEN {position}::bigint \
                                  ELSE last_position END, \
             last_recorded_at = CASE WHEN {expected} THEN {recorded_at} \
                                     ELSE last_recorded_at END, \
             last_write = CASE WHEN {expected} THEN {write}::bigint ELSE last_write END \
         WHERE id = 1 \
         RETURNING last_write = {write}::bigint AS ok, last_recorded_at AS at"
    )
}

/// The name of a schema's state statement: `livenstore_state_` and the 64-bit FNV-1a hash of
/// the schema's name, in hex (an identifier well under PostgreSQL's 63 bytes, whatever the
/// schema's length).
fn state_name(schema: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in schema.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("livenstore_state_{hash:016x}")
}
