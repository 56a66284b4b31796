//! `read_correlated` beyond the conformance cases: the provided scan (a store that does not
//! override it), the wrappers that forward it, retention in the in-memory store, the JSON
//! store's index across reopens, read-only opens, refreshes, damage and imports; and `trace`,
//! the causal tree built on it.

use std::sync::Arc;
use std::time::Duration;

use livenstore::store::json::{Durability, JsonImporter, JsonStoreOptions};
use livenstore::store::memory::Config;
use livenstore::trace::trace;
use livenstore::{
    AppendResult, EventId, EventStore, ExpectedVersion, InMemoryStore, InMemorySubscriptionManager,
    JsonStore, Metadata, NewEvent, PublishingStore, RecordedEvent, StoreError, StreamInfo,
    Timestamp,
};

type R = Result<(), Box<dyn std::error::Error>>;

/// An in-memory store seen only through the required methods: `read_correlated` is the
/// trait's provided scan.
struct ScanOnly(InMemoryStore);

impl EventStore for ScanOnly {
    fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        self.0.append(stream, expected, events)
    }
    fn read(&self, id: EventId) -> Result<RecordedEvent, StoreError> {
        self.0.read(id)
    }
    fn read_stream(
        &self,
        stream: &str,
        from: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.0.read_stream(stream, from, max)
    }
    fn read_all(&self, from: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        self.0.read_all(from, max)
    }
    fn read_by_type(
        &self,
        event_type: &str,
        from: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.0.read_by_type(event_type, from, max)
    }
    fn read_time_range(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.0.read_time_range(from, to)
    }
    fn stream_info(&self, stream: &str) -> Result<Option<StreamInfo>, StoreError> {
        self.0.stream_info(stream)
    }
    fn streams(&self) -> Result<Vec<StreamInfo>, StoreError> {
        self.0.streams()
    }
    fn link_to_stream(&self, id: EventId, stream: &str) -> Result<u64, StoreError> {
        self.0.link_to_stream(id, stream)
    }
    fn last_position(&self) -> Result<u64, StoreError> {
        self.0.last_position()
    }
}

mod provided_scan {
    use livenstore::testing::{cases, run_case};

    fn make() -> super::ScanOnly {
        super::ScanOnly(livenstore::InMemoryStore::new())
    }

    #[test]
    fn passes_the_conformance_cases() {
        run_case(
            make,
            cases::read_correlated_returns_one_conversation_in_position_order,
        );
        run_case(make, cases::read_correlated_matches_ids_exactly);
        run_case(make, cases::read_correlated_refuses_empty_and_oversized_ids);
    }
}

mod publishing_store {
    use livenstore::testing::{cases, run_case};

    fn make() -> livenstore::PublishingStore<
        livenstore::InMemoryStore,
        livenstore::InMemorySubscriptionManager,
    > {
        livenstore::PublishingStore::new(
            livenstore::InMemoryStore::new(),
            livenstore::InMemorySubscriptionManager::new(),
        )
    }

    #[test]
    fn passes_the_conformance_cases() {
        run_case(
            make,
            cases::read_correlated_returns_one_conversation_in_position_order,
        );
        run_case(make, cases::read_correlated_refuses_empty_and_oversized_ids);
    }
}

fn said(n: u64, metadata: Metadata) -> NewEvent {
    NewEvent::from_json("Said", format!(r#"{{"n":{n}}}"#))
        .expect("valid json")
        .with_metadata(metadata)
}

fn in_conversation(n: u64, correlation_id: &str) -> NewEvent {
    said(n, Metadata::new().with_correlation_id(correlation_id))
}

fn positions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(RecordedEvent::position).collect()
}

/// The scan reads the whole log in pages: a conversation spread over more than one page is
/// found whole.
#[test]
fn the_provided_scan_crosses_pages() -> R {
    let store = ScanOnly(InMemoryStore::new());
    let batch: Vec<NewEvent> = (0..2500u64)
        .map(|n| in_conversation(n, if n % 1000 == 7 { "rare" } else { "busy" }))
        .collect();
    store.append("s-1", ExpectedVersion::NoStream, batch)?;
    assert_eq!(positions(&store.read_correlated("rare")?), [8, 1008, 2008]);
    assert_eq!(store.read_correlated("busy")?.len(), 2497);
    Ok(())
}

#[test]
fn the_pointer_wrappers_and_the_publishing_store_forward_the_lookup() -> R {
    let store = Arc::new(InMemoryStore::new());
    store.append("s-1", ExpectedVersion::Any, vec![in_conversation(1, "c")])?;
    let boxed: Box<dyn EventStore> = Box::new(Arc::clone(&store));
    let publishing = PublishingStore::new(&*store, InMemorySubscriptionManager::new());
    publishing.append("s-2", ExpectedVersion::Any, vec![in_conversation(2, "c")])?;
    for found in [
        store.read_correlated("c")?,
        boxed.read_correlated("c")?,
        <&InMemoryStore as EventStore>::read_correlated(&&*store, "c")?,
        publishing.read_correlated("c")?,
    ] {
        assert_eq!(positions(&found), [1, 2]);
    }
    // The in-memory store counts what the lookup read.
    assert!(store.stats().read >= 8);
    Ok(())
}

#[test]
fn retention_removes_expired_events_from_the_lookup() -> R {
    let store = InMemoryStore::with_config(
        Config::default()
            .retention(Duration::from_millis(40))
            .cleanup_interval(Duration::from_secs(3600)),
    );
    store.append(
        "old-1",
        ExpectedVersion::Any,
        vec![in_conversation(1, "kept"), in_conversation(2, "gone")],
    )?;
    std::thread::sleep(Duration::from_millis(60));
    store.append(
        "new-1",
        ExpectedVersion::Any,
        vec![in_conversation(3, "kept")],
    )?;
    let before = store.stats().memory_bytes;
    assert_eq!(store.purge_expired()?, 2);
    assert_eq!(positions(&store.read_correlated("kept")?), [3]);
    assert!(store.read_correlated("gone")?.is_empty());
    assert!(
        store.stats().memory_bytes < before,
        "the index shrank with the events"
    );
    store.close();
    assert!(matches!(
        store.read_correlated("kept"),
        Err(StoreError::Closed)
    ));
    Ok(())
}

fn fast() -> JsonStoreOptions {
    JsonStoreOptions::new().durability(Durability::Never)
}

/// Two conversations over three streams in a fresh JSON store at `dir`.
fn fill_json(dir: &std::path::Path) -> R {
    let store = JsonStore::open_with(dir, fast())?;
    store.append(
        "a-1",
        ExpectedVersion::Any,
        vec![in_conversation(1, "x"), in_conversation(2, "y")],
    )?;
    store.append("b-1", ExpectedVersion::Any, vec![said(3, Metadata::new())])?;
    store.append("c-1", ExpectedVersion::Any, vec![in_conversation(4, "x")])?;
    Ok(())
}

#[test]
fn the_json_index_is_rebuilt_on_open_and_kept_up_to_date() -> R {
    let dir = tempfile::tempdir()?;
    fill_json(dir.path())?;
    let store = JsonStore::open_with(dir.path(), fast())?;
    assert_eq!(
        positions(&store.read_correlated("x")?),
        [1, 4],
        "after a reopen"
    );
    assert_eq!(positions(&store.read_correlated("y")?), [2]);

    let reader = JsonStore::open_read_only(dir.path())?;
    assert_eq!(
        positions(&reader.read_correlated("x")?),
        [1, 4],
        "read-only"
    );
    store.append("d-1", ExpectedVersion::Any, vec![in_conversation(5, "x")])?;
    assert_eq!(
        positions(&store.read_correlated("x")?),
        [1, 4, 5],
        "the writer's own append"
    );
    assert_eq!(reader.refresh()?, 1);
    assert_eq!(
        positions(&reader.read_correlated("x")?),
        [1, 4, 5],
        "after a refresh"
    );
    drop(store);
    let store = JsonStore::open_with(dir.path(), fast())?;
    assert_eq!(positions(&store.read_correlated("x")?), [1, 4, 5]);
    Ok(())
}

#[test]
fn a_damaged_json_store_opened_read_only_finds_what_is_intact() -> R {
    let dir = tempfile::tempdir()?;
    fill_json(dir.path())?;
    {
        let store = JsonStore::open_with(dir.path(), fast())?;
        store.append("d-1", ExpectedVersion::Any, vec![in_conversation(5, "y")])?;
    }
    // Damage the line of position 4 (conversation x, stream c-1).
    let segment = dir.path().join("segment-00000001.jsonl");
    let text = std::fs::read_to_string(&segment)?;
    std::fs::write(&segment, text.replacen(r#"{"n":4}"#, r#"{"n":9}"#, 1))?;
    let strict = JsonStore::open_read_only(dir.path())?;
    assert_eq!(strict.recovery().damaged.len(), 1);
    assert_eq!(
        positions(&strict.read_correlated("y")?),
        [2, 5],
        "the survey indexes too"
    );
    // A damaged record's header cannot be trusted: it is under no correlation id (as under no
    // type), so the lookup returns the intact events, and does not reach the damage.
    assert_eq!(positions(&strict.read_correlated("x")?), [1]);
    assert!(
        strict.read_all(1, 10).is_err(),
        "a read that reaches it fails"
    );
    let lenient = JsonStore::open_read_only_with(dir.path(), fast().skip_damaged(true))?;
    assert_eq!(positions(&lenient.read_correlated("x")?), [1]);
    Ok(())
}

#[test]
fn an_imported_json_store_is_indexed() -> R {
    let source = InMemoryStore::new();
    source.append("a-1", ExpectedVersion::Any, vec![in_conversation(1, "x")])?;
    source.append("b-1", ExpectedVersion::Any, vec![in_conversation(2, "y")])?;
    source.append("a-1", ExpectedVersion::Any, vec![in_conversation(3, "x")])?;
    let dir = tempfile::tempdir()?;
    let mut importer = JsonImporter::create(dir.path().join("copy"), fast())?;
    for event in source.read_all(1, usize::MAX)? {
        importer.event(&event)?;
    }
    let copy = importer.finish()?;
    assert_eq!(positions(&copy.read_correlated("x")?), [1, 3]);
    assert_eq!(copy.read_correlated("x")?, source.read_correlated("x")?);
    Ok(())
}

/// `(position, depth, parent position)` of each event of a trace.
fn shape(store: &impl EventStore, id: EventId) -> Vec<(u64, usize, Option<u64>)> {
    let tree = trace(store, id).expect("trace");
    let position = |id| tree.find(id).map(|t| t.event().position());
    tree.events()
        .iter()
        .map(|t| {
            (
                t.event().position(),
                t.depth(),
                t.parent().and_then(position),
            )
        })
        .collect()
}

#[test]
fn trace_builds_the_conversation_tree_from_any_of_its_events() -> R {
    for json in [false, true] {
        let dir = tempfile::tempdir()?;
        let store: Box<dyn EventStore> = if json {
            Box::new(JsonStore::open_with(dir.path(), fast())?)
        } else {
            Box::new(InMemoryStore::new())
        };
        let caused = |cause: EventId| {
            Metadata::new()
                .with_correlation_id("req-1")
                .with_causation_id(cause.to_string())
        };
        let root = Metadata::new()
            .with_correlation_id("req-1")
            .with_causation_id("command-1");
        let first = store.append("order-1", ExpectedVersion::Any, vec![said(1, root)])?;
        let first = store.read_all(first.first_position, 1)?[0].id();
        store.append(
            "noise-1",
            ExpectedVersion::Any,
            vec![in_conversation(2, "req-2")],
        )?;
        let second = store.append(
            "stock-1",
            ExpectedVersion::Any,
            vec![said(3, caused(first))],
        )?;
        let second = store.read_all(second.first_position, 1)?[0].id();
        store.append(
            "mail-1",
            ExpectedVersion::Any,
            vec![said(4, caused(second)), said(5, caused(first))],
        )?;
        let expected = [
            (1, 0, None),
            (3, 1, Some(1)),
            (4, 2, Some(3)),
            (5, 1, Some(1)),
        ];
        assert_eq!(shape(&store, first), expected);
        assert_eq!(
            shape(&store, second),
            expected,
            "the same tree from any event"
        );
        let unknown = EventId::new();
        assert!(matches!(
            trace(&store, unknown),
            Err(StoreError::EventNotFound(id)) if id == unknown
        ));
    }
    Ok(())
}

#[test]
fn an_event_without_a_correlation_id_traces_to_itself_and_its_direct_effects() -> R {
    let store = InMemoryStore::new();
    store.append("s-1", ExpectedVersion::Any, vec![said(1, Metadata::new())])?;
    let cause = store.read_all(1, 1)?[0].id();
    let by_cause = || Metadata::new().with_causation_id(cause.to_string());
    store.append("s-2", ExpectedVersion::Any, vec![said(2, by_cause())])?;
    let child = store.read_all(2, 1)?[0].id();
    let by_child = Metadata::new().with_causation_id(child.to_string());
    store.append(
        "s-3",
        ExpectedVersion::Any,
        vec![
            said(3, by_child),
            said(4, Metadata::new()),
            said(5, by_cause()),
        ],
    )?;
    assert_eq!(
        shape(&store, cause),
        [(1, 0, None), (2, 1, Some(1)), (5, 1, Some(1))],
        "direct effects only, found by a scan of what follows"
    );
    // A child without a correlation id of its own traces to itself and its own effects.
    assert_eq!(shape(&store, child), [(2, 0, None), (3, 1, Some(2))]);
    // An id no lookup accepts counts as none.
    let odd = Metadata::new().with_correlation_id("");
    store.append("s-4", ExpectedVersion::Any, vec![said(6, odd)])?;
    let lonely = store.read_all(6, 1)?[0].id();
    assert_eq!(shape(&store, lonely), [(6, 0, None)]);
    Ok(())
}
