//! How a conformance case runs: on a fresh store, its guard dropped after it.

use crate::EventStore;

/// Makes a store with `make` and runs `case` on it (what [`conformance_tests!`](crate::conformance_tests) expands to).
pub fn run_case<S: EventStore, F: FnOnce() -> S>(make: F, case: fn(&S)) {
    let store = make();
    case(&store);
}

/// Makes a `(store, guard)` pair with `make`, runs `case` on the store, then drops the store
/// before the guard.
pub fn run_case_with_guard<S: EventStore, G, F: FnOnce() -> (S, G)>(make: F, case: fn(&S)) {
    let (store, guard) = make();
    case(&store);
    drop(store);
    drop(guard);
}

/// Makes an optional `(store, guard)` pair with `make` and runs `case` on the store, then drops the
/// store before the guard. When `make` returns `None` (a backend whose server is not configured)
/// the case does nothing: `make` itself says why, once.
pub fn run_case_skippable<S: EventStore, G, F: FnOnce() -> Option<(S, G)>>(make: F, case: fn(&S)) {
    if let Some((store, guard)) = make() {
        case(&store);
        drop(store);
        drop(guard);
    }
}
