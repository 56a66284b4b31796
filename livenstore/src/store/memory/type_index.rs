//! [`TypeIndex`]: an in-memory store's side of its event types: name to number (the numbers its
//! chunks keep, named in the shared [`EventTypes`] table), and the positions of each type's
//! events.

use std::borrow::Cow;
use std::sync::Arc;

use super::hash::FastMap;
use super::position_list::PositionList;
use crate::event::type_names::EventTypes;
use crate::store::{LimitKind, StoreError};

/// The store's side of its types: name to number, and the positions of each type's events.
///
/// Invariants: `by_name[n]`, and every `recent` entry for `n`, is the number `table` names `n`;
/// numbers are given in order from 0, `positions` having one list per number. `positions[t]`
/// lists, in increasing order, the positions of the held events of type `t`. `recent` keys
/// `'static` names by address and length: such a name never changes, so equal address and length
/// mean equal text, and the lookup skips hashing.
#[derive(Debug)]
pub(crate) struct TypeIndex {
    table: Arc<EventTypes>,
    by_name: FastMap<Arc<str>, u32>,
    recent: Vec<((usize, usize), u32)>,
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

    /// The number of `name`, if it has one.
    // The `Cow` itself is needed: only a borrowed (`'static`) name may be cached by address.
    #[allow(clippy::ptr_arg)]
    #[inline]
    pub(crate) fn find(&mut self, name: &Cow<'static, str>) -> Option<u32> {
        if let Cow::Borrowed(s) = name {
            let key = (s.as_ptr() as usize, s.len());
            if let Some(&(_, number)) = self.recent.iter().find(|(k, _)| *k == key) {
                return Some(number);
            }
        }
        self.find_by_name(name)
    }

    /// [`find`](Self::find) past the cache of recent `'static` names: by hashing the name.
    #[allow(clippy::ptr_arg)]
    #[inline(never)]
    fn find_by_name(&mut self, name: &Cow<'static, str>) -> Option<u32> {
        let key = match name {
            Cow::Borrowed(s) => (s.as_ptr() as usize, s.len()),
            Cow::Owned(s) => return self.by_name.get(s.as_str()).copied(),
        };
        let number = *self.by_name.get(&**name)?;
        if self.recent.len() >= 16 {
            self.recent.remove(0);
        }
        self.recent.push((key, number));
        Some(number)
    }

    /// The number of `name` (which the caller validated), given now when it has none.
    ///
    /// # Errors
    ///
    /// [`StoreError::LimitExceeded`] when every `u32` is taken.
    #[allow(clippy::ptr_arg)]
    #[inline]
    pub(crate) fn number(&mut self, name: &Cow<'static, str>) -> Result<u32, StoreError> {
        if let Some(number) = self.find(name) {
            return Ok(number);
        }
        let too_many = || StoreError::LimitExceeded {
            kind: LimitKind::EventTypes,
            max: u64::from(u32::MAX),
        };
        let number = u32::try_from(self.positions.len()).map_err(|_| too_many())?;
        let name: Arc<str> = Arc::from(&**name);
        if !self.table.set(number, Arc::clone(&name)) {
            return Err(too_many());
        }
        self.by_name.insert(name, number);
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

    /// The held positions of type `name` from `from_position` on, in increasing order.
    pub(crate) fn positions(
        &self,
        name: &str,
        from_position: u64,
    ) -> impl Iterator<Item = u64> + '_ {
        self.by_name
            .get(name)
            .and_then(|&n| self.positions.get(n as usize))
            .into_iter()
            .flat_map(move |list| list.starting_at(from_position))
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
