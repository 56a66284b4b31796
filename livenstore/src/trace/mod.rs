//! Following a conversation: [`trace`] gathers the events of the conversation an event belongs
//! to and arranges them by causation into a [`CausalTree`] (what `livenstore DIR trace ID`
//! prints).
//!
//! Which events, for the event asked about:
//! - **It has a correlation id** (metadata [`CORRELATION_ID`](crate::CORRELATION_ID)): every
//!   event with that correlation id, found with
//!   [`EventStore::read_correlated`] (an index lookup in the built-in stores: the cost grows with
//!   the conversation, not with the store).
//! - **It has none** (or one no lookup accepts: empty, or longer than
//!   [`MAX_CORRELATION_ID_BYTES`](crate::backend::MAX_CORRELATION_ID_BYTES)): the event itself
//!   and the events whose [`CAUSATION_ID`](crate::CAUSATION_ID) is its id. No index lists
//!   those, so they are found by a **scan** of the events stored after it (an event is caused by
//!   one that exists, so it is stored after it), [`CORRELATION_SCAN_PAGE`] at a time: the cost
//!   grows with the events that follow it.
//!
//! How they are arranged is [`CausalTree`]'s business (its documentation has the rules): an
//! event whose causation id is the id of another event of the set is its child; the others are
//! roots, in position order; children come in position order.
//!
//! Invariant: the event asked about is always in the tree, however the store's lookup answers.

mod tree;

pub use tree::{CausalTree, TracedEvent};

use crate::backend::is_indexable_correlation_id;
use crate::store::event_store::scan_from;
#[cfg(doc)]
use crate::store::CORRELATION_SCAN_PAGE;
use crate::{EventId, EventStore, RecordedEvent, StoreError};

/// The causal tree of the conversation event `id` belongs to (see the
/// [module documentation](self) for which events it holds).
///
/// # Errors
///
/// [`StoreError::EventNotFound`] when no event has `id`; the errors of the store's reads.
///
/// # Examples
///
/// ```
/// use livenstore::trace::trace;
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, Metadata, NewEvent};
///
/// let store = InMemoryStore::new();
/// let said = |kind: &str, meta: Metadata| {
///     NewEvent::from_json(kind.to_owned(), "{}").unwrap().with_metadata(meta)
/// };
/// let placed = said("OrderPlaced", Metadata::new().with_correlation_id("req-1"));
/// store.append("order-1", ExpectedVersion::NoStream, vec![placed]).unwrap();
/// let placed = store.read_all(1, 1).unwrap()[0].id();
/// let caused = Metadata::new().with_correlation_id("req-1").with_causation_id(placed.to_string());
/// store.append("stock-1", ExpectedVersion::NoStream, vec![said("StockReserved", caused.clone())]).unwrap();
/// store.append("mail-1", ExpectedVersion::NoStream, vec![said("MailSent", caused)]).unwrap();
/// let other = said("OrderPlaced", Metadata::new().with_correlation_id("req-2"));
/// store.append("order-2", ExpectedVersion::NoStream, vec![other]).unwrap();
///
/// let tree = trace(&store, placed).unwrap();
/// let lines: Vec<String> = tree
///     .events()
///     .iter()
///     .map(|t| format!("{}{}", "  ".repeat(t.depth()), t.event().event_type()))
///     .collect();
/// assert_eq!(lines, ["OrderPlaced", "  StockReserved", "  MailSent"]);
/// ```
pub fn trace<S: EventStore + ?Sized>(store: &S, id: EventId) -> Result<CausalTree, StoreError> {
    let asked = store.read(id)?;
    let correlation_id = asked
        .metadata()
        .correlation_id()
        .filter(|c| is_indexable_correlation_id(c));
    let mut events = match correlation_id {
        Some(correlation_id) => store.read_correlated(correlation_id)?,
        None => caused_by(store, &asked)?,
    };
    if !events.iter().any(|e| e.id() == id) {
        events.push(asked);
    }
    Ok(CausalTree::build(events))
}

/// The events stored after `cause` whose causation id is its id: a scan of the log's tail.
fn caused_by<S: EventStore + ?Sized>(
    store: &S,
    cause: &RecordedEvent,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let is_child = |e: &RecordedEvent| {
        e.metadata()
            .causation_id()
            .and_then(|c| c.parse::<EventId>().ok())
            == Some(cause.id())
    };
    scan_from(store, cause.position().saturating_add(1), is_child)
}
