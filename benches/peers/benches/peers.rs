//! Issue 5's peer comparison: one workload through livenstore and through the in-memory stores of
//! the Rust event-sourcing libraries people use, in one process, in interleaved rounds.
//!
//! Workload: 10,000 bank accounts (aggregates), 100 events each (an `AccountOpened`, then
//! deposits and withdrawals alternating; 100-160 bytes of JSON per payload), every event checked
//! by the account's rules. Each system runs it the way its API is meant to be used:
//!
//! | system | persist (table 1) | reload |
//! |---|---|---|
//! | livenstore `InMemoryStore`, `JsonStore` (`Never`, `Always`) | `Repository::create`, 100 × `AggregateRoot::apply`, one `Repository::save` | `Repository::load` |
//! | cqrs-es 0.5 `MemStore` | one `CqrsFramework::execute` of a command that produces the 100 events | `EventStore::load_aggregate` |
//! | eventually 0.4 `inmemory::EventStore` | a new `AggregateRoot`, 100 × `handle` (one event each), one `Repository::add` | `Repository::get` |
//!
//! so each system persists every account in ONE append of 100 events. Table 2 runs the other
//! common shape, one command per event (load, handle, save; 100 per account, 1,000 accounts):
//! livenstore `Repository::transact`, cqrs-es `execute`, eventually `get` + `handle` + `add`.
//! Its livenstore rows include `JsonStore` with `Repository::with_cache` (a load reads only the
//! events appended since the cached state) and, when `LIVENSTORE_POSTGRES_URL` names a server,
//! `PostgresStore` with the cache.
//!
//! The row "livenstore InMemoryStore, typed append" saves through the public API without
//! `Repository::save`: `collect_unsaved`, `AggregateEvent::into_new_event` and `EventStore::append`
//! with the version `save` would expect. Its events keep their typed values, which `InMemoryStore`
//! replays without decoding JSON. `Repository::save` keeps them too (its events move into their
//! envelopes), so the row checks what the repository adds on top of the store.
//!
//! Persist and reload are timed separately (setup, dropping stores and deleting directories are
//! not timed); every reload checks each account's balance. Peers run on a tokio current-thread
//! runtime (`block_on` around the whole loop). The `JsonStore`s live in a temporary directory.
//!
//! cqrs-es's `MemStore` prints a line to stdout for every load and every commit; that cost is part
//! of its figures (as it is for its users), but the lines are dropped from this bench's output: the
//! bench runs itself as a child process and filters them.
//!
//! Run: `cargo bench --bench peers` (or plain `cargo bench`, which runs every bench);
//! `LIVENSTORE_BENCH_QUICK=1` for a smoke run (1,000 and 100 accounts, two rounds).

#[path = "../../support/mod.rs"]
mod support;
mod with_cqrs_es;
mod with_eventually;
mod with_livenstore;
mod workload;

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use livenstore::store::json::{Durability, JsonStoreOptions};
use livenstore::{InMemoryStore, JsonStore, Repository};
use livenstore_postgres::testing::TestSchema;
use support::{compare, quick, ratio, Variant};
use with_livenstore::Save;
use workload::Workload;

/// Set in the child process that runs the benchmark (the parent filters its stdout).
const CHILD: &str = "LIVENSTORE_PEERS_BENCH_CHILD";

/// Events per account.
const EVENTS_PER_ACCOUNT: usize = 100;

const MEMORY: &str = "livenstore InMemoryStore";
const MEMORY_TYPED: &str = "livenstore InMemoryStore, typed append";
const CQRS_ES: &str = "cqrs-es 0.5 MemStore";
const EVENTUALLY: &str = "eventually 0.4 inmemory";

fn main() {
    if std::env::var_os(CHILD).is_none() {
        run_child_and_filter();
        return;
    }
    let (accounts, per_command_accounts) = if quick() {
        (1_000, 100)
    } else {
        (10_000, 1_000)
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let tmp = tempfile::tempdir().expect("temporary directory");

    let work = Workload::new(accounts, EVENTS_PER_ACCOUNT);
    println!(
        "workload: {accounts} accounts x {EVENTS_PER_ACCOUNT} events = {} events",
        work.events()
    );
    one_append_per_account(&work, &runtime, tmp.path());

    let work = Workload::new(per_command_accounts, EVENTS_PER_ACCOUNT);
    one_command_per_event(&work, &runtime, tmp.path());
}

/// A fresh directory under `root` for one store.
fn fresh_dir(root: &Path) -> std::path::PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    root.join(format!("store-{}", NEXT.fetch_add(1, Ordering::Relaxed)))
}

fn open_json(dir: &Path, durability: Durability) -> JsonStore {
    JsonStore::open_with(dir, JsonStoreOptions::new().durability(durability)).expect("open")
}

/// Times `persist` on a fresh store made by `setup`; drops the store untimed.
fn timed_on<S>(setup: impl Fn() -> S, mut persist: impl FnMut(&mut S)) -> Duration {
    let mut store = setup();
    let start = Instant::now();
    persist(&mut store);
    let elapsed = start.elapsed();
    drop(store);
    elapsed
}

/// Prints the time ratio of each livenstore row (the first `livenstore_rows`) against each peer
/// row (the rest): below 1 means livenstore is ahead.
fn ratios(names: &[&str], times: &[Duration], livenstore_rows: usize) {
    for (ln, lt) in names.iter().zip(times).take(livenstore_rows) {
        for (pn, pt) in names.iter().zip(times).skip(livenstore_rows) {
            ratio(&format!("{ln} / {pn}"), *lt, *pt, "< 1: livenstore ahead");
        }
    }
}

/// Table 1: every account persisted in one append of its 100 events, then every account reloaded.
fn one_append_per_account(work: &Workload, runtime: &tokio::runtime::Runtime, tmp: &Path) {
    let events = work.events();
    let memory_persist = |how: Save| {
        move || {
            timed_on(
                || Repository::new(InMemoryStore::new()),
                |repo| with_livenstore::persist_one_save(repo, work, how),
            )
        }
    };
    let json_persist = |durability: Durability| {
        move || {
            let dir = fresh_dir(tmp);
            let elapsed = timed_on(
                || Repository::new(open_json(&dir, durability)),
                |repo| with_livenstore::persist_one_save(repo, work, Save::Repository),
            );
            std::fs::remove_dir_all(&dir).expect("remove store");
            elapsed
        }
    };
    let names = [
        MEMORY,
        MEMORY_TYPED,
        "livenstore JsonStore Never",
        "livenstore JsonStore Always",
        CQRS_ES,
        EVENTUALLY,
    ];
    let persist = compare(
        "persist: one append of 100 events per account",
        events,
        5,
        vec![
            Variant::custom(names[0], memory_persist(Save::Repository)),
            Variant::custom(names[1], memory_persist(Save::TypedAppend)),
            Variant::custom(names[2], json_persist(Durability::Never)),
            Variant::custom(names[3], json_persist(Durability::Always)),
            Variant::custom(names[4], || {
                timed_on(with_cqrs_es::MemStoreFramework::new, |fw| {
                    runtime.block_on(with_cqrs_es::persist_one_command(&fw.cqrs, work))
                })
            }),
            Variant::custom(names[5], || {
                timed_on(with_eventually::repository, |repo| {
                    runtime.block_on(with_eventually::persist_one_add(repo, work))
                })
            }),
        ],
    );
    ratios(&names, &persist, 4);

    // Reload: each store is filled once, then read in every round. The JsonStore written with
    // `Never` has the same files as one written with `Always`.
    let memory = Repository::new(InMemoryStore::new());
    with_livenstore::persist_one_save(&memory, work, Save::Repository);
    let memory_typed = Repository::new(InMemoryStore::new());
    with_livenstore::persist_one_save(&memory_typed, work, Save::TypedAppend);
    let json = Repository::new(open_json(&fresh_dir(tmp), Durability::Never));
    with_livenstore::persist_one_save(&json, work, Save::Repository);
    let cqrs = with_cqrs_es::MemStoreFramework::new();
    runtime.block_on(with_cqrs_es::persist_one_command(&cqrs.cqrs, work));
    let mut eventually = with_eventually::repository();
    runtime.block_on(with_eventually::persist_one_add(&mut eventually, work));

    let names = [
        MEMORY,
        MEMORY_TYPED,
        "livenstore JsonStore",
        CQRS_ES,
        EVENTUALLY,
    ];
    let reload = compare(
        "reload: every account, 100 events each",
        events,
        5,
        vec![
            Variant::timed(names[0], || with_livenstore::reload(&memory, work)),
            Variant::timed(names[1], || with_livenstore::reload(&memory_typed, work)),
            Variant::timed(names[2], || with_livenstore::reload(&json, work)),
            Variant::timed(names[3], || {
                runtime.block_on(with_cqrs_es::reload(&cqrs.store, work))
            }),
            Variant::timed(names[4], || {
                runtime.block_on(with_eventually::reload(&eventually, work))
            }),
        ],
    );
    ratios(&names, &reload, 3);
}

/// Table 2: one command (load, handle, save) per event.
fn one_command_per_event(work: &Workload, runtime: &tokio::runtime::Runtime, tmp: &Path) {
    let memory = |how: Save| {
        move || {
            timed_on(
                || Repository::new(InMemoryStore::new()),
                |repo| with_livenstore::persist_per_command(repo, work, how),
            )
        }
    };
    let json = |cache: usize| {
        move || {
            let dir = fresh_dir(tmp);
            let elapsed = timed_on(
                || Repository::new(open_json(&dir, Durability::Never)).with_cache(cache),
                |repo| with_livenstore::persist_per_command(repo, work, Save::Repository),
            );
            std::fs::remove_dir_all(&dir).expect("remove store");
            elapsed
        }
    };
    let mut names = vec![
        "livenstore InMemoryStore transact",
        MEMORY_TYPED,
        "livenstore JsonStore Never transact",
        "livenstore JsonStore Never transact, with_cache",
    ];
    let mut variants = vec![
        Variant::custom(names[0], memory(Save::Repository)),
        Variant::custom(names[1], memory(Save::TypedAppend)),
        Variant::custom(names[2], json(0)),
        Variant::custom(names[3], json(work.ids.len())),
    ];
    if TestSchema::new().is_some() {
        let postgres = "livenstore PostgresStore transact, with_cache";
        names.push(postgres);
        variants.push(Variant::custom(postgres, || {
            let schema = TestSchema::new().expect("the test server");
            timed_on(
                || Repository::new(schema.connect()).with_cache(work.ids.len()),
                |repo| with_livenstore::persist_per_command(repo, work, Save::Repository),
            )
        }));
    } else {
        println!("(PostgresStore row skipped: LIVENSTORE_POSTGRES_URL is not set)");
    }
    let livenstore_rows = names.len();
    names.extend([
        "cqrs-es 0.5 MemStore execute",
        "eventually 0.4 get+handle+add",
    ]);
    variants.push(Variant::custom(names[livenstore_rows], || {
        timed_on(with_cqrs_es::MemStoreFramework::new, |fw| {
            runtime.block_on(with_cqrs_es::persist_per_command(&fw.cqrs, work))
        })
    }));
    variants.push(Variant::custom(names[livenstore_rows + 1], || {
        timed_on(with_eventually::repository, |repo| {
            runtime.block_on(with_eventually::persist_per_command(repo, work))
        })
    }));
    let times = compare(
        &format!(
            "one command per event: {} accounts x {EVENTS_PER_ACCOUNT} commands",
            work.ids.len()
        ),
        work.events(),
        3,
        variants,
    );
    ratios(&names, &times, livenstore_rows);
}

/// Runs this bench again as a child process and prints its output without cqrs-es's `MemStore`
/// lines ("loading: ..." and "storing: ..."), counting them.
fn run_child_and_filter() {
    let exe = std::env::current_exe().expect("path of this bench");
    let mut child = Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(CHILD, "1")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the bench");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut dropped = 0u64;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("bench output");
        let mem_store_line = (line.starts_with("loading: ") || line.starts_with("storing: "))
            && line.contains(" for aggregate ID '");
        if mem_store_line {
            dropped += 1;
        } else {
            println!("{line}");
        }
    }
    let status = child.wait().expect("bench exit status");
    println!("\n({dropped} lines printed by cqrs-es's MemStore were dropped from this output)");
    if !status.success() {
        std::process::exit(status.code().unwrap_or(1));
    }
}
