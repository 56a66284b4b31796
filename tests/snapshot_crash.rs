//! A process killed (SIGKILL) while it writes snapshots leaves a `JsonStore` that opens, whose
//! snapshot files are whole (the old one or the new one, never a torn one), and whose aggregate
//! loads to the state a full replay gives.
//!
//! The child is this test binary itself, running the ignored test
//! `child_writes_snapshots_until_killed` with the store's directory in an environment variable.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use livenstore::store::json::{Durability, JsonStoreOptions};
use livenstore::{Aggregate, AggregateRoot, DomainError, DomainEvent, EventStore, JsonStore};
use livenstore::{Repository, SnapshotNotice};
use serde::{Deserialize, Serialize};

const CHILD_DIR: &str = "LIVENSTORE_SNAPSHOT_CRASH_DIR";
const ROUNDS: u32 = 12;

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "ledger.recorded")]
struct Recorded {
    n: u64,
}

/// A state of a few hundred kilobytes, so a snapshot write takes long enough to be killed in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Aggregate)]
#[aggregate(name = "ledger", events(Recorded), snapshot_every = 1)]
struct Ledger {
    entries: Vec<u64>,
}

impl Ledger {
    fn on_recorded(&mut self, e: &Recorded) -> Result<(), DomainError> {
        // Each event adds a thousand entries.
        self.entries.extend((0..1_000).map(|k| e.n * 1_000 + k));
        Ok(())
    }
}

fn open(dir: &Path) -> JsonStore {
    let options = JsonStoreOptions::new().durability(Durability::Always);
    JsonStore::open_with(dir, options).expect("the store opens after a kill")
}

#[test]
#[ignore = "the child process of a_kill_while_writing_snapshots_leaves_a_loadable_store"]
fn child_writes_snapshots_until_killed() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let repo = Repository::new(open(Path::new(&dir))).on_snapshot_problem(|_: &SnapshotNotice| {});
    for n in 0.. {
        repo.transact::<Ledger, _, _>("1", |l| l.apply(Recorded { n }))
            .expect("an append");
    }
}

/// Temporary and moved-aside snapshot files in the store (left by a write the kill cut short).
fn temp_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("snapshots"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    name.ends_with(".tmp") || name.ends_with(".old")
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn a_kill_while_writing_snapshots_leaves_a_loadable_store() {
    let root = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let (mut cut_short, mut snapshots_seen) = (0, 0);
    for round in 0..ROUNDS {
        let dir = root.path().join(round.to_string());
        let mut child = Command::new(&exe)
            .args([
                "child_writes_snapshots_until_killed",
                "--exact",
                "--ignored",
            ])
            .env(CHILD_DIR, &dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait for the first snapshot, then kill at a moment that moves from round to round.
        let started = Instant::now();
        while !dir.join("snapshots").exists() && started.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(u64::from(round) * 7 % 40 + 5));
        child.kill().unwrap();
        child.wait().unwrap();

        cut_short += temp_files(&dir);
        let store = open(&dir);
        assert_eq!(
            temp_files(&dir),
            0,
            "a writable open removes what a kill left"
        );
        let snapshots = store.snapshots().unwrap();
        let listed = snapshots
            .list_snapshots(None)
            .expect("every snapshot file is whole");
        snapshots_seen += listed.len();
        let events = store.read_stream("ledger-1", 1, usize::MAX).unwrap();
        let mut replayed = AggregateRoot::<Ledger>::new("1");
        replayed.replay_all(&events).unwrap();
        let repo = Repository::new(store).on_snapshot_problem(|n: &SnapshotNotice| {
            panic!("a snapshot after a kill is unusable: {n}")
        });
        let loaded = repo.load::<Ledger>("1").unwrap();
        assert_eq!(loaded.version(), replayed.version());
        assert!(
            *loaded == *replayed,
            "round {round}: the snapshot gives the replayed state"
        );
    }
    assert!(snapshots_seen > 0, "the child wrote snapshots");
    println!("{ROUNDS} kills, {cut_short} snapshot writes cut short, all stores loadable");
}
