//! Helpers shared by the pub/sub behaviour tests.
#![allow(dead_code)]

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use livenstore::{
    EventId, Metadata, NewEvent, Payload, RecordedEvent, RecordedEventParts, Timestamp,
};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Longest wait for something that should happen quickly.
pub const WAIT: Duration = Duration::from_secs(10);

/// A recorded event at `position`, without a store.
pub fn event(position: u64, event_type: &str, stream: &str) -> RecordedEvent {
    RecordedEvent::from_parts(RecordedEventParts {
        id: EventId::new(),
        event_type: event_type.into(),
        stream: stream.into(),
        version: position,
        position,
        recorded_at: Timestamp::now(),
        metadata: Metadata::new(),
        payload: Payload::from_json("{}").expect("valid JSON"),
        event_version: 1,
    })
}

/// A new event of `event_type` with payload `{"n": n}`.
pub fn new_event(event_type: &'static str, n: u64) -> NewEvent {
    NewEvent::new(
        event_type,
        Payload::from_json(format!("{{\"n\":{n}}}")).expect("valid JSON"),
    )
}

/// Receives `count` values, failing after [`WAIT`].
pub fn recv_n<T>(rx: &Receiver<T>, count: usize) -> Result<Vec<T>, String> {
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        match rx.recv_timeout(WAIT) {
            Ok(v) => out.push(v),
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!("timed out after {} of {count}", out.len()))
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(format!("disconnected after {} of {count}", out.len()))
            }
        }
    }
    Ok(out)
}

/// Asserts nothing more arrives within a short while.
pub fn assert_quiet<T: std::fmt::Debug>(rx: &Receiver<T>) {
    if let Ok(v) = rx.recv_timeout(Duration::from_millis(50)) {
        panic!("unexpected delivery: {v:?}");
    }
}

/// Waits (yielding) until `condition` holds, failing after [`WAIT`]. For states that nothing
/// signals, such as a catch-up subscription turning live.
pub fn wait_until(mut condition: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = std::time::Instant::now() + WAIT;
    while !condition() {
        if std::time::Instant::now() > deadline {
            return Err("condition not reached in time".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}
