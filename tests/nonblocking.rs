//! The async facade (`livenstore::nonblocking`): Send futures on blocking and non-blocking
//! stores, back-pressure and unsubscribe of delivery streams, and cancellation at random points
//! under concurrent appends that never loses or duplicates an event nor cuts an append in half.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use livenstore::nonblocking::{subscribe_stream, AsyncRepository, AsyncStore};
use livenstore::pubsub::{CatchUpOptions, EventFilter, StartFrom};
use livenstore::store::json::{Durability, JsonStoreOptions};
use livenstore::{
    Aggregate, DomainError, DomainEvent, EventStore, ExpectedVersion, InMemoryStore,
    InMemorySubscriptionManager, JsonStore, NewEvent, PublishingStore, Repository,
};
use serde::{Deserialize, Serialize};
use tokio_stream::StreamExt;

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "ledger.debited")]
struct Debited {
    command: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "ledger.credited")]
struct Credited {
    command: u64,
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(events(Debited, Credited))]
struct Ledger {
    entries: u64,
}

impl Ledger {
    fn on_debited(&mut self, _: &Debited) -> Result<(), DomainError> {
        self.entries += 1;
        Ok(())
    }
    fn on_credited(&mut self, _: &Credited) -> Result<(), DomainError> {
        self.entries += 1;
        Ok(())
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn json_store(dir: &std::path::Path) -> JsonStore {
    let options = JsonStoreOptions::new().durability(Durability::Never);
    JsonStore::open_with(dir, options).unwrap()
}

/// Polls `future` at most `polls` times (4: to its end), yielding between polls; `None` when it
/// was dropped unfinished.
async fn poll_at_most<F: std::future::Future>(future: F, polls: u64) -> Option<F::Output> {
    if polls >= 4 {
        return Some(future.await);
    }
    let mut future = std::pin::pin!(future);
    for _ in 0..polls {
        let polled =
            std::future::poll_fn(|cx| std::task::Poll::Ready(future.as_mut().poll(cx))).await;
        if let std::task::Poll::Ready(output) = polled {
            return Some(output);
        }
        tokio::task::yield_now().await;
    }
    None
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[test]
fn futures_are_send_and_work_on_blocking_and_inline_stores() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    rt.block_on(async {
        let shared = Arc::new(json_store(dir.path()));
        let json = AsyncRepository::new(Repository::new(Arc::clone(&shared)));
        let memory = AsyncRepository::new(Repository::new(InMemoryStore::new()));
        assert!(json.repository().store().blocks());
        assert!(!memory.repository().store().blocks());
        for repo in [json.clone()] {
            let task = tokio::spawn(assert_send(async move {
                repo.transact::<Ledger, _, _>("1", |l| l.apply(Debited { command: 1 }))
                    .await
            }));
            task.await.unwrap().unwrap();
        }
        let task = tokio::spawn(assert_send({
            let memory = memory.clone();
            async move {
                let mut root = memory.create::<Ledger>("1").await?;
                root.apply(Credited { command: 2 })
                    .map_err(livenstore::RepositoryError::Handler)?;
                memory.save(&mut root).await?;
                Ok::<_, livenstore::RepositoryError<DomainError>>(root.version())
            }
        }));
        assert_eq!(task.await.unwrap().unwrap(), 1);
        // save through the blocking pool gives the aggregate back, saved.
        let mut root = json.load::<Ledger>("1").await.unwrap();
        root.apply(Credited { command: 3 }).unwrap();
        json.save(&mut root).await.unwrap();
        assert_eq!(
            (root.version(), root.saved_version(), root.entries),
            (2, 2, 2)
        );
        assert!(!root.has_unsaved());

        let store = AsyncStore::from_arc(shared);
        let events = store.read_stream("Ledger-1", 1, 10).await.unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(store.read(events[1].id()).await.unwrap().version(), 2);
        assert_eq!(store.last_position().await.unwrap(), 2);
    });
}

/// 10,000 events through a stream of capacity 4, read slowly at first: the subscription never
/// runs more than the channel (and the one delivery it is handing over) ahead of the reader,
/// every event arrives once and in order, and dropping the stream unsubscribes.
#[test]
fn a_slow_stream_reader_slows_the_subscription_and_gets_every_event() {
    let rt = runtime();
    let manager = InMemorySubscriptionManager::new();
    let store = Arc::new(PublishingStore::new(InMemoryStore::new(), manager.clone()));
    let events = || {
        (0..100)
            .map(|_| NewEvent::from_json("Tick", "{}").unwrap())
            .collect()
    };
    for _ in 0..100 {
        store
            .append("ticks", ExpectedVersion::Any, events())
            .unwrap();
    }
    rt.block_on(async {
        let capacity = 4;
        let options = CatchUpOptions::new().page_size(64);
        let mut stream = subscribe_stream(
            Arc::clone(&store),
            Some(&manager),
            StartFrom::Beginning,
            EventFilter::all(),
            options,
            capacity,
        )
        .unwrap();
        let mut expected = 1;
        while expected <= 10_000 {
            let delivery = stream.next().await.unwrap();
            assert_eq!(delivery.event().position(), expected);
            if expected <= 20 {
                tokio::time::sleep(Duration::from_millis(2)).await;
                let ahead = stream.subscription().unwrap().position();
                assert!(
                    ahead <= expected + capacity as u64 + 1,
                    "the subscription ran ahead to {ahead} with {expected} read"
                );
            }
            expected += 1;
        }
        // Live events follow.
        store
            .append("ticks", ExpectedVersion::Any, events())
            .unwrap();
        let live = stream.next().await.unwrap();
        assert_eq!(live.event().position(), 10_001);
        drop(stream);
    });
    // The subscription's thread held the store: dropping the stream stopped it.
    assert_eq!(Arc::strong_count(&store), 1);
}

/// Commands of two events each, on 4 ledgers from 8 tasks, each command dropped at a random
/// point (after one to three polls) or awaited, while the others run. Afterwards every stream's versions are
/// contiguous, no event id repeats, each command's two events are both stored or both absent
/// (and adjacent), and every command that reported success is stored exactly once.
#[test]
fn dropped_commands_never_leave_half_an_append_or_lose_one() {
    let dir = tempfile::tempdir().unwrap();
    let repo = AsyncRepository::new(Repository::new(json_store(dir.path())).with_max_attempts(50));
    let rt = runtime();
    let succeeded = rt.block_on(async {
        let tasks: Vec<_> = (0..8u64)
            .map(|task| {
                let repo = repo.clone();
                tokio::spawn(async move {
                    let mut succeeded = Vec::new();
                    for i in 0..40u64 {
                        let command = task * 1_000 + i;
                        let ledger = (command % 4).to_string();
                        let run = repo.transact::<Ledger, _, _>(&ledger, move |l| {
                            l.apply(Debited { command })?;
                            l.apply(Credited { command })
                        });
                        // Dropped after 1 to 3 polls (a yield between each), or awaited to its
                        // end: a point that moves with the command and the scheduling.
                        let polls = (command * 7919) % 4 + 1;
                        if let Some(result) = poll_at_most(run, polls).await {
                            result.unwrap();
                            succeeded.push(command);
                        }
                    }
                    succeeded
                })
            })
            .collect();
        let mut succeeded = Vec::new();
        for task in tasks {
            succeeded.extend(task.await.unwrap());
        }
        succeeded
    });
    // Dropping the runtime waits for the blocking calls still running.
    drop(rt);
    let store = repo.repository().store();
    let mut seen_ids = HashSet::new();
    let mut stored = BTreeMap::<u64, usize>::new();
    for ledger in 0..4 {
        let events = store
            .read_stream(&format!("Ledger-{ledger}"), 1, usize::MAX)
            .unwrap();
        for (i, event) in events.iter().enumerate() {
            assert_eq!(event.version(), i as u64 + 1, "versions contiguous");
            assert!(seen_ids.insert(event.id()), "no id twice");
        }
        for pair in events.chunks(2) {
            let [debit, credit] = pair else {
                panic!("half an append at the end of ledger {ledger}");
            };
            let d: Debited = debit.to_domain().unwrap();
            let c: Credited = credit.to_domain().unwrap();
            assert_eq!(d.command, c.command, "a command's two events are adjacent");
            *stored.entry(d.command).or_default() += 1;
        }
    }
    assert!(stored.values().all(|&n| n == 1), "a command stored twice");
    for command in &succeeded {
        assert_eq!(stored.get(command), Some(&1), "command {command} lost");
    }
    assert!(
        succeeded.len() < 320,
        "some commands must have been dropped for this test to mean anything"
    );
}
