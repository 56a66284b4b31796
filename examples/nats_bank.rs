//! A bank account on NATS JetStream: two store handles (as two processes would have) deposit
//! into one account from eight threads; optimistic concurrency and the repository's retries
//! keep every deposit, and a subscription on the first handle sees the second's events.
//!
//! Run with a NATS server with JetStream (`nats-server -js`):
//!
//! ```sh
//! LIVENSTORE_NATS_URL=nats://127.0.0.1:4222 cargo run --example nats_bank
//! ```
//!
//! The events go to the JetStream stream `livenstore_example` (remove it with
//! `nats stream rm livenstore_example`); each run uses a new account.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use livenstore::pubsub::{EventFilter, RetryPolicy, SubscriptionManager};
use livenstore::{Aggregate, DomainError, DomainEvent, EventId, EventStore, Repository};
use livenstore_nats::{JetStreamConfig, JetStreamStore, JetStreamSubscriptionManager};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
struct Deposited {
    amount: u64,
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(events(Deposited))]
struct Account {
    balance: u64,
}

impl Account {
    fn on_deposited(&mut self, e: &Deposited) -> Result<(), DomainError> {
        self.balance += e.amount;
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url =
        std::env::var("LIVENSTORE_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let config = JetStreamConfig::new().stream("livenstore_example")?;
    // Two handles on one stream, as two application instances would have.
    let first = JetStreamStore::connect_with(&url, config.clone())?;
    let second = JetStreamStore::connect_with(&url, config)?;

    let seen = Arc::new(AtomicUsize::new(0));
    let manager = JetStreamSubscriptionManager::start(&first)?;
    let account_id = EventId::new().to_string();
    let stream = format!("Account-{account_id}");
    let counter = Arc::clone(&seen);
    let _subscription = manager.subscribe(EventFilter::stream(&stream), move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(())
    })?;

    // Eight writers on one account: the losers of each round retry after a short pause.
    let backoff = RetryPolicy {
        max_attempts: 100,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(20),
        jitter: true,
    };
    let repositories = [
        Repository::new(first.clone()).with_conflict_backoff(backoff),
        Repository::new(second).with_conflict_backoff(backoff),
    ];
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let repository = &repositories[thread % 2];
            let account_id = &account_id;
            scope.spawn(move || {
                for _ in 0..5 {
                    repository
                        .transact::<Account, _, _>(account_id, |account| {
                            account.apply(Deposited { amount: 10 })
                        })
                        .expect("a deposit is stored, retried on conflict");
                }
            });
        }
    });

    let account = repositories[0].load::<Account>(&account_id)?;
    println!(
        "account {account_id}: balance {} at version {}",
        account.balance,
        account.version()
    );
    assert_eq!((account.balance, account.version()), (400, 40));

    // The subscription on the first handle saw all 40 events, 20 of them appended by the second.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while seen.load(Ordering::SeqCst) < 40 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    println!(
        "the subscription saw {} events",
        seen.load(Ordering::SeqCst)
    );
    assert_eq!(seen.load(Ordering::SeqCst), 40);
    println!("{} events in the stream in all", first.last_position()?);
    Ok(())
}
