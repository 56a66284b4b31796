//! `streams`, `stream`, `event`, `all`, `stats` and `append`, driven through the real binary.

mod common;

use common::{run, sample_store, R};
use livenstore::{EventStore, JsonStore};
use serde_json::Value;

#[test]
fn streams_lists_every_stream_as_a_table_and_as_json() -> R {
    let root = tempfile::tempdir()?;
    let dir = sample_store(root.path());
    let table = run(&dir, &["streams"]).ok();
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", table.stdout);
    assert!(lines[0].starts_with("STREAM") && lines[0].contains("LAST VERSION"));
    assert!(lines[1].starts_with("admins "), "{}", lines[1]);
    let user1: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(&user1[..3], ["user-1", "3", "3"]);

    let json = run(&dir, &["streams", "--json"]).ok().json_lines();
    let store = JsonStore::open_read_only(&dir)?;
    let infos = store.streams()?;
    assert_eq!(json.len(), infos.len());
    for (line, info) in json.iter().zip(&infos) {
        assert_eq!(line["stream"], info.stream.as_str());
        assert_eq!(line["event_count"], info.event_count);
        assert_eq!(line["last_version"], info.last_version);
        assert_eq!(line["last_recorded_at"], info.last_recorded_at.to_string());
    }
    // `--json` may also come before the command.
    assert_eq!(run(&dir, &["--json", "streams"]).ok().json_lines(), json);
    Ok(())
}

#[test]
fn stream_prints_versions_from_and_limit_and_links() -> R {
    let root = tempfile::tempdir()?;
    let dir = sample_store(root.path());
    let json = run(&dir, &["stream", "user-2", "--json"]).ok().json_lines();
    let versions: Vec<u64> = json
        .iter()
        .map(|e| e["link"]["version"].as_u64().or(e["version"].as_u64()))
        .collect::<Option<_>>()
        .ok_or("no version")?;
    assert_eq!(versions, [1, 2, 3]);
    assert_eq!(
        json[1]["stream"], "user-1",
        "the linked event keeps its own stream"
    );
    assert_eq!(json[1]["link"]["stream"], "user-2");

    let page = run(
        &dir,
        &["stream", "user-2", "--from", "2", "--limit", "1", "--json"],
    )
    .ok()
    .json_lines();
    assert_eq!(page, json[1..2]);

    let table = run(&dir, &["stream", "user-2"]).ok().stdout;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("VERSION") && lines[0].contains("LINKED FROM"));
    assert!(lines[2].contains("user-1 v1"), "{}", lines[2]);

    run(&dir, &["stream", "nobody"]).fails(1, &["no stream named `nobody`"]);
    Ok(())
}

#[test]
fn event_prints_one_event_by_id() -> R {
    let root = tempfile::tempdir()?;
    let dir = sample_store(root.path());
    let store = JsonStore::open_read_only(&dir)?;
    let first = store.read_all(1, 1)?.remove(0);
    let id = first.id().to_string();
    let json = run(&dir, &["event", &id, "--json"]).ok().json_lines();
    assert_eq!(json, [serde_json::to_value(&first)?]);
    assert_eq!(json[0]["metadata"]["correlation_id"], "req-1");

    let text = run(&dir, &["event", &id]).ok().stdout;
    assert!(text.contains(&format!("id:          {id}")), "{text}");
    assert!(text.contains("type:        UserCreated"), "{text}");
    assert!(text.contains("\"n\": 1"), "pretty payload: {text}");

    run(&dir, &["event", "01JD0000000000000000000000"]).fails(1, &["no event with id"]);
    Ok(())
}

#[test]
fn all_prints_in_position_order_with_from_type_and_limit() -> R {
    let root = tempfile::tempdir()?;
    let dir = sample_store(root.path());
    let positions = |args: &[&str]| -> Vec<u64> {
        run(&dir, args)
            .ok()
            .json_lines()
            .iter()
            .filter_map(|e| e["position"].as_u64())
            .collect()
    };
    assert_eq!(positions(&["all", "--json"]), [1, 2, 3, 4, 5]);
    assert_eq!(positions(&["all", "--json", "--from", "4"]), [4, 5]);
    assert_eq!(positions(&["all", "--json", "--limit", "2"]), [1, 2]);
    assert_eq!(
        positions(&["all", "--json", "--type", "UserCreated"]),
        [1, 3]
    );
    assert_eq!(
        positions(&["all", "--json", "--type", "UserRenamed", "--from", "3"]),
        [4]
    );
    assert!(positions(&["all", "--json", "--type", "Nothing"]).is_empty());

    let table = run(&dir, &["all"]).ok().stdout;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 6);
    let cells: Vec<&str> = lines[5].split_whitespace().collect();
    assert_eq!(&cells[..4], ["5", "user-1", "3", "UserDeleted"]);
    assert!(lines[5].ends_with(r#"{"n":5}"#), "{}", lines[5]);
    Ok(())
}

#[test]
fn stats_counts_events_streams_links_and_types() -> R {
    let root = tempfile::tempdir()?;
    let dir = sample_store(root.path());
    let json = run(&dir, &["stats", "--json"]).ok().json_lines();
    let stats = &json[0];
    assert_eq!(stats["events"], 5);
    assert_eq!(stats["streams"], 3);
    assert_eq!(stats["links"], 3);
    assert_eq!(stats["segments"], 1);
    let size = std::fs::metadata(&common::segments(&dir)[0])?.len();
    assert_eq!(stats["segment_bytes"], size);
    let types: Value = serde_json::json!({"UserCreated": 2, "UserRenamed": 2, "UserDeleted": 1});
    assert_eq!(stats["types"], types);
    let text = run(&dir, &["stats"]).ok().stdout;
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().eq(["links", "3"])),
        "{text}"
    );
    assert!(text.contains("UserDeleted"), "{text}");
    Ok(())
}

#[test]
fn append_creates_checks_versions_and_is_idempotent_with_an_id() -> R {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("new-store");
    let first = run(
        &dir,
        &[
            "append",
            "orders-1",
            "OrderPlaced",
            r#"{"total":42}"#,
            "--json",
            "--meta",
            "by=cli",
        ],
    )
    .ok()
    .json_lines();
    assert_eq!(
        (first[0]["version"].as_u64(), first[0]["position"].as_u64()),
        (Some(1), Some(1))
    );
    let text = run(
        &dir,
        &["append", "orders-1", "OrderPaid", "{}", "--expect", "1"],
    )
    .ok()
    .stdout;
    assert!(
        text.starts_with("appended ") && text.contains("at version 2 (position 2)"),
        "{text}"
    );
    run(
        &dir,
        &["append", "orders-1", "OrderPaid", "{}", "--expect", "1"],
    )
    .fails(1, &["version conflict", "orders-1"]);
    run(
        &dir,
        &["append", "orders-2", "X", "{}", "--expect", "exists"],
    )
    .fails(1, &["conflict"]);

    let id = "01JD0000000000000000000042";
    let args = [
        "append",
        "orders-2",
        "X",
        r#"{"a":1}"#,
        "--id",
        id,
        "--json",
    ];
    let once = run(&dir, &args).ok().json_lines();
    let again = run(&dir, &args).ok().json_lines();
    assert_eq!(once, again, "the same id and content is stored once");
    run(&dir, &["append", "orders-2", "X", r#"{"a":2}"#, "--id", id]).fails(1, &["already stored"]);
    run(&dir, &["append", "orders-2", "X", "{oops"]).fails(1, &["not valid JSON"]);

    let store = JsonStore::open_read_only(&dir)?;
    let all = store.read_all(1, usize::MAX)?;
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].metadata().get("by"), Some("cli"));
    assert_eq!(
        all[0].id().to_string(),
        first[0]["id"].as_str().ok_or("id")?
    );
    assert_eq!(all[2].id().to_string(), id);
    Ok(())
}
