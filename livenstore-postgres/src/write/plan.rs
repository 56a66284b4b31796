//! Deciding a group of appends in memory: which are stored, with which ids, versions and
//! positions, and what each caller is told.
//!
//! Invariants:
//! - Appends are decided in group order, each seeing the stream versions and stored ids that the
//!   appends before it in the group leave: each outcome is what the append would get if the
//!   group's appends ran alone, one after another, in that order.
//! - Per append, the idempotency rule ([`check_idempotent`]) comes first, then the expected
//!   version. A refused append and a no-op write nothing; neither does an append of no events.
//! - The events written get positions `last_position + 1, + 2, ...` in group order (gap-free)
//!   and versions continuing their stream's; they share one `recorded_at`.
//! - Every event written has an id: the caller's or a fresh [`EventId::new`].

use std::collections::HashMap;
use std::sync::Arc;

use livenstore::backend::check_idempotent;
use livenstore::{
    AppendResult, EventId, ExpectedVersion, NewEvent, RecordedEvent, RecordedEventParts, StoreError,
};

use crate::codec::PgTime;
use crate::write::group_commit::Weight;

/// One call of `append`, validated (`validate_append`) and waiting for its group.
#[derive(Debug)]
pub(crate) struct AppendRequest {
    pub(crate) stream: String,
    pub(crate) expected: ExpectedVersion,
    pub(crate) events: Vec<NewEvent>,
}

impl Weight for AppendRequest {
    fn events(&self) -> usize {
        self.events.len()
    }

    fn bytes(&self) -> usize {
        self.events.iter().map(|e| e.payload().len()).sum()
    }
}

/// What the database holds that a group's decisions depend on, read under the lock.
#[derive(Debug, Default)]
pub(crate) struct GroupState {
    /// The last position stored.
    pub(crate) last_position: u64,
    /// The head's last write id (`log_head.last_write`).
    pub(crate) last_write: i64,
    /// The time the group's events are recorded at.
    pub(crate) recorded_at: PgTime,
    /// The current versions of the group's streams that exist.
    pub(crate) versions: HashMap<String, u64>,
    /// The stored events whose ids the group's callers gave.
    pub(crate) stored: HashMap<EventId, RecordedEvent>,
}

/// One event to write.
#[derive(Debug)]
pub(crate) struct Row<'a> {
    pub(crate) position: u64,
    pub(crate) id: EventId,
    pub(crate) stream: &'a str,
    pub(crate) version: u64,
    pub(crate) event: &'a NewEvent,
}

/// The decisions for a group.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    /// One outcome per request, in order; valid once the rows are committed.
    pub(crate) outcomes: Vec<Result<AppendResult, StoreError>>,
    /// The events to write, in position order.
    pub(crate) rows: Vec<Row<'a>>,
    /// The new version of every stream that gets events.
    pub(crate) stream_versions: Vec<(&'a str, u64)>,
    /// The last position after the write.
    pub(crate) last_position: u64,
}

/// Decides `requests` against `state`.
pub(crate) fn plan<'a>(requests: &'a [AppendRequest], state: &GroupState) -> Plan<'a> {
    let mut plan = Plan {
        outcomes: Vec::with_capacity(requests.len()),
        rows: Vec::new(),
        stream_versions: Vec::new(),
        last_position: state.last_position,
    };
    // Versions changed by this group, and the rows holding caller-given ids, by id.
    let mut versions: HashMap<&'a str, u64> = HashMap::new();
    let mut pending: HashMap<EventId, usize> = HashMap::new();
    for request in requests {
        let stream = request.stream.as_str();
        let outcome = decide(
            request,
            &plan.rows,
            &pending,
            state,
            versions
                .get(stream)
                .or_else(|| state.versions.get(stream))
                .copied()
                .unwrap_or(0),
        );
        match outcome {
            Decision::Done(result) => plan.outcomes.push(result),
            Decision::Store { current } => {
                let first_position = plan.last_position + 1;
                for (i, event) in request.events.iter().enumerate() {
                    let id = event.id().unwrap_or_else(EventId::new);
                    if event.id().is_some() {
                        pending.insert(id, plan.rows.len());
                    }
                    plan.rows.push(Row {
                        position: first_position + i as u64,
                        id,
                        stream,
                        version: current + 1 + i as u64,
                        event,
                    });
                }
                let count = request.events.len() as u64;
                plan.last_position += count;
                versions.insert(stream, current + count);
                plan.outcomes.push(Ok(AppendResult {
                    stream_version: current + count,
                    first_position,
                    last_position: plan.last_position,
                }));
            }
        }
    }
    plan.stream_versions = versions.into_iter().collect();
    plan
}

enum Decision {
    /// The caller's answer, nothing to write.
    Done(Result<AppendResult, StoreError>),
    /// Store the events after version `current`.
    Store { current: u64 },
}

fn decide(
    request: &AppendRequest,
    rows: &[Row<'_>],
    pending: &HashMap<EventId, usize>,
    state: &GroupState,
    current: u64,
) -> Decision {
    let find = |id: EventId| {
        Ok(match pending.get(&id) {
            Some(&row) => rows.get(row).map(|row| recorded(row, state.recorded_at)),
            None => state.stored.get(&id).cloned(),
        })
    };
    match check_idempotent(&request.stream, &request.events, find) {
        Ok(Some(result)) => return Decision::Done(Ok(result)),
        Ok(None) => {}
        Err(err) => return Decision::Done(Err(err)),
    }
    if let Err(err) = request.expected.check(&request.stream, current) {
        return Decision::Done(Err(err));
    }
    if request.events.is_empty() {
        return Decision::Done(Ok(AppendResult {
            stream_version: current,
            first_position: 0,
            last_position: 0,
        }));
    }
    Decision::Store { current }
}

/// A row of this group as the event it will be once stored.
fn recorded(row: &Row<'_>, recorded_at: PgTime) -> RecordedEvent {
    RecordedEvent::from_parts(RecordedEventParts {
        id: row.id,
        event_type: Arc::from(row.event.event_type()),
        stream: Arc::from(row.stream),
        version: row.version,
        position: row.position,
        recorded_at: recorded_at.timestamp(),
        metadata: row.event.metadata().clone(),
        payload: row.event.payload().clone(),
        event_version: row.event.event_version(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(n: u32) -> NewEvent {
        NewEvent::from_json("Tick", format!(r#"{{"n":{n}}}"#)).unwrap()
    }

    fn request(stream: &str, expected: ExpectedVersion, events: Vec<NewEvent>) -> AppendRequest {
        AppendRequest {
            stream: stream.into(),
            expected,
            events,
        }
    }

    fn result(stream_version: u64, first: u64, last: u64) -> AppendResult {
        AppendResult {
            stream_version,
            first_position: first,
            last_position: last,
        }
    }

    #[test]
    fn appends_see_the_versions_earlier_ones_leave() {
        let state = GroupState {
            last_write: 0,
            last_position: 10,
            versions: HashMap::from([("a".to_owned(), 3)]),
            ..GroupState::default()
        };
        let requests = [
            request("a", ExpectedVersion::Exact(3), vec![tick(1), tick(2)]),
            // Expected the version before the first append of the group: a conflict at 5.
            request("a", ExpectedVersion::Exact(3), vec![tick(3)]),
            request("b", ExpectedVersion::NoStream, vec![tick(4)]),
            request("a", ExpectedVersion::Exact(5), vec![tick(5)]),
            request("b", ExpectedVersion::Exact(1), vec![]),
        ];
        let plan = plan(&requests, &state);
        assert_eq!(plan.outcomes[0].as_ref().unwrap(), &result(5, 11, 12));
        match &plan.outcomes[1] {
            Err(StoreError::Conflict { actual, .. }) => assert_eq!(*actual, 5),
            other => panic!("{other:?}"),
        }
        assert_eq!(plan.outcomes[2].as_ref().unwrap(), &result(1, 13, 13));
        assert_eq!(plan.outcomes[3].as_ref().unwrap(), &result(6, 14, 14));
        assert_eq!(plan.outcomes[4].as_ref().unwrap(), &result(1, 0, 0));
        let rows: Vec<(u64, &str, u64)> = plan
            .rows
            .iter()
            .map(|r| (r.position, r.stream, r.version))
            .collect();
        assert_eq!(
            rows,
            [(11, "a", 4), (12, "a", 5), (13, "b", 1), (14, "a", 6)]
        );
        let mut versions = plan.stream_versions.clone();
        versions.sort_unstable();
        assert_eq!(versions, [("a", 6), ("b", 1)]);
        assert_eq!(plan.last_position, 14);
    }

    #[test]
    fn ids_stored_earlier_in_the_group_are_idempotent_or_refused() {
        let id = EventId::new();
        let requests = [
            request("a", ExpectedVersion::NoStream, vec![tick(1).with_id(id)]),
            // A retry in the same group: a no-op reporting where the first one stores it.
            request("a", ExpectedVersion::NoStream, vec![tick(1).with_id(id)]),
            // The same id with another payload.
            request("a", ExpectedVersion::Any, vec![tick(2).with_id(id)]),
            // In another stream.
            request("b", ExpectedVersion::Any, vec![tick(1).with_id(id)]),
        ];
        let plan = plan(&requests, &GroupState::default());
        assert_eq!(plan.outcomes[0].as_ref().unwrap(), &result(1, 1, 1));
        assert_eq!(plan.outcomes[1].as_ref().unwrap(), &result(1, 1, 1));
        for refused in &plan.outcomes[2..] {
            assert!(
                matches!(refused, Err(StoreError::DuplicateEventId { id: got, .. }) if *got == id),
                "{refused:?}"
            );
        }
        assert_eq!(plan.rows.len(), 1);
        assert_eq!(plan.rows[0].id, id, "the caller's id is kept");
    }

    #[test]
    fn ids_stored_before_the_group_come_first() {
        let id = EventId::new();
        let event = tick(1).with_id(id);
        let stored = RecordedEvent::from_parts(RecordedEventParts {
            id,
            event_type: "Tick".into(),
            stream: "a".into(),
            version: 1,
            position: 4,
            recorded_at: PgTime::UNIX_EPOCH.timestamp(),
            metadata: Default::default(),
            payload: event.payload().clone(),
            event_version: 1,
        });
        let state = GroupState {
            last_write: 0,
            last_position: 7,
            versions: HashMap::from([("a".to_owned(), 2)]),
            stored: HashMap::from([(id, stored)]),
            ..GroupState::default()
        };
        // The expectation no longer holds, but the retry is a no-op all the same.
        let requests = [request("a", ExpectedVersion::NoStream, vec![event])];
        let plan = plan(&requests, &state);
        assert_eq!(plan.outcomes[0].as_ref().unwrap(), &result(1, 4, 4));
        assert!(plan.rows.is_empty());
        assert_eq!(plan.last_position, 7);
    }

    #[test]
    fn fresh_ids_are_made_for_events_without_one() {
        let requests = [request("a", ExpectedVersion::Any, vec![tick(1), tick(2)])];
        let plan = plan(&requests, &GroupState::default());
        assert_ne!(plan.rows[0].id, plan.rows[1].id);
        assert_eq!(requests[0].bytes(), 14);
        assert_eq!(requests[0].events(), 2);
    }
}
