//! `export` and `import`: a round trip keeps every event and link, times included.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use common::{assert_same_events, bin, run, sample_store, Run, R};
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
