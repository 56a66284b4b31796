//! [`StreamTable`]: stream name → stream number, an open-addressing hash table of 8-byte slots.
//!
//! A lookup reads one slot (usually), then the stream itself to compare the name: over many
//! streams, a `HashMap<Arc<str>, u32>` reads a control group, a bucket and the name's allocation
//! first, each a likely cache miss.
//!
//! Invariants:
//! - `slots.len()` is a power of two, more than twice the number of streams held, so at least
//!   half the slots are empty and every probe ends at an empty slot.
//! - A slot is `EMPTY`, or `tag << 32 | (number + 1)` for stream `number` (below `u32::MAX`),
//!   where `tag` is the low half of the stream name's hash ([`NameKey::hash`]). It sits at the first
//!   empty slot from the one the hash's high bits choose, on (linear probing). Streams are never
//!   removed, so no slot is emptied and no probe sequence is broken.
//! - The table only proposes stream numbers; the caller compares the names.

#[cfg(doc)]
use super::name_key::NameKey;

/// An empty slot.
const EMPTY: u64 = 0;
/// Slots of a new table's first allocation.
const FIRST_SLOTS: usize = 16;

/// Stream name → stream number; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct StreamTable {
    slots: Vec<u64>,
    len: usize,
}

/// The slot of `hash` in a table of `slots` slots (a power of two): the hash's high bits.
#[inline]
fn home(hash: u64, slots: usize) -> usize {
    // `slots` is at least 2, so the shift is below 64; the result is below `slots`.
    (hash >> (64 - slots.trailing_zeros())) as usize
}

impl StreamTable {
    /// The stream named so, found by `hash` (the name's [`NameKey::hash`]) and `is_named`, which
    /// tells whether a stream number has the name.
    #[inline]
    pub(crate) fn find(&self, hash: u64, mut is_named: impl FnMut(usize) -> bool) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let tag = hash & 0xffff_ffff;
        let mut index = home(hash, self.slots.len());
        loop {
            let slot = self.slots[index];
            if slot == EMPTY {
                return None;
            }
            if slot >> 32 == tag {
                let number = (slot & 0xffff_ffff) as usize - 1;
                if is_named(number) {
                    return Some(number);
                }
            }
            index = (index + 1) & mask;
        }
    }

    /// Adds stream `number` (below `u32::MAX`, not in the table), whose name has `hash`.
    /// `hash_of` gives the name hash of each stream already added, for growing the table.
    pub(crate) fn insert(&mut self, hash: u64, number: u32, hash_of: impl Fn(usize) -> u64) {
        if (self.len + 1) * 2 >= self.slots.len() {
            self.grow(&hash_of);
        }
        self.place(hash, number);
        self.len += 1;
    }

    fn place(&mut self, hash: u64, number: u32) {
        let mask = self.slots.len() - 1;
        let mut index = home(hash, self.slots.len());
        while self.slots[index] != EMPTY {
            index = (index + 1) & mask;
        }
        self.slots[index] = (hash & 0xffff_ffff) << 32 | (u64::from(number) + 1);
    }

    #[cold]
    fn grow(&mut self, hash_of: &impl Fn(usize) -> u64) {
        let size = (self.slots.len() * 2).max(FIRST_SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; size]);
        for slot in old.into_iter().filter(|&s| s != EMPTY) {
            // Numbers below `u32::MAX`: see the module invariants.
            let number = (slot & 0xffff_ffff) as u32 - 1;
            self.place(hash_of(number as usize), number);
        }
    }

    /// Bytes held, estimated.
    pub(crate) fn memory_bytes(&self) -> u64 {
        self.slots.capacity() as u64 * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::name_key::NameKey;

    fn name_hash(name: &str) -> u64 {
        NameKey::new(name).hash(name)
    }

    #[test]
    fn finds_every_name_added_and_no_other() {
        let names: Vec<String> = (0..5_000).map(|i| format!("stream-{i}")).collect();
        let mut table = StreamTable::default();
        assert_eq!(table.find(name_hash("stream-0"), |_| true), None);
        for (number, name) in names.iter().enumerate() {
            table.insert(name_hash(name), number as u32, |n| name_hash(&names[n]));
        }
        for (number, name) in names.iter().enumerate() {
            assert_eq!(
                table.find(name_hash(name), |n| names[n] == *name),
                Some(number)
            );
        }
        assert_eq!(
            table.find(name_hash("stream-x"), |n| names[n] == "stream-x"),
            None
        );
        assert!(table.slots.len() > 2 * names.len());
    }

    #[test]
    fn colliding_hashes_are_told_apart_by_name() {
        let names = ["a", "b", "c", "d"];
        let mut table = StreamTable::default();
        for number in 0..names.len() {
            table.insert(42, number as u32, |_| 42);
        }
        for (number, name) in names.iter().enumerate() {
            assert_eq!(table.find(42, |n| names[n] == *name), Some(number));
        }
        assert_eq!(table.find(42, |_| false), None);
    }
}
