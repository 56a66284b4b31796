//! CRC-32 (IEEE 802.3, the checksum of zlib and gzip) of the segment lines.
//!
//! The checksum covers every byte of every line, on the append path, on open and on reads, so
//! its speed shows in all three. `crc32fast` uses the CPU's carry-less multiply (PCLMULQDQ on
//! x86-64, the CRC instructions on aarch64) when present, with a table-driven fallback: several
//! times faster than hand-written slicing-by-8 or -16 table loops, which took a quarter of the
//! append's CPU time.
//!
//! Invariant: `crc32` is the standard CRC-32 of its input (the tests check the published check
//! values), so lines written by earlier versions of this crate still verify.

/// The CRC-32 (IEEE) of `bytes`.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytewise reference algorithm (reflected polynomial 0xEDB88320).
    fn bytewise(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    0xEDB8_8320 ^ (crc >> 1)
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn crc_matches_the_reference_values() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    #[test]
    fn crc_matches_the_bytewise_loop_at_every_length() {
        let long: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for len in 0..long.len() {
            assert_eq!(crc32(&long[..len]), bytewise(&long[..len]), "length {len}");
        }
    }
}
