//! FNV-1a 64, the one hash the crate writes into stored or shared names and fingerprints
//! (shape fingerprints, long snapshot file names, consumer-group stream assignment): simple,
//! stable across versions and platforms, computable at compile time. Not for hash maps fed by
//! outside input (it is not keyed).

/// The hash of no bytes: where a hash starts.
pub(crate) const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// `hash` (a hash so far, [`OFFSET`] to start) continued over `bytes`.
pub(crate) const fn continue_over(mut hash: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// The FNV-1a 64 hash of `bytes`.
pub(crate) const fn hash(bytes: &[u8]) -> u64 {
    continue_over(OFFSET, bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn test_vectors() {
        assert_eq!(super::hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(super::hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        let split = super::continue_over(super::hash(b"foo"), b"bar");
        assert_eq!(split, super::hash(b"foobar"));
        assert_eq!(super::hash(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
