//! Behaviour, lock, crash, concurrency and bad-input tests of `JsonStore`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use livenstore::store::json::{verify, Durability, JsonStoreOptions};
use livenstore::{
    EventId, EventStore, ExpectedVersion, JsonStore, NewEvent, StoreError, Timestamp,
};

type R = Result<(), Box<dyn std::error::Error>>;

fn ev(kind: &str, n: u64) -> NewEvent {
    NewEvent::from_json(
        kind.to_string(),
        format!(r#"{{"n":{n},"text":"hello \"world\""}}"#),
    )
    .expect("valid json")
}

fn fast() -> JsonStoreOptions {
    JsonStoreOptions::new().durability(Durability::Never)
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    v.sort();
    v
}

#[test]
fn append_and_read_round_trip() -> R {
    let dir = tempfile::tempdir()?;
    let store = JsonStore::open(dir.path())?;
    assert_eq!(store.last_position()?, 0);
    let meta = livenstore::Metadata::new().with_correlation_id("c-1");
    let r = store.append(
        "user-1",
        ExpectedVersion::NoStream,
        vec![
            ev("UserCreated", 1).with_metadata(meta),
            ev("UserRenamed", 2),
        ],
    )?;
    assert_eq!(
        (r.stream_version, r.first_position, r.last_position),
        (2, 1, 2)
    );
    let r = store.append("user-2", ExpectedVersion::Any, vec![ev("UserCreated", 3)])?;
    assert_eq!(
        (r.stream_version, r.first_position, r.last_position),
        (1, 3, 3)
    );

    let events = store.read_stream("user-1", 1, usize::MAX)?;
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0].payload().as_str(),
        r#"{"n":1,"text":"hello \"world\""}"#
    );
    assert_eq!(events[0].metadata().correlation_id(), Some("c-1"));
    assert_eq!((events[1].version(), events[1].position()), (2, 2));
    assert_eq!(store.read_stream("user-1", 2, 1)?.len(), 1);
    assert!(store.read_stream("nobody", 1, 10)?.is_empty());
    assert!(matches!(
        store.read_stream("a/b", 1, 10),
        Err(StoreError::InvalidStreamName { .. })
    ));

    let one = store.read(events[1].id())?;
    assert_eq!(one, events[1]);
    assert!(matches!(
        store.read(EventId::new()),
        Err(StoreError::EventNotFound(_))
    ));

    let all = store.read_all(1, usize::MAX)?;
    assert_eq!(
        all.iter().map(|e| e.position()).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(all
        .windows(2)
        .all(|w| w[0].recorded_at() <= w[1].recorded_at()));
    assert_eq!(store.read_all(2, 1)?[0].position(), 2);
    let created = store.read_by_type("UserCreated", 1, usize::MAX)?;
    assert_eq!(
        created.iter().map(|e| e.position()).collect::<Vec<_>>(),
        [1, 3]
    );
    assert_eq!(store.read_by_type("UserCreated", 2, usize::MAX)?.len(), 1);
    assert!(store.read_by_type("Nope", 1, 10)?.is_empty());

    let t0 = all[0].recorded_at();
    let t2 = all[2].recorded_at();
    assert_eq!(
        store
            .read_time_range(t0, t2.saturating_add(Duration::from_nanos(1)))?
            .len(),
        3
    );
    assert!(store.read_time_range(Timestamp::UNIX_EPOCH, t0)?.is_empty());

    let info = store.stream_info("user-1")?.expect("exists");
    assert_eq!(
        (info.event_count, info.first_version, info.last_version),
        (2, 1, 2)
    );
    assert!(store.stream_info("nobody")?.is_none());
    let names: Vec<String> = store.streams()?.into_iter().map(|s| s.stream).collect();
    assert_eq!(names, ["user-1", "user-2"]);
    assert_eq!(store.stream_version("user-1")?, 2);
    Ok(())
}

#[test]
fn expected_version_rules() -> R {
    let dir = tempfile::tempdir()?;
    let store = JsonStore::open_with(dir.path(), fast())?;
    let conflict = |r: Result<_, StoreError>| matches!(r, Err(StoreError::Conflict { .. }));
    assert!(conflict(store.append(
        "s",
        ExpectedVersion::StreamExists,
        vec![ev("A", 1)]
    )));
    assert!(conflict(store.append(
        "s",
        ExpectedVersion::Exact(1),
        vec![ev("A", 1)]
    )));
    store.append("s", ExpectedVersion::NoStream, vec![ev("A", 1)])?;
    assert!(conflict(store.append(
        "s",
        ExpectedVersion::NoStream,
        vec![ev("A", 2)]
    )));
    store.append("s", ExpectedVersion::StreamExists, vec![ev("A", 2)])?;
    store.append("s", ExpectedVersion::Exact(2), vec![ev("A", 3)])?;
    assert!(conflict(store.append(
        "s",
        ExpectedVersion::Exact(2),
        vec![ev("A", 4)]
    )));
    store.append("s", ExpectedVersion::Any, vec![ev("A", 4)])?;
    let empty = store.append("s", ExpectedVersion::Exact(4), vec![])?;
    assert_eq!((empty.stream_version, empty.first_position), (4, 0));
    assert_eq!(store.last_position()?, 4);
    Ok(())
}

#[test]
fn idempotent_ids() -> R {
    let dir = tempfile::tempdir()?;
    let store = JsonStore::open_with(dir.path(), fast())?;
    let (a, b) = (EventId::new(), EventId::new());
    let batch = vec![ev("A", 1).with_id(a), ev("A", 2).with_id(b)];
    let first = store.append("s", ExpectedVersion::NoStream, batch.clone())?;
    // Same call again: a no-op even though NoStream no longer matches.
    let again = store.append("s", ExpectedVersion::NoStream, batch)?;
    assert_eq!(first, again);
    assert_eq!(store.last_position()?, 2);
    let dup = |r: Result<_, StoreError>| matches!(r, Err(StoreError::DuplicateEventId { .. }));
    assert!(dup(store.append(
        "s",
        ExpectedVersion::Any,
        vec![ev("A", 9).with_id(a)]
    )));
    assert!(dup(store.append(
        "t",
        ExpectedVersion::Any,
        vec![ev("A", 1).with_id(a)]
    )));
    assert!(dup(store.append(
        "s",
        ExpectedVersion::Any,
        vec![ev("A", 1).with_id(a), ev("A", 5).with_id(EventId::new())]
    )));
    let c = EventId::new();
    assert!(dup(store.append(
        "s",
        ExpectedVersion::Any,
        vec![ev("A", 1).with_id(c), ev("A", 1).with_id(c)]
    )));
    assert_eq!(store.last_position()?, 2);
    Ok(())
}

#[test]
fn links_and_reopen_keep_everything() -> R {
    let dir = tempfile::tempdir()?;
    let id;
    {
        let store = JsonStore::open(dir.path())?;
        let r = store.append(
            "user-1",
            ExpectedVersion::NoStream,
            vec![ev("UserCreated", 1)],
        )?;
        id = store.read_all(r.first_position, 1)?[0].id();
        store.append("admins", ExpectedVersion::Any, vec![ev("AdminAdded", 2)])?;
        assert_eq!(store.link_to_stream(id, "admins")?, 2);
        assert!(matches!(
            store.link_to_stream(id, "admins"),
            Err(StoreError::InvalidArgument(_))
        ));
        assert!(matches!(
            store.link_to_stream(id, "user-1"),
            Err(StoreError::InvalidArgument(_))
        ));
        assert!(matches!(
            store.link_to_stream(EventId::new(), "admins"),
            Err(StoreError::EventNotFound(_))
        ));
        assert_eq!(store.link_to_stream(id, "fresh")?, 1);
    }
    let store = JsonStore::open(dir.path())?;
    let admins = store.read_stream("admins", 1, usize::MAX)?;
    assert_eq!(admins.len(), 2);
    let link = admins[1].link().expect("read through a link");
    assert_eq!((link.stream.as_str(), link.version), ("admins", 2));
    assert_eq!(
        (admins[1].stream(), admins[1].version(), admins[1].id()),
        ("user-1", 1, id)
    );
    assert!(store.read(id)?.link().is_none());
    assert_eq!(
        store.read_all(1, usize::MAX)?.len(),
        2,
        "links are not repeated in read_all"
    );
    assert_eq!(store.stream_version("admins")?, 2);
    assert_eq!(store.stream_version("fresh")?, 1);
    let r = store.append(
        "admins",
        ExpectedVersion::Exact(2),
        vec![ev("AdminAdded", 3)],
    )?;
    assert_eq!((r.stream_version, r.first_position), (3, 3));
    Ok(())
}

#[test]
fn segments_roll_and_reads_cross_them() -> R {
    let dir = tempfile::tempdir()?;
    let opts = fast().segment_size(1000);
    {
        let store = JsonStore::open_with(dir.path(), opts.clone())?;
        for i in 0..30 {
            let stream = format!("s-{}", i % 3);
            store.append(&stream, ExpectedVersion::Any, vec![ev("A", i), ev("B", i)])?;
        }
        assert!(segments(dir.path()).len() > 5);
        assert_eq!(store.read_stream("s-1", 1, usize::MAX)?.len(), 20);
    }
    let store = JsonStore::open_with(dir.path(), opts)?;
    let all = store.read_all(1, usize::MAX)?;
    assert_eq!(all.len(), 60);
    assert!(all
        .iter()
        .enumerate()
        .all(|(i, e)| e.position() == i as u64 + 1));
    let s1 = store.read_stream("s-1", 1, usize::MAX)?;
    assert!(s1
        .iter()
        .enumerate()
        .all(|(i, e)| e.version() == i as u64 + 1));
    assert!(verify(dir.path())?.problems.is_empty());
    Ok(())
}

#[test]
fn lock_excludes_a_second_writer() -> R {
    let dir = tempfile::tempdir()?;
    let store = JsonStore::open(dir.path())?;
    store.append("s", ExpectedVersion::Any, vec![ev("A", 1)])?;
    assert!(matches!(
        JsonStore::open(dir.path()),
        Err(StoreError::Locked { .. })
    ));
    let reader = JsonStore::open_read_only(dir.path())?;
    assert_eq!(reader.last_position()?, 1);
    assert!(reader
        .append("s", ExpectedVersion::Any, vec![ev("A", 2)])
        .is_err());
    store.append("s", ExpectedVersion::Any, vec![ev("A", 2), ev("A", 3)])?;
    assert_eq!(
        reader.last_position()?,
        1,
        "a read-only store sees the data present at open"
    );
    assert_eq!(reader.refresh()?, 2);
    assert_eq!(reader.read_stream("s", 1, usize::MAX)?.len(), 3);
    assert!(verify(dir.path())?.problems.is_empty());
    drop(store);
    let again = JsonStore::open(dir.path())?;
    assert_eq!(again.last_position()?, 3);
    Ok(())
}

#[test]
fn every_truncation_of_the_last_batch_recovers_cleanly() -> R {
    let dir = tempfile::tempdir()?;
    let (before, after);
    {
        let store = JsonStore::open_with(dir.path(), fast())?;
        for i in 0..4 {
            store.append("s", ExpectedVersion::Any, vec![ev("A", i)])?;
        }
        store.link_to_stream(store.read_all(1, 1)?[0].id(), "t")?;
        before = std::fs::metadata(&segments(dir.path())[0])?.len();
        store.append(
            "s",
            ExpectedVersion::Any,
            vec![ev("B", 10), ev("B", 11), ev("B", 12)],
        )?;
        after = std::fs::metadata(&segments(dir.path())[0])?.len();
    }
    let seg = segments(dir.path())[0].clone();
    let bytes = std::fs::read(&seg)?;
    for cut in before..after {
        let copy = tempfile::tempdir()?;
        let target = copy.path().join(seg.file_name().expect("name"));
        std::fs::write(&target, &bytes[..cut as usize])?;
        let store = JsonStore::open_with(copy.path(), fast())?;
        assert_eq!(store.last_position()?, 4, "cut at {cut}");
        assert_eq!(store.stream_version("s")?, 4);
        assert_eq!(store.stream_version("t")?, 1);
        let torn = store.recovery().torn_tail;
        assert_eq!(torn.is_some(), cut > before, "cut at {cut}");
        assert_eq!(std::fs::metadata(&target)?.len(), before);
        let r = store.append("s", ExpectedVersion::Exact(4), vec![ev("C", 1)])?;
        assert_eq!((r.stream_version, r.first_position), (5, 5));
    }
    Ok(())
}

#[test]
fn corrupted_middle_line_is_reported() -> R {
    let dir = tempfile::tempdir()?;
    {
        let store = JsonStore::open_with(dir.path(), fast())?;
        for i in 0..5 {
            store.append("s", ExpectedVersion::Any, vec![ev("A", i)])?;
        }
    }
    let seg = segments(dir.path())[0].clone();
    let text = std::fs::read_to_string(&seg)?;
    let damaged = text.replacen("\"n\":2", "\"n\":7", 1);
    std::fs::write(&seg, damaged)?;
    match JsonStore::open(dir.path()) {
        Err(StoreError::Corrupted { path, line, reason }) => {
            assert_eq!((path, line), (seg.clone(), 3), "{reason}");
        }
        other => panic!("expected Corrupted, got {other:?}"),
    }
    let report = verify(dir.path())?;
    assert!(!report.is_healthy());
    assert_eq!(report.problems.len(), 1);
    assert_eq!(
        (report.problems[0].line, report.problems[0].torn_tail),
        (3, false)
    );
    Ok(())
}

#[test]
fn bad_input_and_odd_files() -> R {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("README.txt"), b"\xff\xfe not a segment")?;
    std::fs::write(dir.path().join("segment-x.jsonl"), b"garbage")?;
    {
        let store = JsonStore::open_with(dir.path(), fast().max_payload_bytes(64))?;
        let big = NewEvent::from_json("A", format!("\"{}\"", "x".repeat(100)))?;
        assert!(matches!(
            store.append("s", ExpectedVersion::Any, vec![ev("A", 1), big]),
            Err(StoreError::PayloadTooLarge { .. })
        ));
        assert!(matches!(
            store.append("", ExpectedVersion::Any, vec![ev("A", 1)]),
            Err(StoreError::InvalidStreamName { .. })
        ));
        store.append("s", ExpectedVersion::Any, vec![ev("A", 1)])?;
        store.append("s", ExpectedVersion::Any, vec![ev("A", 2)])?;
        assert_eq!(store.last_position()?, 2);
    }
    // A non-UTF-8 line in the middle of a segment.
    let seg = segments(dir.path())
        .into_iter()
        .find(|p| p.ends_with("segment-00000001.jsonl"))
        .expect("segment 1");
    let text = std::fs::read(&seg)?;
    let mut damaged = b"\xff\xfe\xfd\n".to_vec();
    damaged.extend_from_slice(&text);
    std::fs::write(&seg, &damaged)?;
    assert!(matches!(
        JsonStore::open(dir.path()),
        Err(StoreError::Corrupted { line: 1, .. })
    ));
    // A garbage segment file.
    std::fs::write(&seg, b"hello world\nthis is not a log\n")?;
    std::fs::write(dir.path().join("segment-00000002.jsonl"), b"")?;
    assert!(matches!(
        JsonStore::open(dir.path()),
        Err(StoreError::Corrupted { .. })
    ));
    Ok(())
}

#[test]
fn missing_permissions_are_io_errors_with_the_path() -> R {
    let dir = tempfile::tempdir()?;
    let missing = dir.path().join("does-not-exist");
    assert!(matches!(
        JsonStore::open_read_only(&missing),
        Err(StoreError::Io { .. })
    ));
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x")?;
    match JsonStore::open(file.join("store")) {
        Err(StoreError::Io { path, .. }) => assert!(path.starts_with(&file)),
        other => panic!("expected Io, got {other:?}"),
    }
    Ok(())
}

#[test]
fn concurrent_exact_appends_have_one_winner_per_version() -> R {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(JsonStore::open_with(dir.path(), fast())?);
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let store = Arc::clone(&store);
            s.spawn(move || {
                for i in 0..25u64 {
                    loop {
                        let v = store.stream_version("shared").expect("version");
                        match store.append(
                            "shared",
                            ExpectedVersion::Exact(v),
                            vec![ev("A", t * 100 + i)],
                        ) {
                            Ok(r) => {
                                assert_eq!(r.stream_version, v + 1);
                                break;
                            }
                            Err(StoreError::Conflict { .. }) => continue,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            });
        }
    });
    drop(store);
    let store = JsonStore::open(dir.path())?;
    let events = store.read_stream("shared", 1, usize::MAX)?;
    assert_eq!(events.len(), 200);
    assert!(events
        .iter()
        .enumerate()
        .all(|(i, e)| e.version() == i as u64 + 1 && e.position() == i as u64 + 1));
    let mut ns: Vec<String> = events
        .iter()
        .map(|e| e.payload().as_str().to_owned())
        .collect();
    ns.sort();
    ns.dedup();
    assert_eq!(ns.len(), 200, "nothing duplicated");
    Ok(())
}

#[test]
fn group_commit_with_four_writers_keeps_everything() -> R {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(JsonStore::open(dir.path())?);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let store = Arc::clone(&store);
            s.spawn(move || {
                for i in 0..20u64 {
                    let batch = (0..5).map(|k| ev("A", t * 1000 + i * 10 + k)).collect();
                    store
                        .append(&format!("w-{t}"), ExpectedVersion::Any, batch)
                        .expect("append");
                }
            });
        }
    });
    drop(store);
    let store = JsonStore::open(dir.path())?;
    assert_eq!(store.last_position()?, 400);
    for t in 0..4 {
        assert_eq!(store.stream_version(&format!("w-{t}"))?, 100);
    }
    Ok(())
}

#[test]
fn batch_durability_flushes_in_the_background() -> R {
    let dir = tempfile::tempdir()?;
    let opts = JsonStoreOptions::new().durability(Durability::Batch(Duration::from_millis(5)));
    let store = JsonStore::open_with(dir.path(), opts)?;
    for i in 0..20 {
        store.append("s", ExpectedVersion::Any, vec![ev("A", i)])?;
    }
    std::thread::sleep(Duration::from_millis(20));
    store.sync()?;
    drop(store);
    assert_eq!(JsonStore::open(dir.path())?.last_position()?, 20);
    Ok(())
}

const CHILD_ENV: &str = "LIVENSTORE_JSON_CHILD_DIR";

/// Not a test on its own: the body of the child process of `killed_writer_loses_nothing_acked`.
#[test]
#[ignore = "run as a child process by killed_writer_loses_nothing_acked"]
fn child_appender() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = JsonStore::open(dir).expect("child open");
    let mut out = std::io::stdout().lock();
    for i in 0.. {
        let batch = vec![ev("A", i), ev("B", i)];
        let r = store
            .append("s", ExpectedVersion::Any, batch)
            .expect("child append");
        writeln!(out, "ACK {}", r.last_position).expect("stdout");
        out.flush().expect("flush");
    }
}

#[test]
fn killed_writer_loses_nothing_acked() -> R {
    let dir = tempfile::tempdir()?;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args([
            "--exact",
            "child_appender",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut acked = 0u64;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(800) {
        match lines.next() {
            Some(line) => {
                if let Some(pos) = line?.strip_prefix("ACK ") {
                    acked = pos.trim().parse()?;
                }
            }
            None => break,
        }
    }
    child.kill()?;
    child.wait()?;
    // Every ack printed before the kill.
    for line in lines {
        if let Some(pos) = line?.strip_prefix("ACK ") {
            acked = pos.trim().parse()?;
        }
    }
    assert!(acked > 0, "the child acknowledged nothing");
    let store = JsonStore::open(dir.path())?;
    let last = store.last_position()?;
    assert!(last >= acked, "acked {acked}, found {last}");
    let all = store.read_all(1, usize::MAX)?;
    assert!(all
        .iter()
        .enumerate()
        .all(|(i, e)| e.position() == i as u64 + 1));
    assert_eq!(last % 2, 0, "batches of two are whole");
    Ok(())
}
