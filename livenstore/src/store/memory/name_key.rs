//! [`NameKey`]: a stream name folded into two words, which the in-memory store hashes to find the
//! stream and, for names of up to [`SHORT`] bytes, compares instead of the bytes, with the copy
//! of the words a stream keeps on its hot cache line (no read of the name's own allocation, nor
//! of another line of the stream: each a likely cache miss over many streams).
//!
//! Invariants:
//! - A name of at most [`SHORT`] bytes has canonical words: its bytes in order from the low byte
//!   of the first word, zeros after them, and its length in the top byte of the second word. Two
//!   such names are equal exactly when their words are.
//! - A longer name has its first 8 bytes, then its last 8 with the top byte set to `0xff`: never
//!   the words of a short name (whose top byte is at most 15). Equal words do not mean equal long
//!   names: their bytes are compared.
//! - The hash covers every byte and the length. It only places names in the stream table;
//!   correctness never depends on it. Like `hash.rs`, it does not resist chosen-name flooding,
//!   which costs time, never correctness.

/// The longest name whose key holds all of its bytes.
pub(crate) const SHORT: usize = 15;

/// The top byte of a long name's second word.
const LONG_MARK: u64 = 0xff << 56;

const K0: u64 = 0x2d35_8dcc_aa6c_78a5;
const K1: u64 = 0x8bb8_4b93_962e_acc9;
const K2: u64 = 0x4b33_a62e_d433_d4a3;

/// A name's words and length; see the module documentation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NameKey {
    pub(crate) words: [u64; 2],
    pub(crate) len: usize,
}

/// The 128-bit product of `a` and `b`, its halves folded: every bit of each input moves
/// every bit of the result.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    // Truncation is intended: the low half.
    (product >> 64) as u64 ^ product as u64
}

/// The little-endian `u64` at `at` (`at + 8 <= bytes.len()`).
#[inline]
fn word(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// The little-endian `u32` at `at` (`at + 4 <= bytes.len()`).
#[inline]
fn half_word(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u64::from(u32::from_le_bytes(word))
}

impl NameKey {
    /// The key of `name`.
    #[inline]
    pub(crate) fn new(name: &str) -> Self {
        let bytes = name.as_bytes();
        let len = bytes.len();
        let words = if len > SHORT {
            [word(bytes, 0), word(bytes, len - 8) | LONG_MARK]
        } else if len >= 8 {
            // The bytes past the first 8, moved down to the low end (none for 8 bytes).
            let rest = word(bytes, len - 8)
                .checked_shr(8 * (16 - len) as u32)
                .unwrap_or(0);
            [word(bytes, 0), rest | (len as u64) << 56]
        } else if len >= 4 {
            // Two overlapping halves: the overlap's bytes land on themselves.
            let low = half_word(bytes, 0) | half_word(bytes, len - 4) << (8 * (len - 4));
            [low, (len as u64) << 56]
        } else if len > 0 {
            let low = u64::from(bytes[0])
                | u64::from(bytes[len / 2]) << (8 * (len / 2))
                | u64::from(bytes[len - 1]) << (8 * (len - 1));
            [low, (len as u64) << 56]
        } else {
            [0, 0]
        };
        NameKey { words, len }
    }

    /// Whether the key holds every byte of its name.
    #[inline]
    pub(crate) fn is_short(&self) -> bool {
        self.len <= SHORT
    }

    /// The hash of `name`, whose key this is.
    #[inline]
    pub(crate) fn hash(&self, name: &str) -> u64 {
        let mut seed = K2 ^ self.len as u64;
        if !self.is_short() {
            // Every byte past the first 8, in 8-byte words (the last one overlapping): the
            // words leave out the top byte of the last 8.
            let bytes = name.as_bytes();
            let mut at = 8;
            while at + 8 < self.len {
                seed = fold(seed ^ word(bytes, at), K1);
                at += 8;
            }
            seed = fold(seed ^ word(bytes, self.len - 8), K1);
        }
        // Two rounds: one fold leaves structured names (a shared prefix, a few changing
        // digits) crowded in the high bits.
        fold(fold(self.words[0] ^ K0, self.words[1] ^ K1 ^ seed) ^ K2, K0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn same_words(a: &str, b: &str) -> bool {
        NameKey::new(a).words == NameKey::new(b).words
    }

    #[test]
    fn short_names_are_equal_exactly_when_their_words_are() {
        let short = [
            "",
            "a",
            "b",
            "aa",
            "ab",
            "ba",
            "abc",
            "acc",
            "aab",
            "abcd",
            "abce",
            "abcde",
            "bbcde",
            "abcdefg",
            "abcdefgh",
            "abcdefgx",
            "xbcdefgh",
            "abcdefghi",
            "abcdefghabcdefg",
            "abcdefghabcdefh",
            "Account-1",
            "Account-10",
            "Account-2",
        ];
        let long = ["abcdefghijklmnop", "abcdefghabcdefgh", "abcdefghXjklmnop"];
        for a in short {
            for b in short {
                assert_eq!(same_words(a, b), a == b, "{a:?} vs {b:?}");
            }
            for b in long {
                assert!(!same_words(a, b), "{a:?} vs {b:?}");
            }
        }
        // The canonical form: bytes from the low end, the length on top.
        let key = NameKey::new("Account-12");
        assert_eq!(key.words[0], u64::from_le_bytes(*b"Account-"));
        assert_eq!(key.words[1], u64::from_le_bytes(*b"12\0\0\0\0\0\x0a"));
        assert_eq!(NameKey::new("abc").words, [0x0063_6261, 3 << 56]);
        assert_eq!(NameKey::new("abcdefgh").words[1], 8 << 56);
    }

    #[test]
    fn long_names_hash_every_byte() {
        let base = "order-0123456789abcdef0123456789abcdef";
        let key = NameKey::new(base);
        assert!(!key.is_short());
        let mut bytes = base.as_bytes().to_vec();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            let other = std::str::from_utf8(&bytes).unwrap();
            assert_ne!(NameKey::new(other).hash(other), key.hash(base), "byte {i}");
            bytes[i] ^= 1;
        }
    }

    #[test]
    fn hashes_spread_over_high_bits_and_low_half() {
        let names: Vec<String> = (0..1_000).map(|i| format!("Account-{i}")).collect();
        let hashes: Vec<u64> = names.iter().map(|n| NameKey::new(n).hash(n)).collect();
        let high: HashSet<u64> = hashes.iter().map(|h| h >> 54).collect();
        let low: HashSet<u64> = hashes.iter().map(|h| h & 0x3ff).collect();
        // 1,000 names in 1,024 buckets: a uniform hash fills about 63% of them.
        assert!(high.len() > 550, "{} high buckets", high.len());
        assert!(low.len() > 550, "{} low buckets", low.len());
    }
}
