//! `--nats URL --nats-stream NAME`: the commands on a NATS JetStream store, driven through the
//! real binary. Tests that need a server skip (one printed line) when `LIVENSTORE_NATS_URL` is
//! unset; those of the command line and of an unreachable server always run.

mod common;

use std::process::Stdio;

use common::{
    assert_same_events, bin, check_consumers, check_snapshots, fill_consumers, fill_snapshots, run,
    run_raw, server, Run, R,
};
use livenstore::pubsub::{CheckpointStore, ParkedEventStore};
use livenstore::{EventStore, JsonStore};
use livenstore_nats::testing::TestStream;

/// Nothing listens on port 1 of the loopback address: connecting is refused at once.
const UNREACHABLE: &str = "nats://127.0.0.1:1";
const UNREACHABLE_ARGS: [&str; 2] = ["--nats", UNREACHABLE];

/// The `--nats URL --nats-stream NAME` arguments that name `test`'s store.
fn nats_args(test: &TestStream) -> [&str; 4] {
    ["--nats", test.url(), "--nats-stream", test.name()]
}

/// Runs `livenstore --nats URL --nats-stream NAME <args>`.
fn nats(test: &TestStream, args: &[&str]) -> Run {
    server::on(&nats_args(test), args)
}

/// Whether the test server has the JetStream stream `name` (a key-value bucket `B` is the
/// stream `KV_B`).
fn server_has(test: &TestStream, name: &str) -> Result<bool, Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(test.url()).await?);
        Ok(js.get_stream(name).await.is_ok())
    })
}

/// The names of the key-value buckets of `test`'s store that the server has.
fn buckets(test: &TestStream) -> Result<Vec<&'static str>, Box<dyn std::error::Error>> {
    let mut found = Vec::new();
    for what in ["checkpoints", "parked", "snapshots"] {
        if server_has(test, &format!("KV_{}", test.config().bucket_name(what)))? {
            found.push(what);
        }
    }
    Ok(found)
}

#[test]
fn append_then_read_back_on_nats() -> R {
    let Some(test) = TestStream::new() else {
        return Ok(());
    };
    // `append` creates the JetStream stream, as it creates a missing directory.
    server::check_append_and_read_commands(&nats_args(&test), || test.connect(), test.name())
}

#[test]
fn export_then_import_into_a_second_stream() -> R {
    let (Some(source), Some(copy)) = (TestStream::new(), TestStream::new()) else {
        return Ok(());
    };
    // A directory imports a NATS export unchanged, times included.
    let store = source.connect();
    let root = tempfile::tempdir()?;
    let (exported, file) =
        server::check_export_imports_into_a_directory(&nats_args(&source), &store, root.path())?;
    let path = file.to_str().ok_or("path")?;

    let imported = nats(&copy, &["import", path]).ok().stdout;
    assert!(
        imported.contains("imported 5 event(s) and 3 link(s)") && imported.contains(copy.name()),
        "{imported}"
    );
    // Everything: ids, types, streams, versions, positions, recorded times, metadata, payloads,
    // links and their times.
    let again = nats(&copy, &["export"]).ok().stdout;
    assert_eq!(again, exported);
    let imported = copy.connect();
    assert_same_events(&store, &imported)?;
    assert_eq!(imported.streams()?, store.streams()?);
    // The store is not empty any more: a second import is refused, and changes nothing.
    nats(&copy, &["import", path]).fails(1, &["holds records", "an import needs an empty store"]);
    assert_eq!(nats(&copy, &["export"]).ok().stdout, again);

    // From standard input (read twice: copied to a temporary file first), the same.
    let third = TestStream::new().ok_or("a server")?;
    let mut child = bin()
        .args(["--nats", third.url(), "--nats-stream", third.name()])
        .args(["import", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().ok_or("stdin")?;
        stdin.write_all(exported.as_bytes())?;
    }
    let done = Run::from(child.wait_with_output()?).ok().json_lines();
    assert_eq!(
        (&done[0]["events"], &done[0]["links"]),
        (&5.into(), &3.into())
    );
    assert_eq!(nats(&third, &["export"]).ok().stdout, exported);
    Ok(())
}

#[test]
fn an_import_stops_at_a_record_the_store_cannot_replay() -> R {
    let Some(test) = TestStream::new() else {
        return Ok(());
    };
    let root = tempfile::tempdir()?;
    let file = root.path().join("holes.jsonl");
    let event = |id: &str, position: u64| {
        format!(
            r#"{{"id":"{id}","event_type":"T","stream":"s","version":{position},"position":{position},"recorded_at":"2026-01-01T00:00:00Z","metadata":{{}},"payload":{{}}}}"#
        )
    };
    let lines = [
        event("01JD0000000000000000000001", 1),
        r#"{"hole":{"position":2,"stream":"s","version":2}}"#.to_owned(),
        event("01JD0000000000000000000003", 3),
    ];
    std::fs::write(&file, lines.join("\n"))?;
    let path = file.to_str().ok_or("path")?;
    // Found by the first reading of the file: nothing is written, the stream is not created.
    nats(&test, &["import", path]).fails(
        1,
        &[
            "line 2",
            "a hole",
            "import the file into a directory",
            "nothing was imported",
        ],
    );
    nats(&test, &["streams"]).fails(1, &["does not exist"]);
    // Not a record at all: the line is named too (standard input).
    let stream = TestStream::new().ok_or("a server")?;
    let mut child = bin()
        .args(["--nats", stream.url(), "--nats-stream", stream.name()])
        .args(["import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().ok_or("stdin")?;
        stdin.write_all(b"{\"nope\":1}\n")?;
    }
    Run::from(child.wait_with_output()?).fails(1, &["import stopped at - line 1"]);

    // A record the store refuses inside a batch (the file ends before anything is sent): the
    // error names its line, and the events before it are stored.
    let stream = TestStream::new().ok_or("a server")?;
    let lines = [
        event("01JD0000000000000000000001", 1),
        event("01JD0000000000000000000002", 2),
        event("01JD0000000000000000000005", 5),
        event("01JD0000000000000000000006", 6),
    ];
    std::fs::write(&file, lines.join("\n"))?;
    nats(&stream, &["import", path])
        .fails(1, &["line 3", "01JD0000000000000000000005", "2 events"]);
    assert_eq!(stream.connect().last_position()?, 2);
    Ok(())
}

#[test]
fn an_import_of_many_events_keeps_them_all() -> R {
    let Some(test) = TestStream::new() else {
        return Ok(());
    };
    // 25,000 events (three batches), five at a time, then a link.
    let mut lines = Vec::new();
    for n in 1..=25_000u64 {
        let append = (n - 1) / 5;
        lines.push(format!(
            r#"{{"id":"01JD{n:022}","event_type":"T","stream":"s-{}","version":{},"position":{n},"recorded_at":"2026-01-01T00:00:{:02}.{:09}Z","metadata":{{}},"payload":{{"n":{n}}}}}"#,
            append % 7,
            append / 7 * 5 + (n - 1) % 5 + 1,
            append / 1_000_000,
            append * 1000 % 1_000_000_000,
        ));
    }
    lines.push(
        r#"{"link":{"id":"01JD0000000000000000000007","stream":"linked","version":1,"linked_at":"2026-01-02T00:00:00Z"}}"#.to_owned(),
    );
    let root = tempfile::tempdir()?;
    let file = root.path().join("many.jsonl");
    std::fs::write(&file, lines.join("\n"))?;
    let done = nats(&test, &["import", file.to_str().ok_or("path")?, "--json"]).ok();
    let summary = done.json_lines();
    assert_eq!(
        (&summary[0]["events"], &summary[0]["links"]),
        (&25_000.into(), &1.into())
    );
    let dir = root.path().join("copy");
    run(&dir, &["import", file.to_str().ok_or("path")?]).ok();
    assert_same_events(&JsonStore::open_read_only(&dir)?, &test.connect())?;
    Ok(())
}

#[test]
fn consumers_and_parked_events_on_nats() -> R {
    let Some(test) = TestStream::new() else {
        return Ok(());
    };
    let store = test.connect();
    fill_consumers(&store, &store.checkpoints(), &store.parked())?;
    check_consumers(&|args| nats(&test, args), &store.parked())
}

#[test]
fn snapshots_on_nats_are_listed_and_deleted() -> R {
    let Some(test) = TestStream::new() else {
        return Ok(());
    };
    let store = test.connect();
    fill_snapshots(store.snapshots().ok_or("snapshots")?)?;
    check_snapshots(&|args| nats(&test, args))
}

#[test]
fn reading_consumers_parked_events_and_snapshots_creates_no_bucket() -> R {
    let Some(test) = TestStream::new() else {
        return Ok(());
    };
    nats(&test, &["append", "s", "E", "{}"]).ok();
    assert_eq!(
        nats(&test, &["consumers", "--json"])
            .ok()
            .json_lines()
            .len(),
        0
    );
    assert_eq!(
        nats(&test, &["parked", "--json"]).ok().json_lines().len(),
        0
    );
    assert_eq!(
        nats(&test, &["snapshots", "--json"])
            .ok()
            .json_lines()
            .len(),
        0
    );
    nats(&test, &["parked", "drop", "mailer"]).ok();
    let deleted = nats(&test, &["consumers", "delete", "mailer", "--json"]).ok();
    assert_eq!(deleted.json_lines()[0]["action"], "none");
    let deleted = nats(&test, &["snapshots", "--delete", "account", "--json"]).ok();
    assert_eq!(deleted.json_lines()[0]["deleted"], 0);
    assert!(buckets(&test)?.is_empty(), "{:?}", buckets(&test)?);
    // What writes creates its bucket.
    nats(&test, &["consumers", "reset", "mailer", "--to", "1"]).ok();
    nats(&test, &["parked", "replay", "mailer"]).ok();
    assert_eq!(buckets(&test)?, ["checkpoints", "parked"]);
    let store = test.connect();
    assert_eq!(store.checkpoints().load("mailer")?, Some(1));
    assert!(store.parked().replay_requested("mailer")?);
    Ok(())
}

#[test]
fn tail_follows_what_another_process_appends() -> R {
    let Some(test) = TestStream::new() else {
        return Ok(());
    };
    nats(&test, &["append", "s-1", "First", "{}"]).ok();
    server::check_tail_follows_what_another_process_appends(&nats_args(&test), &test.connect())
}

#[test]
fn read_commands_do_not_create_a_missing_stream() -> R {
    let Some(test) = TestStream::new() else {
        return Ok(());
    };
    let commands: [&[&str]; 13] = [
        &["streams"],
        &["consumers"],
        &["consumers", "reset", "c"],
        &["parked"],
        &["parked", "replay", "c"],
        &["snapshots"],
        &["stream", "s"],
        &["event", "01JD0000000000000000000000"],
        &["trace", "01JD0000000000000000000000"],
        &["all", "--json"],
        &["tail", "--timeout", "1"],
        &["stats"],
        &["export"],
    ];
    server::check_read_commands_do_not_create_a_missing_store(
        &nats_args(&test),
        &commands,
        &[
            "no livenstore JetStream stream",
            test.name(),
            "does not exist",
        ],
        &|| Ok(server_has(&test, test.name())? || !buckets(&test)?.is_empty()),
    )?;
    // Nothing to delete: neither the stream nor the bucket is made to find that out.
    let deleted = nats(&test, &["snapshots", "--delete", "T", "--json"]).ok();
    assert_eq!(deleted.json_lines()[0]["deleted"], 0);
    // Had one of them created the stream, this would list its (no) streams.
    nats(&test, &["streams"]).fails(1, &["does not exist"]);
    assert!(buckets(&test)?.is_empty(), "{:?}", buckets(&test)?);
    Ok(())
}

#[test]
fn an_unreachable_server_is_one_line_naming_the_address() -> R {
    let root = tempfile::tempdir()?;
    let file = root.path().join("x.jsonl");
    std::fs::write(&file, "")?;
    let file = file.to_str().ok_or("path")?;
    server::check_each_fails(
        &UNREACHABLE_ARGS,
        &[
            &["streams"],
            &["all", "--json"],
            &["append", "s", "T", "{}"],
            &["stats"],
            &["export"],
            &["import", file],
            &["consumers"],
            &["parked"],
            &["snapshots"],
            &["snapshots", "--delete", "T"],
        ],
        1,
        &["cannot connect to nats://127.0.0.1:1"],
    );
    server::check_the_password_is_not_repeated(
        "--nats",
        &["nats://ada:s3cret@127.0.0.1:1"],
        1,
        "cannot connect to nats://127.0.0.1:1",
    );
    Ok(())
}

#[test]
fn what_nats_cannot_do_is_refused_before_connecting() -> R {
    // The server is unreachable: the refusal comes first, so it does not matter.
    let cases: [(&[&str], &str); 3] = [
        (
            &["verify"],
            "verify works on a JsonStore directory, not with --nats",
        ),
        (
            &["repair"],
            "repair works on a JsonStore directory, not with --nats",
        ),
        (&["export", "--skip-damaged"], "not with --nats"),
    ];
    for (args, needle) in cases {
        server::check_each_fails(&UNREACHABLE_ARGS, &[args], 2, &[needle]);
    }
    Ok(())
}

#[test]
fn the_command_line_names_one_store() -> R {
    server::check_the_password_is_not_repeated(
        "--nats",
        &["nats://ada:s3cret@h:99999", "nats://ada:s3cret@[::1"],
        2,
        "invalid --nats URL",
    );
    let root = tempfile::tempdir()?;
    let dir = root.path().to_str().ok_or("path")?;
    let cases: [&[&str]; 5] = [
        &["--nats", UNREACHABLE, dir, "streams"],
        &["--nats", UNREACHABLE, "--postgres", "host=h", "streams"],
        &["--nats", UNREACHABLE, "--schema", "s", "streams"],
        &[dir, "--nats-stream", "S", "streams"],
        &["--postgres", "host=h", "--nats-stream", "S", "streams"],
    ];
    for args in cases {
        run_raw(args).fails(2, &["cannot be used with"]);
    }
    run_raw(&["--nats", UNREACHABLE, "--nats-stream", "a.b", "streams"])
        .fails(2, &["JetStream stream name"]);
    let help = run_raw(&["--help"]).ok().stdout;
    assert!(
        help.contains("--nats <URL>") && help.contains("--nats-stream <NAME>"),
        "{help}"
    );
    Ok(())
}
