//! [`CausalTree`]: a set of events arranged by causation, and [`TracedEvent`], one event in it.
//!
//! Invariants: every event of the set appears exactly once; the walk keeps its own stack, so a
//! chain of any length cannot overflow the thread's stack. The rules are in [`CausalTree`]'s
//! documentation.

use std::collections::HashMap;

use crate::{EventId, RecordedEvent};

/// One event of a [`CausalTree`], with its place in the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct TracedEvent {
    event: RecordedEvent,
    depth: usize,
    parent: Option<EventId>,
}

impl TracedEvent {
    /// The event.
    pub fn event(&self) -> &RecordedEvent {
        &self.event
    }

    /// Its depth: 0 for a root, one more than its parent's otherwise.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The id of its parent in the tree (the event that caused it), `None` for a root.
    pub fn parent(&self) -> Option<EventId> {
        self.parent
    }

    /// The event, taken out.
    pub fn into_event(self) -> RecordedEvent {
        self.event
    }
}

/// Events arranged by causation: depth first, roots and children in position order.
/// [`trace`](crate::trace::trace) builds one from a store; [`build`](Self::build) from any set
/// of events.
///
/// Rules (what [`build`](Self::build) does with any set, however its metadata was written):
/// - An event's parent is the event of the set whose id its [`CAUSATION_ID`](crate::CAUSATION_ID)
///   names (parsed as an [`EventId`], so the id's letter case does not matter). An event whose
///   causation id names no other event of the set (none, a command's id, an event outside the
///   set, not an event id, its own id) is a root.
/// - Roots come in position order; each event is followed by its children's subtrees, children
///   in position order (depth first, pre-order). Depth is 0 for roots, one more per level.
/// - Every event of the set appears exactly once. Causation ids written by hand can form a
///   cycle (A caused by B, B caused by A): no event of a cycle is a root, so once every root's
///   tree is laid out, the first event (by position) not yet reached becomes a root itself, and
///   so on until every event is placed. Such a root's [`parent`](TracedEvent::parent) is `None`
///   although its causation id names an event of the set.
/// - The walk keeps its own stack, so a chain of any length cannot overflow the thread's stack.
///
/// # Examples
///
/// ```
/// use livenstore::trace::CausalTree;
/// use livenstore::{EventId, Metadata, RecordedEvent, RecordedEventParts, Timestamp};
///
/// let ids: Vec<EventId> = (0..3).map(|_| EventId::new()).collect();
/// let event = |n: usize, cause: Option<EventId>| {
///     let mut metadata = Metadata::new().with_correlation_id("req-1");
///     if let Some(cause) = cause {
///         metadata = metadata.with_causation_id(cause.to_string());
///     }
///     RecordedEvent::from_parts(RecordedEventParts {
///         id: ids[n],
///         event_type: "Happened".into(),
///         stream: "s-1".into(),
///         version: n as u64 + 1,
///         position: n as u64 + 1,
///         recorded_at: Timestamp::UNIX_EPOCH,
///         metadata,
///         payload: livenstore::Payload::from_json("{}").unwrap(),
///         event_version: 1,
///     })
/// };
/// // 1 is a root; 2 and 3 were both caused by 1.
/// let tree = CausalTree::build(vec![event(0, None), event(1, Some(ids[0])), event(2, Some(ids[0]))]);
/// let laid_out: Vec<(u64, usize)> =
///     tree.events().iter().map(|t| (t.event().position(), t.depth())).collect();
/// assert_eq!(laid_out, [(1, 0), (2, 1), (3, 1)]);
/// assert_eq!(tree.events()[2].parent(), Some(ids[0]));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CausalTree {
    events: Vec<TracedEvent>,
}

impl CausalTree {
    /// Arranges `events` by causation. They may come in any order; an event given twice (the
    /// same id) is kept once.
    pub fn build(mut events: Vec<RecordedEvent>) -> Self {
        events.sort_by_key(RecordedEvent::position);
        events.dedup_by_key(|e| e.id());
        let index: HashMap<EventId, usize> = events
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id(), i))
            .collect();
        let parents: Vec<Option<usize>> = events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let cause = e.metadata().causation_id()?.parse::<EventId>().ok()?;
                index.get(&cause).copied().filter(|&p| p != i)
            })
            .collect();
        // Children in position order: pushed while walking the events in that order.
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); events.len()];
        for (child, parent) in parents.iter().enumerate() {
            if let Some(parent) = *parent {
                children[parent].push(child);
            }
        }
        let order = lay_out(&parents, &children);
        let ids: Vec<EventId> = events.iter().map(RecordedEvent::id).collect();
        let mut slots: Vec<Option<RecordedEvent>> = events.into_iter().map(Some).collect();
        let events = order
            .into_iter()
            .filter_map(|(i, depth, parent)| {
                Some(TracedEvent {
                    event: slots.get_mut(i)?.take()?,
                    depth,
                    parent: parent.and_then(|p| ids.get(p).copied()),
                })
            })
            .collect();
        CausalTree { events }
    }

    /// The events, depth first: each root in position order followed by its subtree.
    pub fn events(&self) -> &[TracedEvent] {
        &self.events
    }

    /// The events, taken out (in the order of [`events`](Self::events)).
    pub fn into_events(self) -> Vec<TracedEvent> {
        self.events
    }

    /// How many events the tree holds.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the tree holds no event.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The event with `id`, if the tree holds it.
    pub fn find(&self, id: EventId) -> Option<&TracedEvent> {
        self.events.iter().find(|t| t.event.id() == id)
    }
}

/// The pre-order walk: `(index, depth, parent index)` for every event, roots (no parent) in
/// index order first, then whatever a cycle kept out of reach (see the module rules).
fn lay_out(
    parents: &[Option<usize>],
    children: &[Vec<usize>],
) -> Vec<(usize, usize, Option<usize>)> {
    let mut placed = vec![false; parents.len()];
    let mut order = Vec::with_capacity(parents.len());
    let mut stack: Vec<(usize, usize, Option<usize>)> = Vec::new();
    let roots = (0..parents.len()).filter(|&i| parents[i].is_none());
    // The events no root reaches (cycles) are taken, in order, after the roots.
    let rest = 0..parents.len();
    for start in roots.chain(rest) {
        if placed[start] {
            continue;
        }
        stack.push((start, 0, None));
        while let Some((i, depth, parent)) = stack.pop() {
            if placed[i] {
                continue;
            }
            placed[i] = true;
            order.push((i, depth, parent));
            // Reversed, so the first child is popped first.
            for &child in children[i].iter().rev() {
                if !placed[child] {
                    stack.push((child, depth + 1, Some(i)));
                }
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Metadata, Payload, RecordedEventParts, Timestamp};

    /// The event `id` at `position`, with `metadata`.
    fn at(position: u64, id: EventId, metadata: Metadata) -> RecordedEvent {
        RecordedEvent::from_parts(RecordedEventParts {
            id,
            event_type: "E".into(),
            stream: "s-1".into(),
            version: position,
            position,
            recorded_at: Timestamp::UNIX_EPOCH,
            metadata,
            payload: Payload::from_json("{}").expect("json"),
            event_version: 1,
        })
    }

    /// Events at positions 1..=n with the given causes (indexes into the same list), all in
    /// one conversation.
    fn events(causes: &[Option<usize>]) -> (Vec<EventId>, Vec<RecordedEvent>) {
        let ids: Vec<EventId> = causes.iter().map(|_| EventId::new()).collect();
        let events = causes
            .iter()
            .enumerate()
            .map(|(n, cause)| {
                let mut metadata = Metadata::new().with_correlation_id("c");
                if let Some(cause) = cause {
                    metadata = metadata.with_causation_id(ids[*cause].to_string());
                }
                at(n as u64 + 1, ids[n], metadata)
            })
            .collect();
        (ids, events)
    }

    /// `(position, depth, parent position)` of each laid-out event.
    fn shape(tree: &CausalTree) -> Vec<(u64, usize, Option<u64>)> {
        let position = |id| tree.find(id).map(|t| t.event.position());
        tree.events()
            .iter()
            .map(|t| (t.event.position(), t.depth, t.parent.and_then(position)))
            .collect()
    }

    #[test]
    fn children_follow_their_parent_in_position_order() {
        // 1 <- 2 <- 4, 1 <- 5, 3 root, 6 <- 3
        let (_, list) = events(&[None, Some(0), None, Some(1), Some(0), Some(2)]);
        let mut shuffled = list.clone();
        shuffled.reverse();
        shuffled.push(list[0].clone()); // given twice: kept once
        let tree = CausalTree::build(shuffled);
        assert_eq!(
            shape(&tree),
            [
                (1, 0, None),
                (2, 1, Some(1)),
                (4, 2, Some(2)),
                (5, 1, Some(1)),
                (3, 0, None),
                (6, 1, Some(3)),
            ]
        );
        assert_eq!(tree.len(), 6);
    }

    #[test]
    fn causes_outside_the_set_and_odd_ids_make_roots() {
        let (ids, mut list) = events(&[None, Some(0)]);
        let caused_by = |cause: String| Metadata::new().with_causation_id(cause);
        for (k, cause) in [
            "command-7".to_owned(),
            String::new(),
            EventId::new().to_string(),
        ]
        .into_iter()
        .enumerate()
        {
            list.push(at(3 + k as u64, EventId::new(), caused_by(cause)));
        }
        // Its own id as its cause: the id parses, but names itself.
        let own = EventId::new();
        list.push(at(6, own, caused_by(own.to_string())));
        let tree = CausalTree::build(list);
        assert_eq!(
            shape(&tree),
            [
                (1, 0, None),
                (2, 1, Some(1)),
                (3, 0, None),
                (4, 0, None),
                (5, 0, None),
                (6, 0, None),
            ]
        );
        assert_eq!(tree.events()[1].parent(), Some(ids[0]));
    }

    #[test]
    fn a_lower_case_cause_is_the_same_id() {
        let first = EventId::new();
        let cause = Metadata::new().with_causation_id(first.to_string().to_lowercase());
        let list = vec![at(1, first, Metadata::new()), at(2, EventId::new(), cause)];
        assert_eq!(
            shape(&CausalTree::build(list)),
            [(1, 0, None), (2, 1, Some(1))]
        );
    }

    #[test]
    fn a_cycle_is_broken_at_its_first_event() {
        // 1 root; 2 <- 3 <- 4 <- 2 (a cycle no root reaches); 5 <- 3
        let (_, list) = events(&[None, Some(3), Some(1), Some(2), Some(2)]);
        let tree = CausalTree::build(list);
        assert_eq!(
            shape(&tree),
            [
                (1, 0, None),
                (2, 0, None),
                (3, 1, Some(2)),
                (4, 2, Some(3)),
                (5, 2, Some(3)),
            ]
        );
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let n: usize = 200_000;
        let causes: Vec<Option<usize>> = (0..n).map(|i| i.checked_sub(1)).collect();
        let (_, list) = events(&causes);
        let tree = CausalTree::build(list);
        assert_eq!(tree.len(), n);
        assert_eq!(tree.events()[n - 1].depth(), n - 1);
        assert!(CausalTree::build(Vec::new()).is_empty());
    }
}
