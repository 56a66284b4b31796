//! A small, fast, non-cryptographic hasher for the store's in-memory maps.
//!
//! Invariant: the hash only feeds `HashMap` bucket selection; correctness never depends on it.
//! It is the multiply-rotate scheme of rustc's `FxHasher`: a few cycles per word, against
//! SipHash's tens. It gives no protection against chosen-key flooding; the keys it sees are
//! stream names and event type names of the application itself, and a flood of colliding names
//! costs time, never correctness.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// The hasher state.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher {
    hash: u64,
}

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        // The last 1 to 7 bytes in one word, read without a variable-length copy (which would
        // be a `memcpy` call): two overlapping 4-byte reads, or the first, middle and last byte.
        let rest = chunks.remainder();
        let len = rest.len();
        if len >= 4 {
            let low = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
            let high =
                u32::from_le_bytes([rest[len - 4], rest[len - 3], rest[len - 2], rest[len - 1]]);
            self.add(u64::from(low) | u64::from(high) << 32);
        } else if len > 0 {
            let word = u32::from_le_bytes([rest[0], rest[len / 2], rest[len - 1], len as u8]);
            self.add(u64::from(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_u128(&mut self, i: u128) {
        // Truncation is intended: the two halves are mixed in one after the other.
        self.add(i as u64);
        self.add((i >> 64) as u64);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A `HashMap` using [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// A `HashSet` using [`FastHasher`].
pub(crate) type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, BuildHasherDefault};

    #[test]
    fn equal_keys_hash_equal_and_near_keys_differ() {
        let build = BuildHasherDefault::<FastHasher>::default();
        assert_eq!(build.hash_one("stream-1"), build.hash_one("stream-1"));
        assert_ne!(build.hash_one("stream-1"), build.hash_one("stream-2"));
        assert_ne!(build.hash_one("abcdefgh1"), build.hash_one("abcdefgh2"));
    }
}
