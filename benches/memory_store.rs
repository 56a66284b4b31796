//! InMemoryStore throughput: 1,000,000 appends (one event per call) to one stream and to 1,000
//! streams, and reloading 1,000 streams of 1,000 events into an aggregate.
//!
//! The aggregate and its events implement the traits by hand (what the derives will write), so
//! the bench does not depend on the derive crate.

use std::any::Any;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use livenstore::{
    Aggregate, AggregateEvent, AggregateRoot, DomainError, DomainEvent, EnvelopeError,
    EventDecodeError, EventStore, ExpectedVersion, InMemoryStore, NewEvent,
};
use serde::{Deserialize, Serialize};

const EVENTS: usize = 1_000_000;
const STREAMS: usize = 1_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Opened {
    owner: String,
}
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Deposited {
    amount: u64,
}
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Withdrawn {
    amount: u64,
}
impl DomainEvent for Opened {
    const EVENT_TYPE: &'static str = "Opened";
}
impl DomainEvent for Deposited {
    const EVENT_TYPE: &'static str = "Deposited";
}
impl DomainEvent for Withdrawn {
    const EVENT_TYPE: &'static str = "Withdrawn";
}

#[derive(Debug, Clone)]
enum AccountEvent {
    Opened(Opened),
    Deposited(Deposited),
    Withdrawn(Withdrawn),
}

impl AggregateEvent for AccountEvent {
    const EVENT_TYPES: &'static [&'static str] = &["Opened", "Deposited", "Withdrawn"];

    fn event_type(&self) -> &'static str {
        match self {
            AccountEvent::Opened(_) => Opened::EVENT_TYPE,
            AccountEvent::Deposited(_) => Deposited::EVENT_TYPE,
            AccountEvent::Withdrawn(_) => Withdrawn::EVENT_TYPE,
        }
    }

    fn decode(event_type: &str, json: &[u8]) -> Result<Self, EventDecodeError> {
        Ok(match event_type {
            "Opened" => AccountEvent::Opened(serde_json::from_slice(json)?),
            "Deposited" => AccountEvent::Deposited(serde_json::from_slice(json)?),
            "Withdrawn" => AccountEvent::Withdrawn(serde_json::from_slice(json)?),
            _ => return Err(EventDecodeError::UnknownEventType),
        })
    }

    fn to_new_event(&self) -> Result<NewEvent, EnvelopeError> {
        match self {
            AccountEvent::Opened(e) => NewEvent::from_domain(e),
            AccountEvent::Deposited(e) => NewEvent::from_domain(e),
            AccountEvent::Withdrawn(e) => NewEvent::from_domain(e),
        }
    }

    fn into_new_event(self) -> Result<NewEvent, EnvelopeError> {
        match self {
            AccountEvent::Opened(e) => NewEvent::from_domain_owned(e),
            AccountEvent::Deposited(e) => NewEvent::from_domain_owned(e),
            AccountEvent::Withdrawn(e) => NewEvent::from_domain_owned(e),
        }
    }
}

#[derive(Debug, Default)]
struct Account {
    open: bool,
    balance: u64,
    moves: u64,
}

impl Account {
    fn on_opened(&mut self, _: &Opened) -> Result<(), DomainError> {
        self.open = true;
        Ok(())
    }
    fn on_deposited(&mut self, e: &Deposited) -> Result<(), DomainError> {
        self.balance += e.amount;
        self.moves += 1;
        Ok(())
    }
    fn on_withdrawn(&mut self, e: &Withdrawn) -> Result<(), DomainError> {
        self.balance = self
            .balance
            .checked_sub(e.amount)
            .ok_or_else(|| DomainError::new("overdrawn"))?;
        self.moves += 1;
        Ok(())
    }
}

impl Aggregate for Account {
    const AGGREGATE_TYPE: &'static str = "Account";
    type Event = AccountEvent;
    type Error = DomainError;

    fn handle(&mut self, event: &AccountEvent) -> Result<(), DomainError> {
        match event {
            AccountEvent::Opened(e) => self.on_opened(e),
            AccountEvent::Deposited(e) => self.on_deposited(e),
            AccountEvent::Withdrawn(e) => self.on_withdrawn(e),
        }
    }

    fn handle_typed(&mut self, event: &dyn Any) -> Option<Result<(), DomainError>> {
        if let Some(e) = event.downcast_ref::<Deposited>() {
            Some(self.on_deposited(e))
        } else if let Some(e) = event.downcast_ref::<Withdrawn>() {
            Some(self.on_withdrawn(e))
        } else {
            event.downcast_ref::<Opened>().map(|e| self.on_opened(e))
        }
    }
}

/// The `i`-th event of a stream: opened first, then deposits with an occasional withdrawal.
fn account_event(i: usize) -> NewEvent {
    let event = match i {
        0 => AccountEvent::Opened(Opened {
            owner: "ada".into(),
        }),
        i if i % 3 == 2 => AccountEvent::Withdrawn(Withdrawn { amount: 1 }),
        _ => AccountEvent::Deposited(Deposited { amount: 2 }),
    };
    event.into_new_event().expect("bench events serialize")
}

fn stream_names() -> Vec<String> {
    (0..STREAMS).map(|i| format!("Account-{i}")).collect()
}

/// Events to append: `EVENTS` of them, in the order they go to `streams` round-robin.
fn prepared_events(streams: usize) -> Vec<NewEvent> {
    (0..EVENTS).map(|i| account_event(i / streams)).collect()
}

/// Times `EVENTS` single-event appends, round-robin over `streams` streams.
fn time_appends(names: &[String], streams: usize) -> Duration {
    let store = InMemoryStore::new();
    let events = prepared_events(streams);
    let start = Instant::now();
    for (i, event) in events.into_iter().enumerate() {
        let stream = &names[i % streams];
        black_box(
            store
                .append(stream, ExpectedVersion::Any, vec![event])
                .expect("append"),
        );
    }
    let elapsed = start.elapsed();
    drop(store);
    elapsed
}

/// Times reloading every stream of `store` into an aggregate.
fn time_reload(store: &InMemoryStore, names: &[String]) -> Duration {
    let start = Instant::now();
    for name in names {
        let events = store.read_stream(name, 1, usize::MAX).expect("read");
        let mut account = AggregateRoot::<Account>::new(name.as_str());
        account.replay_all(&events).expect("replay");
        black_box(account.balance);
    }
    start.elapsed()
}

fn report(label: &str, elapsed: Duration) {
    let rate = EVENTS as f64 / elapsed.as_secs_f64();
    eprintln!(
        "{label}: {EVENTS} events in {elapsed:.2?} = {:.1} M events/s",
        rate / 1e6
    );
}

fn benches(c: &mut Criterion) {
    let names = stream_names();
    // One direct measurement each, printed as events/s, before criterion's statistics.
    report("append, 1 stream", time_appends(&names, 1));
    report("append, 1,000 streams", time_appends(&names, STREAMS));
    let loaded = InMemoryStore::new();
    for (i, event) in prepared_events(STREAMS).into_iter().enumerate() {
        loaded
            .append(&names[i % STREAMS], ExpectedVersion::Any, vec![event])
            .expect("append");
    }
    report("reload 1,000 streams", time_reload(&loaded, &names));
    if std::env::var_os("MEMORY_STORE_BENCH_QUICK").is_some() {
        return; // the direct figures only
    }

    let mut group = c.benchmark_group("memory_store");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("append_1m_one_stream", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| time_appends(&names, 1)).sum())
    });
    group.bench_function("append_1m_1000_streams", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| time_appends(&names, STREAMS)).sum())
    });
    group.bench_function("reload_1000_streams_of_1000", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| time_reload(&loaded, &names)).sum())
    });
    group.finish();
}

criterion_group!(memory_store, benches);
criterion_main!(memory_store);
