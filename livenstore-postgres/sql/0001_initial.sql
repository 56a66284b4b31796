-- livenstore-postgres schema, version 1.
--
-- Applied once per schema by the migration runner (src/schema.rs), inside one transaction whose
-- search_path is the store's schema, so the names below are unqualified.
--
-- Invariants:
-- - `log_head` has exactly one row. Every append locks it (SELECT ... FOR UPDATE) before it reads
--   stream versions and holds the lock until its COMMIT, so appends to one schema commit one after
--   another: positions are handed out gap-free, and position n is visible before n + 1 can be
--   (a committing transaction is visible before its row locks are released).
-- - `events` holds every appended event at its global position; (stream, version) is unique, so
--   two writers can never both store version n of a stream, whatever the client does.
-- - `links` holds the extra appearances of an event in other streams; a stream's versions are
--   those of its own events and of its links together, contiguous from 1.
-- - `streams` has one row per stream: its current version (own events and links) and first and
--   last recorded times; it is written in the same transaction as the events it describes.
-- - `recorded_at` never decreases along positions: it is read from the server's clock while the
--   `log_head` lock is held, and never set below `log_head.last_recorded_at`.

CREATE TABLE log_head (
    id smallint PRIMARY KEY CHECK (id = 1),
    last_position bigint NOT NULL CHECK (last_position >= 0),
    last_recorded_at timestamptz NOT NULL
);
INSERT INTO log_head (id, last_position, last_recorded_at) VALUES (1, 0, 'epoch');

CREATE TABLE events (
    position bigint PRIMARY KEY CHECK (position > 0),
    id uuid NOT NULL,
    stream text NOT NULL,
    version bigint NOT NULL CHECK (version > 0),
    event_type text NOT NULL,
    recorded_at timestamptz NOT NULL,
    -- NULL when the event has no metadata.
    metadata json,
    -- The payload exactly as appended (json keeps the text; jsonb would reorder it).
    payload json NOT NULL,
    CONSTRAINT events_id_key UNIQUE (id),
    CONSTRAINT events_stream_version_key UNIQUE (stream, version)
);
CREATE INDEX events_event_type_position ON events (event_type, position);
-- recorded_at grows with position, so a block-range index is enough for time ranges.
CREATE INDEX events_recorded_at ON events USING brin (recorded_at);

CREATE TABLE links (
    stream text NOT NULL,
    version bigint NOT NULL CHECK (version > 0),
    position bigint NOT NULL REFERENCES events (position),
    linked_at timestamptz NOT NULL,
    CONSTRAINT links_pkey PRIMARY KEY (stream, version),
    CONSTRAINT links_stream_position_key UNIQUE (stream, position)
);

CREATE TABLE streams (
    stream text PRIMARY KEY,
    version bigint NOT NULL CHECK (version > 0),
    first_recorded_at timestamptz NOT NULL,
    last_recorded_at timestamptz NOT NULL
);

-- Consumer checkpoints: the last position a named consumer has processed.
CREATE TABLE checkpoints (
    consumer text PRIMARY KEY,
    position bigint NOT NULL CHECK (position >= 0),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
