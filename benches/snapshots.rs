//! Issue 17's speed targets, on a `JsonStore` (and a `PostgresStore` when
//! `LIVENSTORE_POSTGRES_URL` is set):
//! (a) `Repository::load` of an aggregate of 10,000 events from a snapshot 100 events behind,
//!     beside a full replay of the same stream in the same run (target: at least 50x faster);
//! (b) 10,000 single-event saves of one aggregate (apply, save) with a snapshot every 100
//!     events, beside the same saves without snapshots (target: at most 1.10x the time).
//!
//! The aggregate with snapshots and the one without are two types of one `AGGREGATE_TYPE`
//! (`account`) with the same events, so they read the same stream.
//!
//! Run: `cargo bench --bench snapshots` (`LIVENSTORE_BENCH_QUICK=1` for a smoke run).

mod support;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use livenstore::store::json::{Durability, JsonStoreOptions};
use livenstore::{Aggregate, AggregateRoot, DomainError, DomainEvent, EventStore, JsonStore};
use livenstore::{Repository, SnapshotNotice};
use livenstore_postgres::testing::TestSchema;
use serde::{Deserialize, Serialize};
use support::{compare, quick, ratio, Variant};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited")]
struct Deposited {
    amount: u64,
    reference: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.withdrawn")]
struct Withdrawn {
    amount: u64,
    reference: String,
}

/// The state both aggregates keep.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Ledger {
    balance: i64,
    deposits: u64,
    withdrawals: u64,
    last_reference: String,
}

impl Ledger {
    fn deposit(&mut self, e: &Deposited) {
        self.balance += e.amount as i64;
        self.deposits += 1;
        self.last_reference.clone_from(&e.reference);
    }

    fn withdraw(&mut self, e: &Withdrawn) {
        self.balance -= e.amount as i64;
        self.withdrawals += 1;
        self.last_reference.clone_from(&e.reference);
    }
}

/// With a snapshot every 100 events.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Aggregate)]
#[aggregate(name = "account", events(Deposited, Withdrawn), snapshot_every = 100)]
struct Snapshotted {
    ledger: Ledger,
}

impl Snapshotted {
    fn on_deposited(&mut self, e: &Deposited) -> Result<(), DomainError> {
        self.ledger.deposit(e);
        Ok(())
    }

    fn on_withdrawn(&mut self, e: &Withdrawn) -> Result<(), DomainError> {
        self.ledger.withdraw(e);
        Ok(())
    }
}

/// Without snapshots: every load replays the stream.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Aggregate)]
#[aggregate(name = "account", events(Deposited, Withdrawn))]
struct Replayed {
    ledger: Ledger,
}

impl Replayed {
    fn on_deposited(&mut self, e: &Deposited) -> Result<(), DomainError> {
        self.ledger.deposit(e);
        Ok(())
    }

    fn on_withdrawn(&mut self, e: &Withdrawn) -> Result<(), DomainError> {
        self.ledger.withdraw(e);
        Ok(())
    }
}

/// The `i`-th event of an account: mostly deposits.
fn apply<A>(root: &mut AggregateRoot<A>, i: u64) -> Result<(), DomainError>
where
    A: Aggregate<Error = DomainError>,
    A::Event: From<Deposited> + From<Withdrawn>,
{
    let reference = format!("tx-{i:010}");
    if i % 4 == 3 {
        root.apply(Withdrawn {
            amount: i % 50,
            reference,
        })
    } else {
        root.apply(Deposited {
            amount: i % 100,
            reference,
        })
    }
}

fn repository<S: EventStore>(store: S) -> Repository<S> {
    Repository::new(store).on_snapshot_problem(|n: &SnapshotNotice| panic!("{n}"))
}

/// Account `id` with `events` events, its snapshot 100 behind: saved in batches of 100 by the
/// aggregate with snapshots up to `events - 100`, the rest by the one without.
fn fill<S: EventStore>(repo: &Repository<S>, id: &str, events: u64) {
    let mut snapshotted = repo.create::<Snapshotted>(id).unwrap();
    let mut i = 0;
    while i < events - 100 {
        for _ in 0..100 {
            apply(&mut snapshotted, i).unwrap();
            i += 1;
        }
        repo.save(&mut snapshotted).unwrap();
    }
    let mut replayed = repo.load::<Replayed>(id).unwrap();
    while i < events {
        apply(&mut replayed, i).unwrap();
        i += 1;
    }
    repo.save(&mut replayed).unwrap();
    let snapshot = repo
        .store()
        .snapshots()
        .unwrap()
        .load_snapshot("account", id);
    let taken_at = snapshot.unwrap().map_or(0, |s| s.version());
    assert_eq!(events - taken_at, 100, "the snapshot is 100 events behind");
}

/// (a) on one store, filled with [`fill`] for account `load-1`.
fn loads<S: EventStore>(label: &str, repo: &Repository<S>, events: u64) {
    let full = repo.load::<Replayed>("load-1").unwrap();
    let fast = repo.load::<Snapshotted>("load-1").unwrap();
    assert_eq!(
        (full.version(), &full.ledger),
        (fast.version(), &fast.ledger)
    );
    // Each round loads the aggregate `LOADS` times in a row, as a service loads one after
    // another; a single load of a quarter of a millisecond is too short to time alone.
    const LOADS: u64 = 20;
    let times = compare(
        &format!("(a) {label}: load of an aggregate of {events} events ({LOADS} per round)"),
        LOADS,
        15,
        vec![
            Variant::timed("full replay (no snapshot)", || {
                for _ in 0..LOADS {
                    black_box(repo.load::<Replayed>("load-1").unwrap().version());
                }
            }),
            Variant::timed("from a snapshot 100 events behind", || {
                for _ in 0..LOADS {
                    black_box(repo.load::<Snapshotted>("load-1").unwrap().version());
                }
            }),
        ],
    );
    ratio(
        &format!("{label}: full replay / from a snapshot (speed-up)"),
        times[0],
        times[1],
        ">= 50",
    );
}

/// `saves` single-event saves of account `id` by `A`, timed.
fn saves<A, S>(repo: &Repository<S>, id: &str, saves: u64) -> Duration
where
    A: Aggregate<Error = DomainError>,
    A::Event: From<Deposited> + From<Withdrawn>,
    S: EventStore,
{
    let mut root = repo.create::<A>(id).unwrap();
    let start = Instant::now();
    for i in 0..saves {
        apply(&mut root, i).unwrap();
        repo.save(&mut root).unwrap();
    }
    start.elapsed()
}

/// (b): single-event saves of a new aggregate per round, without snapshots on `without`'s
/// store and with them on `with`'s (two stores, so each grows alike).
fn save_costs<S: EventStore>(
    label: &str,
    without: &Repository<S>,
    with: &Repository<S>,
    count: u64,
) {
    let (mut round_a, mut round_b) = (0, 0);
    let times = compare(
        &format!("(b) {label}: {count} single-event saves"),
        count,
        9,
        vec![
            Variant::custom("without snapshots", || {
                round_a += 1;
                saves::<Replayed, _>(without, &format!("save-{round_a}"), count)
            }),
            Variant::custom("with a snapshot every 100 events", || {
                round_b += 1;
                saves::<Snapshotted, _>(with, &format!("save-{round_b}"), count)
            }),
        ],
    );
    ratio(
        &format!("{label}: saves with snapshots / without"),
        times[1],
        times[0],
        "<= 1.10",
    );
}

fn json(dir: &Path, durability: Durability) -> Repository<JsonStore> {
    let options = JsonStoreOptions::new().durability(durability);
    repository(JsonStore::open_with(dir, options).unwrap())
}

fn main() {
    let events = if quick() { 2_000 } else { 10_000 };
    let root = tempfile::tempdir().unwrap();
    let repo = json(&root.path().join("loads"), Durability::Never);
    fill(&repo, "load-1", events);
    loads("JsonStore", &repo, events);
    let count = if quick() { 1_000 } else { 10_000 };
    save_costs(
        "JsonStore Never",
        &json(&root.path().join("never-a"), Durability::Never),
        &json(&root.path().join("never-b"), Durability::Never),
        count,
    );
    save_costs(
        "JsonStore Always",
        &json(&root.path().join("always-a"), Durability::Always),
        &json(&root.path().join("always-b"), Durability::Always),
        count / 5,
    );
    match (TestSchema::new(), TestSchema::new(), TestSchema::new()) {
        (Some(a), Some(b), Some(c)) => {
            let repo = repository(a.connect());
            fill(&repo, "load-1", events);
            // A steady state: the server has statistics of the filled tables (as autovacuum
            // gives a live database), not the guesses it plans a just-filled schema with.
            let mut client = a
                .url()
                .parse::<postgres::Config>()
                .unwrap()
                .connect(postgres::NoTls)
                .unwrap();
            client
                .batch_execute(&format!(
                    "ANALYZE \"{}\".events, \"{}\".snapshots",
                    a.schema(),
                    a.schema()
                ))
                .unwrap();
            loads("PostgresStore", &repo, events);
            save_costs(
                "PostgresStore",
                &repository(b.connect()),
                &repository(c.connect()),
                count / 5,
            );
        }
        _ => println!("\n(PostgresStore skipped: LIVENSTORE_POSTGRES_URL is not set)"),
    }
}
