//! The stream deleted and made again under an open store.

use super::support::*;

/// Runs `call` on a thread of its own; panics when it does not return within `limit`.
fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    call: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(call());
    });
    receiver
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("{what} did not return within {limit:?}"))
}

#[test]
fn a_stream_deleted_and_recreated_under_an_open_store_is_reported_not_waited_on() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let store = three_appends(&test);
    let name = test.name().to_owned();
    let url = test.url().to_owned();
    block_on(async move {
        let js = jetstream::new(async_nats::connect(&url).await.unwrap());
        js.delete_stream(&name).await.unwrap();
    });
    // Another process opens the store: a new, empty stream of the same name.
    let other = test.connect();
    assert_eq!(other.last_position().unwrap(), 0);

    // The first store's replica holds three messages the stream no longer has: its appends
    // must fail (not wait for ever for the stream to reach them, nor write after them).
    let appender = store.clone();
    let appended = within(Duration::from_secs(15), "an append", move || {
        appender.append("s", ExpectedVersion::Any, vec![event("E", "{}".into())])
    });
    // The damage is at message 1: the first the stream no longer has.
    assert_corrupted_at(appended, 1, "append");
    let syncing = store.clone();
    let synced = within(Duration::from_secs(15), "sync", move || syncing.sync());
    assert_corrupted_at(synced, 1, "sync");
    assert_corrupted_at(store.read_all(1, 10), 1, "read_all");
    // The new stream is untouched by the first store, and usable.
    other.sync().unwrap();
    assert_eq!(other.last_position().unwrap(), 0);
    let result = other
        .append(
            "s",
            ExpectedVersion::NoStream,
            vec![event("E", "{}".into())],
        )
        .unwrap();
    assert_eq!(result.first_position, 1);
}
