//! Issue 18's speed row: `Repository::transact_with` (every event stamped with a
//! `CommandContext`'s correlation and causation ids) beside `Repository::transact`, the same
//! commands on fresh stores in interleaved rounds (target: within noise).
//!
//! Workload: 1,000 accounts × 20 single-event commands, on an `InMemoryStore` and on a
//! `JsonStore` (`Durability::Never`), each repository with a cache (a command costs its append,
//! not a replay, so the stamping is not hidden behind reads).
//!
//! Run: `cargo bench --bench context` (`LIVENSTORE_BENCH_QUICK=1` for a smoke run).

mod support;

use std::time::{Duration, Instant};

use livenstore::store::json::{Durability, JsonStoreOptions};
use livenstore::{
    Aggregate, CommandContext, DomainError, DomainEvent, EventStore, InMemoryStore, JsonStore,
    Repository,
};
use serde::{Deserialize, Serialize};
use support::{compare, quick, ratio, Variant};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited")]
struct Deposited {
    amount: u64,
    reference: String,
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

/// How the commands are stamped.
#[derive(Clone, Copy)]
enum Stamp {
    /// `transact`.
    Not,
    /// `transact_with` and a new context per command (a new conversation per request).
    NewContext,
    /// `transact_with` and one context for every command (the stamping alone).
    OneContext,
}

/// Runs every command on `repo`, stamped as `stamp` says.
fn commands<S: EventStore>(repo: &Repository<S>, accounts: u64, per_account: u64, stamp: Stamp) {
    let shared = CommandContext::new().with_correlation_id("req-0");
    for round in 0..per_account {
        for account in 0..accounts {
            let id = account.to_string();
            let deposit = |acc: &mut livenstore::AggregateRoot<Account>| {
                acc.apply(Deposited {
                    amount: round + 1,
                    reference: format!("ref-{account}-{round}"),
                })
            };
            match stamp {
                Stamp::Not => repo.transact::<Account, _, _>(&id, deposit),
                Stamp::NewContext => {
                    let context = CommandContext::new();
                    repo.transact_with::<Account, _, _>(&context, &id, deposit)
                }
                Stamp::OneContext => repo.transact_with::<Account, _, _>(&shared, &id, deposit),
            }
            .expect("command");
        }
    }
}

fn timed<S: EventStore>(repo: Repository<S>, accounts: u64, per: u64, stamp: Stamp) -> Duration {
    let start = Instant::now();
    commands(&repo, accounts, per, stamp);
    let elapsed = start.elapsed();
    drop(repo);
    elapsed
}

fn main() {
    let (accounts, per) = if quick() { (100, 10) } else { (1_000, 20) };
    let root = tempfile::tempdir().unwrap();
    let next = std::cell::Cell::new(0u32);
    let json = || {
        next.set(next.get() + 1);
        let dir = root.path().join(format!("store-{}", next.get()));
        let options = JsonStoreOptions::new().durability(Durability::Never);
        Repository::new(JsonStore::open_with(dir, options).unwrap()).with_cache(accounts as usize)
    };
    let memory = || Repository::new(InMemoryStore::new()).with_cache(accounts as usize);
    let title = |store: &str| format!("{store}: {accounts} accounts x {per} commands");
    let times = compare(
        &title("InMemoryStore"),
        accounts * per,
        9,
        vec![
            Variant::custom("transact", || timed(memory(), accounts, per, Stamp::Not)),
            Variant::custom("transact_with, a new context per command", || {
                timed(memory(), accounts, per, Stamp::NewContext)
            }),
            Variant::custom("transact_with, one context", || {
                timed(memory(), accounts, per, Stamp::OneContext)
            }),
        ],
    );
    ratio(
        "InMemoryStore: transact_with (new context) / transact",
        times[1],
        times[0],
        "within noise",
    );
    ratio(
        "InMemoryStore: transact_with (one context) / transact",
        times[2],
        times[0],
        "within noise",
    );
    let times = compare(
        &title("JsonStore Never"),
        accounts * per,
        9,
        vec![
            Variant::custom("transact", || timed(json(), accounts, per, Stamp::Not)),
            Variant::custom("transact_with, a new context per command", || {
                timed(json(), accounts, per, Stamp::NewContext)
            }),
            Variant::custom("transact_with, one context", || {
                timed(json(), accounts, per, Stamp::OneContext)
            }),
        ],
    );
    ratio(
        "JsonStore Never: transact_with (new context) / transact",
        times[1],
        times[0],
        "within noise",
    );
    ratio(
        "JsonStore Never: transact_with (one context) / transact",
        times[2],
        times[0],
        "within noise",
    );
}
