//! The bank service under load (issue 19): `CONNECTIONS` keep-alive connections on loopback
//! post deposits for a few seconds to the service (`examples/bank_service`) over a `JsonStore`
//! with `Durability::Always`, each connection into its own account, then all into one account;
//! beside it, the store's own rate for the same work without HTTP: single-event appends with
//! `Always` from as many threads, straight on the store.
//!
//! Prints requests (or appends) per second and the p50 / p99 latency of each. Bounded: each
//! phase stops at its deadline (5 s, 1 s with `LIVENSTORE_BENCH_QUICK=1`) or after
//! `MAX_REQUESTS`. Everything stays on 127.0.0.1 and in temporary directories.

#[allow(dead_code)] // the bench starts the service; it uses few of its helpers
#[path = "../examples/bank_service/service/mod.rs"]
mod service;

#[path = "../tests/bank_service/client.rs"]
mod client;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use livenstore::{EventStore, ExpectedVersion, JsonStore, NewEvent};
use serde_json::json;

/// Concurrent connections (and store threads).
const CONNECTIONS: usize = 16;

/// A phase stops after this many requests even before its deadline.
const MAX_REQUESTS: usize = 2_000_000;

/// How long each phase runs.
fn phase() -> Duration {
    if std::env::var_os("LIVENSTORE_BENCH_QUICK").is_some() {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(5)
    }
}

/// What one phase measured.
struct Figures {
    count: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Figures {
    fn from(parts: Vec<Vec<Duration>>, elapsed: Duration) -> Self {
        let mut latencies: Vec<Duration> = parts.into_iter().flatten().collect();
        latencies.sort_unstable();
        Figures {
            count: latencies.len(),
            elapsed,
            latencies,
        }
    }

    fn percentile(&self, p: usize) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        self.latencies[(self.latencies.len() * p / 100).min(self.latencies.len() - 1)]
    }

    fn print(&self, what: &str) {
        println!(
            "{what:<58} {:>9.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  ({} in {:.2} s)",
            self.count as f64 / self.elapsed.as_secs_f64(),
            self.percentile(50).as_secs_f64() * 1e3,
            self.percentile(99).as_secs_f64() * 1e3,
            self.count,
            self.elapsed.as_secs_f64(),
        );
    }
}

/// `CONNECTIONS` threads appending one `account.deposited` event per call to their own stream.
fn store_appends(dir: &std::path::Path) -> Figures {
    let store = Arc::new(JsonStore::open(dir).expect("open the store")); // Durability::Always
    let deadline = Instant::now() + phase();
    let start = Instant::now();
    let parts = std::thread::scope(|s| {
        let threads: Vec<_> = (0..CONNECTIONS)
            .map(|t| {
                let store = Arc::clone(&store);
                s.spawn(move || {
                    let stream = format!("account-store-{t}");
                    let mut latencies = Vec::new();
                    while Instant::now() < deadline && latencies.len() < MAX_REQUESTS {
                        let payload = format!(r#"{{"amount":{}}}"#, latencies.len() + 1);
                        let event =
                            NewEvent::from_json("account.deposited", payload).expect("valid json");
                        let version = latencies.len() as u64;
                        let began = Instant::now();
                        store
                            .append(&stream, ExpectedVersion::Exact(version), vec![event])
                            .expect("append");
                        latencies.push(began.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("appender"))
            .collect()
    });
    Figures::from(parts, start.elapsed())
}

/// `CONNECTIONS` connections posting deposits of 1 to the service at `addr`, into
/// `account-<c>` each, or all into `shared` when given.
async fn deposits(addr: SocketAddr, shared: Option<&str>) -> Figures {
    let client = client::Client::new(addr);
    let accounts: Vec<String> = (0..CONNECTIONS)
        .map(|c| shared.map_or(format!("load-{c}"), str::to_owned))
        .collect();
    for account in &accounts {
        let opened = client
            .post_json("/accounts", &json!({ "id": account, "owner": "bench" }))
            .await
            .expect("open");
        assert!(opened.status.is_success() || opened.status.as_u16() == 409);
    }
    let deadline = Instant::now() + phase();
    let start = Instant::now();
    let tasks: Vec<_> = accounts
        .into_iter()
        .map(|account| {
            tokio::spawn(async move {
                let mut connection = client.connect().await.expect("connect");
                let path = format!("/accounts/{account}/deposit");
                let body = json!({ "amount": 1 });
                let mut latencies = Vec::new();
                while Instant::now() < deadline && latencies.len() < MAX_REQUESTS {
                    let began = Instant::now();
                    let response = connection.post_json(&path, &body).await.expect("deposit");
                    assert_eq!(response.status.as_u16(), 200, "{:?}", response.body);
                    latencies.push(began.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut parts = Vec::new();
    for task in tasks {
        parts.push(task.await.expect("client"));
    }
    Figures::from(parts, start.elapsed())
}

fn main() {
    let quick = std::env::var_os("LIVENSTORE_BENCH_QUICK").is_some();
    println!(
        "bank service under load: {CONNECTIONS} connections, JsonStore Durability::Always, \
         {:?} per phase{}",
        phase(),
        if quick { " (quick)" } else { "" }
    );

    let dir = tempfile::tempdir().expect("temporary directory");
    store_appends(dir.path()).print(&format!(
        "store: single-event appends, {CONNECTIONS} threads"
    ));

    let dir = tempfile::tempdir().expect("temporary directory");
    let backend = service::Backend::json(dir.path()).expect("open the store");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let served = backend.clone();
    runtime.block_on(async move {
        let running = service::start(served, SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("start the service");
        deposits(running.addr(), None).await.print(&format!(
            "service: POST deposit, {CONNECTIONS} connections, own accounts"
        ));
        deposits(running.addr(), Some("shared"))
            .await
            .print(&format!(
                "service: POST deposit, {CONNECTIONS} connections, one account"
            ));
        running.stop(Duration::from_secs(1)).await.expect("stop");
    });
    drop(runtime);
    drop(backend);
}
