//! The order and chain rules, and pipelined groups against the test server.

use super::*;
use crate::write::plan::{plan, AppendRequest};
use livenstore::{ExpectedVersion, NewEvent};

fn request(stream: &str, events: usize) -> AppendRequest {
    AppendRequest {
        stream: stream.to_owned(),
        expected: ExpectedVersion::Any,
        events: (0..events)
            .map(|n| NewEvent::from_json("Tick", format!(r#"{{"n":{n}}}"#)).unwrap())
            .collect(),
    }
}

fn state(last_position: u64, last_write: i64, versions: &[(&str, u64)]) -> GroupState {
    GroupState {
        last_position,
        last_write,
        versions: versions.iter().map(|&(s, v)| (s.to_owned(), v)).collect(),
        ..GroupState::default()
    }
}

/// A locked group that decides `requests` against `read` with write id `id` and commits.
fn commit_locked(pipeline: &Pipeline, requests: &[AppendRequest], read: &GroupState, id: i64) {
    let mut turn = pipeline.enter(true);
    turn.planned_locked(read, &plan(requests, read), id);
    turn.done();
}

#[test]
fn write_ids_are_positive_and_differ() {
    let ids: std::collections::HashSet<i64> = (0..10_000).map(|_| write_id()).collect();
    assert_eq!(ids.len(), 10_000);
    assert!(ids.iter().all(|&id| id > 0));
}

// Turns decide in order, and one that leaves without deciding waits for its place: the
// tests drop them in order.

#[test]
fn a_group_pipelines_only_beside_a_running_one_on_an_intact_chain() {
    let pipeline = Pipeline::default();
    let mut first = pipeline.enter(true);
    assert!(!first.pipelined(), "alone");
    let second = pipeline.enter(true);
    assert!(!second.pipelined(), "no chain yet");
    let requests = [request("a", 2)];
    let read = state(10, 7, &[("a", 3)]);
    first.planned_locked(&read, &plan(&requests, &read), 8);
    let third = pipeline.enter(true);
    assert!(third.pipelined());
    let not_asked = pipeline.enter(false);
    assert!(!not_asked.pipelined());
    first.done();
    drop(first);
    drop(second);
    drop(third);
    drop(not_asked);
    assert!(!pipeline.enter(true).pipelined(), "alone again");
    assert_eq!(pipeline.lock().active, 0);
}

#[test]
fn a_pipelined_group_decides_against_its_predecessors() {
    let pipeline = Pipeline::default();
    let mut first = pipeline.enter(true);
    let first_requests = [request("a", 2)];
    let read = state(10, 7, &[("a", 3)]);
    first.planned_locked(&read, &plan(&first_requests, &read), 8);
    let second = pipeline.enter(true);
    second.wait_to_plan();
    // Its read saw the head before the first group committed: a write of the chain.
    let own_read = state(10, 7, &[("a", 3), ("b", 1)]);
    let decide = second.predecessor(&own_read, &["a", "b", "c"]).unwrap();
    assert_eq!(decide.last_position, 12);
    assert_eq!(decide.last_write, 8, "checks the first group's write");
    assert_eq!(decide.versions.get("a"), Some(&5), "the chain's");
    assert_eq!(decide.versions.get("b"), Some(&1), "the read's");
    assert_eq!(decide.versions.get("c"), None, "new");
    // A read of a head the chain does not hold (another process wrote): run locked.
    let foreign = state(11, 99, &[]);
    assert!(second.predecessor(&foreign, &["a"]).is_none());
    let third = pipeline.enter(true);
    assert!(!third.pipelined(), "the chain is gone");
    first.done();
    drop(first);
    drop(second);
    drop(third);
}

#[test]
fn a_group_that_decided_and_did_not_commit_breaks_the_chain() {
    let pipeline = Pipeline::default();
    let mut first = pipeline.enter(true);
    let requests = [request("a", 1)];
    let read = state(0, 0, &[]);
    first.planned_locked(&read, &plan(&requests, &read), 5);
    let mut running = pipeline.enter(false);
    drop(first); // Decided with write 5, never committed.
    assert!(pipeline.lock().chain.is_none());
    // A locked group starts a new chain; the next few groups still run locked.
    let read = state(0, 0, &[]);
    running.planned_locked(&read, &plan(&requests, &read), 6);
    for _ in 0..LOCKED_AFTER_FAILURE {
        assert!(!pipeline.enter(true).pipelined());
    }
    assert!(pipeline.enter(true).pipelined());
    running.done();
}

fn expecting(stream: &str, expected: ExpectedVersion) -> AppendRequest {
    AppendRequest {
        expected,
        ..request(stream, 1)
    }
}

#[test]
fn a_prediction_takes_the_chain_and_predicts_only_streams_expected_absent() {
    let pipeline = Pipeline::default();
    let mut first = pipeline.enter(true);
    assert!(
        first.predicted(&[request("a", 1)]).is_none(),
        "no chain yet"
    );
    let requests = [request("a", 2)];
    let read = state(10, 7, &[("a", 3), ("b", 1)]);
    first.planned_locked(&read, &plan(&requests, &read), 8);
    first.done();
    drop(first);
    let turn = pipeline.enter(true);
    let known = turn
        .predicted(&[
            request("a", 1),
            request("b", 1),
            expecting("new", ExpectedVersion::NoStream),
        ])
        .unwrap();
    assert_eq!(known.state.last_position, 12);
    assert_eq!(known.state.last_write, 8, "the chain's last write");
    assert_eq!(
        known.state.versions.get("a"),
        Some(&5),
        "written by the chain"
    );
    assert_eq!(
        known.state.versions.get("b"),
        Some(&1),
        "read under the lock"
    );
    assert!(known.absent.contains("new") && !known.state.versions.contains_key("new"));
    let exact_zero = turn.predicted(&[expecting("c", ExpectedVersion::Exact(0))]);
    assert!(exact_zero.unwrap().absent.contains("c"));
    for expected in [
        ExpectedVersion::Any,
        ExpectedVersion::StreamExists,
        ExpectedVersion::Exact(4),
    ] {
        assert!(
            turn.predicted(&[expecting("c", expected)]).is_none(),
            "{expected:?} on a stream the chain does not hold"
        );
    }
    // The first request of a stream decides how it is predicted.
    let later = [expecting("c", ExpectedVersion::NoStream), request("c", 1)];
    assert!(turn.predicted(&later).unwrap().absent.contains("c"));
}

#[test]
fn a_locked_group_keeps_the_chains_versions_only_when_nothing_else_wrote() {
    let pipeline = Pipeline::default();
    commit_locked(&pipeline, &[request("a", 2)], &state(0, 0, &[]), 8);
    // The head is still the chain's last write: "a" stays known.
    commit_locked(&pipeline, &[request("b", 1)], &state(2, 8, &[("b", 4)]), 9);
    let turn = pipeline.enter(true);
    let both = turn.predicted(&[request("a", 1), request("b", 1)]).unwrap();
    assert_eq!(both.state.versions.get("a"), Some(&2));
    assert_eq!(both.state.versions.get("b"), Some(&5));
    drop(turn);
    // Another process wrote (the head's last write is not the chain's): only what this group
    // read and wrote is known.
    commit_locked(
        &pipeline,
        &[request("c", 1)],
        &state(20, 99, &[("c", 1)]),
        10,
    );
    let turn = pipeline.enter(true);
    assert!(turn.predicted(&[request("a", 1)]).is_none());
    assert_eq!(
        turn.predicted(&[request("c", 1)])
            .unwrap()
            .state
            .versions
            .get("c"),
        Some(&2)
    );
}

#[test]
fn groups_are_predicted_only_when_few_and_after_quiet_groups() {
    let pipeline = Pipeline::default();
    let mut first = pipeline.enter(true);
    let read = state(0, 0, &[]);
    let five: Vec<AppendRequest> = (0..5).map(|n| request(&format!("s{n}"), 1)).collect();
    first.planned_locked(&read, &plan(&five, &read), 8);
    // A pipelined turn beside the first one.
    let beside = pipeline.enter(true);
    assert!(beside.pipelined());
    first.done();
    drop(first);
    drop(beside);
    for _ in 1..QUIET_BEFORE_PREDICTING {
        let turn = pipeline.enter(true);
        assert!(
            turn.predicted(&five[..1]).is_none(),
            "groups pipelined lately"
        );
    }
    let turn = pipeline.enter(true);
    assert!(
        turn.predicted(&five[..1]).is_none(),
        "the last group held 5 requests"
    );
    drop(turn);
    commit_locked(&pipeline, &five[..2], &state(5, 8, &[]), 9);
    let turn = pipeline.enter(true);
    assert!(turn.predicted(&five[..PREDICTED_REQUESTS]).is_some());
    assert!(
        turn.predicted(&five).is_none(),
        "more than {PREDICTED_REQUESTS} requests"
    );
}

#[test]
fn a_chain_holding_too_many_streams_is_not_predicted_from_and_is_not_kept() {
    let pipeline = Pipeline::default();
    let many: Vec<(String, u64)> = (0..CHAIN_STREAMS).map(|n| (format!("s{n}"), 1)).collect();
    let read = GroupState {
        versions: many.into_iter().collect(),
        ..GroupState::default()
    };
    commit_locked(&pipeline, &[request("s0", 1)], &read, 8);
    let turn = pipeline.enter(true);
    assert!(turn.predicted(&[request("s0", 1)]).is_none());
    drop(turn);
    commit_locked(&pipeline, &[request("a", 1)], &state(1, 8, &[]), 9);
    let turn = pipeline.enter(true);
    assert!(turn.predicted(&[request("s0", 1)]).is_none(), "dropped");
    assert!(turn.predicted(&[request("a", 1)]).is_some());
}

#[test]
fn a_prediction_joins_the_chain_only_once_committed() {
    let pipeline = Pipeline::default();
    commit_locked(&pipeline, &[request("a", 1)], &state(0, 0, &[]), 8);
    // Not stored: the chain is as it was, and the turn runs locked afterwards.
    let mut failed = pipeline.enter(true);
    let prediction = failed.predicted(&[request("a", 1)]).unwrap();
    let requests = [request("a", 3)];
    let _ = plan(&requests, &prediction.state);
    failed.deciding();
    failed.not_stored();
    drop(failed);
    let mut stored = pipeline.enter(true);
    let prediction = stored.predicted(&[request("a", 1)]).unwrap();
    assert_eq!(
        (prediction.state.last_position, prediction.state.last_write),
        (1, 8)
    );
    let planned = plan(&requests, &prediction.state);
    stored.deciding();
    stored.committed_predicted(&planned, PgTime::default(), 11);
    drop(stored);
    assert_eq!(pipeline.predicted_commits(), 1);
    let next = pipeline.enter(true);
    let prediction = next.predicted(&[request("a", 1)]).unwrap();
    assert_eq!(
        (prediction.state.last_position, prediction.state.last_write),
        (4, 11)
    );
    assert_eq!(prediction.state.versions.get("a"), Some(&4));
    drop(next);
    // Lost (outcome unknown): the chain is void.
    let mut lost = pipeline.enter(true);
    lost.deciding();
    drop(lost);
    assert!(pipeline.lock().chain.is_none());
}

#[test]
fn the_lock_turn_passes_only_over_turns_that_hold_it() {
    let pipeline = Pipeline::default();
    let mut first = pipeline.enter(true);
    let mut second = pipeline.enter(true);
    let third = pipeline.enter(true);
    second.mark_locked(); // Out of order (its wait timed out).
    assert_eq!(pipeline.lock().locked, 0, "the first still has its turn");
    first.mark_locked();
    assert_eq!(pipeline.lock().locked, 2);
    third.wait_to_lock(); // Its turn: returns at once.
    drop(first);
    drop(second);
    drop(third);
}

/// Against the test server: pipelined groups beside a writer of another store (another
/// process, as far as the store knows) that appends and links into the same stream. Each
/// batch alone is enough for another group to pipeline (`MIN_EVENTS_TO_PIPELINE`).
#[cfg(feature = "testing")]
#[test]
fn pipelined_groups_store_exactly_what_they_report_beside_another_writer() {
    use livenstore::{EventStore, StoreError};
    const BATCH: usize = 160;
    let Some(test) = crate::testing::TestSchema::new() else {
        return;
    };
    let store = test.connect_with(test.config().pool_size(8));
    let foreign = test.connect_with(test.config().pool_size(1));
    let batch = |n: usize| {
        (0..BATCH)
            .map(|i| NewEvent::from_json("Tick", format!(r#"{{"n":{n},"i":{i}}}"#)).unwrap())
            .collect::<Vec<_>>()
    };
    let (mine, theirs): (Vec<(u64, Vec<u64>)>, u64) = std::thread::scope(|s| {
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let (store, batch) = (&store, &batch);
                s.spawn(move || {
                    let (mut stored, mut won) = (0, Vec::new());
                    for n in 0..12 {
                        if n % 3 == 0 {
                            loop {
                                let current = store.stream_version("shared").unwrap();
                                let expected = ExpectedVersion::Exact(current);
                                match store.append("shared", expected, batch(n)) {
                                    Ok(result) => {
                                        won.push(result.stream_version);
                                        break;
                                    }
                                    Err(StoreError::Conflict { .. }) => {}
                                    Err(err) => panic!("{err}"),
                                }
                            }
                        } else {
                            let stream = format!("w{w}-{}", n % 5);
                            store
                                .append(&stream, ExpectedVersion::Any, batch(n))
                                .unwrap();
                        }
                        stored += BATCH as u64;
                    }
                    (stored, won)
                })
            })
            .collect();
        let other = s.spawn(|| {
            let mut stored = 0;
            for n in 0..40 {
                let events = vec![NewEvent::from_json("Other", format!(r#"{{"n":{n}}}"#)).unwrap()];
                let first = foreign
                    .append("other", ExpectedVersion::Any, events)
                    .unwrap();
                let id = foreign.read_all(first.first_position, 1).unwrap()[0].id();
                foreign.link_to_stream(id, "shared").unwrap();
                stored += 1;
                // Gaps in which the chain stays intact.
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            stored
        });
        let mine = writers.into_iter().map(|w| w.join().unwrap()).collect();
        (mine, other.join().unwrap())
    });
    let acknowledged = mine.iter().map(|(stored, _)| stored).sum::<u64>() + theirs;
    let all = store.read_all(1, usize::MAX).unwrap();
    let positions: Vec<u64> = all.iter().map(|e| e.position()).collect();
    assert_eq!(
        positions,
        (1..=acknowledged).collect::<Vec<_>>(),
        "gap-free, all stored"
    );
    for info in store.streams().unwrap() {
        let events = store.read_stream(&info.stream, 1, usize::MAX).unwrap();
        let versions: Vec<u64> = events
            .iter()
            .map(|e| e.link().map_or(e.version(), |link| link.version))
            .collect();
        let expected: Vec<u64> = (1..=info.last_version).collect();
        assert_eq!(versions, expected, "stream {} is contiguous", info.stream);
    }
    let mut won: Vec<u64> = mine.iter().flat_map(|(_, won)| won.clone()).collect();
    won.sort_unstable();
    won.dedup();
    assert_eq!(won.len(), 4 * 4, "one winner per version of `shared`");
    assert!(
        store.inner.pipeline.pipelined_commits() > 0,
        "no group ran pipelined"
    );
}
