//! The idempotency rule of appends, shared by every backend.
//!
//! Invariant: an append whose events all carry ids that are already stored in the same stream with
//! the same type and payload is a no-op that reports where they are; any other reuse of a stored id
//! (another stream, other content, only part of the call) is refused. The rule runs before the
//! expected-version check, so a retried append that already went through succeeds.

use crate::{AppendResult, StoreError};
use crate::{EventId, NewEvent, RecordedEvent};

/// Applies the idempotency rule to an append of `events` to `stream`, looking stored events up
/// with `find`.
///
/// Returns `Ok(Some(result))` when every event is already stored identically in `stream` (the
/// append must then store nothing and return `result`), `Ok(None)` when no event's id is stored
/// (the append goes on). Backends call it after [`validate_append`](super::validate_append),
/// which refuses an id given twice in one call.
///
/// # Errors
///
/// [`StoreError::DuplicateEventId`] when an id is stored in another stream or with another type
/// or payload, or when only some of the call's ids are stored; whatever `find` returns.
///
/// # Examples
///
/// ```
/// use livenstore::backend::check_idempotent;
/// use livenstore::{EventId, NewEvent};
///
/// let event = NewEvent::from_json("Tick", "{}").unwrap().with_id(EventId::new());
/// // Nothing stored: the append goes on.
/// assert_eq!(check_idempotent("s", &[event], |_| Ok(None)).unwrap(), None);
/// ```
pub fn check_idempotent(
    stream: &str,
    events: &[NewEvent],
    mut find: impl FnMut(EventId) -> Result<Option<RecordedEvent>, StoreError>,
) -> Result<Option<AppendResult>, StoreError> {
    let duplicate = |id, reason| Err(StoreError::DuplicateEventId { id, reason });
    let mut result: Option<AppendResult> = None;
    let mut any_missing = false;
    let mut stored: Option<EventId> = None;
    for event in events {
        let Some(found) = event.id().map(&mut find).transpose()?.flatten() else {
            any_missing = true;
            continue;
        };
        if found.stream() != stream {
            return duplicate(found.id(), "it is stored in another stream");
        }
        if found.event_type() != event.event_type() || found.payload() != event.payload() {
            return duplicate(found.id(), "it is stored with another type or payload");
        }
        stored = stored.or(Some(found.id()));
        let r = result.get_or_insert(AppendResult {
            stream_version: 0,
            first_position: found.position(),
            last_position: 0,
        });
        r.stream_version = r.stream_version.max(found.version());
        r.last_position = found.position();
    }
    match stored {
        Some(id) if any_missing => duplicate(id, "only some of the call's ids are stored"),
        _ => Ok(result),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RecordedEventParts, Timestamp};

    fn stored(event: &NewEvent, stream: &str, version: u64) -> RecordedEvent {
        RecordedEvent::from_parts(RecordedEventParts {
            id: event.id().unwrap_or_default(),
            event_type: event.event_type().into(),
            stream: stream.into(),
            version,
            position: version + 10,
            recorded_at: Timestamp::now(),
            metadata: event.metadata().clone(),
            payload: event.payload().clone(),
            event_version: 1,
        })
    }

    fn tick(json: &str) -> NewEvent {
        NewEvent::from_json("Tick", json.to_owned())
            .unwrap()
            .with_id(EventId::new())
    }

    #[test]
    fn all_stored_identically_is_a_no_op_reporting_where() {
        let events = [tick("1"), tick("2")];
        let found = [stored(&events[0], "s", 1), stored(&events[1], "s", 2)];
        let result = check_idempotent("s", &events, |id| {
            Ok(found.iter().find(|f| f.id() == id).cloned())
        })
        .unwrap();
        assert_eq!(
            result,
            Some(AppendResult {
                stream_version: 2,
                first_position: 11,
                last_position: 12
            })
        );
    }

    #[test]
    fn partial_other_stream_and_other_payload_are_refused() {
        let events = [tick("1"), tick("2")];
        let first = stored(&events[0], "s", 1);
        let partial = check_idempotent("s", &events, |id| {
            Ok((id == first.id()).then(|| first.clone()))
        });
        assert!(
            matches!(partial, Err(StoreError::DuplicateEventId { .. })),
            "{partial:?}"
        );

        let elsewhere = stored(&events[0], "other", 1);
        let moved = check_idempotent("s", &events[..1], |_| Ok(Some(elsewhere.clone())));
        assert!(
            matches!(moved, Err(StoreError::DuplicateEventId { .. })),
            "{moved:?}"
        );

        let changed = stored(&tick("3"), "s", 1);
        let other = check_idempotent("s", &events[..1], |_| Ok(Some(changed.clone())));
        assert!(
            matches!(other, Err(StoreError::DuplicateEventId { .. })),
            "{other:?}"
        );
    }

    #[test]
    fn lookup_errors_are_returned() {
        let err = check_idempotent("s", &[tick("1")], |_| Err(StoreError::Closed));
        assert!(matches!(err, Err(StoreError::Closed)), "{err:?}");
    }
}
