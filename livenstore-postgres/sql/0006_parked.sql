-- livenstore-postgres schema, version 6: events consumers parked, and replay requests.
--
-- Applied once per schema by the migration runner (src/schema.rs), inside one transaction whose
-- search_path is the store's schema.
--
-- Invariants:
-- - One row per (consumer, event_id): parking an event again replaces its row (an upsert).
-- - `parked_replays` holds a row per consumer asked to re-deliver its parked events; the
--   consumer deletes it after the pass.
-- - Nothing refers to these tables; the events themselves stay in `events`.
CREATE TABLE parked_events (
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    position bigint NOT NULL CHECK (position > 0),
    stream text NOT NULL,
    event_type text NOT NULL,
    error text NOT NULL,
    attempts integer NOT NULL CHECK (attempts > 0),
    parked_at timestamptz NOT NULL,
    CONSTRAINT parked_events_pkey PRIMARY KEY (consumer, event_id)
);
CREATE INDEX parked_events_by_position ON parked_events (consumer, position);

CREATE TABLE parked_replays (
    consumer text PRIMARY KEY
);
