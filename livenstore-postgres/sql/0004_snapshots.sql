-- livenstore-postgres schema, version 4: aggregate snapshots.
--
-- Applied once per schema by the migration runner (src/schema.rs), inside one transaction whose
-- search_path is the store's schema.
--
-- Invariants:
-- - One row per (aggregate_type, aggregate_id): the snapshot of the highest version saved. A
--   save is one INSERT ... ON CONFLICT DO UPDATE whose update applies only when the stored
--   version is not higher, so an older snapshot never replaces a newer one, whatever the order
--   concurrent saves commit in.
-- - `state` is the JSON text as saved (json keeps the text; jsonb would reorder it);
--   `fingerprint` is the 64-bit shape fingerprint stored as bigint (the same bits).
-- - Snapshots are a cache of what `events` says: nothing else refers to this table, and deleting
--   rows only makes loads replay more events.
CREATE TABLE snapshots (
    aggregate_type text NOT NULL,
    aggregate_id text NOT NULL,
    version bigint NOT NULL CHECK (version >= 0),
    fingerprint bigint NOT NULL,
    snapshot_version integer NOT NULL,
    state json NOT NULL,
    taken_at timestamptz NOT NULL,
    CONSTRAINT snapshots_pkey PRIMARY KEY (aggregate_type, aggregate_id)
);
