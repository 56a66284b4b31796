//! Event identifiers: ULIDs generated monotonically.
//!
//! Invariant: two ids made by [`EventId::new`] in one process sort in the order they were made,
//! even inside the same millisecond (the random part is incremented, as ULID's monotonic mode says).

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::SystemTime;

use ulid::{Generator, Ulid};

/// The unique id of a stored event: a [ULID](https://github.com/ulid/spec), so ids sort by
/// creation time and print as 26 URL-safe characters.
///
/// # Examples
///
/// ```
/// use livenstore::EventId;
///
/// let a = EventId::new();
/// let b = EventId::new();
/// assert!(a < b, "ids made later sort later, even in the same millisecond");
/// let parsed: EventId = a.to_string().parse().unwrap();
/// assert_eq!(parsed, a);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(Ulid);

static GENERATOR: Mutex<Option<Generator>> = Mutex::new(None);

impl EventId {
    /// Makes a new id, later than every id this process made before.
    pub fn new() -> Self {
        let mut guard = GENERATOR
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let generator = guard.get_or_insert_with(Generator::new);
        loop {
            match generator.generate_from_datetime(SystemTime::now()) {
                Ok(ulid) => return EventId(ulid),
                // The random part overflowed inside one millisecond (2^80 ids): wait for the next.
                Err(_) => std::thread::yield_now(),
            }
        }
    }

    /// `count` new ids, each later than the one before and than every id made before: what
    /// `count` calls of [`new`](Self::new) make, but with one lock and one clock reading (stores
    /// use it for the events of one append).
    pub(crate) fn new_batch(count: usize) -> Vec<Self> {
        let mut ids = Vec::with_capacity(count);
        if count == 0 {
            return ids;
        }
        let mut guard = GENERATOR
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let generator = guard.get_or_insert_with(Generator::new);
        let mut now = SystemTime::now();
        while ids.len() < count {
            match generator.generate_from_datetime(now) {
                Ok(ulid) => ids.push(EventId(ulid)),
                Err(_) => {
                    std::thread::yield_now();
                    now = SystemTime::now();
                }
            }
        }
        ids
    }

    /// Wraps an existing ULID.
    pub const fn from_ulid(ulid: Ulid) -> Self {
        EventId(ulid)
    }

    /// The ULID inside.
    pub const fn ulid(self) -> Ulid {
        self.0
    }

    /// The id as a 128-bit number (ULIDs order the same way as these numbers).
    pub const fn to_u128(self) -> u128 {
        self.0 .0
    }

    /// The id from its 128-bit number.
    pub const fn from_u128(value: u128) -> Self {
        EventId(Ulid(value))
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; ulid::ULID_LEN];
        f.write_str(self.0.array_to_str(&mut buf))
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}

/// The error of parsing an [`EventId`] from text that is not a ULID.
///
/// # Examples
///
/// ```
/// use livenstore::{EventId, ParseEventIdError};
///
/// assert!("01JD0000000000000000000000".parse::<EventId>().is_ok());
/// let error: ParseEventIdError = "order-42".parse::<EventId>().unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "`order-42` is not a valid event id (a 26-character ULID): the length is not 26 characters"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a valid event id (a 26-character ULID): {reason}")]
pub struct ParseEventIdError {
    text: String,
    reason: &'static str,
}

/// The largest first character of a ULID: 26 base-32 characters hold 130 bits, and a ULID has
/// 128, so the first character carries 3 bits (`0` to `7`). `8ZZZ...` and above would overflow.
const MAX_FIRST_CHAR: u8 = b'7';

impl FromStr for EventId {
    type Err = ParseEventIdError;

    /// Parses the 26-character Crockford base-32 text of a ULID (either case).
    ///
    /// # Errors
    ///
    /// Text of another length, a character outside the alphabet, or a value over the largest
    /// ULID (`7ZZZZZZZZZZZZZZZZZZZZZZZZZ`): such text is refused, never wrapped around.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let refuse = |reason| ParseEventIdError {
            text: s.chars().take(64).collect(),
            reason,
        };
        let ulid = Ulid::from_string(s).map_err(|e| {
            refuse(match e {
                ulid::DecodeError::InvalidLength => "the length is not 26 characters",
                _ => "a character is not in the ULID alphabet",
            })
        })?;
        // Checked on the text: decoding shifts the overflowing bits out without a word.
        if !(b'0'..=MAX_FIRST_CHAR).contains(&s.as_bytes()[0]) {
            return Err(refuse(
                "larger than the largest ULID (7ZZZZZZZZZZZZZZZZZZZZZZZZZ)",
            ));
        }
        Ok(EventId(ulid))
    }
}

impl serde::Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; ulid::ULID_LEN];
        serializer.serialize_str(self.0.array_to_str(&mut buf))
    }
}

impl<'de> serde::Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = EventId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a ULID string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<EventId, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_monotonic_within_a_millisecond() {
        let ids: Vec<EventId> = (0..10_000).map(|_| EventId::new()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn batches_are_monotonic_with_single_ids() {
        let mut ids = vec![EventId::new()];
        for count in [0, 1, 100, 5000] {
            let batch = EventId::new_batch(count);
            assert_eq!(batch.len(), count);
            ids.extend(batch);
            ids.push(EventId::new());
        }
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn ids_are_monotonic_across_threads_in_creation_order() {
        let ids = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        let mut guard = ids.lock().unwrap();
                        guard.push(EventId::new());
                    }
                });
            }
        });
        let ids = ids.into_inner().unwrap();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn parse_rejects_garbage_with_a_message() {
        let err = "not-a-ulid".parse::<EventId>().unwrap_err();
        assert!(err.to_string().contains("not-a-ulid"));
    }

    #[test]
    fn ids_over_the_largest_ulid_are_refused_not_wrapped() {
        let max = "7ZZZZZZZZZZZZZZZZZZZZZZZZZ".parse::<EventId>().unwrap();
        assert_eq!(max.to_u128(), u128::MAX);
        for text in [
            "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "80000000000000000000000000",
            "ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "zzzzzzzzzzzzzzzzzzzzzzzzzz",
        ] {
            let err = text.parse::<EventId>().unwrap_err().to_string();
            assert!(err.contains("larger than the largest ULID"), "{err}");
            let json = format!("\"{text}\"");
            assert!(serde_json::from_str::<EventId>(&json).is_err(), "{text}");
        }
        let err = "\u{e9}0000000000000000000000000".parse::<EventId>();
        assert!(err.is_err());
        let short = "0123".parse::<EventId>().unwrap_err().to_string();
        assert!(short.contains("26 characters"), "{short}");
    }

    #[test]
    fn serde_round_trip() {
        let id = EventId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<EventId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<EventId>("\"zz\"").is_err());
    }
}
