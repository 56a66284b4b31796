//! Stream name rules, the same for every backend.

use crate::StoreError;

/// The longest stream name allowed, in bytes.
pub const MAX_STREAM_NAME_BYTES: usize = 256;

/// Checks a stream name: non-empty, at most [`MAX_STREAM_NAME_BYTES`] bytes, no path separators
/// (`/`, `\`), no control characters, and not `.` or `..`.
///
/// # Errors
///
/// [`StoreError::InvalidStreamName`] saying what is wrong.
///
/// # Examples
///
/// ```
/// use livenstore::backend::validate_stream_name;
///
/// assert!(validate_stream_name("user-42").is_ok());
/// assert!(validate_stream_name("").is_err());
/// assert!(validate_stream_name("a/b").is_err());
/// assert!(validate_stream_name("line\nbreak").is_err());
/// ```
pub fn validate_stream_name(name: &str) -> Result<(), StoreError> {
    // One pass over the bytes for ASCII names (the common case, on every append and read).
    let (separator, control) = if name.len() > MAX_STREAM_NAME_BYTES {
        (false, false) // refused for its length below, without scanning it
    } else if name.is_ascii() {
        name.bytes().fold((false, false), |(sep, ctl), b| {
            (sep || b == b'/' || b == b'\\', ctl || b < 0x20 || b == 0x7f)
        })
    } else {
        (
            name.contains(['/', '\\']),
            name.chars().any(char::is_control),
        )
    };
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.len() > MAX_STREAM_NAME_BYTES {
        "it is longer than 256 bytes"
    } else if separator {
        "it contains a path separator"
    } else if control {
        "it contains a control character"
    } else if name == "." || name == ".." {
        "`.` and `..` are reserved"
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidStreamName {
        name: name.chars().take(100).collect(),
        reason,
    })
}

/// Whether `text` holds a control character (`char::is_control`), with a byte loop for ASCII.
#[inline]
pub(crate) fn has_control(text: &str) -> bool {
    if text.is_ascii() {
        text.bytes().any(|b| b < 0x20 || b == 0x7f)
    } else {
        text.chars().any(char::is_control)
    }
}
