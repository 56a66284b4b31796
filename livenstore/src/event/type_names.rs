//! [`EventTypes`]: event type names at their event versions, numbered, shared by a store's
//! chunks (`chunk.rs`) so a stored record keeps a 4-byte number instead of a name and a version.
//!
//! Invariants:
//! - Names are added at the next free number and never changed or removed, so a number read from
//!   a record always names the same type, through any handle, for as long as the table lives.
//! - Numbers are split in pages of doubling size (16, 32, 64, ...); page `p` is made when its
//!   first name is added. Filled entries are `OnceLock`s, so readers need no lock.
//! - Only the store that owns the table, holding its write lock, names numbers (`set`), in
//!   order.

use std::sync::{Arc, OnceLock};

/// Names on page 0; page `p` has `FIRST_PAGE << p`.
const FIRST_PAGE: u32 = 16;
/// Pages: enough for every `u32` number.
const PAGES: usize = 29;

type Page = Box<[OnceLock<(Arc<str>, u32)>]>;

/// The page and the index on it of type number `number`.
#[inline]
fn locate(number: u32) -> (usize, usize) {
    let n = u64::from(number) / u64::from(FIRST_PAGE) + 1;
    let page = n.ilog2() as usize;
    let first = u64::from(FIRST_PAGE) * ((1u64 << page) - 1);
    // Below the page size, which fits a usize.
    (page, (u64::from(number) - first) as usize)
}

/// The numbered type names; see the module documentation.
#[derive(Debug)]
pub(crate) struct EventTypes {
    pages: [OnceLock<Page>; PAGES],
}

impl EventTypes {
    pub(crate) fn new() -> Self {
        EventTypes {
            pages: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    /// The name and event version numbered `number`.
    #[inline]
    fn entry(&self, number: u32) -> Option<&(Arc<str>, u32)> {
        let (page, index) = locate(number);
        self.pages.get(page)?.get()?.get(index)?.get()
    }

    /// The name numbered `number`.
    #[inline]
    pub(crate) fn get(&self, number: u32) -> Option<&str> {
        self.entry(number).map(|(name, _)| &**name)
    }

    /// The event version numbered `number` (a number stands for one name at one version).
    #[inline]
    pub(crate) fn version(&self, number: u32) -> Option<u32> {
        self.entry(number).map(|&(_, version)| version)
    }

    /// Names `number` (`name` at event version `version`), which must be the next free number
    /// (the store counts them). `&self` is enough: an empty `OnceLock` is filled once, and
    /// readers sharing the table are unaffected. Returns whether the number was free.
    pub(crate) fn set(&self, number: u32, name: Arc<str>, version: u32) -> bool {
        let (page, index) = locate(number);
        let Some(page) = self
            .pages
            .get(page)
            .map(|p| p.get_or_init(|| (0..FIRST_PAGE << page).map(|_| OnceLock::new()).collect()))
        else {
            return false;
        };
        page.get(index)
            .is_some_and(|slot| slot.set((name, version)).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_name_what_was_set() {
        let table = EventTypes::new();
        for n in 0..5_000u32 {
            assert!(table.set(n, Arc::from(format!("T{n}")), n % 3 + 1));
        }
        assert!(
            !table.set(7, Arc::from("again"), 1),
            "a number is named once"
        );
        for n in 0..5_000u32 {
            assert_eq!(table.get(n), Some(format!("T{n}").as_str()));
            assert_eq!(table.version(n), Some(n % 3 + 1));
        }
        assert_eq!(table.get(5_000), None);
        assert!(locate(u32::MAX).0 < PAGES);
    }
}
