//! Schema evolution: events stored at older versions of their type (and under older names)
//! decode as today's type through its upcast chain, in replay, `to_domain`, the registry, typed
//! subscriptions and the repository; what cannot be upcast is a typed error naming the event.

use std::sync::mpsc;
use std::time::Duration;

use livenstore::pubsub::{EventFilter, InMemorySubscriptionManager, SubscriptionManager};
use livenstore::{
    Aggregate, AggregateEvent, AggregateRoot, DomainError, DomainEvent, EnvelopeError,
    EventDecodeError, EventId, EventRegistry, EventStore, ExpectedVersion, InMemoryStore, NewEvent,
    ReplayError, Repository, RepositoryError, UpcastError,
};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

/// Version 1 of `account.deposited`: whole units.
#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited")]
struct DepositedV1 {
    amount: u64,
}

/// Version 2: cents.
#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited", version = 2, upcast_from = DepositedV1)]
struct DepositedV2 {
    cents: u64,
}

impl From<DepositedV1> for DepositedV2 {
    fn from(v1: DepositedV1) -> Self {
        DepositedV2 {
            cents: v1.amount * 100,
        }
    }
}

/// Version 3, today's: cents and a currency. The only one the aggregate lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited", version = 3, upcast_from = DepositedV2)]
struct Deposited {
    cents: u64,
    currency: String,
}

/// More than this many cents in one deposit was a bug of version 2's writer: refused.
const IMPLAUSIBLE_CENTS: u64 = 1_000_000_000_000;

impl TryFrom<DepositedV2> for Deposited {
    type Error = String;

    fn try_from(v2: DepositedV2) -> Result<Self, String> {
        if v2.cents > IMPLAUSIBLE_CENTS {
            return Err(format!("{} cents is not a plausible deposit", v2.cents));
        }
        Ok(Deposited {
            cents: v2.cents,
            currency: "EUR".into(),
        })
    }
}

/// Renamed: stored as `MoneyCredited` before.
#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.credited", aliases("MoneyCredited"))]
struct Credited {
    cents: u64,
}

/// Version 1 had no reason, and its Rust type is gone: a JSON-level upcast adds one.
#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.closed", version = 2, upcast_json(from = 1, with = closed_v1_to_v2))]
struct Closed {
    reason: String,
}

fn closed_v1_to_v2(mut v1: serde_json::Value) -> Result<serde_json::Value, UpcastError> {
    let object = v1
        .as_object_mut()
        .ok_or_else(|| UpcastError::new("a closed event is an object"))?;
    object.insert("reason".into(), "not recorded".into());
    Ok(v1)
}

/// Two JSON-level steps in a row: version 1 in euros, 2 in cents, 3 with a currency.
#[derive(Debug, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.limit_set", version = 3)]
#[event(upcast_json(from = 1, with = limit_v1_to_v2), upcast_json(from = 2, with = limit_v2_to_v3))]
struct LimitSet {
    cents: u64,
    currency: String,
}

fn limit_v1_to_v2(v1: serde_json::Value) -> Result<serde_json::Value, UpcastError> {
    let euros = v1["euros"]
        .as_u64()
        .ok_or_else(|| UpcastError::new("no euros"))?;
    Ok(serde_json::json!({ "cents": euros * 100 }))
}

fn limit_v2_to_v3(mut v2: serde_json::Value) -> Result<serde_json::Value, UpcastError> {
    v2["currency"] = "EUR".into();
    Ok(v2)
}

/// A fee: version 1 in whole units, version 2 in cents; a `TryFrom` that refuses with an
/// `UpcastError` of its own.
#[derive(Debug, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.fee_charged")]
struct FeeChargedV1 {
    amount: u64,
}

#[derive(Debug, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.fee_charged", version = 2, upcast_from = FeeChargedV1)]
struct FeeCharged {
    cents: u64,
}

impl TryFrom<FeeChargedV1> for FeeCharged {
    type Error = UpcastError;

    fn try_from(v1: FeeChargedV1) -> Result<Self, UpcastError> {
        if v1.amount > 10 {
            return Err(UpcastError::new("no fee was ever above 10"));
        }
        Ok(FeeCharged {
            cents: v1.amount * 100,
        })
    }
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "account", events(Deposited, Credited, Closed))]
struct Account {
    cents: u64,
    closed: Option<String>,
}

impl Account {
    fn on_deposited(&mut self, e: &Deposited) -> Result<(), DomainError> {
        self.cents += e.cents;
        Ok(())
    }

    fn on_credited(&mut self, e: &Credited) -> Result<(), DomainError> {
        self.cents += e.cents;
        Ok(())
    }

    fn on_closed(&mut self, e: &Closed) -> Result<(), DomainError> {
        self.closed = Some(e.reason.clone());
        Ok(())
    }
}

/// An event as an older build wrote it.
fn stored(event_type: &str, version: u32, json: &str) -> NewEvent {
    NewEvent::from_json(event_type.to_owned(), json)
        .unwrap()
        .with_event_version(version)
}

/// A store holding account `1` as three generations of code wrote it.
fn history() -> InMemoryStore {
    let store = InMemoryStore::new();
    store
        .append(
            "account-1",
            ExpectedVersion::NoStream,
            vec![
                stored("account.deposited", 1, r#"{"amount":3}"#),
                stored("account.deposited", 2, r#"{"cents":250}"#),
                stored("MoneyCredited", 1, r#"{"cents":5}"#),
                stored("account.deposited", 3, r#"{"cents":45,"currency":"EUR"}"#),
                stored("account.credited", 1, r#"{"cents":100}"#),
                stored("account.closed", 1, "{}"),
            ],
        )
        .unwrap();
    store
}

#[test]
fn the_repository_replays_every_generation_through_the_chain() {
    let repository = Repository::new(history());
    let account: AggregateRoot<Account> = repository.load("1").unwrap();
    assert_eq!(account.cents, 300 + 250 + 5 + 45 + 100);
    assert_eq!(account.closed.as_deref(), Some("not recorded"));
    assert_eq!(account.version(), 6);
}

#[test]
fn new_events_are_written_at_the_current_version() {
    let repository = Repository::new(InMemoryStore::new());
    let mut account = repository.create::<Account>("2").unwrap();
    account
        .apply(Deposited {
            cents: 1,
            currency: "EUR".into(),
        })
        .unwrap();
    account.apply(Credited { cents: 2 }).unwrap();
    repository.save(&mut account).unwrap();
    let events = repository.store().read_stream("account-2", 1, 10).unwrap();
    let written: Vec<(&str, u32)> = events
        .iter()
        .map(|e| (e.event_type(), e.event_version()))
        .collect();
    assert_eq!(written, [("account.deposited", 3), ("account.credited", 1)]);
}

#[test]
fn to_domain_and_the_registry_go_through_the_chain() {
    let store = history();
    let events = store.read_stream("account-1", 1, 10).unwrap();
    let first: Deposited = events[0].to_domain().unwrap();
    assert_eq!(
        first,
        Deposited {
            cents: 300,
            currency: "EUR".into()
        }
    );
    let renamed: Credited = events[2].to_domain().unwrap();
    assert_eq!(renamed.cents, 5);
    assert!(matches!(
        events[0].to_domain::<Credited>(),
        Err(EnvelopeError::TypeMismatch { .. })
    ));

    let registry = EventRegistry::global().unwrap();
    let current = registry.get("account.deposited").unwrap();
    assert_eq!(current.event_version(), 3);
    assert!(current.rust_path().ends_with("::Deposited"));
    assert!((1..=3).all(|v| current.upcasts_from(v)));
    for event in &events[..2] {
        let value = registry
            .decode(
                event.event_type(),
                event.event_version(),
                event.payload().as_bytes(),
            )
            .unwrap();
        assert!(value.downcast_ref::<Deposited>().is_some(), "{event:?}");
    }
    let old_name = registry
        .decode("MoneyCredited", 1, br#"{"cents":5}"#)
        .unwrap();
    assert_eq!(
        old_name.downcast_ref::<Credited>().map(|c| c.cents),
        Some(5)
    );
}

#[test]
fn a_typed_subscription_receives_events_stored_under_old_names() {
    let manager = InMemorySubscriptionManager::new();
    let (sender, received) = mpsc::channel();
    let _subscription = manager
        .subscribe(EventFilter::event_type::<Credited>(), move |event| {
            let credited: Credited = event.to_domain()?;
            sender.send((event.event_type().to_owned(), credited.cents))?;
            Ok(())
        })
        .unwrap();
    let store = livenstore::PublishingStore::new(InMemoryStore::new(), manager.clone());
    store
        .append(
            "account-3",
            ExpectedVersion::NoStream,
            vec![
                stored("MoneyCredited", 1, r#"{"cents":7}"#),
                stored("account.deposited", 1, r#"{"amount":1}"#),
                stored("account.credited", 1, r#"{"cents":8}"#),
            ],
        )
        .unwrap();
    let timeout = Duration::from_secs(10);
    assert_eq!(
        received.recv_timeout(timeout).unwrap(),
        ("MoneyCredited".to_owned(), 7)
    );
    assert_eq!(
        received.recv_timeout(timeout).unwrap(),
        ("account.credited".to_owned(), 8)
    );
}

/// Replays account `9`'s one event, written as `event`.
fn replay_one(event: NewEvent) -> Result<AggregateRoot<Account>, ReplayError<DomainError>> {
    let store = InMemoryStore::new();
    store
        .append("account-9", ExpectedVersion::NoStream, vec![event])
        .unwrap();
    let mut account = AggregateRoot::<Account>::new("9");
    account.replay(&store.read_stream("account-9", 1, 1).unwrap()[0])?;
    Ok(account)
}

#[test]
fn a_version_newer_than_the_code_is_an_error_naming_the_event_and_both_versions() {
    let id = EventId::new();
    let event = stored("account.deposited", 9, r#"{"cents":1}"#).with_id(id);
    match replay_one(event) {
        Err(ReplayError::NewerVersion {
            event_id,
            event_type,
            stored: 9,
            known: 3,
        }) => {
            assert_eq!((event_id, event_type.as_str()), (id, "account.deposited"));
        }
        other => panic!("expected NewerVersion, got {other:?}"),
    }
    let store = InMemoryStore::new();
    store
        .append(
            "account-9",
            ExpectedVersion::NoStream,
            vec![stored("account.closed", 3, "{}")],
        )
        .unwrap();
    let error = Repository::new(store).load::<Account>("9").unwrap_err();
    assert!(matches!(error, RepositoryError::Replay { .. }), "{error:?}");
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    assert!(
        text.contains("version 3") && text.contains("version 2"),
        "{text}"
    );
}

#[test]
fn a_refused_upcast_is_an_error_naming_the_version_and_the_reason() {
    let too_much = format!(r#"{{"cents":{}}}"#, IMPLAUSIBLE_CENTS + 1);
    match replay_one(stored("account.deposited", 2, &too_much)) {
        Err(ReplayError::Upcast {
            event_version: 2,
            source: UpcastError::Failed { from: 2, message },
            ..
        }) => assert!(message.contains("not a plausible deposit"), "{message}"),
        other => panic!("expected a failed upcast, got {other:?}"),
    }
    match replay_one(stored("account.closed", 1, "[]")) {
        Err(ReplayError::Upcast {
            source: UpcastError::Failed { from: 1, message },
            ..
        }) => assert!(message.contains("is an object"), "{message}"),
        other => panic!("expected a failed JSON upcast, got {other:?}"),
    }
    // A payload that does not fit its own (old) version is an invalid payload.
    assert!(matches!(
        replay_one(stored("account.deposited", 1, r#"{"amount":"three"}"#)),
        Err(ReplayError::InvalidPayload { .. })
    ));
    // Version 0 is never stored (stores refuse it); decoding it directly says there is no path.
    assert!(matches!(
        AccountEvent::decode("account.deposited", 0, br#"{"amount":3}"#),
        Err(EventDecodeError::Upcast(UpcastError::NoPath {
            stored: 0,
            known: 3
        }))
    ));
}

#[test]
fn json_steps_chain_from_every_older_version() {
    let expected = LimitSet {
        cents: 700,
        currency: "EUR".into(),
    };
    assert_eq!(
        LimitSet::from_stored(1, br#"{"euros":7}"#).unwrap(),
        expected
    );
    assert_eq!(
        LimitSet::from_stored(2, br#"{"cents":700}"#).unwrap(),
        expected
    );
    let v3 = br#"{"cents":700,"currency":"EUR"}"#;
    assert_eq!(LimitSet::from_stored(3, v3).unwrap(), expected);
    assert!((1..=3).all(LimitSet::upcasts_from) && !LimitSet::upcasts_from(4));
    // The first step's error carries its version; a bad result of it fails at version 2.
    assert!(matches!(
        LimitSet::from_stored(1, br#"{"pounds":7}"#),
        Err(UpcastError::Failed { from: 1, .. })
    ));
    assert!(matches!(
        LimitSet::from_stored(2, br#"{"cents":"many"}"#),
        Err(UpcastError::Decode { version: 3, .. })
    ));
}

#[test]
fn an_upcast_error_of_a_conversion_is_passed_on_with_its_version() {
    let fee = FeeCharged::from_stored(1, br#"{"amount":2}"#).unwrap();
    assert_eq!(fee.cents, 200);
    let error = FeeCharged::from_stored(1, br#"{"amount":11}"#).unwrap_err();
    assert!(
        matches!(&error, UpcastError::Failed { from: 1, message } if message == "no fee was ever above 10"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the upcast from version 1 failed: no fee was ever above 10"
    );
}

#[test]
fn the_event_schemas_of_this_file_are_locked() {
    livenstore::testing::check_schema_lock(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/schema_evolution.lock"
    ));
}

proptest! {
    /// Whatever generation wrote a deposit, the account replays to the same balance.
    #[test]
    fn every_generation_replays_to_the_same_state(amounts in proptest::collection::vec(0u64..1_000_000, 1..20)) {
        let as_v1: Vec<NewEvent> = amounts
            .iter()
            .map(|a| stored("account.deposited", 1, &format!(r#"{{"amount":{a}}}"#)))
            .collect();
        let as_v3: Vec<NewEvent> = amounts
            .iter()
            .map(|a| NewEvent::from_domain(&Deposited { cents: a * 100, currency: "EUR".into() }).unwrap())
            .collect();
        let load = |events: Vec<NewEvent>| {
            let repository = Repository::new(InMemoryStore::new());
            repository.store().append("account-p", ExpectedVersion::NoStream, events).unwrap();
            repository.load::<Account>("p").unwrap().cents
        };
        prop_assert_eq!(load(as_v1), load(as_v3));
    }
}
