//! `--postgres URL --schema NAME`: the commands on a PostgreSQL store, driven through the real
//! binary. Tests that need a server skip (one printed line) when `LIVENSTORE_POSTGRES_URL` is
//! unset; those of the command line and of an unreachable server always run.

mod common;

use std::io::{BufReader, Read};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{assert_same_events, bin, ev, fill_sample, read_lines, run, run_raw, Run, R};
use livenstore::{EventStore, ExpectedVersion, JsonStore};
use livenstore_postgres::testing::TestSchema;
use serde_json::Value;

/// Nothing listens on port 1 of the loopback address: connecting is refused at once.
const UNREACHABLE: &str = "postgresql://postgres@127.0.0.1:1/test";

/// Runs `livenstore --postgres URL --schema NAME <args>`.
fn pg(test: &TestSchema, args: &[&str]) -> Run {
    let mut all = vec!["--postgres", test.url(), "--schema", test.schema()];
    all.extend_from_slice(args);
    run_raw(&all)
}

/// The `--postgres` arguments for `Command::args`.
fn pg_args(test: &TestSchema) -> [&str; 4] {
    ["--postgres", test.url(), "--schema", test.schema()]
}

/// Whether the server has schema `name`, asked on a connection of the test's own.
fn schema_exists(test: &TestSchema, name: &str) -> Result<bool, postgres::Error> {
    let mut client = test
        .url()
        .parse::<postgres::Config>()?
        .connect(postgres::NoTls)?;
    let row = client.query_one(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)",
        &[&name],
    )?;
    Ok(row.get(0))
}

#[test]
fn append_then_every_read_command_on_postgres() -> R {
    let Some(test) = TestSchema::new() else {
        return Ok(());
    };
    // `append` creates the schema, as it creates a missing directory.
    let first = pg(
        &test,
        &[
            "append",
            "order-1",
            "OrderPlaced",
            r#"{"total":42}"#,
            "--meta",
            "by=cli",
            "--json",
        ],
    )
    .ok()
    .json_lines();
    assert_eq!(
        (first[0]["version"].as_u64(), first[0]["position"].as_u64()),
        (Some(1), Some(1))
    );
    let text = pg(
        &test,
        &["append", "order-1", "OrderPaid", "{}", "--expect", "1"],
    )
    .ok()
    .stdout;
    assert!(text.contains("at version 2 (position 2)"), "{text}");
    pg(
        &test,
        &["append", "order-1", "OrderPaid", "{}", "--expect", "1"],
    )
    .fails(1, &["version conflict", "order-1"]);
    let id = "01JD0000000000000000000042";
    let args = ["append", "order-2", "X", r#"{"a":1}"#, "--id", id, "--json"];
    let once = pg(&test, &args).ok().json_lines();
    assert_eq!(once, pg(&test, &args).ok().json_lines(), "stored once");
    pg(&test, &["append", "order-2", "X", "{oops"]).fails(1, &["not valid JSON"]);

    let store = test.connect();
    let placed = store.read_all(1, 1)?.remove(0);
    assert_eq!(placed.metadata().get("by"), Some("cli"));
    store.link_to_stream(placed.id(), "vip")?;

    let streams = pg(&test, &["streams", "--json"]).ok().json_lines();
    let infos = store.streams()?;
    assert_eq!(streams.len(), 3);
    for (line, info) in streams.iter().zip(&infos) {
        assert_eq!(line["stream"], info.stream.as_str());
        assert_eq!(line["event_count"], info.event_count);
        assert_eq!(line["last_version"], info.last_version);
        assert_eq!(line["last_recorded_at"], info.last_recorded_at.to_string());
    }
    let table = pg(&test, &["streams"]).ok().stdout;
    assert!(table.starts_with("STREAM"), "{table}");
    assert_eq!(table.lines().count(), 4, "{table}");

    let order1 = pg(&test, &["stream", "order-1", "--json"])
        .ok()
        .json_lines();
    let expected: Vec<Value> = store
        .read_stream("order-1", 1, usize::MAX)?
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()?;
    assert_eq!(order1, expected);
    let vip = pg(&test, &["stream", "vip"]).ok().stdout;
    assert!(
        vip.contains("LINKED FROM") && vip.contains("order-1 v1"),
        "{vip}"
    );
    pg(&test, &["stream", "nobody"]).fails(1, &["no stream named `nobody`", test.schema()]);

    let event = pg(&test, &["event", &placed.id().to_string(), "--json"])
        .ok()
        .json_lines();
    assert_eq!(event, [serde_json::to_value(&placed)?]);
    let text = pg(&test, &["event", id]).ok().stdout;
    assert!(text.contains("type:        X"), "{text}");
    pg(&test, &["event", "01JD0000000000000000000000"]).fails(1, &["no event with id"]);

    let positions = |args: &[&str]| -> Vec<u64> {
        pg(&test, args)
            .ok()
            .json_lines()
            .iter()
            .filter_map(|e| e["position"].as_u64())
            .collect()
    };
    assert_eq!(positions(&["all", "--json"]), [1, 2, 3]);
    assert_eq!(positions(&["all", "--json", "--from", "2"]), [2, 3]);
    assert_eq!(positions(&["all", "--json", "--limit", "1"]), [1]);
    assert_eq!(positions(&["all", "--json", "--type", "OrderPaid"]), [2]);
    let table = pg(&test, &["all"]).ok().stdout;
    let last: Vec<&str> = table
        .lines()
        .nth(3)
        .ok_or("row")?
        .split_whitespace()
        .collect();
    assert_eq!(&last[..4], ["3", "order-2", "1", "X"]);

    let stats = pg(&test, &["stats", "--json"]).ok().json_lines();
    assert_eq!(
        (
            stats[0]["events"].as_u64(),
            stats[0]["streams"].as_u64(),
            stats[0]["links"].as_u64()
        ),
        (Some(3), Some(3), Some(1))
    );
    assert_eq!(
        stats[0]["types"],
        serde_json::json!({"OrderPlaced": 1, "OrderPaid": 1, "X": 1})
    );
    for field in ["segments", "segment_bytes", "torn_tail_bytes"] {
        assert!(stats[0].get(field).is_none(), "{field} is for directories");
    }
    let text = pg(&test, &["stats"]).ok().stdout;
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().eq(["links", "1"])),
        "{text}"
    );
    assert!(!text.contains("segment"), "{text}");
    Ok(())
}

#[test]
fn tail_follows_what_another_process_appends() -> R {
    let Some(test) = TestSchema::new() else {
        return Ok(());
    };
    pg(&test, &["append", "s-1", "First", "{}"]).ok();
    let store = test.connect();
    // The whole store, then one stream (events of another stream are not printed). Each tail
    // starts at what comes next, so it sees exactly what is appended while it runs.
    for stream in [None, Some("s-1")] {
        let from = match stream {
            None => store.last_position()? + 1,
            Some(s) => store.stream_version(s)? + 1,
        }
        .to_string();
        let mut follow = vec!["tail", "--from", &from, "--max", "2"];
        follow.extend(["--timeout", "60", "--interval-ms", "20", "--json"]);
        follow.extend(stream.map(|s| ["--stream", s]).into_iter().flatten());
        let mut tail = bin()
            .args(pg_args(&test))
            .args(&follow)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut out = BufReader::new(tail.stdout.take().ok_or("stdout")?);
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(100)); // let it poll an unchanged store
        let mut appended = Vec::new();
        for (target, kind) in [("s-1", "Second"), ("other", "Elsewhere"), ("s-1", "Third")] {
            let done = pg(&test, &["append", target, kind, "{}", "--json"]).ok();
            if stream.is_none() || stream == Some(target) {
                appended.push(done.json_lines().remove(0));
            }
        }
        let lines = read_lines(&mut out, 3)?;
        let status = tail.wait()?;
        let mut stderr = String::new();
        tail.stderr
            .take()
            .ok_or("stderr")?
            .read_to_string(&mut stderr)?;
        assert!(status.success() && stderr.is_empty(), "{status}: {stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(50),
            "stopped by --max"
        );
        let seen: Vec<Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l))
            .collect::<Result<_, _>>()?;
        assert_eq!(seen.len(), 2, "{lines:?}");
        for (event, append) in seen.iter().zip(&appended) {
            assert_eq!(event["id"], append["id"], "{stream:?}");
            assert_eq!(event["position"], append["position"]);
        }
    }
    // Nothing comes: it stops at its timeout, having printed nothing.
    let started = Instant::now();
    let idle = pg(&test, &["tail", "--timeout", "1", "--interval-ms", "50"]).ok();
    assert!(idle.stdout.is_empty(), "{}", idle.stdout);
    assert!(started.elapsed() >= Duration::from_secs(1));
    Ok(())
}

#[test]
fn export_of_postgres_imports_into_a_directory_unchanged() -> R {
    let Some(test) = TestSchema::new() else {
        return Ok(());
    };
    let store = test.connect();
    fill_sample(&store);
    let exported = pg(&test, &["export", "--format", "jsonl"]).ok();
    let lines = exported.json_lines();
    assert_eq!(lines.len(), 8, "5 events and 3 links");
    let at = |pred: &dyn Fn(&Value) -> bool| lines.iter().position(pred);
    let link_v2 = at(&|l| l["link"]["stream"] == "user-2").ok_or("link")?;
    let event_v3 = at(&|l| l["stream"] == "user-2" && l["version"] == 3).ok_or("event")?;
    assert!(
        link_v2 < event_v3,
        "the link comes before user-2's version 3"
    );

    let root = tempfile::tempdir()?;
    let file = root.path().join("pg.jsonl");
    let path = file.to_str().ok_or("path")?;
    let summary = pg(&test, &["export", "-o", path, "--json"])
        .ok()
        .json_lines();
    assert_eq!(summary[0]["events"], 5);
    assert_eq!(summary[0]["links"], 3);
    let copy = root.path().join("copy");
    let imported = run(&copy, &["import", path]).ok().stdout;
    assert!(
        imported.contains("imported 5 event(s) and 3 link(s)"),
        "{imported}"
    );
    assert_same_events(&store, &JsonStore::open_read_only(&copy)?)?;
    // The directory exports to the same text: nothing was lost or changed on the way.
    assert_eq!(run(&copy, &["export"]).ok().stdout, exported.stdout);
    Ok(())
}

#[test]
fn an_export_taken_while_others_write_imports_cleanly() -> R {
    let Some(test) = TestSchema::new() else {
        return Ok(());
    };
    let store = test.connect();
    fill_sample(&store);
    // Streams read after `mixed` (by name), so that reading the links of every stream takes a
    // while after `mixed` was read: the writer appends meanwhile.
    for n in 0..200 {
        store.append(
            &format!("pad-{n:03}"),
            ExpectedVersion::NoStream,
            vec![ev("Pad", n)],
        )?;
    }
    let root = tempfile::tempdir()?;
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| -> R {
        // Another writer, the whole time the exports run: appends to the sample's streams,
        // links each new event into `mixed` (which also gets events of its own) and into a
        // stream of links only, and links old events into `admins`.
        let writer = s.spawn(|| -> Result<u64, livenstore::StoreError> {
            let writer = test.connect();
            let mut rounds = 0;
            while !stop.load(Ordering::Relaxed) {
                rounds += 1;
                let stream = format!("user-{}", rounds % 3 + 1);
                let new = writer.append(&stream, ExpectedVersion::Any, vec![ev("Busy", rounds)])?;
                let id = writer.read_all(new.last_position, 1)?[0].id();
                writer.link_to_stream(id, "mixed")?;
                writer.link_to_stream(id, &format!("feed-{}", rounds % 2))?;
                writer.append("mixed", ExpectedVersion::Any, vec![ev("Own", rounds)])?;
                let old = writer.read_all(rounds % new.last_position + 1, 1)?[0].id();
                // Linking an event twice into one stream is refused: that is fine here.
                let _ = writer.link_to_stream(old, "admins");
            }
            Ok(rounds)
        });
        // Stops the writer however this thread leaves the scope (a failed check panics).
        let stop_writer = StopOnDrop(&stop);
        for round in 0..4 {
            let file = root.path().join(format!("export-{round}.jsonl"));
            let path = file.to_str().ok_or("path")?;
            pg(&test, &["export", "-o", path]).ok();
            let copy = root.path().join(format!("copy-{round}"));
            run(&copy, &["import", path]).ok();
            run(&copy, &["verify"]).ok();
        }
        drop(stop_writer);
        let rounds = writer.join().map_err(|_| "the writer panicked")??;

        assert!(rounds > 0, "the writer wrote while the exports ran");
        Ok(())
    })
}

#[test]
fn stats_taken_while_others_append_are_of_one_moment() -> R {
    let Some(test) = TestSchema::new() else {
        return Ok(());
    };
    let store = test.connect();
    fill_sample(&store);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| -> R {
        // Appends only (no links), to many streams, the whole time.
        let writer = s.spawn(|| -> Result<u64, livenstore::StoreError> {
            let writer = test.connect();
            let mut rounds = 0;
            while !stop.load(Ordering::Relaxed) {
                rounds += 1;
                let stream = format!("busy-{}", rounds % 50);
                writer.append(&stream, ExpectedVersion::Any, vec![ev("Busy", rounds)])?;
            }
            Ok(rounds)
        });
        let stop_writer = StopOnDrop(&stop);
        for _ in 0..10 {
            let stats = pg(&test, &["stats", "--json"]).ok().json_lines().remove(0);
            assert_eq!(stats["links"], 3, "the sample's links, exactly: {stats}");
            let typed: u64 = stats["types"]
                .as_object()
                .ok_or("types")?
                .values()
                .filter_map(Value::as_u64)
                .sum();
            assert_eq!(Some(typed), stats["events"].as_u64(), "{stats}");
        }
        drop(stop_writer);
        let rounds = writer.join().map_err(|_| "the writer panicked")??;
        assert!(rounds > 0, "the writer wrote while stats ran");
        Ok(())
    })
}

/// Sets its flag when dropped, also while a panic unwinds.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[test]
fn read_commands_do_not_create_a_missing_schema() -> R {
    let Some(test) = TestSchema::new() else {
        return Ok(());
    };
    let commands: [&[&str]; 7] = [
        &["streams"],
        &["stream", "s"],
        &["event", "01JD0000000000000000000000"],
        &["all", "--json"],
        &["tail", "--timeout", "1"],
        &["stats"],
        &["export"],
    ];
    for args in commands {
        pg(&test, args).fails(
            1,
            &["no livenstore schema", test.schema(), "does not exist"],
        );
        assert!(
            !schema_exists(&test, test.schema())?,
            "{args:?} created the schema"
        );
    }
    // A schema that is not a store's is left alone too.
    let mut client = test
        .url()
        .parse::<postgres::Config>()?
        .connect(postgres::NoTls)?;
    client.batch_execute(&format!("CREATE SCHEMA \"{}\"", test.schema()))?;
    pg(&test, &["streams"]).fails(1, &["is not a livenstore store", test.schema()]);
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = $1",
            &[&test.schema()],
        )?
        .get(0);
    assert_eq!(tables, 0, "no table was created");
    Ok(())
}

#[test]
fn verify_and_import_refuse_postgres_before_connecting() -> R {
    // The server is unreachable: the refusal comes first, so it does not matter.
    let root = tempfile::tempdir()?;
    let file = root.path().join("x.jsonl");
    std::fs::write(&file, "")?;
    let file = file.to_str().ok_or("path")?;
    for (args, what) in [
        (&["verify"][..], "verify works on a JsonStore directory"),
        (&["import", file], "import works on a JsonStore directory"),
        (
            &["import", "-", "--json"],
            "import works on a JsonStore directory",
        ),
    ] {
        let mut all = vec!["--postgres", UNREACHABLE];
        all.extend_from_slice(args);
        run_raw(&all).fails(2, &[what, "not with --postgres"]);
    }
    Ok(())
}

#[test]
fn an_unreachable_server_is_one_line_naming_host_and_port() -> R {
    for args in [&["streams"][..], &["append", "s", "T", "{}"], &["stats"]] {
        let mut all = vec!["--postgres", UNREACHABLE];
        all.extend_from_slice(args);
        run_raw(&all).fails(1, &["cannot connect to 127.0.0.1:1"]);
    }
    Ok(())
}

#[test]
fn a_malformed_url_is_a_usage_error_that_does_not_repeat_it() -> R {
    for url in [
        "postgresql://ada:s3cret@[::1",
        "postgresql://ada:s3cret@h:99999/db",
        "host=h password=s3cret bogus=1",
    ] {
        let done = run_raw(&["--postgres", url, "streams"]).fails(2, &["invalid --postgres URL"]);
        assert!(!done.stderr.contains("s3cret"), "{}", done.stderr);
    }
    Ok(())
}

#[test]
fn exactly_one_of_dir_and_postgres_names_the_store() -> R {
    let root = tempfile::tempdir()?;
    let dir = root.path().to_str().ok_or("path")?;
    let cases: [(&[&str], &str); 5] = [
        (&["streams"], "<DIR|--postgres <URL>|--nats <URL>>"),
        (&["--json", "all"], "<DIR|--postgres <URL>|--nats <URL>>"),
        (
            &["--postgres", UNREACHABLE, dir, "streams"],
            "cannot be used with",
        ),
        (
            &[dir, "--postgres", UNREACHABLE, "streams"],
            "cannot be used with",
        ),
        (&[dir, "--schema", "s", "streams"], "cannot be used with"),
    ];
    for (args, needle) in cases {
        run_raw(args).fails(2, &[needle]);
    }
    run_raw(&[
        "--postgres",
        UNREACHABLE,
        "--schema",
        "Not-Valid",
        "streams",
    ])
    .fails(2, &["invalid schema name"]);
    // The help says how to name either.
    let help = run_raw(&["--help"]).ok().stdout;
    assert!(
        help.contains("--postgres <URL>") && help.contains("--schema <NAME>"),
        "{help}"
    );
    Ok(())
}
