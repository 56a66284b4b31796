//! [`Tail`]: the chunk a stream appends to, owned by the store while it grows and shared once a
//! reader asks for one of its events; and [`LockedTail`], how a stream keeps it.
//!
//! Invariants:
//! - An `Open` chunk is owned by its stream: no handle to it exists, so the store pushes to it
//!   without a reference count check (`Arc::get_mut` is an atomic compare-and-swap per append).
//! - A reader never sees an `Open` chunk's events through a handle: it first turns the tail into
//!   a `Shared` one (`share`), moving the chunk into an `Arc`, and then clones that. A `Shared`
//!   chunk changes again only after the store took it back as its only owner (`reopen`).
//! - [`LockedTail`] keeps the tail in a `Mutex` that only readers lock (they hold the store's read
//!   lock, so several may share a tail at once); the store, holding the write lock, reaches the
//!   tail through `&mut` without locking (`Mutex::get_mut`), so an append takes no lock of its own.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::chunk::Chunk;

/// A stream's last chunk; see the module documentation.
#[derive(Debug, Default)]
pub(crate) enum Tail {
    /// No chunk (a new stream, or one emptied by retention).
    #[default]
    Empty,
    /// Owned by the stream, growing.
    Open(Chunk),
    /// Shared with readers.
    Shared(Arc<Chunk>),
}

impl Tail {
    /// The chunk, if any.
    pub(crate) fn chunk(&self) -> Option<&Chunk> {
        match self {
            Tail::Empty => None,
            Tail::Open(chunk) => Some(chunk),
            Tail::Shared(chunk) => Some(chunk),
        }
    }

    /// The chunk as shared with readers, an open one moved into an `Arc` first.
    pub(crate) fn share(&mut self) -> Option<&Arc<Chunk>> {
        if let Tail::Open(_) = self {
            if let Tail::Open(chunk) = std::mem::take(self) {
                *self = Tail::Shared(Arc::new(chunk));
            }
        }
        match self {
            Tail::Shared(chunk) => Some(chunk),
            _ => None,
        }
    }

    /// Takes a shared chunk back as open when no reader holds it any more.
    pub(crate) fn reopen(&mut self) {
        if let Tail::Shared(_) = self {
            if let Tail::Shared(chunk) = std::mem::take(self) {
                *self = match Arc::try_unwrap(chunk) {
                    Ok(chunk) => Tail::Open(chunk),
                    Err(chunk) => Tail::Shared(chunk),
                };
            }
        }
    }

    /// The tail as a shared chunk, leaving `Empty` (for a stream moving it to its full chunks).
    pub(crate) fn take_shared(&mut self) -> Option<Arc<Chunk>> {
        match std::mem::take(self) {
            Tail::Empty => None,
            Tail::Open(chunk) => Some(Arc::new(chunk)),
            Tail::Shared(chunk) => Some(chunk),
        }
    }
}

/// A stream's [`Tail`], locked by readers only; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct LockedTail(Mutex<Tail>);

impl LockedTail {
    /// The tail, for the store holding its write lock: no locking.
    #[inline(always)]
    pub(crate) fn get_mut(&mut self) -> &mut Tail {
        // No code panics while holding the lock with the tail half-changed, so a poisoned lock
        // still guards a consistent tail.
        self.0.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tail, for a reader.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Tail> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::type_names::EventTypes;
    use crate::store::memory::chunk::{Entry, NewEntry, Record};
    use crate::{EventId, Metadata, Payload, Timestamp};

    fn open_tail() -> Tail {
        let record = Record::new(
            EventId::new(),
            Timestamp::now(),
            0,
            Payload::from_json("{}").unwrap(),
            0,
        );
        Tail::Open(Chunk::starting_with(
            Arc::from("s"),
            1,
            1,
            4,
            Arc::new(EventTypes::new()),
            NewEntry {
                entry: Entry::Event(record),
                metadata: Metadata::new(),
            },
        ))
    }

    #[test]
    fn a_shared_tail_reopens_only_when_no_reader_holds_it() {
        let mut tail = open_tail();
        let held = Arc::clone(tail.share().unwrap());
        assert!(matches!(tail, Tail::Shared(_)));
        tail.reopen();
        assert!(matches!(tail, Tail::Shared(_)), "a reader holds it");
        drop(held);
        tail.reopen();
        assert!(matches!(tail, Tail::Open(_)));
        assert_eq!(tail.chunk().map(Chunk::len), Some(1));
    }

    #[test]
    fn take_shared_leaves_an_empty_tail() {
        assert!(Tail::Empty.take_shared().is_none());
        let mut tail = open_tail();
        assert_eq!(tail.take_shared().map(|c| c.len()), Some(1));
        assert!(matches!(tail, Tail::Empty));
        let mut shared = open_tail();
        shared.share();
        assert!(shared.take_shared().is_some());
        assert!(shared.chunk().is_none());
    }

    #[test]
    fn readers_lock_and_the_store_reaches_in_without_locking() {
        let mut locked = LockedTail::default();
        *locked.get_mut() = open_tail();
        let guard_len = locked.lock().share().map(|c| c.len());
        assert_eq!(guard_len, Some(1));
        assert!(matches!(locked.get_mut(), Tail::Shared(_)));
    }
}
