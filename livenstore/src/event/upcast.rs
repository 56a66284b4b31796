//! [`UpcastError`]: why a stored payload could not be brought to the version the code knows.
//!
//! Upcasting happens on read: the store keeps every event as it was written, with the version of
//! its type at the time ([`RecordedEvent::event_version`](super::RecordedEvent::event_version)),
//! and a [`DomainEvent`](super::DomainEvent) decodes an older version through its chain of
//! upcasts (`upcast_from = OldType`, `upcast_json(from = n, with = f)` in `#[event(...)]`).

/// Why a stored payload could not be decoded at the version the code knows.
///
/// A JSON-level upcast (`#[event(upcast_json(from = 1, with = f))]`) returns it with
/// [`UpcastError::new`] when the old payload cannot be converted.
///
/// # Examples
///
/// ```
/// use livenstore::{DomainEvent, UpcastError};
/// use serde::{Deserialize, Serialize};
///
/// /// `amount` was a string in version 1; version 2 stores a number.
/// fn amount_as_number(mut v1: serde_json::Value) -> Result<serde_json::Value, UpcastError> {
///     let text = v1["amount"].as_str().ok_or_else(|| UpcastError::new("no amount"))?;
///     let amount: u64 = text.parse().map_err(|e| UpcastError::new(format!("{e}")))?;
///     v1["amount"] = amount.into();
///     Ok(v1)
/// }
///
/// #[derive(Debug, Serialize, Deserialize, DomainEvent)]
/// #[event(name = "doc.upcast.paid", version = 2, upcast_json(from = 1, with = amount_as_number))]
/// struct Paid { amount: u64 }
///
/// assert_eq!(Paid::from_stored(1, br#"{"amount":"42"}"#).unwrap().amount, 42);
/// assert_eq!(Paid::from_stored(2, br#"{"amount":42}"#).unwrap().amount, 42);
/// assert!(matches!(
///     Paid::from_stored(1, br#"{"amount":"many"}"#),
///     Err(UpcastError::Failed { from: 1, .. })
/// ));
/// assert!(matches!(
///     Paid::from_stored(3, br#"{"amount":42}"#),
///     Err(UpcastError::Newer { stored: 3, known: 2 })
/// ));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpcastError {
    /// The stored version is newer than any this program knows (a newer build wrote it).
    #[error("version {stored} is newer than version {known}, the latest this program knows")]
    Newer {
        /// The version the event was stored with.
        stored: u32,
        /// The latest version the code knows.
        known: u32,
    },
    /// No upcast leads from the stored version to the version the code knows.
    #[error("no upcast leads from version {stored} to version {known}")]
    NoPath {
        /// The version the event was stored with.
        stored: u32,
        /// The version the code knows.
        known: u32,
    },
    /// The payload does not decode at its version (serde_json's error is the source).
    #[error("the payload does not decode as version {version}")]
    Decode {
        /// The version it was decoded as.
        version: u32,
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// An upcast refused the value (its message says why).
    #[error("the upcast from version {from} failed: {message}")]
    Failed {
        /// The version being upcast.
        from: u32,
        /// What the upcast said.
        message: String,
    },
}

impl UpcastError {
    /// The error a JSON-level upcast returns when it cannot convert an old payload. (The version
    /// it was converting from is filled in by the caller.)
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore::UpcastError;
    ///
    /// let error = UpcastError::new("the amount is missing");
    /// assert!(error.to_string().contains("the amount is missing"));
    /// ```
    pub fn new(message: impl Into<String>) -> Self {
        UpcastError::Failed {
            from: 0,
            message: message.into(),
        }
    }

    /// This error, as raised while upcasting from version `from`.
    pub(crate) fn at_version(self, from: u32) -> Self {
        match self {
            UpcastError::Failed { message, .. } => UpcastError::Failed { from, message },
            other => other,
        }
    }
}
