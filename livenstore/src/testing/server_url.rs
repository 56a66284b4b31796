//! [`server_url`]: the URL of a backend's test server, or a skip said once.
//!
//! Invariant: the skip line is printed at most once per process for each variable, however
//! many tests and backends ask.

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Mutex, PoisonError};

/// The URL in environment variable `var`, or `None` when it is unset or empty, after printing
/// (straight to the process's standard error, which the test harness does not capture; once per
/// process and variable) `<crate>: skipping the tests that need <server>: <var> is not set (see
/// the README, section <section>)`. For backends' throw-away test resources: a test returns
/// early on `None`, so `cargo test --workspace` passes on a machine without the server, and fails
/// when the variable is set and the server is down.
///
/// # Examples
///
/// ```
/// use livenstore::testing::server_url;
///
/// let url = server_url("MY_BACKEND_TEST_URL_UNSET", "my-backend", "a Foo server", "Foo");
/// assert_eq!(url, None); // and one line on standard error
/// ```
pub fn server_url(var: &'static str, krate: &str, server: &str, section: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            static SAID: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
            let first = SAID
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert_with(HashSet::new)
                .insert(var);
            if first {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "{krate}: skipping the tests that need {server}: {var} is not set (see the \
                     README, section {section})"
                );
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_variable_is_the_url_and_an_empty_one_skips() {
        // Names of this test's own: no other test reads them.
        std::env::set_var("LIVENSTORE_SERVER_URL_TEST_SET", "nats://h:1");
        std::env::set_var("LIVENSTORE_SERVER_URL_TEST_EMPTY", "  ");
        let url = |var| server_url(var, "t", "a server", "S");
        assert_eq!(
            url("LIVENSTORE_SERVER_URL_TEST_SET").as_deref(),
            Some("nats://h:1")
        );
        assert_eq!(url("LIVENSTORE_SERVER_URL_TEST_EMPTY"), None);
        assert_eq!(
            url("LIVENSTORE_SERVER_URL_TEST_EMPTY"),
            None,
            "asked twice, said once"
        );
    }
}
