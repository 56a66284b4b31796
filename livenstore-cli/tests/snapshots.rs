//! `snapshots`: listing a store's aggregate snapshots (which are current) and deleting those of
//! one type, on a directory and on a PostgreSQL schema.

mod common;

use common::{run, run_raw, Run, R};
use livenstore::store::{Snapshot, SnapshotStore};
use livenstore::{EventStore, JsonStore, Payload, Timestamp};
use livenstore_postgres::testing::TestSchema;

/// Two accounts by today's code (fingerprint 0xa), one by older code (0xb, taken earlier), one
/// order.
fn fill(snapshots: &dyn SnapshotStore) -> R {
    let at = |t, id: &str, v, f, nanos| -> Result<Snapshot, serde_json::Error> {
        Ok(
            Snapshot::new(t, id, v, Payload::from_json(r#"{"balance":1}"#)?)
                .with_fingerprint(f)
                .with_taken_at(Timestamp::from_unix_nanos(nanos)),
        )
    };
    snapshots.save_snapshot(&at("account", "1", 100, 0xa, 3_000_000)?)?;
    snapshots.save_snapshot(&at("account", "2", 200, 0xa, 4_000_000)?)?;
    snapshots.save_snapshot(&at("account", "3", 300, 0xb, 1_000_000)?)?;
    snapshots.save_snapshot(&at("order", "9", 7, 0xc, 2_000_000)?)?;
    Ok(())
}

/// Checks `snapshots` on a store `fill` filled, run by `cli(args)`.
fn check_listing_and_delete(cli: &dyn Fn(&[&str]) -> Run) -> R {
    let table = cli(&["snapshots"]).ok().stdout;
    for header in ["TYPE", "ID", "VERSION", "SIZE", "FINGERPRINT", "CURRENT"] {
        assert!(table.contains(header), "{table}");
    }
    assert_eq!(table.lines().count(), 5, "a header and four rows:\n{table}");
    let lines = cli(&["snapshots", "--json"]).ok().json_lines();
    let current: Vec<(String, bool)> = lines
        .iter()
        .map(|l| {
            (
                format!(
                    "{}/{}",
                    l["aggregate_type"].as_str().unwrap_or(""),
                    l["aggregate_id"]
                ),
                l["current"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(
        current,
        [
            ("account/\"1\"".to_owned(), true),
            ("account/\"2\"".to_owned(), true),
            ("account/\"3\"".to_owned(), false),
            ("order/\"9\"".to_owned(), true),
        ]
    );
    assert_eq!(lines[0]["fingerprint"], "000000000000000a");
    assert_eq!(lines[0]["state_bytes"], 13);
    assert_eq!(
        cli(&["snapshots", "--type", "order", "--json"])
            .ok()
            .json_lines()
            .len(),
        1
    );
    let deleted = cli(&["snapshots", "--delete", "account", "--json"])
        .ok()
        .json_lines();
    assert_eq!(deleted[0]["deleted"], 3);
    let left = cli(&["snapshots", "--json"]).ok().json_lines();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["aggregate_type"], "order");
    Ok(())
}

#[test]
fn snapshots_of_a_directory_are_listed_and_deleted() -> R {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("store");
    {
        let store = JsonStore::open(&dir)?;
        fill(store.snapshots().ok_or("snapshots")?)?;
    }
    check_listing_and_delete(&|args| run(&dir, args))?;
    // A damaged snapshot file is an error naming it, not a silent gap in the list.
    let file = dir.join("snapshots").join("order.9.snapshot");
    std::fs::write(&file, b"{\"crc\":\"00000000\",\"snapshot\":{}}\n")?;
    run(&dir, &["snapshots"]).fails(1, &["order.9.snapshot", "checksum mismatch"]);
    Ok(())
}

#[test]
fn snapshots_on_postgres_are_listed_and_deleted() -> R {
    let Some(test) = TestSchema::new() else {
        return Ok(());
    };
    fill(test.connect().snapshots().ok_or("snapshots")?)?;
    let prefix = ["--postgres", test.url(), "--schema", test.schema()];
    check_listing_and_delete(&|args| {
        let all: Vec<&str> = prefix.iter().copied().chain(args.iter().copied()).collect();
        run_raw(&all)
    })
}
