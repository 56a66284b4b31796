//! The store from inside a tokio runtime: connecting (even failing to) and dropping never
//! panic (skipped, but for the unreachable case, when `LIVENSTORE_NATS_URL` is unset).

use std::time::Duration;

use livenstore::{EventStore, ExpectedVersion, NewEvent, StoreError};
use livenstore_nats::testing::TestStream;
use livenstore_nats::JetStreamStore;

fn ev(i: usize) -> NewEvent {
    NewEvent::from_json("E", format!(r#"{{"i":{i}}}"#)).unwrap()
}

/// An unreachable server, from async code (inside a tokio runtime): the docs promise a
/// `StoreError::Connection`; connection.rs drops its fresh runtime normally on that error
/// path (not `shutdown_background`), which panics inside an async context.
#[test]
fn unreachable_server_from_inside_a_tokio_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let outcome = rt.block_on(async {
        tokio::spawn(async {
            let config =
                livenstore_nats::JetStreamConfig::new().connect_timeout(Duration::from_millis(300));
            JetStreamStore::connect_with("nats://127.0.0.1:1", config).map(|_| ())
        })
        .await
    });
    match outcome {
        Ok(Err(StoreError::Connection { .. })) => {}
        Ok(other) => panic!("expected a connection error, got {other:?}"),
        Err(join) => panic!("connect_with panicked inside a runtime: {join:?}"),
    }
}

/// The same for a store that opened: dropped in async code (allowed: shutdown_background).
#[test]
fn store_used_and_dropped_inside_a_tokio_runtime() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = test.connect();
        store
            .append("a", ExpectedVersion::Any, vec![ev(1)])
            .unwrap();
        drop(store);
    });
}
