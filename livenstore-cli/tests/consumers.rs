//! `consumers` and `parked`: consumer checkpoints (list with lag and parked counts, reset,
//! delete) and parked events (list, replay request, drop), on a directory and on PostgreSQL.

mod common;

use common::{run, run_raw, Run, R};
use livenstore::pubsub::{CheckpointStore, ParkedEvent, ParkedEventStore};
use livenstore::{EventStore, ExpectedVersion, JsonStore, NewEvent};
use livenstore_postgres::testing::TestSchema;

/// Ten events; `projector` at 4, `mailer` at 10 with events 3 and 7 parked.
fn fill<S: EventStore>(
    store: &S,
    checkpoints: &dyn CheckpointStore,
    parked: &dyn ParkedEventStore,
) -> R {
    for n in 0..10 {
        let event = NewEvent::from_json("Counted", n.to_string())?;
        store.append("counter", ExpectedVersion::Any, vec![event])?;
    }
    checkpoints.save("projector", 4)?;
    checkpoints.save("mailer", 10)?;
    for position in [7, 3] {
        let event = &store.read_all(position, 1)?[0];
        parked.park(&ParkedEvent::new("mailer", event, "smtp down".into(), 3))?;
    }
    Ok(())
}

fn check(cli: &dyn Fn(&[&str]) -> Run, parked: &dyn ParkedEventStore) -> R {
    let table = cli(&["consumers"]).ok().stdout;
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["CONSUMER", "POSITION", "LAG", "PARKED"]);
    assert_eq!(rows[1], ["mailer", "10", "0", "2"]);
    assert_eq!(rows[2], ["projector", "4", "6", "0"]);

    let lines = cli(&["parked", "--consumer", "mailer", "--json"])
        .ok()
        .json_lines();
    let positions: Vec<u64> = lines
        .iter()
        .filter_map(|l| l["position"].as_u64())
        .collect();
    assert_eq!(positions, [3, 7], "in position order");
    assert_eq!(lines[0]["error"], "smtp down");
    assert_eq!(lines[0]["attempts"], 3);
    let table = cli(&["parked"]).ok().stdout;
    assert!(table.starts_with("CONSUMER"), "{table}");
    assert!(table.contains("smtp down"), "{table}");

    cli(&["parked", "replay", "mailer"]).ok();
    assert!(parked.replay_requested("mailer")?);
    let id = lines[1]["event_id"].as_str().ok_or("an id")?.to_owned();
    let dropped = cli(&["parked", "drop", "mailer", "--id", &id, "--json"])
        .ok()
        .json_lines();
    assert_eq!(dropped[0]["events"], 1);
    assert_eq!(parked.list(Some("mailer"))?.len(), 1);
    cli(&["parked", "drop", "mailer"]).ok();
    assert!(parked.list(None)?.is_empty());

    cli(&["consumers", "reset", "projector"]).ok();
    cli(&["consumers", "reset", "mailer", "--to", "6"]).ok();
    let status = cli(&["consumers", "--json"]).ok().json_lines();
    assert_eq!(
        (status[0]["name"].as_str(), status[0]["lag"].as_u64()),
        (Some("mailer"), Some(4))
    );
    assert_eq!(status[1]["position"], 0);
    cli(&["consumers", "reset", "mailer", "--to", "11"])
        .fails(1, &["past the store's last position, 10"]);
    cli(&["consumers", "delete", "projector"]).ok();
    assert_eq!(cli(&["consumers", "--json"]).ok().json_lines().len(), 1);
    cli(&["consumers", "reset", "../x"]).fails(1, &["invalid consumer name"]);
    Ok(())
}

#[test]
fn consumers_and_parked_events_of_a_directory() -> R {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("store");
    let parked = {
        let store = JsonStore::open(&dir)?;
        fill(&store, &store.checkpoints()?, &store.parked()?)?;
        store.parked()?
    };
    check(&|args| run(&dir, args), &parked)
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
    fill(&store, &store.checkpoints(), &store.parked())?;
    let prefix = ["--postgres", test.url(), "--schema", test.schema()];
    check(
        &|args| {
            let all: Vec<&str> = prefix.iter().copied().chain(args.iter().copied()).collect();
            run_raw(&all)
        },
        &store.parked(),
    )
}
