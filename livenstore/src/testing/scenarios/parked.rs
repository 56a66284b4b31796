//! Parked events kept by the backend: a poison event parked, then replayed on request.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::wait::wait_for;
use crate::pubsub::{
    CatchUpOptions, CheckpointStore, Consumer, EventFilter, ParkedEventStore, RetryPolicy,
};
use crate::{EventStore, ExpectedVersion, InMemorySubscriptionManager, NewEvent};

/// A consumer parks a poison event in the backend and goes on; a replay asked from another
/// handle re-delivers it once the handler is fixed, and the record and the request are gone.
///
/// `connect` opens a handle on the same, empty place each call (the scenario opens two: the
/// consumer's and, for the command-line tool, another); `checkpoints` and `parked` open a
/// handle's checkpoint and parked-event stores. Proves: the events after the poison are handled
/// (total 3), exactly one record is visible to the other handle (consumer `sum`, position 2, 2
/// attempts), a replay requested through it reaches the running consumer (total 103), and the
/// consumer then removes the record and clears the request.
///
/// Backends call it as in the [module example](super).
pub fn a_poison_event_is_parked_and_replayed_on_request<S, C, P>(
    connect: impl Fn() -> S,
    checkpoints: impl Fn(&S) -> C,
    parked: impl Fn(&S) -> P,
) where
    S: EventStore + 'static,
    C: CheckpointStore + 'static,
    P: ParkedEventStore + 'static,
{
    let store = Arc::new(connect());
    let (checkpoints, parked_here) = (Arc::new(checkpoints(&store)), Arc::new(parked(&store)));
    for body in ["1", "\"poison\"", "2"] {
        let event = NewEvent::from_json("Counted", body).unwrap();
        store
            .append("counter", ExpectedVersion::Any, vec![event])
            .unwrap();
    }
    let total = Arc::new(AtomicU64::new(0));
    let fixed = Arc::new(AtomicBool::new(false));
    let (sum, ok) = (Arc::clone(&total), Arc::clone(&fixed));
    let running = Consumer::new("sum", checkpoints)
        .unwrap()
        .options(CatchUpOptions::new().poll_interval(Duration::from_millis(10)))
        .retry(RetryPolicy::new(2).backoff(Duration::ZERO, Duration::ZERO))
        .park_to(parked_here)
        .start(
            store,
            &InMemorySubscriptionManager::new(),
            EventFilter::all(),
            move |d| {
                let value = d.event().payload().to_value()?;
                let n = match value.as_u64() {
                    Some(n) => n,
                    None if ok.load(Ordering::SeqCst) => 100,
                    None => return Err("not a number".into()),
                };
                sum.fetch_add(n, Ordering::SeqCst);
                Ok(())
            },
        )
        .unwrap();
    wait_for("the events after the poison", || {
        total.load(Ordering::SeqCst) == 3
    });
    // Another handle (the CLI) sees it and asks for a replay.
    let other = parked(&connect());
    let listed = other.list(None).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (
            listed[0].consumer.as_str(),
            listed[0].position,
            listed[0].attempts
        ),
        ("sum", 2, 2)
    );
    fixed.store(true, Ordering::SeqCst);
    other.request_replay("sum").unwrap();
    wait_for("the replay", || total.load(Ordering::SeqCst) == 103);
    wait_for("the record removed", || {
        other.list(Some("sum")).unwrap().is_empty() && !other.replay_requested("sum").unwrap()
    });
    running.stop();
}
