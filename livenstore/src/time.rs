//! UTC timestamps with nanosecond precision, printed and parsed as RFC 3339.
//!
//! livenstore keeps its own small timestamp type so the core crate needs no date library: it only
//! has to record when an event was stored, compare instants and print them for people.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An instant in UTC, as nanoseconds since the Unix epoch (1970-01-01T00:00:00Z).
///
/// Serialized as RFC 3339 text (`2026-11-23T09:16:46.123456789Z`).
///
/// # Examples
///
/// ```
/// use livenstore::Timestamp;
///
/// let t: Timestamp = "2026-11-23T09:16:46.5Z".parse().unwrap();
/// assert_eq!(t.to_string(), "2026-11-23T09:16:46.500000000Z");
/// assert!(t < Timestamp::now());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

// `Timestamp::now` is in `clock.rs`, beside the record of the latest reading it keeps.
impl Timestamp {
    /// The Unix epoch.
    pub const UNIX_EPOCH: Timestamp = Timestamp(0);
    /// The latest instant this type can hold (year 2554).
    pub const MAX: Timestamp = Timestamp(u64::MAX);

    /// The instant `nanos` nanoseconds after the Unix epoch.
    pub const fn from_unix_nanos(nanos: u64) -> Self {
        Timestamp(nanos)
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn as_unix_nanos(self) -> u64 {
        self.0
    }

    /// Converts a [`SystemTime`]; times before the epoch become the epoch.
    pub fn from_system_time(time: SystemTime) -> Self {
        let nanos = time
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Timestamp(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Converts to a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.0)
    }

    /// This instant plus `duration`, saturating at [`Timestamp::MAX`].
    pub fn saturating_add(self, duration: Duration) -> Self {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(nanos))
    }

    /// This instant minus `duration`, saturating at the epoch.
    pub fn saturating_sub(self, duration: Duration) -> Self {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_sub(nanos))
    }
}

// Days from 1970-01-01 to the civil date, and back (Howard Hinnant's algorithms).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / 1_000_000_000;
        let nanos = self.0 % 1_000_000_000;
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

/// The error of parsing a [`Timestamp`] from text that is not an RFC 3339 UTC date-time.
///
/// # Examples
///
/// ```
/// use livenstore::{ParseTimestampError, Timestamp};
///
/// let time: Timestamp = "2026-11-23T09:16:46Z".parse().unwrap();
/// assert_eq!(time.to_string(), "2026-11-23T09:16:46.000000000Z");
///
/// let error: ParseTimestampError = "2026-02-30T09:16:46Z".parse::<Timestamp>().unwrap_err();
/// assert!(error.to_string().starts_with("`2026-02-30T09:16:46Z` is not an RFC 3339 timestamp"));
/// assert!(error.to_string().ends_with("no such day"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an RFC 3339 timestamp such as 2026-11-23T09:16:46Z: {reason}")]
pub struct ParseTimestampError {
    text: String,
    reason: &'static str,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Result<u64, &'static str> {
        let part = self
            .bytes
            .get(self.at..self.at + n)
            .ok_or("text ends too early")?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err("expected a digit");
        }
        self.at += n;
        Ok(part.iter().fold(0, |acc, b| acc * 10 + u64::from(b - b'0')))
    }

    fn expect(&mut self, options: &[u8]) -> Result<u8, &'static str> {
        match self.bytes.get(self.at) {
            Some(b) if options.contains(b) => {
                self.at += 1;
                Ok(*b)
            }
            _ => Err("unexpected character"),
        }
    }
}

fn parse_rfc3339(s: &str) -> Result<Timestamp, &'static str> {
    let mut c = Cursor {
        bytes: s.as_bytes(),
        at: 0,
    };
    let year = c.digits(4)?;
    c.expect(b"-")?;
    let month = c.digits(2)? as u32;
    c.expect(b"-")?;
    let day = c.digits(2)? as u32;
    c.expect(b"Tt ")?;
    let hour = c.digits(2)?;
    c.expect(b":")?;
    let minute = c.digits(2)?;
    c.expect(b":")?;
    let second = c.digits(2)?;
    if !(1..=12).contains(&month) || day == 0 || day > 31 || hour > 23 || minute > 59 || second > 60
    {
        return Err("a field is out of range");
    }
    if civil_from_days(days_from_civil(year as i64, month, day)) != (year as i64, month, day) {
        return Err("no such day");
    }
    let mut nanos = 0u64;
    if c.bytes.get(c.at) == Some(&b'.') {
        c.at += 1;
        let start = c.at;
        while c.bytes.get(c.at).is_some_and(u8::is_ascii_digit) {
            if c.at - start < 9 {
                nanos = nanos * 10 + u64::from(c.bytes[c.at] - b'0');
            }
            c.at += 1;
        }
        if c.at == start {
            return Err("expected digits after the decimal point");
        }
        for _ in (c.at - start)..9 {
            nanos *= 10;
        }
    }
    let offset_secs: i64 = match c.expect(b"Zz+-")? {
        b'Z' | b'z' => 0,
        sign => {
            let h = c.digits(2)? as i64;
            c.expect(b":")?;
            let m = c.digits(2)? as i64;
            if h > 23 || m > 59 {
                return Err("offset out of range");
            }
            let off = h * 3600 + m * 60;
            if sign == b'+' {
                off
            } else {
                -off
            }
        }
    };
    if c.at != c.bytes.len() {
        return Err("unexpected text after the time zone");
    }
    let days = days_from_civil(year as i64, month, day);
    let secs = days * 86_400 + (hour * 3600 + minute * 60 + second) as i64 - offset_secs;
    let secs = u64::try_from(secs).map_err(|_| "before 1970")?;
    secs.checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(nanos))
        .map(Timestamp)
        .ok_or("after the year 2554")
}

impl FromStr for Timestamp {
    type Err = ParseTimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_rfc3339(s).map_err(|reason| ParseTimestampError {
            text: s.chars().take(64).collect(),
            reason,
        })
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_instants() {
        assert_eq!(
            Timestamp::UNIX_EPOCH.to_string(),
            "1970-01-01T00:00:00.000000000Z"
        );
        let t: Timestamp = "2000-02-29T23:59:59.123Z".parse().unwrap();
        assert_eq!(t.as_unix_nanos(), 951_868_799_123_000_000);
        let with_offset: Timestamp = "2000-03-01T01:59:59.123+02:00".parse().unwrap();
        assert_eq!(with_offset, t);
    }

    #[test]
    fn bad_text_is_an_error_not_a_panic() {
        for bad in [
            "",
            "2026",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00.Z",
            "1969-12-31T23:59:59Z",
            "2026-01-01T00:00:00Zjunk",
            "２０２６-01-01T00:00:00Z",
        ] {
            assert!(
                bad.parse::<Timestamp>().is_err(),
                "{bad:?} should not parse"
            );
        }
    }

    proptest! {
        #[test]
        fn display_then_parse_is_identity(nanos in 0u64..=u64::MAX) {
            let t = Timestamp::from_unix_nanos(nanos);
            prop_assert_eq!(t.to_string().parse::<Timestamp>().unwrap(), t);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<Timestamp>();
        }
    }
}
