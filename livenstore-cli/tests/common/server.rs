//! Scenarios that every server store (`--postgres`, `--nats`) must pass through the real
//! binary, each taking the arguments that name the store (put in front of every command) and,
//! where it checks what the CLI wrote, the store as the library opens it.

use std::io::BufReader;
use std::process::Stdio;
use std::time::{Duration, Instant};

use livenstore::{EventStore, JsonStore};
use serde_json::Value;

use super::{
    assert_exits_cleanly, assert_same_events, bin, fill_sample, read_lines, run, run_raw, Run, R,
};

/// Runs `livenstore <store> <args>`.
pub fn on(store: &[&str], args: &[&str]) -> Run {
    run_raw(&[store, args].concat())
}

/// `append` (text and `--json`, `--meta`, `--event-version`, `--expect`, `--id`) and every read
/// command (`stream`, `event`, `trace`, `all` and its filters, `streams`, `stats`) on a store
/// named by `store` that does not exist yet (`append` creates it), checked against what the
/// library reads from `connect()`, called once the CLI created the store; `name` is the store's
/// name as errors print it.
pub fn check_append_and_read_commands<S: EventStore>(
    store: &[&str],
    connect: impl FnOnce() -> S,
    name: &str,
) -> R {
    let cli = |args: &[&str]| on(store, args);
    let args = ["append", "order-1", "OrderPlaced", r#"{"total":42}"#];
    let text = cli(&args).ok().stdout;
    assert!(text.contains("at version 1 (position 1)"), "{text}");
    let paid = ["append", "order-1", "OrderPaid", "{}", "--expect", "1"];
    let meta = ["--meta", "by=cli", "--json", "--event-version", "2"];
    let done = cli(&[&paid[..], &meta].concat()).ok().json_lines();
    assert_eq!(
        (done[0]["version"].as_u64(), done[0]["position"].as_u64()),
        (Some(2), Some(2))
    );
    cli(&paid).fails(1, &["version conflict", "order-1"]);
    let id = "01JD0000000000000000000042";
    let again = ["append", "order-2", "X", r#"{"a":1}"#, "--id", id, "--json"];
    let once = cli(&again).ok().json_lines();
    assert_eq!(once, cli(&again).ok().json_lines(), "stored once");
    cli(&["append", "order-2", "X", "{oops"]).fails(1, &["not valid JSON"]);

    // What the CLI wrote is what the library reads, and the CLI reads it back the same.
    let library = connect();
    let order1 = library.read_stream("order-1", 1, usize::MAX)?;
    assert_eq!(order1.len(), 2);
    assert_eq!(order1[1].metadata().get("by"), Some("cli"));
    assert_eq!(order1[1].event_version(), 2);
    library.link_to_stream(order1[0].id(), "vip")?;
    let expected: Vec<Value> = order1
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()?;
    assert_eq!(
        cli(&["stream", "order-1", "--json"]).ok().json_lines(),
        expected
    );
    let vip = cli(&["stream", "vip"]).ok().stdout;
    assert!(
        vip.contains("LINKED FROM") && vip.contains("order-1 v1"),
        "{vip}"
    );
    cli(&["stream", "nobody"]).fails(1, &["no stream named `nobody`", name]);
    let all: Vec<Value> = library
        .read_all(1, usize::MAX)?
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()?;
    assert_eq!(cli(&["all", "--json"]).ok().json_lines(), all);
    let typed = cli(&["all", "--json", "--type", "X"]).ok().json_lines();
    assert_eq!(typed, [all[2].clone()]);
    let placed = order1[0].id().to_string();
    assert_eq!(
        cli(&["event", &placed, "--json"]).ok().json_lines(),
        [all[0].clone()]
    );
    assert_eq!(
        cli(&["event", id, "--json"]).ok().json_lines(),
        [all[2].clone()]
    );
    let text = cli(&["event", id]).ok().stdout;
    assert!(text.contains("type:        X"), "{text}");
    cli(&["event", "01JD0000000000000000000000"]).fails(1, &["no event with id"]);
    let traced = cli(&["trace", id, "--json"]).ok().json_lines();
    assert_eq!((traced.len(), &traced[0]["asked"]), (1, &Value::Bool(true)));

    let positions = |args: &[&str]| -> Vec<u64> {
        cli(args)
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
    let table = cli(&["all"]).ok().stdout;
    let last: Vec<&str> = table
        .lines()
        .nth(3)
        .ok_or("row")?
        .split_whitespace()
        .collect();
    assert_eq!(&last[..4], ["3", "order-2", "1", "X"]);

    // `streams` and `stats`: what the store says.
    let streams = cli(&["streams", "--json"]).ok().json_lines();
    let infos = library.streams()?;
    assert_eq!(streams.len(), 3);
    for (line, info) in streams.iter().zip(&infos) {
        assert_eq!(line["stream"], info.stream.as_str());
        assert_eq!(line["event_count"], info.event_count);
        assert_eq!(line["last_version"], info.last_version);
        assert_eq!(line["last_recorded_at"], info.last_recorded_at.to_string());
    }
    let table = cli(&["streams"]).ok().stdout;
    assert!(table.starts_with("STREAM"), "{table}");
    assert_eq!(table.lines().count(), 4, "{table}");
    let stats = cli(&["stats", "--json"]).ok().json_lines();
    let counts = ["events", "streams", "links"].map(|k| stats[0][k].as_u64());
    assert_eq!(counts, [Some(3), Some(3), Some(1)]);
    assert_eq!(
        stats[0]["types"],
        serde_json::json!({"OrderPlaced": 1, "OrderPaid@2": 1, "X": 1})
    );
    for field in ["segments", "segment_bytes", "torn_tail_bytes"] {
        assert!(stats[0].get(field).is_none(), "{field} is for directories");
    }
    let text = cli(&["stats"]).ok().stdout;
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().eq(["links", "1"])),
        "{text}"
    );
    assert!(!text.contains("segment"), "{text}");
    Ok(())
}

/// `tail` on the store named by `store` (which holds an event of `s-1`), the whole store and
/// then stream `s-1`, each from what comes next: it prints exactly the events another process
/// appends while it runs (their ids and positions), stops at `--max`, and, when nothing comes,
/// at its timeout having printed nothing. `library` is the store as the library opens it.
pub fn check_tail_follows_what_another_process_appends(
    store: &[&str],
    library: &dyn EventStore,
) -> R {
    for stream in [None, Some("s-1")] {
        let from = match stream {
            None => library.last_position()? + 1,
            Some(s) => library.stream_version(s)? + 1,
        }
        .to_string();
        let mut follow = vec!["tail", "--from", &from, "--max", "2"];
        follow.extend(["--timeout", "60", "--interval-ms", "20", "--json"]);
        follow.extend(stream.map(|s| ["--stream", s]).into_iter().flatten());
        let mut tail = bin()
            .args(store)
            .args(&follow)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut out = BufReader::new(tail.stdout.take().ok_or("stdout")?);
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(100)); // let it poll an unchanged store
        let mut appended = Vec::new();
        for (target, kind) in [("s-1", "Second"), ("other", "Elsewhere"), ("s-1", "Third")] {
            let done = on(store, &["append", target, kind, "{}", "--json"]).ok();
            if stream.is_none() || stream == Some(target) {
                appended.push(done.json_lines().remove(0));
            }
        }
        let lines = read_lines(&mut out, 3)?;
        assert_exits_cleanly(&mut tail)?;
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
    let idle = on(store, &["tail", "--timeout", "1", "--interval-ms", "50"]).ok();
    assert!(idle.stdout.is_empty(), "{}", idle.stdout);
    assert!(started.elapsed() >= Duration::from_secs(1));
    Ok(())
}

/// `export` of the store named by `store`, which `fill_sample` filled: eight lines (5 events and
/// 3 links, user-2's link before its version 3), `-o FILE --json` counts them, and a directory
/// imports the file unchanged (the same events, and the same text exported again). Returns the
/// exported text and the file, under `root`.
pub fn check_export_imports_into_a_directory(
    store: &[&str],
    library: &dyn EventStore,
    root: &std::path::Path,
) -> Result<(String, std::path::PathBuf), Box<dyn std::error::Error>> {
    fill_sample(&library);
    let exported = on(store, &["export", "--format", "jsonl"]).ok();
    let lines = exported.json_lines();
    assert_eq!(lines.len(), 8, "5 events and 3 links");
    let at = |pred: &dyn Fn(&Value) -> bool| lines.iter().position(pred);
    let link_v2 = at(&|l| l["link"]["stream"] == "user-2").ok_or("link")?;
    let event_v3 = at(&|l| l["stream"] == "user-2" && l["version"] == 3).ok_or("event")?;
    assert!(
        link_v2 < event_v3,
        "the link comes before user-2's version 3"
    );
    let file = root.join("export.jsonl");
    let path = file.to_str().ok_or("path")?;
    let summary = on(store, &["export", "-o", path, "--json"])
        .ok()
        .json_lines();
    assert_eq!(
        (&summary[0]["events"], &summary[0]["links"]),
        (&5.into(), &3.into())
    );
    let copy = root.join("copy");
    let imported = run(&copy, &["import", path]).ok().stdout;
    assert!(
        imported.contains("imported 5 event(s) and 3 link(s)"),
        "{imported}"
    );
    assert_same_events(&library, &JsonStore::open_read_only(&copy)?)?;
    // The directory exports to the same text: nothing was lost or changed on the way.
    assert_eq!(run(&copy, &["export"]).ok().stdout, exported.stdout);
    Ok((exported.stdout, file))
}

/// Each of `commands` on the store named by `store`, which does not exist, fails with status 1
/// and an error holding each of `needles`, and leaves it not existing (`exists()` false after
/// each).
pub fn check_read_commands_do_not_create_a_missing_store(
    store: &[&str],
    commands: &[&[&str]],
    needles: &[&str],
    exists: &dyn Fn() -> Result<bool, Box<dyn std::error::Error>>,
) -> R {
    for args in commands {
        on(store, args).fails(1, needles);
        assert!(!exists()?, "{args:?} created the store");
    }
    Ok(())
}

/// Each of `commands` after `store` fails with status `code` and one error line holding each
/// of `needles` (an unreachable server, a refusal before connecting).
pub fn check_each_fails(store: &[&str], commands: &[&[&str]], code: i32, needles: &[&str]) {
    for args in commands {
        on(store, args).fails(code, needles);
    }
}

/// `flag URL streams` with each of `urls` (which hold the password `s3cret`) fails with status
/// `code` and an error holding `needle`, which does not repeat the password.
pub fn check_the_password_is_not_repeated(flag: &str, urls: &[&str], code: i32, needle: &str) {
    for url in urls {
        let done = run_raw(&[flag, url, "streams"]).fails(code, &[needle]);
        assert!(!done.stderr.contains("s3cret"), "{}", done.stderr);
    }
}
