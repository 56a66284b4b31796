//! Damage is never silent and bytes are never discarded: torn tails go to quarantine files,
//! a damaged line (last or not) is corruption that refuses writes but not reads of what it does
//! not touch, and `repair` moves damaged lines to a quarantine file keeping every intact event
//! with its id, position and version.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use livenstore::store::json::{
    list_quarantine, repair, verify, Durability, JsonStoreOptions, QuarantineKind, RecoveryReport,
};
use livenstore::{EventStore, ExpectedVersion, JsonStore, NewEvent, RecordedEvent, StoreError};

type R = Result<(), Box<dyn std::error::Error>>;

fn ev(n: u64) -> NewEvent {
    NewEvent::from_json(
        "Counted",
        format!(r#"{{"n":{n},"note":"some payload text"}}"#),
    )
    .expect("valid json")
}

fn fast() -> JsonStoreOptions {
    JsonStoreOptions::new().durability(Durability::Never)
}

fn segment(dir: &Path) -> PathBuf {
    dir.join("segment-00000001.jsonl")
}

/// The byte ranges of the segment's lines (newline included).
fn lines(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            out.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < bytes.len() {
        out.push((start, bytes.len()));
    }
    out
}

/// Flips one bit `at` bytes into line `line` (0-based) of the first segment; returns the line
/// as it is now (damaged).
fn flip(dir: &Path, line: usize, at: usize) -> std::io::Result<Vec<u8>> {
    let path = segment(dir);
    let mut bytes = std::fs::read(&path)?;
    let (start, end) = lines(&bytes)[line];
    bytes[start + at] ^= 0x02;
    std::fs::write(&path, &bytes)?;
    Ok(bytes[start..end].to_vec())
}

fn five_appends(dir: &Path) -> R {
    let store = JsonStore::open_with(dir, fast())?;
    for n in 1..=5 {
        store.append("s", ExpectedVersion::Any, vec![ev(n)])?;
    }
    Ok(())
}

#[test]
fn a_flipped_bit_in_the_last_line_is_corruption_and_the_event_is_quarantined_not_lost() -> R {
    let dir = tempfile::tempdir()?;
    five_appends(dir.path())?;
    let original = flip(dir.path(), 4, 40)?;

    // verify: corruption, not a torn tail.
    let report = verify(dir.path())?;
    assert_eq!(report.problems.len(), 1, "{report:?}");
    assert_eq!(
        (report.problems[0].line, report.problems[0].torn_tail),
        (5, false)
    );
    assert!(!report.is_healthy());

    // A writer refuses to build on it, naming the file and line and the way out.
    match JsonStore::open_with(dir.path(), fast()) {
        Err(StoreError::Corrupted { path, line, reason }) => {
            assert_eq!((path, line), (segment(dir.path()), 5));
            assert!(reason.contains("repair"), "{reason}");
        }
        other => panic!("expected Corrupted, got {other:?}"),
    }
    assert_eq!(
        std::fs::read(segment(dir.path()))?.len(),
        5 * original.len(),
        "nothing cut"
    );

    // Readers see what is intact and are told about the rest.
    let reader = JsonStore::open_read_only(dir.path())?;
    let damaged = reader.recovery().damaged;
    assert_eq!(damaged.len(), 1);
    assert_eq!(
        (damaged[0].line, damaged[0].position, damaged[0].version),
        (5, Some(5), Some(5))
    );
    assert_eq!(damaged[0].stream.as_deref(), Some("s"));
    assert_eq!(reader.read_stream("s", 1, 4)?.len(), 4, "up to the damage");
    assert!(matches!(
        reader.read_stream("s", 1, 10),
        Err(StoreError::Corrupted { line: 5, .. })
    ));
    drop(reader);

    // repair moves the line to a quarantine file and keeps position and version 5 taken.
    let repaired = repair(dir.path())?;
    assert_eq!(repaired.quarantined.len(), 1);
    assert_eq!(repaired.quarantined[0].position, Some(5));
    let files = list_quarantine(dir.path())?;
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].kind, QuarantineKind::Damaged);
    assert_eq!(
        std::fs::read(&files[0].path)?,
        original,
        "the bytes, verbatim"
    );
    let report = verify(dir.path())?;
    assert!(report.problems.is_empty(), "{report:?}");
    assert_eq!(
        (report.events, report.holes, report.quarantine.len()),
        (4, 1, 1)
    );

    let store = JsonStore::open_with(dir.path(), fast())?;
    let appended = store.append("s", ExpectedVersion::Exact(5), vec![ev(6)])?;
    assert_eq!((appended.stream_version, appended.first_position), (6, 6));
    let versions: Vec<u64> = store
        .read_stream("s", 1, 10)?
        .iter()
        .map(|e| e.version())
        .collect();
    assert_eq!(versions, [1, 2, 3, 4, 6]);
    let info = store.stream_info("s")?.expect("stream");
    assert_eq!((info.event_count, info.last_version), (5, 6));
    assert_eq!(store.holes().len(), 1);
    assert_eq!(store.read_all(1, 10)?.len(), 5);
    assert_eq!(
        store.read_all(5, 1)?[0].position(),
        6,
        "a page skips the hole"
    );
    Ok(())
}

#[test]
fn a_torn_tail_is_moved_to_a_quarantine_file_and_reported_through_the_hook() -> R {
    let dir = tempfile::tempdir()?;
    five_appends(dir.path())?;
    let path = segment(dir.path());
    let good = std::fs::read(&path)?;
    let torn = br#"{"crc":"00000000","event":{"position":6,"id":"01J"#;
    std::fs::write(&path, [&good[..], &torn[..]].concat())?;

    let heard: Arc<Mutex<Vec<RecoveryReport>>> = Arc::default();
    let sink = Arc::clone(&heard);
    let options = fast().on_recovery(move |report| sink.lock().unwrap().push(report.clone()));
    let store = JsonStore::open_with(dir.path(), options)?;
    let report = store.recovery();
    let tail = report.torn_tail.as_ref().expect("a torn tail");
    let quarantine = tail.quarantine.clone().expect("moved to a quarantine file");
    assert_eq!(
        std::fs::read(&quarantine)?,
        torn,
        "the bytes cut off, verbatim"
    );
    assert_eq!((tail.line, tail.bytes), (6, torn.len() as u64));
    assert_eq!(std::fs::read(&path)?, good);
    assert_eq!(
        heard.lock().unwrap().as_slice(),
        std::slice::from_ref(&report)
    );
    assert_eq!(
        store
            .append("s", ExpectedVersion::Exact(5), vec![ev(6)])?
            .first_position,
        6
    );
    drop(store);

    let files = list_quarantine(dir.path())?;
    assert_eq!(files.len(), 1);
    assert_eq!(
        (files[0].kind, files[0].bytes),
        (QuarantineKind::TornTail, torn.len() as u64)
    );
    let report = verify(dir.path())?;
    assert!(report.problems.is_empty());
    assert_eq!(report.quarantine, files);
    Ok(())
}

#[test]
fn blocks_never_written_before_a_power_loss_are_a_torn_tail() -> R {
    let dir = tempfile::tempdir()?;
    five_appends(dir.path())?;
    let path = segment(dir.path());
    let good = std::fs::read(&path)?;
    // The next append's first block never reached the disk: zeros, then the rest of its line.
    let mut tail = vec![0u8; 4096];
    tail.extend_from_slice(br#"0","batch":[1,1]},"payload":{"n":6}}"#);
    tail.push(b'\n');
    std::fs::write(&path, [&good[..], &tail[..]].concat())?;
    assert!(
        verify(dir.path())?.is_healthy(),
        "a torn tail, not corruption"
    );

    let store = JsonStore::open_with(dir.path(), fast())?;
    assert_eq!(
        store.recovery().torn_tail.map(|t| t.bytes),
        Some(tail.len() as u64)
    );
    assert_eq!(store.last_position()?, 5);
    drop(store);

    // A few zero bytes are a flipped bit, not an unwritten block: corruption.
    five_appends(dir.path())?;
    flip(dir.path(), 9, 30)?;
    assert!(matches!(
        JsonStore::open_with(dir.path(), fast()),
        Err(StoreError::Corrupted { line: 10, .. })
    ));
    Ok(())
}

#[test]
fn damage_in_the_middle_refuses_writes_but_not_reads_that_do_not_reach_it() -> R {
    let dir = tempfile::tempdir()?;
    {
        let store = JsonStore::open_with(dir.path(), fast())?;
        for n in 1..=6 {
            let stream = if n % 2 == 0 { "even" } else { "odd" };
            store.append(stream, ExpectedVersion::Any, vec![ev(n)])?;
        }
    }
    flip(dir.path(), 2, 100)?; // odd, version 2
    assert!(matches!(
        JsonStore::open(dir.path()),
        Err(StoreError::Corrupted { line: 3, .. })
    ));
    let reader = JsonStore::open_read_only(dir.path())?;
    assert_eq!(reader.read_stream("even", 1, 10)?.len(), 3);
    assert_eq!(reader.read_stream("odd", 1, 1)?.len(), 1);
    assert_eq!(reader.read_stream("odd", 3, 10)?.len(), 1);
    for failing in [reader.read_stream("odd", 1, 10), reader.read_all(1, 10)] {
        match failing {
            Err(StoreError::Corrupted { path, line, .. }) => {
                assert_eq!((path, line), (segment(dir.path()), 3));
            }
            other => panic!("expected Corrupted, got {other:?}"),
        }
    }
    assert_eq!(reader.read_all(4, 10)?.len(), 3, "after the damage");
    assert!(reader
        .read_time_range(
            livenstore::Timestamp::from_unix_nanos(0),
            livenstore::Timestamp::now()
        )
        .is_err());
    assert!(matches!(
        reader.append("odd", ExpectedVersion::Any, vec![ev(9)]),
        Err(StoreError::ReadOnly { .. })
    ));

    let lenient = JsonStore::open_read_only_with(dir.path(), fast().skip_damaged(true))?;
    let positions: Vec<u64> = lenient
        .read_all(1, 10)?
        .iter()
        .map(RecordedEvent::position)
        .collect();
    assert_eq!(positions, [1, 2, 4, 5, 6]);
    assert_eq!(lenient.holes().len(), 1);
    assert!(lenient.holes()[0].damaged);
    Ok(())
}

/// A 200-event store of three streams, written in batches of one to three events.
fn two_hundred(dir: &Path) -> Result<Vec<RecordedEvent>, Box<dyn std::error::Error>> {
    let store = JsonStore::open_with(dir, fast())?;
    let mut n = 0;
    while n < 200 {
        let size = (n % 3 + 1).min(200 - n);
        let batch = (0..size).map(|k| ev(n + k)).collect();
        store.append(&format!("s{}", n % 3), ExpectedVersion::Any, batch)?;
        n += size;
    }
    Ok(store.read_all(1, usize::MAX)?)
}

fn copy_store(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    std::fs::copy(segment(from), segment(to))?;
    Ok(())
}

#[test]
fn repair_keeps_exactly_the_other_199_events_whichever_line_is_damaged() -> R {
    let original = tempfile::tempdir()?;
    let all = two_hundred(original.path())?;
    let bytes = std::fs::read(segment(original.path()))?;
    let ranges = lines(&bytes);
    assert_eq!(ranges.len(), 200);
    let scratch = tempfile::tempdir()?;
    for (i, &(start, end)) in ranges.iter().enumerate() {
        let dir = scratch.path().join(format!("case-{i}"));
        copy_store(original.path(), &dir)?;
        // Cycle the flipped byte through the header and the payload.
        let at = 18 + (i * 37) % (end - start - 19);
        let lost_line = flip(&dir, i, at)?;
        let report = repair(&dir)?;
        assert_eq!(report.quarantined.len(), 1, "line {i}: {report:?}");
        assert!(verify(&dir)?.problems.is_empty(), "line {i}");

        let store = JsonStore::open_with(&dir, fast())?;
        let kept = store.read_all(1, usize::MAX)?;
        let expected: Vec<&RecordedEvent> = all
            .iter()
            .filter(|e| e.position() != i as u64 + 1)
            .collect();
        assert_eq!(kept.len(), 199, "line {i}");
        for (got, want) in kept.iter().zip(&expected) {
            assert_eq!(got, *want, "line {i}");
        }
        // The lost position stays taken.
        let lost = &all[i];
        assert_eq!(
            report.quarantined[0].position,
            Some(lost.position()),
            "line {i}"
        );
        let next = store.append("other", ExpectedVersion::Any, vec![ev(1)])?;
        assert_eq!(next.first_position, 201, "line {i}");
        // So does its stream version, when the flip left the header readable.
        let in_payload = at
            > lost_line
                .windows(11)
                .position(|w| w == b"\"payload\":{")
                .unwrap_or(0);
        if in_payload {
            let last = all.iter().filter(|e| e.stream() == lost.stream()).count() as u64;
            let r = store.append(lost.stream(), ExpectedVersion::Exact(last), vec![ev(1)])?;
            assert_eq!(r.stream_version, last + 1, "line {i}");
        }
        drop(store);
        let quarantined = list_quarantine(&dir)?;
        assert_eq!(std::fs::read(&quarantined[0].path)?, lost_line, "line {i}");
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}

#[test]
fn repair_is_idempotent_and_a_repaired_store_survives_a_reopen_and_more_damage() -> R {
    let dir = tempfile::tempdir()?;
    let all = two_hundred(dir.path())?;
    flip(dir.path(), 10, 120)?;
    flip(dir.path(), 11, 120)?;
    flip(dir.path(), 150, 150)?;
    let report = repair(dir.path())?;
    assert_eq!(report.quarantined.len(), 3);
    assert!(repair(dir.path())?.is_empty(), "nothing left to repair");
    let store = JsonStore::open_with(dir.path(), fast())?;
    assert_eq!(store.read_all(1, usize::MAX)?.len(), 197);
    store.append("s0", ExpectedVersion::Any, vec![ev(1)])?;
    drop(store);
    // Damage after a hole is repaired the same way.
    flip(dir.path(), 12, 120)?;
    assert_eq!(repair(dir.path())?.quarantined.len(), 1);
    let store = JsonStore::open(dir.path())?;
    let kept = store.read_all(1, usize::MAX)?;
    assert_eq!(kept.len(), 197);
    assert!(kept
        .iter()
        .all(|e| ![11, 12, 13, 151].contains(&e.position())));
    assert_eq!(kept[..10], all[..10]);
    assert_eq!(store.holes().len(), 4);
    Ok(())
}

#[test]
fn a_link_to_a_lost_event_is_quarantined_with_it_and_other_links_stay() -> R {
    let dir = tempfile::tempdir()?;
    {
        let store = JsonStore::open_with(dir.path(), fast())?;
        store.append("a", ExpectedVersion::Any, vec![ev(1), ev(2)])?;
        let ids: Vec<_> = store.read_all(1, 2)?.iter().map(|e| e.id()).collect();
        store.link_to_stream(ids[0], "index")?;
        store.link_to_stream(ids[1], "index")?;
        store.append("a", ExpectedVersion::Any, vec![ev(3)])?;
    }
    flip(dir.path(), 0, 100)?; // the first event: its link goes too
    let report = repair(dir.path())?;
    assert_eq!(report.quarantined.len(), 2, "{report:?}");
    let store = JsonStore::open(dir.path())?;
    let index = store.read_stream("index", 1, 10)?;
    assert_eq!(index.len(), 1);
    assert_eq!(index[0].stream_version(), 2);
    assert_eq!(store.stream_version("index")?, 2);
    assert_eq!(store.read_stream("a", 1, 10)?.len(), 2);
    Ok(())
}

#[test]
fn a_repository_refuses_to_rebuild_an_aggregate_that_lost_an_event() -> R {
    use livenstore::{Aggregate, DomainError, DomainEvent, Repository, RepositoryError};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
    struct Added {
        n: u64,
    }

    #[derive(Debug, Default, Aggregate)]
    #[aggregate(events(Added))]
    struct Sum {
        total: u64,
    }

    impl Sum {
        fn on_added(&mut self, e: &Added) -> Result<(), DomainError> {
            self.total += e.n;
            Ok(())
        }
    }

    let dir = tempfile::tempdir()?;
    {
        let repo = Repository::new(JsonStore::open_with(dir.path(), fast())?);
        for n in 1..=3 {
            repo.transact::<Sum, _, _>("x", |s| s.apply(Added { n }))?;
        }
    }
    flip(dir.path(), 1, 90)?;
    repair(dir.path())?;
    let repo = Repository::new(JsonStore::open(dir.path())?);
    match repo.load::<Sum>("x") {
        Err(RepositoryError::MissingVersion { missing: 2, .. }) => {}
        other => panic!("expected MissingVersion, got {other:?}"),
    }
    // A lost last version too, though no event follows it.
    repo.transact::<Sum, _, _>("y", |s| s.apply(Added { n: 1 }))?;
    repo.transact::<Sum, _, _>("y", |s| s.apply(Added { n: 2 }))?;
    drop(repo);
    flip(dir.path(), 4, 90)?;
    repair(dir.path())?;
    let repo = Repository::new(JsonStore::open(dir.path())?);
    match repo.load::<Sum>("y") {
        Err(RepositoryError::MissingVersion { missing: 2, .. }) => {}
        other => panic!("expected MissingVersion, got {other:?}"),
    }
    Ok(())
}

#[test]
fn a_read_only_store_sees_damage_that_appears_after_it_opened() -> R {
    let dir = tempfile::tempdir()?;
    five_appends(dir.path())?;
    let heard = Arc::new(Mutex::new(0));
    let sink = Arc::clone(&heard);
    let options = fast().on_recovery(move |r| *sink.lock().unwrap() += r.damaged.len());
    let reader = JsonStore::open_read_only_with(dir.path(), options)?;
    assert!(reader.recovery().is_empty());
    {
        let store = JsonStore::open_with(dir.path(), fast())?;
        store.append("s", ExpectedVersion::Any, vec![ev(6)])?;
    }
    flip(dir.path(), 5, 220)?; // in the payload
    reader.refresh()?;
    assert_eq!(reader.recovery().damaged.len(), 1);
    assert_eq!(*heard.lock().unwrap(), 1);
    assert_eq!(reader.read_stream("s", 1, 5)?.len(), 5);
    assert!(reader.read_stream("s", 6, 1).is_err());
    Ok(())
}

/// Drops the last `bytes` bytes of the first segment.
fn cut(dir: &Path, bytes: usize) -> std::io::Result<()> {
    let path = segment(dir);
    let data = std::fs::read(&path)?;
    std::fs::write(&path, &data[..data.len() - bytes])
}

#[test]
fn a_torn_append_after_a_hole_that_ends_a_batch_cuts_only_itself() -> R {
    let dir = tempfile::tempdir()?;
    {
        let store = JsonStore::open_with(dir.path(), fast())?;
        store.append("s", ExpectedVersion::Any, vec![ev(1), ev(2), ev(3)])?;
    }
    flip(dir.path(), 2, 220)?; // the batch's last line, [3,3]
    repair(dir.path())?; // [1,3] [2,3] hole
    let repaired = std::fs::read(segment(dir.path()))?;

    // A: the next append is cut short in its only line.
    {
        let store = JsonStore::open_with(dir.path(), fast())?;
        store.append("s", ExpectedVersion::Exact(3), vec![ev(4)])?;
    }
    cut(dir.path(), 30)?;
    let store = JsonStore::open_with(dir.path(), fast())?;
    let torn = store.recovery().torn_tail.expect("a torn tail");
    assert_eq!((torn.line, torn.offset), (4, repaired.len() as u64));
    assert_eq!(store.read_all(1, 10)?.len(), 2, "the repaired batch stays");
    assert_eq!(
        store
            .append("s", ExpectedVersion::Exact(3), vec![ev(4)])?
            .first_position,
        4
    );
    drop(store);

    // B: a two-event append whose first line is whole and whose last is cut short.
    std::fs::write(segment(dir.path()), &repaired)?;
    {
        let store = JsonStore::open_with(dir.path(), fast())?;
        store.append("s", ExpectedVersion::Exact(3), vec![ev(4), ev(5)])?;
    }
    cut(dir.path(), 30)?;
    assert!(verify(dir.path())?.is_healthy());
    let store = JsonStore::open_with(dir.path(), fast())?;
    let torn = store.recovery().torn_tail.expect("a torn tail");
    assert_eq!((torn.line, torn.offset), (4, repaired.len() as u64));
    let positions: Vec<u64> = store
        .read_all(1, 10)?
        .iter()
        .map(RecordedEvent::position)
        .collect();
    assert_eq!(positions, [1, 2]);
    assert_eq!(
        store
            .append("s", ExpectedVersion::Exact(3), vec![ev(4)])?
            .first_position,
        4
    );
    drop(store);
    assert!(verify(dir.path())?.problems.is_empty());
    Ok(())
}

#[test]
fn a_batch_marker_out_of_sequence_at_the_end_is_corruption_for_open_verify_and_readers() -> R {
    let dir = tempfile::tempdir()?;
    {
        let store = JsonStore::open_with(dir.path(), fast())?;
        store.append("s", ExpectedVersion::Any, vec![ev(1)])?;
        store.append("s", ExpectedVersion::Any, vec![ev(2), ev(3), ev(4)])?;
    }
    // Keep [1,1] and [2,3] only: no crash leaves a batch without its first line.
    let bytes = std::fs::read(segment(dir.path()))?;
    let ranges = lines(&bytes);
    let kept = [
        &bytes[ranges[0].0..ranges[0].1],
        &bytes[ranges[2].0..ranges[2].1],
    ]
    .concat();
    std::fs::write(segment(dir.path()), kept)?;
    assert!(matches!(
        JsonStore::open(dir.path()),
        Err(StoreError::Corrupted { line: 2, .. })
    ));
    let report = verify(dir.path())?;
    assert!(!report.is_healthy(), "{report:?}");
    let reader = JsonStore::open_read_only(dir.path())?;
    assert_eq!(reader.recovery().damaged.len(), 1);
    assert_eq!(reader.recovery().torn_tail, None);
    Ok(())
}

#[test]
fn a_damaged_line_ending_an_unfinished_batch_does_not_make_it_count() -> R {
    let dir = tempfile::tempdir()?;
    {
        let store = JsonStore::open_with(dir.path(), fast())?;
        store.append("s", ExpectedVersion::Any, vec![ev(1)])?;
        store.append("s", ExpectedVersion::Any, vec![ev(2), ev(3), ev(4)])?;
    }
    // The batch's last line never made it; then a bit flipped in its second.
    let bytes = std::fs::read(segment(dir.path()))?;
    let third = lines(&bytes)[3];
    std::fs::write(segment(dir.path()), &bytes[..third.0])?;
    flip(dir.path(), 2, 220)?;
    let reader = JsonStore::open_read_only(dir.path())?;
    assert_eq!(
        reader.recovery().damaged.len(),
        2,
        "[1,3] does not count either"
    );
    assert!(reader.read_all(1, 10).is_err());
    let lenient = JsonStore::open_read_only_with(dir.path(), fast().skip_damaged(true))?;
    assert_eq!(lenient.read_all(1, 10)?.len(), 1);
    drop((reader, lenient));
    let report = repair(dir.path())?;
    assert_eq!(report.quarantined.len(), 2, "{report:?}");
    let store = JsonStore::open(dir.path())?;
    assert_eq!(store.read_all(1, 10)?.len(), 1);
    Ok(())
}

#[test]
fn a_read_only_store_follows_a_repair_made_after_it_opened() -> R {
    let dir = tempfile::tempdir()?;
    five_appends(dir.path())?;
    flip(dir.path(), 1, 220)?;
    let reader = JsonStore::open_read_only(dir.path())?;
    assert_eq!(reader.recovery().damaged.len(), 1);
    repair(dir.path())?;
    {
        let store = JsonStore::open_with(dir.path(), fast())?;
        store.append("s", ExpectedVersion::Exact(5), vec![ev(6)])?;
    }
    assert_eq!(reader.refresh()?, 1);
    assert!(reader.recovery().damaged.is_empty());
    let positions: Vec<u64> = reader
        .read_all(1, 10)?
        .iter()
        .map(RecordedEvent::position)
        .collect();
    assert_eq!(positions, [1, 3, 4, 5, 6]);
    Ok(())
}
