//! This store's chunks: the shared [`chunk`](crate::event::chunk) building block of the event
//! module, with link entries held as [`RecordedEvent`]s.

use crate::event::chunk;
use crate::RecordedEvent;

pub(crate) use chunk::{Record, MAX_ENTRIES};

/// A run of one stream's entries.
pub(crate) type Chunk = chunk::Chunk<RecordedEvent>;
/// A stream's entry: its own event or a link.
pub(crate) type Entry = chunk::Entry<RecordedEvent>;
/// An entry on its way into a chunk.
pub(crate) type NewEntry = chunk::NewEntry<RecordedEvent>;
/// An event of a chunk, as a `RecordedEvent` holds it.
pub(crate) type StoredEvent = chunk::ChunkSlot<RecordedEvent>;
