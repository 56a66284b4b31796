//! [`ErrorChain`]: an error with its causes, for the messages this crate prints itself.
//!
//! Invariant: every error type of the crate either prints a cause or returns it from `source`,
//! never both, so printing the chain repeats nothing.

use std::fmt;

/// Displays an error followed by each of its causes: `error: cause: cause of the cause` (for a
/// backend's own reports, as the crate's are printed).
///
/// # Examples
///
/// ```
/// use livenstore::backend::ErrorChain;
/// use livenstore::StoreError;
///
/// let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
/// let error = StoreError::Io { path: "/x/segment".into(), source: io };
/// assert_eq!(ErrorChain(&error).to_string(), "I/O error on /x/segment: no such file");
/// ```
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'a));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreError;

    #[test]
    fn a_chain_prints_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = StoreError::Io {
            path: "/x/segment".into(),
            source: io,
        };
        assert_eq!(error.to_string(), "I/O error on /x/segment");
        assert_eq!(
            ErrorChain(&error).to_string(),
            "I/O error on /x/segment: no such file"
        );
    }
}
