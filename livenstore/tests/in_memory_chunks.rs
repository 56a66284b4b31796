//! InMemoryStore keeps a stream's events inline in chunks that readers share: these tests cross
//! chunk boundaries, cut chunks short by holding reads while appending, expire whole and partial
//! chunks, and check that what a reader holds never changes.

use std::time::Duration;

use livenstore::store::memory::Config;
use livenstore::testing::event;
use livenstore::{
    EventStore, ExpectedVersion, InMemoryStore, Metadata, NewEvent, RecordedEvent, StoreError,
};

/// Event `n` of a stream; every third one carries metadata.
fn tick(n: usize) -> NewEvent {
    let event = event("Tick", &format!(r#"{{"n":{n}}}"#));
    if n.is_multiple_of(3) {
        event.with_metadata(Metadata::new().with("n", n.to_string()))
    } else {
        event
    }
}

/// Checks that `events` are versions `first..` of `stream` with the payloads `tick` gave them.
fn assert_ticks(events: &[RecordedEvent], stream: &str, first: u64) {
    for (i, e) in events.iter().enumerate() {
        let version = first + i as u64;
        assert_eq!((e.stream(), e.version()), (stream, version));
        let n = version - 1;
        assert_eq!(e.payload().as_str(), format!(r#"{{"n":{n}}}"#));
        let metadata = e.metadata().get("n");
        assert_eq!(
            metadata,
            n.is_multiple_of(3).then(|| n.to_string()).as_deref()
        );
    }
}

#[test]
fn reads_held_while_appending_never_change() -> Result<(), StoreError> {
    let store = InMemoryStore::new();
    let mut held: Vec<Vec<RecordedEvent>> = Vec::new();
    for n in 0..700 {
        store.append_one("s-1", ExpectedVersion::Exact(n as u64), tick(n))?;
        // Another stream interleaves positions; holding reads cuts chunks short.
        store.append_one("other-1", ExpectedVersion::Any, tick(n))?;
        if n % 7 == 3 || n % 97 == 0 {
            held.push(store.read_stream("s-1", 1, usize::MAX)?);
        }
    }
    let all = store.read_stream("s-1", 1, usize::MAX)?;
    assert_eq!(all.len(), 700);
    assert_ticks(&all, "s-1", 1);
    for earlier in &held {
        assert_eq!(
            earlier[..],
            all[..earlier.len()],
            "a held read is unchanged"
        );
    }
    for e in &all {
        assert_eq!(&store.read(e.id())?, e);
        assert_eq!(e.position(), 2 * e.version() - 1);
    }
    // Paging from the middle of a chunk, across chunk ends, and past the end.
    for from in [1u64, 3, 4, 5, 12, 13, 250, 253, 508, 509, 699, 700, 701] {
        for count in [0usize, 1, 2, 255, 257, 1000] {
            let page = store.read_stream("s-1", from, count)?;
            let expected = (701u64.saturating_sub(from) as usize).min(count);
            assert_eq!(page.len(), expected, "from {from} count {count}");
            assert_ticks(&page, "s-1", from);
        }
    }
    let by_position = store.read_all(1, usize::MAX)?;
    assert_eq!(by_position.len(), 1400);
    assert!(by_position
        .iter()
        .enumerate()
        .all(|(i, e)| e.position() == i as u64 + 1));
    Ok(())
}

#[test]
fn links_inside_chunks_read_in_version_order() -> Result<(), StoreError> {
    let store = InMemoryStore::new();
    for n in 0..300 {
        store.append_one("source-1", ExpectedVersion::Any, tick(n))?;
    }
    let sources = store.read_stream("source-1", 1, usize::MAX)?;
    let mut expected = Vec::new();
    for (n, source) in sources.iter().enumerate().take(150) {
        store.append_one("mixed-1", ExpectedVersion::Any, tick(n))?;
        let version = store.link_to_stream(source.id(), "mixed-1")?;
        expected.push((false, version - 1));
        expected.push((true, version));
    }
    let mixed = store.read_stream("mixed-1", 1, usize::MAX)?;
    assert_eq!(mixed.len(), 300);
    for (e, &(linked, version)) in mixed.iter().zip(&expected) {
        match e.link() {
            Some(link) => {
                assert!(linked);
                assert_eq!((link.stream.as_str(), link.version), ("mixed-1", version));
                assert_eq!(e.stream(), "source-1");
            }
            None => assert!(!linked && e.version() == version),
        }
    }
    Ok(())
}

#[test]
fn retention_drops_whole_and_partial_chunks() -> Result<(), StoreError> {
    let store = InMemoryStore::with_config(
        Config::default()
            .retention(Duration::from_millis(40))
            .cleanup_interval(Duration::from_secs(3600)),
    );
    for n in 0..600 {
        store.append_one("r-1", ExpectedVersion::Any, tick(n))?;
    }
    let held = store.read_stream("r-1", 590, usize::MAX)?;
    std::thread::sleep(Duration::from_millis(60));
    for n in 600..610 {
        store.append_one("r-1", ExpectedVersion::Any, tick(n))?;
    }
    assert_eq!(store.purge_expired()?, 600);
    let left = store.read_stream("r-1", 1, usize::MAX)?;
    assert_eq!(left.len(), 10);
    assert_ticks(&left, "r-1", 601);
    let info = store.stream_info("r-1")?.expect("the stream exists");
    assert_eq!(
        (info.event_count, info.first_version, info.last_version),
        (10, 601, 610)
    );
    assert_ticks(&held, "r-1", 590);
    assert!(matches!(
        store.read(held[0].id()),
        Err(StoreError::EventNotFound(_))
    ));
    assert_eq!(
        store
            .read_all(0, usize::MAX)?
            .iter()
            .map(|e| e.position())
            .collect::<Vec<_>>(),
        (601..=610).collect::<Vec<_>>()
    );
    // An emptied stream goes on where it stopped.
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(store.purge_expired()?, 10);
    assert!(store.read_stream("r-1", 1, usize::MAX)?.is_empty());
    let result = store.append_one("r-1", ExpectedVersion::Exact(610), tick(610))?;
    assert_eq!((result.stream_version, result.first_position), (611, 611));
    assert_ticks(&store.read_stream("r-1", 1, usize::MAX)?, "r-1", 611);
    Ok(())
}

/// A typed payload value that counts its drops.
#[derive(serde::Serialize, serde::Deserialize)]
struct Counted(u32);

static DROPPED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Drop for Counted {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl livenstore::DomainEvent for Counted {
    const EVENT_TYPE: &'static str = "Counted";
}

#[test]
fn streams_linking_each_other_are_freed_with_the_store() -> Result<(), StoreError> {
    let store = InMemoryStore::new();
    for n in 0..4 {
        let event = NewEvent::from_domain_owned(Counted(n)).map_err(|e| {
            StoreError::InvalidArgument(format!("serializing a test event failed: {e}"))
        })?;
        store.append_one(["a-1", "b-1"][n as usize % 2], ExpectedVersion::Any, event)?;
    }
    // Ids only: no read is held, so each stream's last chunk takes the other's link.
    let a = store.read_stream("a-1", 1, 1)?[0].id();
    let b = store.read_stream("b-1", 1, 1)?[0].id();
    store.link_to_stream(a, "b-1")?;
    store.link_to_stream(b, "a-1")?;
    store.link_to_stream(a, "c-1")?;
    assert_eq!(store.read_stream("a-1", 1, usize::MAX)?.len(), 3);
    assert_eq!(store.read_stream("b-1", 1, usize::MAX)?.len(), 3);
    let before = DROPPED.load(std::sync::atomic::Ordering::SeqCst);
    drop(store);
    assert_eq!(
        DROPPED.load(std::sync::atomic::Ordering::SeqCst) - before,
        4,
        "every event is freed with the store: links make no reference cycle"
    );
    Ok(())
}
