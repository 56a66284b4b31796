-- livenstore-postgres schema, version 5: the events of one conversation, by correlation id.
--
-- Applied once per schema by the migration runner (src/schema.rs), inside one transaction whose
-- search_path is the store's schema. On a schema that already holds events, the index is built
-- from them in that transaction (appends wait for it; reads do not).
--
-- Invariants:
-- - `events_correlation_id` indexes the correlation id of every event whose metadata has one, as
--   the escaped text between the quotes of its JSON string (`a\"b` for the id `a"b`):
--   `read_correlated` looks up the id encoded the same way (`sql.rs`), then sorts the few rows
--   it finds by position.
-- - The expression reads the metadata's text and never parses it as JSON. PostgreSQL's JSON
--   operators (`->`, `->>`) fail on a `json` value holding the escape `\u0000` anywhere, and an
--   index expression that fails makes the INSERT fail: an event whose metadata holds a NUL
--   character (which the store accepts) could no longer be appended. The store writes metadata
--   as compact JSON (serde_json: sorted keys, no spaces), where a key is found as `{"key":"` or
--   `,"key":"` outside any string (inside one, every quote is escaped), so the pattern below
--   finds exactly the `correlation_id` member.
-- - A hash index: it keeps a 4-byte hash per row whatever the id's length (a B-tree refuses
--   rows over about 2.7 kB, which would refuse appends of events with a long id), and it does
--   not index NULL: events without metadata or without a correlation id cost it nothing.
CREATE INDEX events_correlation_id ON events USING hash (
    (substring(metadata::text FROM '[{,]"correlation_id":"((?:[^"\\]|\\.)*)"'))
);
