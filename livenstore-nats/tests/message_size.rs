//! Message sizes: groups are cut by their exact encoded size (metadata included), a single
//! append over the server's max_payload is `PayloadTooLarge`, and an append that fits is
//! never refused (skipped when `LIVENSTORE_NATS_URL` is unset).

use std::sync::{Arc, Barrier};

use livenstore::{EventStore, ExpectedVersion, Metadata, NewEvent, StoreError};
use livenstore_nats::testing::TestStream;

/// Appends that each fit in a message, and together do not, are all stored (in several
/// groups): the group is cut by the exact encoded size, metadata included.
#[test]
fn appends_with_large_metadata_that_each_fit_are_all_stored() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let store = test.connect();
    let big = "x".repeat(300 * 1024);
    // Alone, each fits (about 300 KiB in a 1 MiB message).
    let alone = NewEvent::from_json("E", "{}")
        .unwrap()
        .with_metadata(Metadata::new().with("blob", big.clone()));
    store
        .append("alone", ExpectedVersion::Any, vec![alone])
        .expect("one append alone fits");
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let barrier = Arc::clone(&barrier);
            let big = big.clone();
            std::thread::spawn(move || {
                let e = NewEvent::from_json("E", "{}")
                    .unwrap()
                    .with_metadata(Metadata::new().with("blob", big));
                barrier.wait();
                store.append(&format!("s{i}"), ExpectedVersion::Any, vec![e])
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let failed: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| format!("{e:?}")))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of 8 appends that each fit failed: {:?}",
        failed.len(),
        failed.first()
    );
}

/// One append whose metadata alone is over the server's max_payload: the docs promise
/// `PayloadTooLarge` naming the limit.
#[test]
fn one_append_with_metadata_over_the_limit_is_payload_too_large() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let store = test.connect();
    let e = NewEvent::from_json("E", "{}")
        .unwrap()
        .with_metadata(Metadata::new().with("blob", "x".repeat(1100 * 1024)));
    let started = std::time::Instant::now();
    let r = store.append("s", ExpectedVersion::Any, vec![e]);
    assert!(
        matches!(r, Err(StoreError::PayloadTooLarge { .. })),
        "got {r:?} after {:?}",
        started.elapsed()
    );
}

/// An append of 7,000 tiny events, far under `max_payload` encoded, is stored.
#[test]
fn an_append_that_fits_is_not_payload_too_large() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let store = test.connect();
    let events: Vec<NewEvent> = (0..7000)
        .map(|_| NewEvent::from_json("E", "{}").unwrap())
        .collect();
    let r = store.append("many", ExpectedVersion::Any, events);
    assert!(r.is_ok(), "{r:?}");
}
