//! The test kit's replay check: the state a command reached must be the state its events give
//! when a store hands them back (encoded to JSON, decoded by type name, replayed).
//!
//! The check, for the events a command produced after the given ones:
//! 1. each event encodes, decodes from its own JSON, and encodes again to the same JSON;
//! 2. two aggregates rebuilt from the given events take the produced events in lockstep, one
//!    applying each event's value, the other replaying it from JSON: after every event their
//!    states are equal (else that event's handler depends on something besides its state and
//!    event, or its JSON loses something);
//! 3. the state rebuilt from JSON equals the state the command left.
//!
//! States compare with [`Aggregate::state_eq`] (`PartialEq`, when the type has it), else by their
//! `Debug` output.

use std::fmt::Debug;

use super::event_diff::{debug_side_by_side, Compared};
use crate::{
    Aggregate, AggregateEvent, AggregateRoot, EventId, Payload, RecordedEvent, RecordedEventParts,
    Timestamp,
};

/// `event` as a store would hand it back as version `version` of `stream`: its JSON only.
pub(crate) fn recorded<A: Aggregate>(
    event: &A::Event,
    stream: &str,
    version: u64,
) -> Result<RecordedEvent, String>
where
    A::Event: Debug,
{
    let new_event = event.to_new_event().map_err(|err| {
        format!(
            "{} does not serialize: {err}\n  {event:?}",
            event.event_type()
        )
    })?;
    let payload = Payload::from_json(new_event.payload().as_str())
        .map_err(|err| format!("{} is not JSON: {err}", event.event_type()))?;
    Ok(RecordedEvent::from_parts(RecordedEventParts {
        id: EventId::new(),
        event_type: new_event.event_type().into(),
        stream: stream.into(),
        version,
        position: version,
        recorded_at: Timestamp::now(),
        metadata: new_event.metadata().clone(),
        payload,
        event_version: new_event.event_version(),
    }))
}

/// `event` as the kit compares it.
pub(crate) fn compared<E: AggregateEvent + Debug>(event: &E) -> Result<Compared, String> {
    let new_event = event.to_new_event().map_err(|err| {
        format!(
            "{} does not serialize: {err}\n  {event:?}",
            event.event_type()
        )
    })?;
    let json = new_event
        .payload()
        .to_value()
        .map_err(|err| format!("{} is not JSON: {err}", event.event_type()))?;
    Ok(Compared {
        event_type: new_event.event_type().to_owned(),
        json,
        debug: format!("{event:?}"),
    })
}

/// Whether two states are equal: `PartialEq` when the type has it, else `Debug` output.
pub(crate) fn same_state<A: Aggregate + Debug>(a: &A, b: &A) -> bool {
    a.state_eq(b)
        .unwrap_or_else(|| format!("{a:?}") == format!("{b:?}"))
}

/// The check (see the module doc) of `root`, which was rebuilt from `given` and then took its
/// unsaved events; `Err` says what fails and at which event.
pub(crate) fn check<A>(root: &AggregateRoot<A>, given: &[RecordedEvent]) -> Result<(), String>
where
    A: Aggregate + Debug,
    A::Event: Clone + Debug,
{
    let stream = root.stream_name();
    let mut by_value = rebuilt::<A>(root.id(), given)?;
    let mut by_json = rebuilt::<A>(root.id(), given)?;
    for (i, event) in root.unsaved().iter().enumerate() {
        let number = given.len() + i + 1;
        let what = format!("event {} of `when` ({})", i + 1, event.event_type());
        let stored = recorded::<A>(event, &stream, number as u64)
            .map_err(|problem| format!("{what}: {problem}"))?;
        round_trips::<A>(event, &stored).map_err(|problem| format!("{what}: {problem}"))?;
        by_value
            .apply(event.clone())
            .map_err(|err| format!("{what}: its handler fails applied again: {err:?}"))?;
        by_json
            .replay(&stored)
            .map_err(|err| format!("{what}: it cannot be replayed from its JSON: {err}"))?;
        if !same_state(by_value.state(), by_json.state()) {
            // The state before it, rebuilt only now: formatting it ahead of every event cost
            // each passing scenario a `Debug` of the state per event.
            let mut before = rebuilt::<A>(root.id(), given)?;
            for earlier in &root.unsaved()[..i] {
                before
                    .apply(earlier.clone())
                    .map_err(|err| format!("{what}: {err:?}"))?;
            }
            let before = format!("{:#?}", before.state());
            return Err(format!(
                "{what} gives another state replayed from its JSON than applied: its handler \
                 depends on something besides the state and the event, or its JSON loses \
                 something\n  event: {event:?}\n  JSON: {}\n  state before it:\n{before}\n\
                 applied (left) and replayed from JSON (right):\n{}",
                stored.payload().as_str(),
                debug_side_by_side(
                    &format!("{:#?}", by_value.state()),
                    &format!("{:#?}", by_json.state())
                )
            ));
        }
    }
    if !same_state(root.state(), by_json.state()) {
        let produced: Vec<&str> = root.unsaved().iter().map(|e| e.event_type()).collect();
        return Err(format!(
            "the state `when` reached is not the state its events give: rebuilt from the {} given \
             events and the {} it produced ({}), replayed from JSON, the state differs; \
             something changed the state outside an event's handler\n\
             reached by `when` (left) and rebuilt (right):\n{}",
            given.len(),
            produced.len(),
            produced.join(", "),
            debug_side_by_side(
                &format!("{:#?}", root.state()),
                &format!("{:#?}", by_json.state())
            )
        ));
    }
    Ok(())
}

/// An aggregate `id` with `given` replayed.
fn rebuilt<A: Aggregate>(id: &str, given: &[RecordedEvent]) -> Result<AggregateRoot<A>, String>
where
    A::Error: Debug,
{
    let mut root = AggregateRoot::<A>::new(id);
    root.replay_all(given)
        .map_err(|err| format!("the given events cannot be replayed again: {err}"))?;
    Ok(root)
}

/// `event` decodes from its stored JSON (`stored`) and encodes again to the same JSON.
fn round_trips<A>(event: &A::Event, stored: &RecordedEvent) -> Result<(), String>
where
    A: Aggregate,
    A::Event: Debug,
{
    let json = stored.payload().as_str();
    let decoded = A::Event::decode(stored.event_type(), stored.event_version(), json.as_bytes())
        .map_err(|err| {
            format!(
                "it does not decode from its own JSON: {err}\n  event: {event:?}\n  JSON: {json}"
            )
        })?;
    let again = decoded
        .to_new_event()
        .map_err(|err| format!("decoded from its JSON, it does not serialize again: {err}"))?;
    let (first, second) = (stored.payload().to_value(), again.payload().to_value());
    if first.ok() != second.ok() {
        return Err(format!(
            "it does not round-trip through serde: written as {json}, read back as \
             {decoded:?}, which writes {}",
            again.payload().as_str()
        ));
    }
    Ok(())
}
