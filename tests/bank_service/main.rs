//! The bank service (`examples/bank_service`) over real HTTP: every route, every error status
//! with its JSON body, the live feed, and 32 concurrent clients writing to one account.
//!
//! Each scenario runs three times: on a JSON store in a temporary directory (`json::*`), on a
//! throw-away PostgreSQL schema (`postgres::*`) when `LIVENSTORE_POSTGRES_URL` is set, and on a
//! throw-away JetStream stream (`nats::*`) when `LIVENSTORE_NATS_URL` is set (skipped with one
//! line otherwise; with a variable set and its server down, they fail). The service runs
//! in-process on 127.0.0.1 with a port the system picks, on a runtime of its own per test.

mod client;
mod scenarios;
#[allow(dead_code)] // the tests use the service's routes, not every helper of its modules
#[path = "../../examples/bank_service/service/mod.rs"]
mod service;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use client::{Client, Error};
use livenstore_nats::testing::TestStream;
use livenstore_postgres::testing::TestSchema;
use service::Backend;

/// Runs `scenario` against a service on a JSON store in a new directory.
fn on_json<F, Fut>(scenario: F) -> Result<(), Error>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let dir = tempfile::tempdir()?;
    let backend = Backend::json(dir.path())?;
    serve(backend, scenario)
}

/// Runs `scenario` against a service on a new PostgreSQL schema; nothing when no server is
/// configured.
fn on_postgres<F, Fut>(scenario: F) -> Result<(), Error>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let Some(schema) = TestSchema::new() else {
        return Ok(());
    };
    let backend = Backend::postgres(schema.connect())?;
    let outcome = serve(backend, scenario);
    drop(schema); // after the store's last handle: drops the schema
    outcome
}

/// Runs `scenario` against a service on a new JetStream stream; nothing when no server is
/// configured.
fn on_nats<F, Fut>(scenario: F) -> Result<(), Error>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let Some(stream) = TestStream::new() else {
        return Ok(());
    };
    let backend = Backend::nats(stream.connect())?;
    let outcome = serve(backend, scenario);
    drop(stream); // after the store's last handle: deletes the stream
    outcome
}

/// Starts the service over `backend` on its own runtime, runs `scenario`, stops it.
fn serve<F, Fut>(backend: Backend, scenario: F) -> Result<(), Error>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let service_backend = backend.clone();
    let outcome = runtime.block_on(async move {
        let running =
            service::start(service_backend, SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let outcome = scenario(Client::new(running.addr())).await;
        running.stop(Duration::from_secs(1)).await?;
        outcome
    });
    // The runtime first, with every task holding the store; then our handle, the last, outside
    // the runtime (the PostgreSQL client closes its connections synchronously).
    drop(runtime);
    drop(backend);
    outcome
}

/// One test per scenario and backend.
macro_rules! suite {
    ($($scenario:ident),* $(,)?) => {
        mod json {
            $(#[test]
            fn $scenario() -> Result<(), super::Error> {
                super::on_json(super::scenarios::$scenario)
            })*
        }
        mod postgres {
            $(#[test]
            fn $scenario() -> Result<(), super::Error> {
                super::on_postgres(super::scenarios::$scenario)
            })*
        }
        mod nats {
            $(#[test]
            fn $scenario() -> Result<(), super::Error> {
                super::on_nats(super::scenarios::$scenario)
            })*
        }
    };
}

suite!(
    every_route,
    business_errors,
    bad_requests,
    unknown_accounts_and_routes,
    live_feed_sends_history_then_new_events,
    thirty_two_clients_deposit_into_one_account,
);

/// A conflict that outlasts the repository's retries is 409 `conflict` (over HTTP it needs
/// more concurrent writers than a test should start; the mapping is checked directly).
#[test]
fn a_persistent_conflict_is_409() {
    use livenstore::{ExpectedVersion, RepositoryError, StoreError};
    let err = RepositoryError::<service::account::AccountError>::Store(StoreError::Conflict {
        stream: "account-ada".into(),
        expected: ExpectedVersion::Exact(3),
        actual: 4,
    });
    let api = service::error::ApiError::from(err);
    assert_eq!(api.status.as_u16(), 409);
    assert_eq!(api.body.kind, "conflict");
    assert!(
        api.body.error.contains("version conflict"),
        "{}",
        api.body.error
    );
}
