//! InMemoryStore throughput (issue 3): 1,000,000 appends of one event per call, to one stream and
//! to 1,000 streams, and reloading 1,000 streams of 1,000 events into an aggregate.
//!
//! Targets: appends at least 10 M events/s (`append_one`; `append` with a one-element `Vec` is
//! printed beside it), reload at least 13 M events/s. Each figure is printed with its ratio to the
//! target and to a physical anchor run in the same process: the same workload in plain
//! collections (`Vec<RecordedEvent>` + `HashMap<&str, Vec<_>>`, no store logic).
//!
//! Timed: the append calls (or the reads and replays) only. Not timed: serializing the events
//! before (the caller's work) and dropping the store after. Rounds of the variants interleave
//! (`support::compare`), and medians are reported; `LIVENSTORE_BENCH_QUICK=1` runs two rounds.
//!
//! The aggregate and its events implement the traits by hand (what the derives will write), so
//! the bench does not depend on the derive crate.

mod support;

use std::any::Any;
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use livenstore::{
    Aggregate, AggregateEvent, AggregateRoot, DomainError, DomainEvent, EnvelopeError,
    EventDecodeError, EventId, EventStore, ExpectedVersion, InMemoryStore, NewEvent, RecordedEvent,
    RecordedEventParts, Timestamp,
};
use serde::{Deserialize, Serialize};
use support::{compare, ratio, Variant};

const EVENTS: usize = 1_000_000;
const STREAMS: usize = 1_000;
/// Interleaved rounds per comparison (two with `LIVENSTORE_BENCH_QUICK=1`).
const ROUNDS: usize = 5;
/// Issue 3's targets, in events per second, single-threaded.
const APPEND_TARGET: f64 = 10e6;
const RELOAD_TARGET: f64 = 13e6;

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

    fn decode(event_type: &str, version: u32, json: &[u8]) -> Result<Self, EventDecodeError> {
        if version != 1 {
            return Err(livenstore::UpcastError::Newer {
                stored: version,
                known: 1,
            }
            .into());
        }
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

/// Events to append: `EVENTS` of them, in the order they go to `streams` round-robin. Built
/// before the timed section: serializing a domain event is the caller's work, not the store's.
fn prepared_events(streams: usize) -> Vec<NewEvent> {
    (0..EVENTS).map(|i| account_event(i / streams)).collect()
}

/// How the store rows call the store.
#[derive(Clone, Copy)]
enum Call {
    /// `append_one(stream, Any, event)`.
    One,
    /// `append(stream, Any, vec![event])`: the one-element `Vec` is built inside the timed loop.
    VecOfOne,
}

/// Times `EVENTS` appends of one event per call, round-robin over `streams` streams, to a new
/// store. Timed: the calls only (the store's clock, ids, checks, indexes and memory included);
/// not timed: building the events before, dropping the store after.
fn time_store_appends(names: &[String], streams: usize, call: Call) -> Duration {
    let store = InMemoryStore::new();
    let events = prepared_events(streams);
    let mut s = 0;
    let start = Instant::now();
    for event in events {
        // Round-robin without a division per event (the loop's own cost stays small).
        let stream = &names[s];
        s = if s + 1 == streams { 0 } else { s + 1 };
        let result = match call {
            Call::One => store.append_one(stream, ExpectedVersion::Any, event),
            Call::VecOfOne => store.append(stream, ExpectedVersion::Any, vec![event]),
        };
        black_box(result.expect("append"));
    }
    let elapsed = start.elapsed();
    drop(store);
    elapsed
}

/// The physical anchor: the same events kept in plain collections, with no store logic. Each
/// event becomes a `RecordedEvent` (one `Arc` allocation), pushed to its stream's `Vec` (found
/// in a `HashMap` by name) and, shared, to a global `Vec` in append order. The anchor reads no
/// clock (one time for all), makes no id (a counter), checks nothing and indexes nothing else.
#[derive(Default)]
struct Anchor<'a> {
    streams: HashMap<&'a str, Vec<RecordedEvent>>,
    log: Vec<RecordedEvent>,
}

/// Fills an anchor like `time_store_appends` fills a store; returns the time of the loop.
fn time_anchor_appends<'a>(names: &'a [String], streams: usize) -> (Duration, Anchor<'a>) {
    let mut anchor = Anchor::default();
    let events = prepared_events(streams);
    let stream_names: Vec<Arc<str>> = names.iter().map(|n| Arc::from(n.as_str())).collect();
    let type_names: Vec<Arc<str>> = AccountEvent::EVENT_TYPES
        .iter()
        .map(|&t| Arc::from(t))
        .collect();
    let recorded_at = Timestamp::now();
    let mut s = 0;
    let start = Instant::now();
    for (i, event) in events.into_iter().enumerate() {
        let entries = anchor.streams.entry(names[s].as_str()).or_default();
        let (_, event_type, payload, metadata) = event.into_parts();
        let event_type = type_names
            .iter()
            .find(|t| ***t == *event_type)
            .expect("an account event type");
        let recorded = RecordedEvent::from_parts(RecordedEventParts {
            id: EventId::from_u128(i as u128 + 1),
            event_type: Arc::clone(event_type),
            stream: Arc::clone(&stream_names[s]),
            version: entries.len() as u64 + 1,
            position: i as u64 + 1,
            recorded_at,
            metadata,
            payload,
            event_version: 1,
        });
        anchor.log.push(recorded.clone());
        entries.push(recorded);
        s = if s + 1 == streams { 0 } else { s + 1 };
    }
    (start.elapsed(), anchor)
}

/// A store holding `EVENTS` events over `STREAMS` streams, appended in this process (so they
/// keep their typed values).
fn loaded_store(names: &[String]) -> InMemoryStore {
    let store = InMemoryStore::new();
    for (i, event) in prepared_events(STREAMS).into_iter().enumerate() {
        store
            .append_one(&names[i % STREAMS], ExpectedVersion::Any, event)
            .expect("append");
    }
    store
}

/// Times reloading every stream of `store` into an aggregate: `read_stream`, then `replay_all`.
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

/// The anchor of reloading: replaying each stream's `Vec` in place (no read, no copy).
fn time_anchor_reload(anchor: &Anchor<'_>, names: &[String]) -> Duration {
    let start = Instant::now();
    for name in names {
        let events = &anchor.streams[name.as_str()];
        let mut account = AggregateRoot::<Account>::new(name.as_str());
        account.replay_all(events).expect("replay");
        black_box(account.balance);
    }
    start.elapsed()
}

/// Prints a row's rate against its target rate (events/s); met when the ratio is at least 1.
fn target(what: &str, median: Duration, target_rate: f64) {
    let rate = EVENTS as f64 / median.as_secs_f64();
    let r = rate / target_rate;
    let verdict = if r >= 1.0 { "met" } else { "NOT met" };
    println!(
        "  TARGET {what}: {:.2} M events/s = {r:.2}x the target of {:.0} M events/s ({verdict})",
        rate / 1e6,
        target_rate / 1e6
    );
}

fn main() {
    let names = stream_names();
    for (streams, title) in [
        (1, "append 1,000,000 events one per call, to 1 stream"),
        (
            STREAMS,
            "append 1,000,000 events one per call, to 1,000 streams",
        ),
    ] {
        let names = &names;
        let medians = compare(
            title,
            EVENTS as u64,
            ROUNDS,
            vec![
                Variant::custom("anchor: RecordedEvent in Vec + HashMap", move || {
                    let (elapsed, anchor) = time_anchor_appends(names, streams);
                    drop(anchor);
                    elapsed
                }),
                Variant::custom("InMemoryStore::append_one", move || {
                    time_store_appends(names, streams, Call::One)
                }),
                Variant::custom("InMemoryStore::append(vec![event])", move || {
                    time_store_appends(names, streams, Call::VecOfOne)
                }),
            ],
        );
        ratio(
            "append_one / anchor",
            medians[1],
            medians[0],
            "none: context",
        );
        ratio(
            "append(vec) / append_one",
            medians[2],
            medians[1],
            "none: context",
        );
        target("append_one", medians[1], APPEND_TARGET);
        target("append(vec![event])", medians[2], APPEND_TARGET);
    }

    let store = loaded_store(&names);
    let (_, anchor) = time_anchor_appends(&names, STREAMS);
    let medians = compare(
        "reload 1,000 streams of 1,000 events into an aggregate",
        EVENTS as u64,
        ROUNDS,
        vec![
            Variant::custom("anchor: replay_all over the Vec in place", || {
                time_anchor_reload(&anchor, &names)
            }),
            Variant::custom("InMemoryStore read_stream + replay_all", || {
                time_reload(&store, &names)
            }),
        ],
    );
    ratio(
        "store reload / anchor",
        medians[1],
        medians[0],
        "none: context",
    );
    target("reload", medians[1], RELOAD_TARGET);
}
