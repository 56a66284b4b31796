-- livenstore-postgres schema, version 3: the version of each event's type.
--
-- Applied once per schema by the migration runner (src/schema.rs), inside one transaction whose
-- search_path is the store's schema.
--
-- Invariants:
-- - `events.event_version` is the version of the event type's payload the event was written at
--   (livenstore's `DomainEvent::EVENT_VERSION`), from 1 to 2147483647. Events stored before this
--   migration are version 1, the version every event had then.
-- - The stored events are not rewritten: a column with a constant default is added without
--   touching existing rows (PostgreSQL 11 and later), and the check is NOT VALID, so it holds
--   for every new row without a scan of the old ones (which all hold 1).
ALTER TABLE events ADD COLUMN event_version integer NOT NULL DEFAULT 1;
ALTER TABLE events ADD CONSTRAINT events_event_version_check CHECK (event_version > 0) NOT VALID;
