//! [`IdGenerator`]: the ids an in-memory store makes for the events it is given without one.
//!
//! Invariants:
//! - Every id is larger than every id made before (`last` is the last one, 0 before any): the
//!   ULID monotonic rule, a fresh ULID of the event's time in each new millisecond and the random
//!   part incremented inside one, falling back to the process-wide generator when 2^80 ids of one
//!   millisecond are used up.
//! - `millisecond_end` is the first nanosecond after the millisecond of `last` (0 before any, so
//!   the first call makes a fresh ULID): a time before it is in that millisecond or an earlier
//!   one, which the fast path tells by one comparison instead of a division.

use crate::{EventId, Timestamp};

/// The store's id maker; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct IdGenerator {
    last: u128,
    millisecond_end: u64,
}

/// The millisecond of a ULID: its high 48 bits.
fn millisecond(id: u128) -> u64 {
    // 48 bits fit.
    (id >> 80) as u64
}

impl IdGenerator {
    /// A new id for an event recorded `at` (times never decrease between calls; an earlier one
    /// only gets the next id of the last millisecond).
    #[inline(always)]
    pub(crate) fn next(&mut self, at: Timestamp) -> EventId {
        let next = self.last.wrapping_add(1);
        if at.as_unix_nanos() < self.millisecond_end && next >> 80 == self.last >> 80 {
            self.last = next;
            return EventId::from_u128(next);
        }
        self.next_in_new_millisecond(at)
    }

    /// [`next`](Self::next) past the fast path: a fresh ULID, or the fallback.
    #[cold]
    fn next_in_new_millisecond(&mut self, at: Timestamp) -> EventId {
        let next = self.last.wrapping_add(1);
        let ms = at.as_unix_nanos() / 1_000_000;
        let id = if self.last == 0 || ms > millisecond(self.last) {
            ulid::Ulid::from_datetime(at.to_system_time()).0
        } else if millisecond(next) == millisecond(self.last) {
            next
        } else {
            // 2^80 ids in one millisecond: fall back to the process-wide generator.
            EventId::new().to_u128()
        };
        self.last = id;
        self.millisecond_end = (millisecond(id) + 1).saturating_mul(1_000_000);
        EventId::from_u128(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_by_one_inside_a_millisecond_and_start_fresh_in_the_next() {
        let mut generator = IdGenerator::default();
        let t0 = Timestamp::from_unix_nanos(1_700_000_000_123_000_000);
        let first = generator.next(t0).to_u128();
        assert_eq!(millisecond(first), 1_700_000_000_123);
        let second = generator.next(Timestamp::from_unix_nanos(1_700_000_000_123_999_999));
        assert_eq!(second.to_u128(), first + 1);
        // An earlier time (the store's clock never goes back, but the rule holds anyway).
        let third = generator.next(Timestamp::from_unix_nanos(1_700_000_000_100_000_000));
        assert_eq!(third.to_u128(), first + 2);
        let fourth = generator
            .next(Timestamp::from_unix_nanos(1_700_000_000_124_000_000))
            .to_u128();
        assert_eq!(millisecond(fourth), 1_700_000_000_124);
        assert!(fourth > first + 2);
    }

    #[test]
    fn a_used_up_millisecond_falls_back_to_larger_ids() {
        let at = Timestamp::from_unix_nanos(1_700_000_000_123_000_000);
        let mut generator = IdGenerator {
            last: u128::from(1_700_000_000_123u64) << 80 | ((1u128 << 80) - 1),
            millisecond_end: 1_700_000_000_124_000_000,
        };
        let next = generator.next(at).to_u128();
        assert!(next > u128::from(1_700_000_000_123u64) << 80 | ((1u128 << 80) - 1));
        assert!(generator.next(at).to_u128() > next);
    }
}
