//! Waiting for a scenario's condition, with a bound.

use std::time::{Duration, Instant};

/// Waits until `done` holds, failing the scenario after 20 seconds.
#[track_caller]
pub(super) fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
