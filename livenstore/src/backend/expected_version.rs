//! The expected-version rule of appends: [`ExpectedVersion::check`].

use crate::{ExpectedVersion, StoreError};

impl ExpectedVersion {
    /// `Ok` when [`matches`](Self::matches), else the conflict error for `stream`: what a backend
    /// calls with the stream's current version before it writes (after the idempotency rule).
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] carrying the stream, this expectation and `actual`.
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore::{ExpectedVersion, StoreError};
    ///
    /// assert!(ExpectedVersion::Exact(3).check("s", 3).is_ok());
    /// match ExpectedVersion::NoStream.check("s", 2) {
    ///     Err(StoreError::Conflict { stream, actual, .. }) => assert_eq!((stream.as_str(), actual), ("s", 2)),
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    pub fn check(self, stream: &str, actual: u64) -> Result<(), StoreError> {
        if self.matches(actual) {
            Ok(())
        } else {
            Err(StoreError::Conflict {
                stream: stream.to_owned(),
                expected: self,
                actual,
            })
        }
    }
}
