//! Conversions between livenstore's values and PostgreSQL's binary wire formats, and rows into
//! [`RecordedEvent`]s.
//!
//! Invariants:
//! - `uuid`: an [`EventId`]'s 128-bit number, big-endian, 16 bytes (ULIDs and these uuids sort
//!   the same way).
//! - `timestamptz`: an `i64` of microseconds since 2000-01-01T00:00:00Z. The store writes only
//!   whole microseconds (times it read from the server), so a [`Timestamp`] (nanoseconds) read
//!   back is exactly what was reported on append: the stored microseconds × 1000.
//! - `json`: the binary format is the JSON text itself; `jsonb`: a version byte `1`, then the
//!   text.
//! - Nothing read is trusted: a payload must be one JSON value, metadata a JSON object of
//!   strings, a time finite and inside [`Timestamp`]'s range (1970 to 2554), a version or
//!   position positive. A value that is not is an error of the read (through the client
//!   library's conversion error), never a panic and never a silently wrong event.

use std::error::Error;
use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use livenstore::store::Snapshot;
use livenstore::{EventId, Metadata, Payload, RecordedEvent, RecordedEventParts, Timestamp};
use postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use postgres::Row;

type BoxError = Box<dyn Error + Sync + Send>;

/// A value read from the database that breaks the rules above.
#[derive(Debug)]
pub(crate) struct InvalidValue(String);

impl InvalidValue {
    /// What is wrong.
    pub(crate) fn new(what: impl Into<String>) -> Self {
        InvalidValue(what.into())
    }
}

impl std::fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid stored value: {}", self.0)
    }
}

impl Error for InvalidValue {}

fn invalid(what: impl Into<String>) -> BoxError {
    Box::new(InvalidValue(what.into()))
}

/// An [`EventId`] as a `uuid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PgId(pub(crate) EventId);

impl ToSql for PgId {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        out.put_slice(&self.0.to_u128().to_be_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::UUID
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for PgId {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let bytes: [u8; 16] = raw
            .try_into()
            .map_err(|_| invalid(format!("a uuid of {} bytes", raw.len())))?;
        Ok(PgId(EventId::from_u128(u128::from_be_bytes(bytes))))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::UUID
    }
}

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01T00:00:00Z).
const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

/// The latest microsecond a [`Timestamp`] can hold.
const MAX_UNIX_MICROS: i64 = (u64::MAX / 1000) as i64;

/// A `timestamptz`, as microseconds since the Unix epoch, inside [`Timestamp`]'s range
/// (0 to [`Timestamp::MAX`] rounded down to the microsecond).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PgTime(i64);

impl PgTime {
    /// The Unix epoch (the initial `log_head.last_recorded_at`).
    pub(crate) const UNIX_EPOCH: PgTime = PgTime(0);

    /// The microsecond holding `t` (rounded down): how a time the caller gives is stored.
    pub(crate) fn floor(t: Timestamp) -> Self {
        PgTime(((t.as_unix_nanos() / 1000) as i64).min(MAX_UNIX_MICROS))
    }

    /// The first whole microsecond at or after `t`, capped at the last one a [`Timestamp`] holds.
    /// `t <= x` for a stored time `x` exactly when `ceil(t) <= x`, and `x < t` exactly when
    /// `x < ceil(t)`: this is how nanosecond bounds of a time range query the column.
    pub(crate) fn ceil(t: Timestamp) -> Self {
        let nanos = t.as_unix_nanos();
        let micros = nanos / 1000 + u64::from(!nanos.is_multiple_of(1000));
        PgTime((micros as i64).min(MAX_UNIX_MICROS))
    }

    /// `micros` microseconds after the Unix epoch, if a [`Timestamp`] can hold it.
    pub(crate) fn from_unix_micros(micros: i64) -> Option<Self> {
        (0..=MAX_UNIX_MICROS)
            .contains(&micros)
            .then_some(PgTime(micros))
    }

    /// The instant, in nanoseconds (exact: the range is checked on construction).
    pub(crate) fn timestamp(self) -> Timestamp {
        Timestamp::from_unix_nanos(self.0 as u64 * 1000)
    }

    /// Microseconds since the Unix epoch.
    #[cfg(test)]
    fn unix_micros(self) -> i64 {
        self.0
    }
}

impl Default for PgTime {
    fn default() -> Self {
        PgTime::UNIX_EPOCH
    }
}

impl ToSql for PgTime {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        // Cannot overflow: the value is between 0 and MAX_UNIX_MICROS.
        out.put_i64(self.0 - PG_EPOCH_UNIX_MICROS);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for PgTime {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let bytes: [u8; 8] = raw
            .try_into()
            .map_err(|_| invalid(format!("a timestamptz of {} bytes", raw.len())))?;
        let pg_micros = i64::from_be_bytes(bytes);
        // i64::MAX and i64::MIN are `infinity` and `-infinity`; they fall outside the range too.
        match pg_micros.checked_add(PG_EPOCH_UNIX_MICROS) {
            Some(unix) if (0..=MAX_UNIX_MICROS).contains(&unix) => Ok(PgTime(unix)),
            _ => Err(invalid(format!(
                "a time outside 1970..2554 ({pg_micros} µs from 2000-01-01)"
            ))),
        }
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }
}

/// JSON text as a `json` or `jsonb` parameter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonText<'a>(pub(crate) &'a str);

impl ToSql for JsonText<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        if *ty == Type::JSONB {
            out.put_u8(1);
        }
        out.put_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSON || *ty == Type::JSONB
    }

    to_sql_checked!();
}

/// The JSON text of a `json` or `jsonb` value.
fn json_text<'a>(ty: &Type, raw: &'a [u8]) -> Result<&'a str, BoxError> {
    let raw = if *ty == Type::JSONB {
        match raw.split_first() {
            Some((1, rest)) => rest,
            _ => return Err(invalid("a jsonb value of an unknown format version")),
        }
    } else {
        raw
    };
    std::str::from_utf8(raw).map_err(|e| invalid(format!("JSON that is not UTF-8: {e}")))
}

/// A stored payload, checked to be one JSON value.
#[derive(Debug)]
pub(crate) struct PgPayload(pub(crate) Payload);

impl<'a> FromSql<'a> for PgPayload {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let text = json_text(ty, raw)?;
        Payload::from_json(text)
            .map(PgPayload)
            .map_err(|e| invalid(format!("a payload that is not JSON: {e}")))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSON || *ty == Type::JSONB
    }
}

/// Stored metadata: a JSON object of strings (`NULL` in the column is empty metadata).
#[derive(Debug)]
pub(crate) struct PgMetadata(pub(crate) Metadata);

impl<'a> FromSql<'a> for PgMetadata {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let text = json_text(ty, raw)?;
        serde_json::from_str(text)
            .map(PgMetadata)
            .map_err(|e| invalid(format!("metadata that is not an object of strings: {e}")))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSON || *ty == Type::JSONB
    }
}

/// Metadata as its `json` column value: `None` (NULL) when empty.
pub(crate) fn metadata_json(metadata: &Metadata) -> Option<String> {
    if metadata.is_empty() {
        return None;
    }
    // A map of strings always serializes; the fallback is never taken.
    Some(serde_json::to_string(metadata).unwrap_or_else(|_| "{}".to_owned()))
}

/// What the correlation index of migration 5 holds for `correlation_id`: the id as
/// [`metadata_json`] writes it inside its JSON string, escapes included, up to its first quote
/// (`a\` for `a"b`: ids with a quote may share a key). The same serializer writes both, so
/// they agree on every character.
pub(crate) fn correlation_id_key(correlation_id: &str) -> String {
    // A string always serializes, with its quotes; the fallback is never taken.
    let quoted = serde_json::to_string(correlation_id).unwrap_or_default();
    let escaped = quoted.get(1..).unwrap_or_default();
    escaped.split('"').next().unwrap_or_default().to_owned()
}

/// A `bigint` count, position or version: not negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PgCount(pub(crate) u64);

impl<'a> FromSql<'a> for PgCount {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let value = i64::from_sql(ty, raw)?;
        u64::try_from(value)
            .map(PgCount)
            .map_err(|_| invalid(format!("a negative count {value}")))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::INT8
    }
}

/// A `bigint` parameter from a `u64` position, version or count; values past `i64::MAX` (which
/// no store reaches) become `i64::MAX`, so "from" bounds past the end read nothing and
/// `usize::MAX` as a limit means no limit.
pub(crate) fn bigint(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Decodes events from rows, sharing the stream and type names of consecutive rows.
#[derive(Default)]
pub(crate) struct EventDecoder {
    stream: Option<Arc<str>>,
    event_type: Option<Arc<str>>,
}

impl EventDecoder {
    /// The event in columns `first..first + 9` of `row`, in the order of
    /// `sql::EVENT_COLUMNS`: position, id, stream, version, event_type, recorded_at, metadata,
    /// payload, event_version.
    pub(crate) fn decode(
        &mut self,
        row: &Row,
        first: usize,
    ) -> Result<RecordedEvent, postgres::Error> {
        let position: PgCount = row.try_get(first)?;
        let id: PgId = row.try_get(first + 1)?;
        let stream: &str = row.try_get(first + 2)?;
        let version: PgCount = row.try_get(first + 3)?;
        let event_type: &str = row.try_get(first + 4)?;
        let recorded_at: PgTime = row.try_get(first + 5)?;
        let metadata: Option<PgMetadata> = row.try_get(first + 6)?;
        let payload: PgPayload = row.try_get(first + 7)?;
        let event_version: i32 = row.try_get(first + 8)?;
        Ok(RecordedEvent::from_parts(RecordedEventParts {
            id: id.0,
            event_type: shared(&mut self.event_type, event_type),
            stream: shared(&mut self.stream, stream),
            version: version.0,
            position: position.0,
            recorded_at: recorded_at.timestamp(),
            metadata: metadata.map(|m| m.0).unwrap_or_default(),
            payload: payload.0,
            // The column's check keeps it above 0.
            event_version: u32::try_from(event_version).unwrap_or(1),
        }))
    }
}

/// `name` as an `Arc`, the one in `last` when it holds the same name.
fn shared(last: &mut Option<Arc<str>>, name: &str) -> Arc<str> {
    match last {
        Some(arc) if **arc == *name => Arc::clone(arc),
        _ => {
            let arc: Arc<str> = Arc::from(name);
            *last = Some(Arc::clone(&arc));
            arc
        }
    }
}

/// The snapshot of `aggregate_type`, `aggregate_id` in a row whose columns from `first` are its
/// version, fingerprint, snapshot version, time and state (`load_snapshot`'s rows, and the
/// snapshot row of `snapshot_and_tail`).
pub(crate) fn snapshot_row(
    row: &Row,
    first: usize,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Snapshot, postgres::Error> {
    let version: PgCount = row.try_get(first)?;
    let fingerprint: i64 = row.try_get(first + 1)?;
    let snapshot_version: i32 = row.try_get(first + 2)?;
    let taken_at: PgTime = row.try_get(first + 3)?;
    let state: PgPayload = row.try_get(first + 4)?;
    Ok(
        Snapshot::new(aggregate_type, aggregate_id, version.0, state.0)
            .with_fingerprint(u64::from_ne_bytes(fingerprint.to_ne_bytes()))
            // The column is written from a `u32` checked to fit: never negative.
            .with_snapshot_version(snapshot_version.unsigned_abs())
            .with_taken_at(taken_at.timestamp()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode<T: ToSql>(value: &T, ty: &Type) -> Vec<u8> {
        let mut out = BytesMut::new();
        value.to_sql_checked(ty, &mut out).unwrap();
        out.to_vec()
    }

    #[test]
    fn ids_are_16_big_endian_bytes() {
        let id = EventId::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
        let bytes = encode(&PgId(id), &Type::UUID);
        assert_eq!(bytes, (1..=16).collect::<Vec<u8>>());
        assert_eq!(PgId::from_sql(&Type::UUID, &bytes).unwrap(), PgId(id));
        let fresh = EventId::new();
        let back = PgId::from_sql(&Type::UUID, &encode(&PgId(fresh), &Type::UUID)).unwrap();
        assert_eq!(back.0, fresh);
        assert!(PgId::from_sql(&Type::UUID, &[0; 15]).is_err());
        // A uuid parameter refuses other column types.
        let mut out = BytesMut::new();
        assert!(PgId(id).to_sql_checked(&Type::TEXT, &mut out).is_err());
    }

    #[test]
    fn times_are_microseconds_since_2000() {
        let epoch_2000 = Timestamp::from_unix_nanos(946_684_800 * 1_000_000_000);
        assert_eq!(
            encode(&PgTime::floor(epoch_2000), &Type::TIMESTAMPTZ),
            [0; 8]
        );
        let later = Timestamp::from_unix_nanos(946_684_800 * 1_000_000_000 + 1_500);
        assert_eq!(
            encode(&PgTime::floor(later), &Type::TIMESTAMPTZ),
            1i64.to_be_bytes()
        );
        assert_eq!(
            encode(&PgTime::UNIX_EPOCH, &Type::TIMESTAMPTZ),
            (-PG_EPOCH_UNIX_MICROS).to_be_bytes()
        );
    }

    #[test]
    fn whole_microseconds_round_trip_exactly() {
        for nanos in [
            0u64,
            1_000,
            1_767_225_600_123_456_000,
            (u64::MAX / 1000) * 1000,
        ] {
            let t = Timestamp::from_unix_nanos(nanos);
            let bytes = encode(&PgTime::floor(t), &Type::TIMESTAMPTZ);
            let back = PgTime::from_sql(&Type::TIMESTAMPTZ, &bytes).unwrap();
            assert_eq!(back.timestamp(), t, "{nanos}");
        }
    }

    #[test]
    fn floor_and_ceil_bracket_nanoseconds() {
        let t = Timestamp::from_unix_nanos(5_001);
        assert_eq!(PgTime::floor(t).unix_micros(), 5);
        assert_eq!(PgTime::ceil(t).unix_micros(), 6);
        let whole = Timestamp::from_unix_nanos(5_000);
        assert_eq!(PgTime::ceil(whole).unix_micros(), 5);
        assert_eq!(PgTime::ceil(Timestamp::MAX).unix_micros(), MAX_UNIX_MICROS);
        assert_eq!(PgTime::ceil(Timestamp::UNIX_EPOCH), PgTime::UNIX_EPOCH);
    }

    #[test]
    fn infinite_and_out_of_range_times_are_refused() {
        for pg_micros in [
            i64::MAX,
            i64::MIN,
            -PG_EPOCH_UNIX_MICROS - 1,
            MAX_UNIX_MICROS,
        ] {
            let result = PgTime::from_sql(&Type::TIMESTAMPTZ, &pg_micros.to_be_bytes());
            assert!(result.is_err(), "{pg_micros}");
        }
        assert!(PgTime::from_sql(&Type::TIMESTAMPTZ, &[0; 4]).is_err());
        let first = PgTime::from_sql(&Type::TIMESTAMPTZ, &(-PG_EPOCH_UNIX_MICROS).to_be_bytes());
        assert_eq!(first.unwrap(), PgTime::UNIX_EPOCH);
    }

    #[test]
    fn json_and_jsonb_formats() {
        assert_eq!(encode(&JsonText(r#"{"a":1}"#), &Type::JSON), br#"{"a":1}"#);
        assert_eq!(encode(&JsonText("[]"), &Type::JSONB), b"\x01[]");
        let payload = PgPayload::from_sql(&Type::JSONB, b"\x01{\"b\": 2}").unwrap();
        assert_eq!(payload.0.as_str(), "{\"b\": 2}");
        assert!(PgPayload::from_sql(&Type::JSONB, b"\x02{}").is_err());
        assert!(PgPayload::from_sql(&Type::JSON, b"{not json").is_err());
        assert!(PgPayload::from_sql(&Type::JSON, b"\xff").is_err());
        let metadata = PgMetadata::from_sql(&Type::JSON, br#"{"user":"ada"}"#).unwrap();
        assert_eq!(metadata.0.get("user"), Some("ada"));
        assert!(PgMetadata::from_sql(&Type::JSON, br#"{"n":1}"#).is_err());
        assert_eq!(metadata_json(&Metadata::new()), None);
        assert_eq!(
            metadata_json(&Metadata::new().with("k", "v")).as_deref(),
            Some(r#"{"k":"v"}"#)
        );
    }

    #[test]
    fn correlation_keys_are_the_ids_as_metadata_writes_them() {
        for id in [
            "req-1",
            r#"q"u\o"#,
            "tab\tnul\u{0}",
            "café 🚚",
            "a/b",
            r#"""#,
        ] {
            let key = correlation_id_key(id);
            let written = metadata_json(&Metadata::new().with_correlation_id(id).with("z", "1"))
                .expect("not empty");
            // What the index expression reads: after `"correlation_id":"`, up to the next `"`.
            let indexed = written
                .split(r#""correlation_id":""#)
                .nth(1)
                .and_then(|rest| rest.split('"').next());
            assert_eq!(indexed, Some(key.as_str()), "{written}");
            assert!(!key.is_empty(), "{id:?}");
        }
        assert_eq!(correlation_id_key(r#"a"b"#), r"a\");
        assert_eq!(correlation_id_key(r#"a"c"#), r"a\");
        assert_eq!(correlation_id_key("\u{0}x"), r"\u0000x");
        assert_eq!(correlation_id_key("plain"), "plain");
    }

    #[test]
    fn counts_are_not_negative() {
        assert_eq!(
            PgCount::from_sql(&Type::INT8, &7i64.to_be_bytes()).unwrap(),
            PgCount(7)
        );
        assert!(PgCount::from_sql(&Type::INT8, &(-1i64).to_be_bytes()).is_err());
        assert_eq!(bigint(5), 5);
        assert_eq!(bigint(u64::MAX), i64::MAX);
    }

    #[test]
    fn shared_names_reuse_the_last_arc() {
        let mut last = None;
        let a = shared(&mut last, "s-1");
        let b = shared(&mut last, "s-1");
        assert!(Arc::ptr_eq(&a, &b));
        let c = shared(&mut last, "s-2");
        assert_eq!(&*c, "s-2");
    }
}
