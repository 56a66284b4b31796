//! `snapshots`: listing a store's aggregate snapshots (which are current) and deleting those of
//! one type, on a directory and on a PostgreSQL schema.

mod common;

use common::{check_snapshots, fill_snapshots, run, run_raw, R};
use livenstore::{EventStore, JsonStore};
use livenstore_postgres::testing::TestSchema;

#[test]
fn snapshots_of_a_directory_are_listed_and_deleted() -> R {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("store");
    {
        let store = JsonStore::open(&dir)?;
        fill_snapshots(store.snapshots().ok_or("snapshots")?)?;
    }
    check_snapshots(&|args| run(&dir, args))?;
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
    fill_snapshots(test.connect().snapshots().ok_or("snapshots")?)?;
    let prefix = ["--postgres", test.url(), "--schema", test.schema()];
    check_snapshots(&|args| {
        let all: Vec<&str> = prefix.iter().copied().chain(args.iter().copied()).collect();
        run_raw(&all)
    })
}
