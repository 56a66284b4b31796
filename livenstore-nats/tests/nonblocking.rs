//! The async facade over a JetStreamStore: appends from many tokio tasks (on the caller's own
//! runtime, which the store's runtime is separate from) and reads back (skipped when
//! `LIVENSTORE_NATS_URL` is unset).

use livenstore::nonblocking::AsyncStore;
use livenstore::{EventStore, ExpectedVersion, NewEvent};
use livenstore_nats::testing::TestStream;

#[test]
fn async_store_appends_from_many_tasks() {
    let Some(stream) = TestStream::new() else {
        return;
    };
    let store = AsyncStore::new(stream.connect());
    assert!(
        store.store().blocks(),
        "network calls go to the blocking pool"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..16)
            .map(|task| {
                let store = store.clone();
                tokio::spawn(async move {
                    for n in 0..10 {
                        let event =
                            NewEvent::from_json("Ticked", format!(r#"{{"n":{n}}}"#)).unwrap();
                        store
                            .append(
                                &format!("task-{task}"),
                                ExpectedVersion::Exact(n),
                                vec![event],
                            )
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(store.last_position().await.unwrap(), 160);
        let events = store.read_all(1, usize::MAX).await.unwrap();
        let positions: Vec<u64> = events.iter().map(|e| e.position()).collect();
        assert_eq!(positions, (1..=160).collect::<Vec<_>>());
        let task_3 = store.read_stream("task-3", 1, usize::MAX).await.unwrap();
        assert_eq!(task_3.len(), 10);
    });
}
