//! [`ExpectedVersion`]: the optimistic-concurrency condition of an append.

use std::fmt;

/// The version a stream must be at for an append to go through. Backends check it with
/// [`check`](Self::check) (the rule lives with the other append rules, in
/// [`backend`](crate::backend)).
///
/// # Examples
///
/// ```
/// use livenstore::ExpectedVersion;
///
/// assert!(ExpectedVersion::Exact(3).check("s", 3).is_ok());
/// assert!(ExpectedVersion::Exact(3).check("s", 4).is_err());
/// assert!(ExpectedVersion::NoStream.check("s", 0).is_ok());
/// assert!(ExpectedVersion::StreamExists.check("s", 0).is_err());
/// assert!(ExpectedVersion::Any.check("s", 9).is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExpectedVersion {
    /// Any version, the stream existing or not.
    #[default]
    Any,
    /// The stream must not exist yet (version 0).
    NoStream,
    /// The stream must exist (version 1 or more).
    StreamExists,
    /// The stream must be at exactly this version (0 = must not exist).
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream at version `actual` (0 = absent) satisfies this expectation.
    pub fn matches(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::StreamExists => actual > 0,
            ExpectedVersion::Exact(v) => actual == v,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::StreamExists => f.write_str("an existing stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}
