//! [`TypeIndex`]: an in-memory store's side of its event types: name and event version to
//! number (the numbers its chunks keep, named in the shared [`EventTypes`] table), and the
//! positions of each number's events.

use std::borrow::Cow;
use std::sync::Arc;

use super::hash::FastMap;
use super::position_list::PositionList;
use crate::event::type_names::EventTypes;
use crate::store::{LimitKind, StoreError};

/// The store's side of its types: name and version to number, and the positions of each
/// number's events.
///
/// Invariants: every `(version, number)` of `by_name[n]`, and every `recent` entry for `n` at
/// `version`, is the number `table` names `(n, version)`; numbers are given in order from 0,
/// `positions` having one list per number. `positions[t]` lists, in increasing order, the
/// positions of the held events of number `t`. `recent` keys `'static` names by address and
/// length: such a name never changes, so equal address and length mean equal text, and the
/// lookup skips hashing.
#[derive(Debug)]
pub(crate) struct TypeIndex {
    table: Arc<EventTypes>,
    /// Each name's `(version, number)` pairs (mostly one).
    by_name: FastMap<Arc<str>, Vec<(u32, u32)>>,
    recent: Vec<((usize, usize, u32), u32)>,
    positions: Vec<PositionList>,
}

impl TypeIndex {
    pub(crate) fn new() -> Self {
        TypeIndex {
            table: Arc::new(EventTypes::new()),
            by_name: FastMap::default(),
            recent: Vec::new(),
            positions: Vec::new(),
        }
    }

    /// The table the store's chunks share.
    pub(crate) fn table(&self) -> &Arc<EventTypes> {
        &self.table
    }

    /// The number of `name` at event version `version`, if it has one.
    // The `Cow` itself is needed: only a borrowed (`'static`) name may be cached by address.
    #[allow(clippy::ptr_arg)]
    #[inline]
    pub(crate) fn find(&mut self, name: &Cow<'static, str>, version: u32) -> Option<u32> {
        if let Cow::Borrowed(s) = name {
            let key = (s.as_ptr() as usize, s.len(), version);
            if let Some(&(_, number)) = self.recent.iter().find(|(k, _)| *k == key) {
                return Some(number);
            }
        }
        self.find_by_name(name, version)
    }

    /// [`find`](Self::find) past the cache of recent `'static` names: by hashing the name.
    #[allow(clippy::ptr_arg)]
    #[inline(never)]
    fn find_by_name(&mut self, name: &Cow<'static, str>, version: u32) -> Option<u32> {
        let at_version = |versions: &Vec<(u32, u32)>| {
            versions
                .iter()
                .find(|&&(v, _)| v == version)
                .map(|&(_, number)| number)
        };
        let key = match name {
            Cow::Borrowed(s) => (s.as_ptr() as usize, s.len(), version),
            Cow::Owned(s) => return self.by_name.get(s.as_str()).and_then(at_version),
        };
        let number = self.by_name.get(&**name).and_then(at_version)?;
        if self.recent.len() >= 16 {
            self.recent.remove(0);
        }
        self.recent.push((key, number));
        Some(number)
    }

    /// The number of `name` (which the caller validated) at event version `version`, given now
    /// when it has none.
    ///
    /// # Errors
    ///
    /// [`StoreError::LimitExceeded`] when every `u32` is taken.
    #[allow(clippy::ptr_arg)]
    #[inline]
    pub(crate) fn number(
        &mut self,
        name: &Cow<'static, str>,
        version: u32,
    ) -> Result<u32, StoreError> {
        if let Some(number) = self.find(name, version) {
            return Ok(number);
        }
        let too_many = || StoreError::LimitExceeded {
            kind: LimitKind::EventTypes,
            max: u64::from(u32::MAX),
        };
        let number = u32::try_from(self.positions.len()).map_err(|_| too_many())?;
        let name: Arc<str> = Arc::from(&**name);
        if !self.table.set(number, Arc::clone(&name), version) {
            return Err(too_many());
        }
        self.by_name
            .entry(name)
            .or_default()
            .push((version, number));
        self.positions.push(PositionList::default());
        Ok(number)
    }

    /// Records that the event at `position` has type `number`.
    #[inline(always)]
    pub(crate) fn push_position(&mut self, number: u32, position: u64) {
        if let Some(positions) = self.positions.get_mut(number as usize) {
            positions.push(position);
        }
    }

    /// The held positions of type `name` (every event version of it) from `from_position` on,
    /// in increasing order.
    pub(crate) fn positions(
        &self,
        name: &str,
        from_position: u64,
    ) -> Box<dyn Iterator<Item = u64> + '_> {
        let lists: Vec<&PositionList> = self
            .by_name
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|&(_, number)| self.positions.get(number as usize))
            .collect();
        match lists.as_slice() {
            [] => Box::new(std::iter::empty()),
            [one] => Box::new(one.starting_at(from_position)),
            many => Box::new(Merge::new(
                many.iter().map(|list| list.starting_at(from_position)),
            )),
        }
    }

    /// Forgets the positions before `position`.
    pub(crate) fn remove_before(&mut self, position: u64) {
        for positions in &mut self.positions {
            positions.remove_before(position);
        }
    }

    /// Bytes held by the position lists, estimated.
    pub(crate) fn memory_bytes(&self) -> u64 {
        self.positions.iter().map(PositionList::memory_bytes).sum()
    }
}

/// The merge of increasing sequences into one (the positions of a type's event versions).
struct Merge<'a> {
    heads: Vec<std::iter::Peekable<Box<dyn Iterator<Item = u64> + 'a>>>,
}

impl<'a> Merge<'a> {
    fn new(lists: impl Iterator<Item = impl Iterator<Item = u64> + 'a>) -> Self {
        Merge {
            heads: lists
                .map(|list| (Box::new(list) as Box<dyn Iterator<Item = u64> + 'a>).peekable())
                .collect(),
        }
    }
}

impl Iterator for Merge<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        let mut best: Option<(usize, u64)> = None;
        for (i, head) in self.heads.iter_mut().enumerate() {
            if let Some(&position) = head.peek() {
                if best.is_none_or(|(_, b)| position < b) {
                    best = Some((i, position));
                }
            }
        }
        let (i, _) = best?;
        self.heads[i].next()
    }
}
