//! What every backend checks of an append's input before it writes: event type names and
//! versions, payload sizes, ids given twice in one call; and of a lookup by correlation id.

use super::stream_name::{has_control, validate_stream_name};
use crate::{NewEvent, StoreError};

/// The largest payload a store accepts by default, in bytes of JSON text (16 MiB).
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;

/// The largest event version a store accepts ([`NewEvent::event_version`]): `i32::MAX`, so that
/// every backend can keep it in a 32-bit signed column.
pub const MAX_EVENT_VERSION: u32 = i32::MAX as u32;

/// The longest correlation id [`EventStore::read_correlated`](crate::EventStore::read_correlated)
/// looks up, in bytes (1 KiB: a UUID is 36, a W3C trace id 32). Appends do not limit metadata, so
/// an event may carry a longer one; no lookup finds it, and the built-in stores do not index it.
pub const MAX_CORRELATION_ID_BYTES: usize = 1024;

/// Checks a correlation id to look up: not empty, at most [`MAX_CORRELATION_ID_BYTES`]. Every
/// store calls it first in [`read_correlated`](crate::EventStore::read_correlated), so every
/// store refuses the same ids.
///
/// # Errors
///
/// [`StoreError::InvalidArgument`] saying what is wrong.
///
/// # Examples
///
/// ```
/// use livenstore::backend::{validate_correlation_id, MAX_CORRELATION_ID_BYTES};
///
/// assert!(validate_correlation_id("req-42").is_ok());
/// assert!(validate_correlation_id("").is_err());
/// assert!(validate_correlation_id(&"x".repeat(MAX_CORRELATION_ID_BYTES + 1)).is_err());
/// ```
pub fn validate_correlation_id(correlation_id: &str) -> Result<(), StoreError> {
    if correlation_id.is_empty() {
        return Err(StoreError::InvalidArgument(
            "the correlation id to look up is empty".to_owned(),
        ));
    }
    if correlation_id.len() > MAX_CORRELATION_ID_BYTES {
        return Err(StoreError::InvalidArgument(format!(
            "the correlation id to look up is {} bytes long, over the limit of \
             {MAX_CORRELATION_ID_BYTES}",
            correlation_id.len()
        )));
    }
    Ok(())
}

/// Whether `correlation_id` is one a lookup may ask for ([`validate_correlation_id`]): what
/// the built-in stores' correlation indexes hold, so an id no lookup can find costs nothing.
#[inline]
pub(crate) fn is_indexable_correlation_id(correlation_id: &str) -> bool {
    !correlation_id.is_empty() && correlation_id.len() <= MAX_CORRELATION_ID_BYTES
}

/// Checks an event version: from 1 to [`MAX_EVENT_VERSION`].
///
/// # Errors
///
/// [`StoreError::InvalidArgument`] saying what is wrong.
///
/// # Examples
///
/// ```
/// use livenstore::backend::{validate_event_version, MAX_EVENT_VERSION};
///
/// assert!(validate_event_version(1).is_ok());
/// assert!(validate_event_version(MAX_EVENT_VERSION).is_ok());
/// assert!(validate_event_version(0).is_err());
/// assert!(validate_event_version(MAX_EVENT_VERSION + 1).is_err());
/// ```
pub fn validate_event_version(version: u32) -> Result<(), StoreError> {
    if version == 0 || version > MAX_EVENT_VERSION {
        return Err(StoreError::InvalidArgument(format!(
            "event version {version} is out of range: versions run from 1 to {MAX_EVENT_VERSION}"
        )));
    }
    Ok(())
}

/// Checks an event type name: non-empty, at most 256 bytes, no control characters.
///
/// # Errors
///
/// [`StoreError::InvalidEventType`] saying what is wrong.
///
/// # Examples
///
/// ```
/// use livenstore::backend::validate_event_type;
///
/// assert!(validate_event_type("order.placed").is_ok());
/// assert!(validate_event_type("").is_err());
/// ```
pub fn validate_event_type(event_type: &str) -> Result<(), StoreError> {
    let reason = if event_type.is_empty() {
        "it is empty"
    } else if event_type.len() > 256 {
        "it is longer than 256 bytes"
    } else if has_control(event_type) {
        "it contains a control character"
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidEventType {
        event_type: event_type.chars().take(100).collect(),
        reason,
    })
}

/// Checks what every backend checks of an append's input: the stream name, each event's type,
/// version and payload size (against `max_payload`), and that no id is given twice in the call. Call it first
/// in `append`, before anything is read or written.
///
/// # Errors
///
/// The first problem found.
///
/// # Examples
///
/// ```
/// use livenstore::backend::{validate_append, MAX_PAYLOAD_BYTES};
/// use livenstore::NewEvent;
///
/// let event = NewEvent::from_json("Tick", "{}").unwrap();
/// assert!(validate_append("clock-1", &[event.clone()], MAX_PAYLOAD_BYTES).is_ok());
/// assert!(validate_append("a/b", &[event], MAX_PAYLOAD_BYTES).is_err());
/// ```
pub fn validate_append(
    stream: &str,
    events: &[NewEvent],
    max_payload: usize,
) -> Result<(), StoreError> {
    validate_stream_name(stream)?;
    check_no_repeated_id(events)?;
    let mut checked_type = None;
    for event in events {
        // Batches mostly repeat one type: check it again only when it changes.
        if checked_type != Some(event.event_type()) {
            validate_event_type(event.event_type())?;
            checked_type = Some(event.event_type());
        }
        validate_event_version(event.event_version())?;
        check_payload_size(event.payload().len(), max_payload)?;
    }
    Ok(())
}

/// Refuses a payload of `size` bytes over `limit` with [`StoreError::PayloadTooLarge`] (part of
/// [`validate_append`], for backends that take events another way, such as an import).
///
/// # Errors
///
/// [`StoreError::PayloadTooLarge`].
///
/// # Examples
///
/// ```
/// use livenstore::backend::check_payload_size;
///
/// assert!(check_payload_size(10, 10).is_ok());
/// assert!(check_payload_size(11, 10).is_err());
/// ```
#[inline]
pub fn check_payload_size(size: usize, limit: usize) -> Result<(), StoreError> {
    if size > limit {
        return Err(StoreError::PayloadTooLarge { size, limit });
    }
    Ok(())
}

/// Checks that no id is given twice in one call's `events` (part of [`validate_append`]).
///
/// # Errors
///
/// [`StoreError::DuplicateEventId`] naming the first repeated id.
///
/// # Examples
///
/// ```
/// use livenstore::backend::check_no_repeated_id;
/// use livenstore::{EventId, NewEvent};
///
/// let id = EventId::new();
/// let event = NewEvent::from_json("Tick", "{}").unwrap().with_id(id);
/// assert!(check_no_repeated_id(&[event.clone()]).is_ok());
/// assert!(check_no_repeated_id(&[event.clone(), event]).is_err());
/// ```
pub fn check_no_repeated_id(events: &[NewEvent]) -> Result<(), StoreError> {
    if events.iter().filter(|e| e.id().is_some()).nth(1).is_some() {
        let mut seen = std::collections::HashSet::with_capacity(events.len());
        for id in events.iter().filter_map(NewEvent::id) {
            if !seen.insert(id) {
                return Err(StoreError::DuplicateEventId {
                    id,
                    reason: "the call holds it twice",
                });
            }
        }
    }
    Ok(())
}
