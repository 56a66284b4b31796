//! A store directory written by livenstore 0.1 (before event versions, checked in under
//! `tests/fixtures/json-store-0.1`) opens and reads unchanged: every event at version 1, its
//! bytes never rewritten, and an aggregate whose event was renamed and reshaped since replays it
//! through an alias and a typed upcast.

use std::path::Path;

use livenstore::store::json::verify;
use livenstore::{
    Aggregate, AggregateRoot, DomainError, DomainEvent, EventStore, JsonStore, ReplayError,
    Repository,
};
use serde::{Deserialize, Serialize};

type R = Result<(), Box<dyn std::error::Error>>;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/json-store-0.1");

/// A copy of the fixture directory (the store is opened writable; the checked-in files stay).
fn fixture_copy() -> Result<tempfile::TempDir, std::io::Error> {
    let dir = tempfile::tempdir()?;
    for entry in std::fs::read_dir(FIXTURE)? {
        let entry = entry?;
        std::fs::copy(entry.path(), dir.path().join(entry.file_name()))?;
    }
    Ok(dir)
}

fn segment_bytes(dir: &Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(dir.join("segment-00000001.jsonl"))
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened")]
struct Opened {
    owner: String,
}

/// The event as 0.1 wrote it: `MoneyDeposited`, a whole amount.
#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "MoneyDeposited")]
struct MoneyDepositedV1 {
    amount: u64,
}

/// Today's event: renamed, and in cents.
#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(
    name = "account.credited",
    version = 2,
    aliases("MoneyDeposited"),
    upcast_from = MoneyDepositedV1
)]
struct Credited {
    cents: u64,
}

impl From<MoneyDepositedV1> for Credited {
    fn from(v1: MoneyDepositedV1) -> Self {
        Credited {
            cents: v1.amount * 100,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.withdrawn")]
struct Withdrawn {
    amount: u64,
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "account", events(Opened, Credited, Withdrawn))]
struct Account {
    owner: String,
    cents: u64,
}

impl Account {
    fn on_opened(&mut self, e: &Opened) -> Result<(), DomainError> {
        self.owner = e.owner.clone();
        Ok(())
    }

    fn on_credited(&mut self, e: &Credited) -> Result<(), DomainError> {
        self.cents += e.cents;
        Ok(())
    }

    fn on_withdrawn(&mut self, e: &Withdrawn) -> Result<(), DomainError> {
        self.cents -= e.amount * 100;
        Ok(())
    }
}

#[test]
fn a_0_1_store_opens_read_only_with_every_event_at_version_1() -> R {
    let store = JsonStore::open_read_only(FIXTURE)?;
    let all = store.read_all(1, usize::MAX)?;
    assert_eq!(all.len(), 5);
    assert!(all.iter().all(|e| e.event_version() == 1));
    let report = verify(FIXTURE)?;
    assert!(report.is_healthy(), "{report:?}");
    Ok(())
}

#[test]
fn a_0_1_store_opens_writable_and_is_never_rewritten() -> R {
    let dir = fixture_copy()?;
    let before = segment_bytes(dir.path())?;
    {
        let store = JsonStore::open(dir.path())?;
        livenstore::testing::check_written_by_0_1(&store);
    }
    let after = segment_bytes(dir.path())?;
    assert_eq!(
        &after[..before.len()],
        &before[..],
        "the 0.1 lines are untouched"
    );
    let new_line = std::str::from_utf8(&after[before.len()..])?;
    assert!(
        new_line.contains(r#""event_type":"account.credited","event_version":2,"#),
        "{new_line}"
    );
    // Reopened, the new event keeps its version and the old ones theirs.
    let store = JsonStore::open(dir.path())?;
    let versions: Vec<u32> = store
        .read_all(1, usize::MAX)?
        .iter()
        .map(|e| e.event_version())
        .collect();
    assert_eq!(versions, [1, 1, 1, 1, 1, 2]);
    Ok(())
}

#[test]
fn renamed_and_reshaped_events_replay_through_the_alias_and_the_upcast() -> R {
    let dir = fixture_copy()?;
    let store = JsonStore::open(dir.path())?;
    livenstore::testing::check_written_by_0_1(&store);
    let repository = Repository::new(store);
    let account: AggregateRoot<Account> = repository.load("1")?;
    assert_eq!(account.owner, "ada");
    // 30 and 12 deposited in 0.1 (upcast to cents), 2 withdrawn, 500 cents credited since.
    assert_eq!(account.cents, 3_000 + 1_200 - 200 + 500);
    assert_eq!(account.version(), 5);

    // Each stored event decodes through `to_domain` and the registry the same way.
    let deposits = repository
        .store()
        .read_by_type("MoneyDeposited", 1, usize::MAX)?;
    let credited: Credited = deposits[0].to_domain()?;
    assert_eq!(credited.cents, 3_000);
    let registry = livenstore::EventRegistry::global()?;
    let value = registry.decode("MoneyDeposited", 1, deposits[1].payload().as_bytes())?;
    assert_eq!(
        value.downcast_ref::<Credited>().map(|c| c.cents),
        Some(1_200)
    );
    Ok(())
}

#[test]
fn an_event_from_a_newer_build_is_a_replay_error_naming_both_versions() -> R {
    let dir = fixture_copy()?;
    let store = JsonStore::open(dir.path())?;
    let newer = livenstore::NewEvent::from_json("account.withdrawn", r#"{"amount":1}"#)?
        .with_event_version(4);
    let result = store.append(
        "account-2",
        livenstore::ExpectedVersion::Exact(1),
        vec![newer],
    )?;
    let stored = store.read_stream("account-2", 2, 1)?;
    let mut account = AggregateRoot::<Account>::new("account-2");
    for event in store.read_stream("account-2", 1, 1)? {
        account.replay(&event)?;
    }
    match account.replay(&stored[0]) {
        Err(ReplayError::NewerVersion {
            event_id,
            event_type,
            stored: 4,
            known: 1,
        }) => {
            assert_eq!(event_id, stored[0].id());
            assert_eq!(event_type, "account.withdrawn");
        }
        other => panic!("expected NewerVersion, got {other:?}"),
    }
    assert_eq!(result.stream_version, 2);
    Ok(())
}
