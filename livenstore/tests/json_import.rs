//! `JsonImporter`: round trip with times and links, the checks, and what a crash leaves.

use std::path::{Path, PathBuf};

use livenstore::store::json::{verify, Durability, JsonImporter, JsonStoreOptions};
use livenstore::{
    EventId, EventStore, ExpectedVersion, JsonStore, LinkInfo, Metadata, NewEvent, RecordedEvent,
    RecordedEventParts, StoreError, Timestamp,
};

type R = Result<(), Box<dyn std::error::Error>>;

fn fast() -> JsonStoreOptions {
    JsonStoreOptions::new().durability(Durability::Never)
}

fn ev(kind: &str, n: u64) -> NewEvent {
    NewEvent::from_json(kind.to_string(), format!(r#"{{"n":{n}}}"#)).expect("valid json")
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    v.sort();
    v
}

/// A store with two streams, metadata, a batch, and links into a third stream and into `b`.
fn source(dir: &Path) -> Result<JsonStore, StoreError> {
    let store = JsonStore::open_with(dir, fast())?;
    let meta = Metadata::new()
        .with_correlation_id("req-1")
        .with("user", "ada");
    store.append(
        "a",
        ExpectedVersion::NoStream,
        vec![ev("A", 1).with_metadata(meta), ev("A", 2)],
    )?;
    store.append("b", ExpectedVersion::NoStream, vec![ev("B", 3)])?;
    let first = store.read_all(1, 1)?[0].id();
    store.link_to_stream(first, "linked")?;
    store.link_to_stream(first, "b")?;
    store.append("b", ExpectedVersion::Any, vec![ev("B", 4)])?;
    let third = store.read_all(3, 1)?[0].id();
    store.link_to_stream(third, "linked")?;
    Ok(store)
}

/// The links of every stream, in the order an import needs them: events by position, each link
/// after the entries before it in its stream.
fn records(store: &JsonStore) -> Result<Vec<(RecordedEvent, Option<LinkInfo>)>, StoreError> {
    let mut links: Vec<(String, Vec<RecordedEvent>)> = Vec::new();
    for info in store.streams()? {
        let linked: Vec<RecordedEvent> = store
            .read_stream(&info.stream, 1, usize::MAX)?
            .into_iter()
            .filter(|e| e.link().is_some())
            .collect();
        links.push((info.stream, linked));
    }
    let mut out = Vec::new();
    let mut take_links_before = |stream: &str, version: u64, out: &mut Vec<_>| {
        for (name, list) in links.iter_mut() {
            if name == stream || stream.is_empty() {
                while list
                    .first()
                    .and_then(|e| e.link())
                    .is_some_and(|l| l.version < version)
                {
                    let e = list.remove(0);
                    let link = e.link().cloned();
                    out.push((e.without_link(), link));
                }
            }
        }
    };
    for event in store.read_all(1, usize::MAX)? {
        take_links_before(event.stream(), event.version(), &mut out);
        out.push((event, None));
    }
    take_links_before("", u64::MAX, &mut out);
    Ok(out)
}

fn import(
    dir: &Path,
    options: JsonStoreOptions,
    records: &[(RecordedEvent, Option<LinkInfo>)],
) -> Result<JsonStore, StoreError> {
    let mut importer = JsonImporter::create(dir, options)?;
    for (event, link) in records {
        match link {
            Some(link) => importer.link(event.id(), link)?,
            None => importer.event(event)?,
        }
    }
    importer.finish()
}

fn assert_same(a: &JsonStore, b: &JsonStore) -> R {
    assert_eq!(a.read_all(1, usize::MAX)?, b.read_all(1, usize::MAX)?);
    assert_eq!(a.streams()?, b.streams()?);
    for info in a.streams()? {
        assert_eq!(
            a.read_stream(&info.stream, 1, usize::MAX)?,
            b.read_stream(&info.stream, 1, usize::MAX)?,
            "stream {}",
            info.stream
        );
    }
    Ok(())
}

#[test]
fn import_keeps_times_links_and_metadata_across_segments() -> R {
    let (from, to) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let original = source(from.path())?;
    let records = records(&original)?;
    assert_eq!(records.len(), 7, "4 events and 3 links");
    let copy = import(to.path(), fast().segment_size(200), &records)?;
    assert!(segments(to.path()).len() > 2, "tiny segments roll");
    assert_same(&original, &copy)?;
    drop(copy);
    let reopened = JsonStore::open_read_only(to.path())?;
    assert_same(&original, &reopened)?;
    assert!(verify(to.path())?.problems.is_empty());
    // The copy goes on like any store.
    drop(reopened);
    let copy = JsonStore::open_with(to.path(), fast())?;
    let r = copy.append("a", ExpectedVersion::Exact(2), vec![ev("A", 9)])?;
    assert_eq!((r.stream_version, r.first_position), (3, 5));
    Ok(())
}

#[test]
fn import_into_an_empty_opened_store_and_not_into_a_full_one() -> R {
    let (from, to) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let original = source(from.path())?;
    drop(JsonStore::open(to.path())?);
    let copy = import(to.path(), fast(), &records(&original)?)?;
    assert_same(&original, &copy)?;
    drop(copy);
    match JsonImporter::create(to.path(), fast()) {
        Err(StoreError::InvalidArgument(m)) => assert!(m.contains("holds records"), "{m}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    match JsonImporter::create(from.path(), fast()) {
        Err(StoreError::Locked { .. }) => {}
        other => panic!("expected Locked while the source is open, got {other:?}"),
    }
    Ok(())
}

fn recorded(position: u64, stream: &str, version: u64, at: u64) -> RecordedEvent {
    RecordedEvent::from_parts(RecordedEventParts {
        id: EventId::new(),
        event_type: "T".into(),
        stream: stream.into(),
        version,
        position,
        recorded_at: Timestamp::from_unix_nanos(at),
        metadata: Metadata::new(),
        payload: livenstore::Payload::from_json("{}").expect("json"),
        event_version: 1,
    })
}

#[test]
fn records_that_break_a_rule_are_refused_and_write_nothing() -> R {
    let dir = tempfile::tempdir()?;
    let mut importer = JsonImporter::create(dir.path(), fast())?;
    let first = recorded(1, "s", 1, 100);
    importer.event(&first)?;
    let refused = [
        recorded(3, "s", 2, 100),         // position gap
        recorded(2, "s", 3, 100),         // version gap
        recorded(2, "s", 2, 99),          // time goes back
        recorded(2, "bad\nname", 1, 100), // stream name
    ];
    for event in &refused {
        assert!(importer.event(event).is_err(), "{event:?}");
    }
    let same_id = RecordedEvent::from_parts(RecordedEventParts {
        position: 2,
        version: 2,
        ..first.to_parts()
    });
    assert!(importer.event(&same_id).is_err(), "duplicate id");
    let linked = first.with_link(LinkInfo {
        stream: "t".into(),
        version: 1,
        linked_at: Timestamp::from_unix_nanos(5),
    });
    assert!(
        importer.event(&linked).is_err(),
        "a linked read is not an event"
    );
    let link = |stream: &str, version| LinkInfo {
        stream: stream.into(),
        version,
        linked_at: Timestamp::from_unix_nanos(7),
    };
    assert!(
        importer.link(EventId::new(), &link("t", 1)).is_err(),
        "unknown target"
    );
    assert!(
        importer.link(first.id(), &link("s", 2)).is_err(),
        "already in s"
    );
    assert!(
        importer.link(first.id(), &link("t", 2)).is_err(),
        "version gap"
    );
    importer.link(first.id(), &link("t", 1))?;
    importer.event(&recorded(2, "s", 2, 100))?;
    assert_eq!((importer.events(), importer.links()), (2, 1));
    let store = importer.finish()?;
    assert_eq!(store.last_position()?, 2);
    assert_eq!(store.stream_version("t")?, 1);
    assert_eq!(store.read_all(1, 1)?[0], first);
    Ok(())
}

#[test]
fn a_crash_during_an_import_leaves_a_valid_prefix() -> R {
    let (from, to) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let original = source(from.path())?;
    let records = records(&original)?;
    drop(import(to.path(), fast(), &records)?);
    let segment = segments(to.path()).pop().ok_or("no segment")?;
    let bytes = std::fs::read(&segment)?;
    let line_ends: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i] == b'\n').collect();
    assert_eq!(line_ends.len(), records.len());
    // What a crash leaves is a prefix of the bytes written: cut at every line boundary, one
    // byte after it, mid-line, and just before the newline.
    let mut cuts = vec![0, bytes.len()];
    let mut start = 0;
    for &end in &line_ends {
        cuts.extend([start + 1, (start + end) / 2, end, end + 1]);
        start = end + 1;
    }
    for cut in cuts {
        let copy = tempfile::tempdir()?;
        let target = copy.path().join(segment.file_name().ok_or("name")?);
        std::fs::write(&target, &bytes[..cut])?;
        let whole = line_ends.iter().filter(|&&end| end < cut).count();
        let store = JsonStore::open_with(copy.path(), fast())?;
        let events = records[..whole].iter().filter(|(_, l)| l.is_none()).count();
        assert_eq!(store.last_position()?, events as u64, "cut at {cut}");
        let on_boundary = cut == 0 || bytes[cut - 1] == b'\n';
        assert_eq!(
            store.recovery().torn_tail.is_none(),
            on_boundary,
            "cut {cut}"
        );
        let expected: Vec<RecordedEvent> = records[..whole]
            .iter()
            .filter(|(_, l)| l.is_none())
            .map(|(e, _)| e.clone())
            .collect();
        assert_eq!(store.read_all(1, usize::MAX)?, expected, "cut at {cut}");
    }
    Ok(())
}

#[test]
fn dropping_the_importer_keeps_what_it_wrote() -> R {
    let (from, to) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let original = source(from.path())?;
    let records = records(&original)?;
    {
        let mut importer = JsonImporter::create(to.path(), fast())?;
        importer.event(&records[0].0)?;
        importer.event(&records[1].0)?;
    }
    let store = JsonStore::open_with(to.path(), fast())?;
    assert_eq!(store.read_all(1, usize::MAX)?, original.read_all(1, 2)?);
    Ok(())
}
