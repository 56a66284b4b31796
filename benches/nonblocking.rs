//! Issue 19's speed targets for the async facade (`livenstore::nonblocking`):
//! (a) `AsyncRepository::transact` on an `InMemoryStore` (called inline: the store does not
//!     block), 1,000 accounts × 100 commands awaited one after another in one task, beside the
//!     same commands through `Repository::transact` (target: at least 0.7x the sync rate);
//! (b) with `LIVENSTORE_POSTGRES_URL` set, `AsyncRepository::transact` on a `PostgresStore` from
//!     16 tasks (each on its own accounts; the calls run on tokio's blocking pool), beside 16
//!     threads calling `Repository::transact` (target: at least 0.9x the sync rate).
//!
//! Run: `cargo bench --bench nonblocking` (`LIVENSTORE_BENCH_QUICK=1` for a smoke run).

mod support;

use std::sync::Arc;
use std::time::Instant;

use livenstore::nonblocking::AsyncRepository;
use livenstore::{Aggregate, DomainError, DomainEvent, EventStore, InMemoryStore, Repository};
use livenstore_postgres::testing::TestSchema;
use serde::{Deserialize, Serialize};
use support::{compare, quick, ratio, Variant};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited")]
struct Deposited {
    amount: u64,
}

#[derive(Debug, Clone, Default, Aggregate)]
#[aggregate(name = "account", events(Deposited))]
struct Account {
    balance: u64,
}

impl Account {
    fn on_deposited(&mut self, e: &Deposited) -> Result<(), DomainError> {
        self.balance += e.amount;
        Ok(())
    }
}

fn sync_commands<S: EventStore>(repo: &Repository<S>, ids: &[String], per: u64) {
    for round in 0..per {
        for id in ids {
            repo.transact::<Account, _, _>(id, move |a| a.apply(Deposited { amount: round }))
                .expect("command");
        }
    }
}

async fn async_commands<S: EventStore + 'static>(
    repo: &AsyncRepository<S>,
    ids: &[String],
    per: u64,
) {
    for round in 0..per {
        for id in ids {
            repo.transact::<Account, _, _>(id, move |a| a.apply(Deposited { amount: round }))
                .await
                .expect("command");
        }
    }
}

fn ids(prefix: &str, count: u64) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}-{i}")).collect()
}

fn memory(runtime: &tokio::runtime::Runtime) {
    let (accounts, per) = if quick() { (100, 20) } else { (1_000, 100) };
    let ids = ids("a", accounts);
    let fresh = || Repository::new(InMemoryStore::new()).with_cache(accounts as usize);
    let times = compare(
        &format!("InMemoryStore: {accounts} accounts x {per} commands"),
        accounts * per,
        7,
        vec![
            Variant::custom("Repository::transact (sync)", || {
                let repo = fresh();
                let start = Instant::now();
                sync_commands(&repo, &ids, per);
                start.elapsed()
            }),
            Variant::custom("AsyncRepository::transact", || {
                let repo = AsyncRepository::new(fresh());
                let start = Instant::now();
                runtime.block_on(async_commands(&repo, &ids, per));
                start.elapsed()
            }),
        ],
    );
    ratio(
        "InMemoryStore: async / sync time",
        times[1],
        times[0],
        "<= 1/0.7 = 1.43",
    );
}

fn postgres(runtime: &tokio::runtime::Runtime) {
    let workers = 16u64;
    let (accounts, per) = if quick() { (2, 5) } else { (4, 25) };
    let work = workers * accounts * per;
    let sync = || {
        let schema = TestSchema::new().expect("the test server");
        let repo = Arc::new(Repository::new(schema.connect()));
        let start = Instant::now();
        std::thread::scope(|scope| {
            for w in 0..workers {
                let repo = Arc::clone(&repo);
                scope.spawn(move || sync_commands(&repo, &ids(&format!("w{w}"), accounts), per));
            }
        });
        start.elapsed()
    };
    let asynchronous = || {
        let schema = TestSchema::new().expect("the test server");
        let repo = AsyncRepository::new(Repository::new(schema.connect()));
        let start = Instant::now();
        runtime.block_on(async {
            let tasks: Vec<_> = (0..workers)
                .map(|w| {
                    let repo = repo.clone();
                    tokio::spawn(async move {
                        async_commands(&repo, &ids(&format!("w{w}"), accounts), per).await
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("task");
            }
        });
        start.elapsed()
    };
    let times = compare(
        &format!("PostgresStore: {workers} workers x {accounts} accounts x {per} commands"),
        work,
        5,
        vec![
            Variant::custom("16 threads, Repository::transact", sync),
            Variant::custom("16 tasks, AsyncRepository::transact", asynchronous),
        ],
    );
    ratio(
        "PostgresStore: async / sync time",
        times[1],
        times[0],
        "<= 1/0.9 = 1.11",
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(64)
        .build()
        .expect("runtime");
    memory(&runtime);
    if TestSchema::new().is_some() {
        postgres(&runtime);
    } else {
        println!("\n(PostgresStore skipped: LIVENSTORE_POSTGRES_URL is not set)");
    }
}
