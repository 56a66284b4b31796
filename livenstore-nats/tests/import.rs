//! Imports keep everything a reader sees: a store copied from memory to JetStream reads the
//! same, times included; an import that does not come next in the log is refused (skipped
//! when `LIVENSTORE_NATS_URL` is unset).

use livenstore::{
    EventStore, ExpectedVersion, InMemoryStore, LinkInfo, Metadata, NewEvent, StoreError,
};
use livenstore_nats::testing::TestStream;

fn event(n: u32) -> NewEvent {
    NewEvent::from_json("Ticked", format!(r#"{{"n":{n}}}"#))
        .unwrap()
        .with_metadata(Metadata::new().with_correlation_id(format!("c-{}", n % 2)))
}

#[test]
fn a_copied_store_reads_the_same() {
    let Some(stream) = TestStream::new() else {
        return;
    };
    let source = InMemoryStore::new();
    source
        .append(
            "a",
            ExpectedVersion::NoStream,
            vec![event(1), event(2), event(3)],
        )
        .unwrap();
    source
        .append(
            "b",
            ExpectedVersion::NoStream,
            vec![event(4).with_event_version(2)],
        )
        .unwrap();
    let first = source.read_all(1, 1).unwrap()[0].id();
    source.link_to_stream(first, "b").unwrap();
    source
        .append("a", ExpectedVersion::Exact(3), vec![event(5)])
        .unwrap();

    let target = stream.connect();
    // The events of positions 1..=4, then the link, then position 5: the log's own order.
    let all = source.read_all(1, usize::MAX).unwrap();
    let messages = target.import_events(&all[..4]).unwrap();
    assert!(
        (1..=2).contains(&messages),
        "appends of one time share a message: {messages}"
    );
    let linked = source.read_stream("b", 2, 1).unwrap().remove(0);
    target.import_link(first, linked.link().unwrap()).unwrap();
    target.import_events(&all[4..]).unwrap();

    assert_eq!(target.read_all(1, usize::MAX).unwrap(), all);
    for name in ["a", "b"] {
        assert_eq!(
            target.read_stream(name, 1, usize::MAX).unwrap(),
            source.read_stream(name, 1, usize::MAX).unwrap(),
            "stream {name}"
        );
    }
    assert_eq!(target.streams().unwrap(), source.streams().unwrap());
    assert_eq!(
        target.read_correlated("c-1").unwrap(),
        source.read_correlated("c-1").unwrap()
    );
    // A new process reads the same from the stream.
    let again = stream.connect();
    assert_eq!(again.read_all(1, usize::MAX).unwrap(), all);
    // Appends go on after the imported log.
    let result = again
        .append("a", ExpectedVersion::Exact(4), vec![event(6)])
        .unwrap();
    assert_eq!((result.first_position, result.stream_version), (6, 5));
}

#[test]
fn imports_that_do_not_come_next_are_refused_and_repeated_imports_are_no_ops() {
    let Some(stream) = TestStream::new() else {
        return;
    };
    let source = InMemoryStore::new();
    source
        .append("a", ExpectedVersion::NoStream, vec![event(1), event(2)])
        .unwrap();
    let all = source.read_all(1, usize::MAX).unwrap();
    let other = InMemoryStore::new();
    other
        .append("a", ExpectedVersion::NoStream, vec![event(1)])
        .unwrap();
    let target = stream.connect();
    let refused = |result: Result<u64, StoreError>| match result {
        Err(StoreError::InvalidArgument(reason)) => assert!(reason.contains("cannot import")),
        other => panic!("expected a refusal, got {other:?}"),
    };
    refused(target.import_events(&all[1..])); // position 2 first
    assert_eq!(target.last_position().unwrap(), 0);
    target.import_events(&all).unwrap();
    // Importing it again (say, after an error whose outcome was unknown) changes nothing.
    target.import_events(&all).unwrap();
    assert_eq!(target.read_all(1, usize::MAX).unwrap(), all);
    // Another event at a taken position is refused.
    refused(target.import_events(&other.read_all(1, 1).unwrap()));
    assert_eq!(target.last_position().unwrap(), 2);
    assert_eq!(stream.connect().last_position().unwrap(), 2);
}

#[test]
fn links_that_do_not_come_next_are_refused() {
    let Some(stream) = TestStream::new() else {
        return;
    };
    let source = InMemoryStore::new();
    source
        .append("a", ExpectedVersion::NoStream, vec![event(1)])
        .unwrap();
    let id = source.read_all(1, 1).unwrap()[0].id();
    source.link_to_stream(id, "audit").unwrap();
    let link = source.read_stream("audit", 1, 1).unwrap()[0]
        .link()
        .cloned()
        .unwrap();
    let target = stream.connect();
    let refused = |result: Result<(), StoreError>, why: &str| match result {
        Err(StoreError::InvalidArgument(reason)) => {
            assert!(reason.contains("cannot import"), "{why}: {reason}")
        }
        other => panic!("{why}: expected a refusal, got {other:?}"),
    };
    refused(
        target.import_link(id, &link),
        "a link to an event not stored",
    );
    target
        .import_events(&source.read_all(1, usize::MAX).unwrap())
        .unwrap();
    let mut later = link.clone();
    later.version = 2;
    refused(
        target.import_link(id, &later),
        "a version the stream is not at",
    );
    target.import_link(id, &link).unwrap();
    target.import_link(id, &link).unwrap(); // again: a no-op
    assert_eq!(
        target.read_stream("audit", 1, 10).unwrap(),
        source.read_stream("audit", 1, 10).unwrap()
    );
    match target.import_link(
        id,
        &LinkInfo {
            stream: "a/b".into(),
            ..link
        },
    ) {
        Err(StoreError::InvalidStreamName { .. }) => {}
        other => panic!("expected an invalid stream name, got {other:?}"),
    }
}
