//! Events and payloads the cases (and backends' own tests) build.

use crate::{NewEvent, Payload};

/// An event of `event_type` whose payload is `json` (which must be valid JSON).
///
/// # Panics
///
/// When `json` is not valid JSON (a mistake in the test itself).
pub fn event(event_type: &'static str, json: &str) -> NewEvent {
    match NewEvent::from_json(event_type, json) {
        Ok(event) => event,
        Err(err) => panic!("test payload {json:?} is not JSON: {err}"),
    }
}

/// A payload one byte larger than `limit` (a JSON string of `limit - 1` letters).
pub fn oversized_payload(limit: usize) -> Payload {
    let mut json = String::with_capacity(limit + 1);
    json.push('"');
    json.extend(std::iter::repeat_n('a', limit.saturating_sub(1)));
    json.push('"');
    Payload::from_trusted_json(json)
}
