//! `consumers` and `parked`: consumer checkpoints (list with lag and parked counts, reset,
//! delete) and parked events (list, replay request, drop), on a directory and on PostgreSQL.

mod common;

use common::{check_consumers, fill_consumers, run, run_raw, R};
use livenstore::{EventStore, ExpectedVersion, JsonStore, NewEvent};
use livenstore_postgres::testing::TestSchema;

#[test]
fn consumers_and_parked_events_of_a_directory() -> R {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("store");
    let parked = {
        let store = JsonStore::open(&dir)?;
        fill_consumers(&store, &store.checkpoints()?, &store.parked()?)?;
        store.parked()?
    };
    check_consumers(&|args| run(&dir, args), &parked)
}

#[test]
fn listing_a_store_without_consumers_creates_nothing() -> R {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("store");
    let store = JsonStore::open(&dir)?;
    store.append(
        "s",
        ExpectedVersion::Any,
        vec![NewEvent::from_json("E", "{}")?],
    )?;
    drop(store);
    assert_eq!(
        run(&dir, &["consumers", "--json"]).ok().json_lines().len(),
        0
    );
    assert_eq!(run(&dir, &["parked", "--json"]).ok().json_lines().len(), 0);
    run(&dir, &["parked", "drop", "mailer"]).ok();
    run(&dir, &["consumers", "delete", "mailer"]).ok();
    assert!(!dir.join("checkpoints").exists() && !dir.join("parked").exists());
    run(&dir, &["consumers", "reset", "mailer", "--to", "1"]).ok();
    assert!(dir.join("checkpoints").join("mailer.checkpoint").exists());
    Ok(())
}

#[test]
fn consumers_and_parked_events_on_postgres() -> R {
    let Some(test) = TestSchema::new() else {
        return Ok(());
    };
    let store = test.connect();
    fill_consumers(&store, &store.checkpoints(), &store.parked())?;
    let prefix = ["--postgres", test.url(), "--schema", test.schema()];
    check_consumers(
        &|args| {
            let all: Vec<&str> = prefix.iter().copied().chain(args.iter().copied()).collect();
            run_raw(&all)
        },
        &store.parked(),
    )
}
