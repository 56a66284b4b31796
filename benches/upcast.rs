//! Issue 16's speed target: replaying 1,000,000 events stored at version 1 of their type, through
//! one typed upcast step (`upcast_from` + `From`), beside replaying 1,000,000 events stored at
//! the current version 2, in the same process (target: at most 1.5x the time). A JSON-level step
//! (`upcast_json`) of the same conversion is measured beside them, and the same version-1 events
//! read by an aggregate that lists the version-1 type (the step's own cost), for information.
//!
//! Run: `cargo bench --bench upcast`.

mod support;

use std::hint::black_box;

use livenstore::{
    Aggregate, AggregateRoot, DomainError, DomainEvent, RecordedEvent, RecordedEventParts,
    Timestamp, UpcastError,
};
use serde::{Deserialize, Serialize};
use support::{compare, ratio, Variant};

const EVENTS: usize = 1_000_000;

/// Version 1: whole units, no note.
#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "ledger.deposited")]
struct DepositedV1 {
    account: String,
    amount: u64,
}

/// Version 2 (current): cents and an optional note.
#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "ledger.deposited", version = 2, upcast_from = DepositedV1)]
struct Deposited {
    account: String,
    cents: u64,
    note: Option<String>,
}

impl From<DepositedV1> for Deposited {
    fn from(v1: DepositedV1) -> Self {
        Deposited {
            account: v1.account,
            cents: v1.amount * 100,
            note: None,
        }
    }
}

/// The same conversion as a JSON-level step, on a type of its own name.
#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "ledger.credited", version = 2, upcast_json(from = 1, with = credited_v1_to_v2))]
struct Credited {
    account: String,
    cents: u64,
    note: Option<String>,
}

fn credited_v1_to_v2(mut v1: serde_json::Value) -> Result<serde_json::Value, UpcastError> {
    let object = v1
        .as_object_mut()
        .ok_or_else(|| UpcastError::new("not an object"))?;
    let amount = object
        .remove("amount")
        .and_then(|a| a.as_u64())
        .ok_or_else(|| UpcastError::new("no amount"))?;
    object.insert("cents".into(), (amount * 100).into());
    Ok(v1)
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(events(Deposited, Credited))]
struct Ledger {
    cents: u64,
    account_bytes: usize,
}

impl Ledger {
    fn on_deposited(&mut self, e: &Deposited) -> Result<(), DomainError> {
        self.cents += e.cents;
        self.account_bytes += e.account.len();
        Ok(())
    }

    fn on_credited(&mut self, e: &Credited) -> Result<(), DomainError> {
        self.cents += e.cents;
        self.account_bytes += e.account.len();
        Ok(())
    }
}

/// Release 1's aggregate: reads version 1 as it is, the cost of the step left out.
#[derive(Debug, Default, Aggregate)]
#[aggregate(events(DepositedV1))]
struct LedgerV1 {
    units: u64,
    account_bytes: usize,
}

impl LedgerV1 {
    fn on_deposited_v1(&mut self, e: &DepositedV1) -> Result<(), DomainError> {
        self.units += e.amount;
        self.account_bytes += e.account.len();
        Ok(())
    }
}

/// `EVENTS` stored events of `event_type` at `event_version`, payload `json(i)`.
fn stored(
    event_type: &str,
    event_version: u32,
    json: impl Fn(usize) -> String,
) -> Vec<RecordedEvent> {
    let event_type: std::sync::Arc<str> = event_type.into();
    let stream: std::sync::Arc<str> = "Ledger-1".into();
    (0..EVENTS)
        .map(|i| {
            RecordedEvent::from_parts(RecordedEventParts {
                id: livenstore::EventId::new(),
                event_type: event_type.clone(),
                stream: stream.clone(),
                version: i as u64 + 1,
                position: i as u64 + 1,
                recorded_at: Timestamp::now(),
                metadata: livenstore::Metadata::new(),
                payload: livenstore::Payload::from_json(json(i)).expect("valid json"),
                event_version,
            })
        })
        .collect()
}

fn replay(events: &[RecordedEvent]) -> u64 {
    let mut ledger = AggregateRoot::<Ledger>::new("1");
    ledger.replay_all(black_box(events)).unwrap();
    black_box(ledger.version());
    ledger.cents
}

fn replay_as_v1(events: &[RecordedEvent]) -> u64 {
    let mut ledger = AggregateRoot::<LedgerV1>::new("1");
    ledger.replay_all(black_box(events)).unwrap();
    black_box(ledger.version());
    ledger.units
}

fn main() {
    let account = |i: usize| format!("acct-{:06}", i % 10_007);
    let v1 = stored("ledger.deposited", 1, |i| {
        format!(r#"{{"account":"{}","amount":{}}}"#, account(i), i % 500)
    });
    let v2 = stored("ledger.deposited", 2, |i| {
        format!(
            r#"{{"account":"{}","cents":{},"note":null}}"#,
            account(i),
            (i % 500) * 100
        )
    });
    let json_v1 = stored("ledger.credited", 1, |i| {
        format!(r#"{{"account":"{}","amount":{}}}"#, account(i), i % 500)
    });
    // The three replays reach the same state.
    assert_eq!(replay(&v1), replay(&v2));
    assert_eq!(replay(&json_v1), replay(&v2));
    assert_eq!(replay_as_v1(&v1) * 100, replay(&v2));

    let times = compare(
        "replay of 1,000,000 events: native v2, v1 through a typed upcast, v1 through a JSON step",
        EVENTS as u64,
        9,
        vec![
            Variant::timed("stored at v2 (no upcast)", || {
                black_box(replay(&v2));
            }),
            Variant::timed("stored at v1, typed upcast (upcast_from)", || {
                black_box(replay(&v1));
            }),
            Variant::timed("stored at v1, JSON step (upcast_json)", || {
                black_box(replay(&json_v1));
            }),
            Variant::timed("stored at v1, read as v1 (no step)", || {
                black_box(replay_as_v1(&v1));
            }),
        ],
    );
    ratio("typed upcast / native", times[1], times[0], "<= 1.5");
    ratio("JSON step / native", times[2], times[0], "information");
    ratio(
        "typed upcast / the same v1 events read as v1",
        times[1],
        times[3],
        "information: the step's own cost",
    );
}
