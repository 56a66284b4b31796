//! `export` and `import`: a round trip keeps every event and link, times included.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use common::{assert_same_events, bin, run, sample_store, segments, Run, R};
use livenstore::{EventStore, JsonStore};

/// Both store directories hold the same events, streams and links.
fn assert_same_store(a: &Path, b: &Path) -> R {
    assert_same_events(
        &JsonStore::open_read_only(a)?,
        &JsonStore::open_read_only(b)?,
    )
}

#[test]
fn export_then_import_rebuilds_the_same_store() -> R {
    let root = tempfile::tempdir()?;
    let dir = sample_store(root.path());
    let exported = run(&dir, &["export", "--format", "jsonl"]).ok();
    let lines = exported.json_lines();
    assert_eq!(lines.len(), 8, "5 events and 3 links");
    let links: Vec<&serde_json::Value> = lines.iter().filter(|l| l.get("link").is_some()).collect();
    assert_eq!(links.len(), 3);
    // The link into user-2 (its version 2) comes before user-2's version 3.
    let at = |pred: &dyn Fn(&serde_json::Value) -> bool| lines.iter().position(pred);
    let link_v2 = at(&|l| l["link"]["stream"] == "user-2").ok_or("link")?;
    let event_v3 = at(&|l| l["stream"] == "user-2" && l["version"] == 3).ok_or("event")?;
    assert!(link_v2 < event_v3);

    let file = root.path().join("store.jsonl");
    let summary = run(
        &dir,
        &["export", "--output", file.to_str().ok_or("path")?, "--json"],
    )
    .ok();
    assert_eq!(summary.json_lines()[0]["events"], 5);
    assert_eq!(std::fs::read_to_string(&file)?, exported.stdout);

    let copy = root.path().join("copy");
    let imported = run(&copy, &["import", file.to_str().ok_or("path")?]).ok();
    assert!(
        imported
            .stdout
            .contains("imported 5 event(s) and 3 link(s)"),
        "{}",
        imported.stdout
    );
    assert_same_store(&dir, &copy)?;
    // The copy exports to the same text, and goes on like any store.
    assert_eq!(run(&copy, &["export"]).ok().stdout, exported.stdout);
    let next = run(
        &copy,
        &[
            "append",
            "user-1",
            "UserRestored",
            "{}",
            "--expect",
            "3",
            "--json",
        ],
    )
    .ok()
    .json_lines();
    assert_eq!(next[0]["position"], 6);
    Ok(())
}

#[test]
fn import_reads_standard_input_into_an_empty_opened_store() -> R {
    let root = tempfile::tempdir()?;
    let dir = sample_store(root.path());
    let exported = run(&dir, &["export"]).ok().stdout;
    let copy = root.path().join("copy");
    drop(JsonStore::open(&copy)?); // an empty store, as a fresh application leaves it
    let mut child = bin()
        .arg(&copy)
        .args(["import", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or("stdin")?
        .write_all(exported.as_bytes())?;
    let done = Run::from(child.wait_with_output()?).ok();
    assert_eq!(
        done.json_lines(),
        [serde_json::json!({"events": 5, "links": 3, "holes": 0})]
    );
    assert_same_store(&dir, &copy)
}

#[test]
fn import_refuses_a_full_store_a_locked_one_and_bad_lines() -> R {
    let root = tempfile::tempdir()?;
    let dir = sample_store(root.path());
    let file = root.path().join("export.jsonl");
    let path = file.to_str().ok_or("path")?;
    run(&dir, &["export", "-o", path]).ok();

    run(&dir, &["import", path]).fails(1, &["holds records", "empty store"]);

    let locked = root.path().join("locked");
    let writer = JsonStore::open(&locked)?;
    run(&locked, &["import", path]).fails(1, &["locked by another process"]);
    drop(writer);

    let text = std::fs::read_to_string(&file)?;
    let mut lines: Vec<&str> = text.lines().collect();
    lines[3] = r#"{"not":"a record"}"#;
    let bad = root.path().join("bad.jsonl");
    std::fs::write(&bad, lines.join("\n"))?;
    let partial = root.path().join("partial");
    run(&partial, &["import", bad.to_str().ok_or("path")?]).fails(
        1,
        &[
            "line 4",
            "not an event record",
            "keeps the 3 events and 0 links",
        ],
    );
    let kept = JsonStore::open_read_only(&partial)?;
    assert_eq!(
        kept.last_position()?,
        3,
        "the records before the bad line stay"
    );

    // A record the log rules refuse: the second event again.
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(2, lines[1]);
    std::fs::write(&bad, lines.join("\n"))?;
    run(
        &root.path().join("dup"),
        &["import", bad.to_str().ok_or("path")?],
    )
    .fails(1, &["line 3", "rejected"]);

    run(
        &root.path().join("none"),
        &["import", "/no/such/file.jsonl"],
    )
    .fails(1, &["cannot open /no/such/file.jsonl"]);
    assert!(
        !root.path().join("none").exists(),
        "nothing created for a missing file"
    );
    Ok(())
}

#[test]
fn event_versions_show_in_tables_and_survive_export_and_import() -> R {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("store");
    run(&dir, &["append", "acct-1", "Deposited", r#"{"amount":3}"#]).ok();
    run(
        &dir,
        &[
            "append",
            "acct-1",
            "Deposited",
            r#"{"cents":300}"#,
            "--event-version",
            "2",
        ],
    )
    .ok();
    let table = run(&dir, &["all"]).ok().stdout;
    assert!(table.contains("Deposited@2"), "{table}");
    assert_eq!(table.matches("Deposited ").count(), 1, "{table}");
    let stats = run(&dir, &["stats", "--json"]).ok().json_lines();
    assert_eq!(
        stats[0]["types"],
        serde_json::json!({"Deposited": 1, "Deposited@2": 1})
    );
    let exported = run(&dir, &["export"]).ok();
    let lines = exported.json_lines();
    assert!(
        lines[0].get("event_version").is_none(),
        "version 1 is left out"
    );
    assert_eq!(lines[1]["event_version"], 2);
    let file = root.path().join("export.jsonl");
    std::fs::write(&file, &exported.stdout)?;
    let copy = root.path().join("copy");
    run(&copy, &["import", file.to_str().ok_or("path")?]).ok();
    assert_same_store(&dir, &copy)?;
    run(
        &dir,
        &[
            "append",
            "acct-1",
            "Deposited",
            "{}",
            "--event-version",
            "0",
        ],
    )
    .fails(1, &["event version 0 is out of range"]);
    Ok(())
}

/// The README's recipe for rewriting history: export, transform each line, import into a new
/// store. The old store is left as it was.
#[test]
fn history_is_rewritten_by_export_transform_import_into_a_new_store() -> R {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("old");
    run(
        &dir,
        &["append", "acct-1", "MoneyDeposited", r#"{"amount":3}"#],
    )
    .ok();
    run(
        &dir,
        &["append", "acct-1", "MoneyDeposited", r#"{"amount":5}"#],
    )
    .ok();
    let before = std::fs::read(segments(&dir)[0].clone())?;
    let exported = run(&dir, &["export"]).ok();
    // The transform: `MoneyDeposited` v1 {amount} becomes `account.credited` v2 {cents}.
    let mut transformed = String::new();
    for mut line in exported.json_lines() {
        if line["event_type"] == "MoneyDeposited" {
            let amount = line["payload"]["amount"].as_u64().ok_or("amount")?;
            line["event_type"] = "account.credited".into();
            line["event_version"] = 2.into();
            line["payload"] = serde_json::json!({ "cents": amount * 100 });
        }
        transformed.push_str(&serde_json::to_string(&line)?);
        transformed.push('\n');
    }
    let file = root.path().join("transformed.jsonl");
    std::fs::write(&file, transformed)?;
    let new = root.path().join("new");
    run(&new, &["import", file.to_str().ok_or("path")?]).ok();
    let events = JsonStore::open_read_only(&new)?.read_all(1, usize::MAX)?;
    let summary: Vec<(&str, u32, &str)> = events
        .iter()
        .map(|e| (e.event_type(), e.event_version(), e.payload().as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("account.credited", 2, r#"{"cents":300}"#),
            ("account.credited", 2, r#"{"cents":500}"#)
        ]
    );
    let old = JsonStore::open_read_only(&dir)?.read_all(1, usize::MAX)?;
    assert_eq!(old[0].id(), events[0].id(), "ids and positions are kept");
    assert_eq!(
        std::fs::read(segments(&dir)[0].clone())?,
        before,
        "the old store is untouched"
    );
    Ok(())
}
