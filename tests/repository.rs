//! Repository: load, create, get_or_create, save with optimistic concurrency, transact.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};

use common::*;
use livenstore::{
    EventStore, ExpectedVersion, InMemoryStore, Metadata, NewEvent, Repository, RepositoryError,
    StoreError,
};

fn placed(id: &str) -> OrderPlaced {
    OrderPlaced {
        order_id: id.into(),
        customer: "ada".into(),
    }
}

fn line(sku: &str, quantity: u32) -> LineAdded {
    LineAdded {
        sku: sku.into(),
        quantity,
        unit_price: 10,
    }
}

#[test]
fn save_then_load_rebuilds_the_aggregate() {
    let repo = Repository::new(InMemoryStore::new());
    let mut order = repo.create::<Order>("o-1").unwrap();
    order.apply(placed("o-1")).unwrap();
    order.apply(line("a", 2)).unwrap();
    let result = repo.save(&mut order).unwrap().expect("two events saved");
    assert_eq!(result.stream_version, 2);
    assert!(!order.has_unsaved());
    assert_eq!(
        repo.save(&mut order).unwrap(),
        None,
        "nothing to save is not an error"
    );

    let loaded = repo.load::<Order>("o-1").unwrap();
    assert_eq!(loaded.state(), order.state());
    assert_eq!((loaded.version(), loaded.saved_version()), (2, 2));

    let stored = repo
        .store()
        .read_stream("Order-o-1", 1, usize::MAX)
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].to_domain::<LineAdded>().unwrap(), line("a", 2));
}

#[test]
fn load_of_a_missing_aggregate_is_not_found() {
    let repo = Repository::new(InMemoryStore::new());
    let err = repo.load::<Order>("nope").unwrap_err();
    assert!(
        matches!(&err, RepositoryError::NotFound { stream } if stream == "Order-nope"),
        "{err:?}"
    );
    let fresh = repo.get_or_create::<Order>("nope").unwrap();
    assert_eq!(fresh.version(), 0);
}

#[test]
fn create_refuses_an_existing_aggregate() {
    let repo = Repository::new(InMemoryStore::new());
    let mut order = repo.create::<Order>("o-1").unwrap();
    order.apply(placed("o-1")).unwrap();
    repo.save(&mut order).unwrap();
    let err = repo.create::<Order>("o-1").unwrap_err();
    assert!(
        matches!(err, RepositoryError::AlreadyExists { .. }),
        "{err:?}"
    );
}

#[test]
fn two_writers_from_one_version_cannot_both_win() {
    let repo = Repository::new(InMemoryStore::new());
    let mut order = repo.create::<Order>("o-1").unwrap();
    order.apply(placed("o-1")).unwrap();
    repo.save(&mut order).unwrap();

    let mut first = repo.load::<Order>("o-1").unwrap();
    let mut second = repo.load::<Order>("o-1").unwrap();
    first.apply(line("a", 1)).unwrap();
    second.apply(line("b", 1)).unwrap();
    repo.save(&mut first).unwrap();
    let err = repo.save(&mut second).unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    match err {
        RepositoryError::Store(StoreError::Conflict {
            stream,
            expected,
            actual,
        }) => {
            assert_eq!(stream, "Order-o-1");
            assert_eq!(expected, ExpectedVersion::Exact(1));
            assert_eq!(actual, 2);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    match second.unsaved() {
        [OrderEvent::LineAdded(kept)] => assert_eq!(kept, &line("b", 1)),
        other => panic!("the loser keeps its unsaved events, unchanged: {other:?}"),
    }
    assert_eq!((second.version(), second.saved_version()), (2, 1));
    // Once it reloads at the winner's version, the same events save.
    let kept = second.collect_unsaved();
    let mut retry = repo.load::<Order>("o-1").unwrap();
    for event in kept {
        retry.apply(event).unwrap();
    }
    repo.save(&mut retry).unwrap();
    let loaded = repo.load::<Order>("o-1").unwrap();
    assert_eq!(loaded.lines, [("a".to_string(), 1), ("b".to_string(), 1)]);
}

#[test]
fn save_keeps_typed_values_for_in_memory_replay() {
    let repo = Repository::new(InMemoryStore::new());
    let mut order = repo.create::<Order>("o-1").unwrap();
    order.apply(placed("o-1")).unwrap();
    order.apply(line("a", 2)).unwrap();
    repo.save(&mut order).unwrap();
    let stored = repo
        .store()
        .read_stream("Order-o-1", 1, usize::MAX)
        .unwrap();
    assert_eq!(
        stored[1].payload().typed::<LineAdded>(),
        Some(&line("a", 2))
    );
    assert_eq!(
        stored[1].payload().as_str(),
        serde_json::to_string(&line("a", 2)).unwrap(),
        "the JSON is the typed value serialized"
    );
}

#[test]
fn save_with_metadata_stamps_every_event() {
    let repo = Repository::new(InMemoryStore::new());
    let mut order = repo.create::<Order>("o-1").unwrap();
    order.apply(placed("o-1")).unwrap();
    order.apply(line("a", 1)).unwrap();
    let meta = Metadata::new()
        .with_correlation_id("req-7")
        .with("user", "ada");
    repo.save_with_metadata(&mut order, &meta).unwrap();
    for event in repo
        .store()
        .read_stream("Order-o-1", 1, usize::MAX)
        .unwrap()
    {
        assert_eq!(event.metadata(), &meta);
    }
}

#[test]
fn transact_retries_on_conflict_and_applies_on_fresh_state() {
    let repo = Repository::new(InMemoryStore::new());
    let mut order = repo.create::<Order>("o-1").unwrap();
    order.apply(placed("o-1")).unwrap();
    repo.save(&mut order).unwrap();

    // The first attempt is raced by another writer; the second attempt sees its event.
    let calls = AtomicU32::new(0);
    repo.transact::<Order, _, _>("o-1", |order| {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            let racer = NewEvent::from_domain(&line("racer", 1)).unwrap();
            repo.store()
                .append("Order-o-1", ExpectedVersion::Exact(1), vec![racer])
                .unwrap();
        }
        order.apply(line("mine", 1))
    })
    .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let loaded = repo.load::<Order>("o-1").unwrap();
    assert_eq!(
        loaded.lines,
        [("racer".to_string(), 1), ("mine".to_string(), 1)]
    );
}

/// A `transact` on order `o-1` that every attempt loses: someone else writes the next version
/// first each time. Counts the attempts in `calls`.
fn always_raced(
    repo: &Repository<InMemoryStore>,
    calls: &AtomicU32,
) -> RepositoryError<OrderError> {
    repo.transact::<Order, _, _>("o-1", |order| {
        calls.fetch_add(1, Ordering::SeqCst);
        let version = repo.store().stream_version("Order-o-1").unwrap();
        let racer = NewEvent::from_domain(&line("racer", 1)).unwrap();
        repo.store()
            .append("Order-o-1", ExpectedVersion::Exact(version), vec![racer])
            .unwrap();
        order.apply(line("mine", 1))
    })
    .unwrap_err()
}

#[test]
fn transact_gives_up_after_the_configured_attempts() {
    let repo = Repository::new(InMemoryStore::new()).with_max_attempts(3);
    let calls = AtomicU32::new(0);
    let err = always_raced(&repo, &calls);
    assert!(err.is_conflict(), "{err:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[test]
fn a_conflict_backoff_sets_the_attempts_and_waits_between_them() {
    let policy = livenstore::pubsub::RetryPolicy::new(4)
        .backoff(
            std::time::Duration::from_millis(5),
            std::time::Duration::from_millis(20),
        )
        .without_jitter();
    let repo = Repository::new(InMemoryStore::new()).with_conflict_backoff(policy);
    let calls = AtomicU32::new(0);
    let started = std::time::Instant::now();
    let err = always_raced(&repo, &calls);
    assert!(err.is_conflict(), "{err:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    // Waits of 5, 10 and 20 ms between the four attempts (sleeps never end early).
    assert!(started.elapsed() >= std::time::Duration::from_millis(35));
}

#[test]
fn transact_returns_the_handler_error_and_saves_nothing() {
    let repo = Repository::new(InMemoryStore::new());
    let err = repo
        .transact::<Order, _, _>("o-1", |order| order.apply(line("a", 0)))
        .unwrap_err();
    assert!(
        matches!(err, RepositoryError::Handler(OrderError::ZeroQuantity)),
        "{err:?}"
    );
    assert_eq!(repo.store().stream_version("Order-o-1").unwrap(), 0);
}

#[test]
fn concurrent_transacts_lose_no_update() {
    let repo = Repository::new(InMemoryStore::new()).with_max_attempts(1000);
    let mut order = repo.create::<Order>("o-1").unwrap();
    order.apply(placed("o-1")).unwrap();
    repo.save(&mut order).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let repo = &repo;
            s.spawn(move || {
                for i in 0..25 {
                    repo.transact::<Order, _, _>("o-1", |o| o.apply(line(&format!("{t}-{i}"), 1)))
                        .unwrap();
                }
            });
        }
    });
    let loaded = repo.load::<Order>("o-1").unwrap();
    assert_eq!(loaded.version(), 101);
    assert_eq!(loaded.lines.len(), 100);
}

#[test]
fn load_reports_an_undecodable_event_with_its_stream() {
    let repo = Repository::new(InMemoryStore::new());
    let bad = NewEvent::from_json("OrderPlaced", r#"{"order_id": 5}"#).unwrap();
    repo.store()
        .append("Order-o-1", ExpectedVersion::NoStream, vec![bad])
        .unwrap();
    let err = repo.load::<Order>("o-1").unwrap_err();
    assert!(
        matches!(&err, RepositoryError::Replay { stream, .. } if stream == "Order-o-1"),
        "{err:?}"
    );
    assert!(err.to_string().contains("OrderPlaced"), "{err}");
}

/// An event whose `Serialize` fails for one value, to drive the serialization-error path.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, livenstore::DomainEvent)]
struct Noted {
    text: String,
}

impl serde::Serialize for Noted {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.text == "unwritable" {
            return Err(serde::ser::Error::custom("this note cannot be written"));
        }
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Noted", 1)?;
        s.serialize_field("text", &self.text)?;
        s.end()
    }
}

#[derive(Debug, Default, livenstore::Aggregate)]
#[aggregate(events(Noted))]
struct Notebook {
    notes: Vec<String>,
}

impl Notebook {
    fn on_noted(&mut self, event: &Noted) -> Result<(), livenstore::DomainError> {
        self.notes.push(event.text.clone());
        Ok(())
    }
}

#[test]
fn a_serialization_error_saves_nothing_and_keeps_every_unsaved_event() {
    let repo = Repository::new(InMemoryStore::new());
    let mut book = repo.create::<Notebook>("n-1").unwrap();
    for text in ["first", "unwritable", "third"] {
        book.apply(Noted { text: text.into() }).unwrap();
    }
    let err = repo.save(&mut book).unwrap_err();
    assert!(matches!(err, RepositoryError::Envelope(_)), "{err:?}");
    let kept: Vec<String> = book
        .unsaved()
        .iter()
        .map(|NotebookEvent::Noted(n)| n.text.clone())
        .collect();
    assert_eq!(kept, ["first", "unwritable", "third"]);
    assert_eq!((book.version(), book.saved_version()), (3, 0));
    assert!(repo.store().streams().unwrap().is_empty(), "nothing stored");
}
