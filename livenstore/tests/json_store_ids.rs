//! `JsonStore` finds events by id whatever order the ids arrive in: ids made by this process
//! ascend, but callers may supply older or arbitrary ones, and a reopened store rebuilds the
//! id map from the log.

use livenstore::store::json::{Durability, JsonStoreOptions};
use livenstore::{EventId, EventStore, ExpectedVersion, JsonStore, NewEvent, StoreError};

type R = Result<(), Box<dyn std::error::Error>>;

fn ev(n: u64, id: EventId) -> NewEvent {
    NewEvent::from_json("Happened", format!(r#"{{"n":{n}}}"#))
        .expect("valid json")
        .with_id(id)
}

#[test]
fn ids_in_any_order_are_found_and_refused_twice_across_reopen() -> R {
    let dir = tempfile::tempdir()?;
    let options = || JsonStoreOptions::new().durability(Durability::Never);
    // Ascending, then older than everything, then in between, then far above.
    let ids: Vec<EventId> = [1_000u128, 2_000, 5, 1_500, 3_000, 1]
        .into_iter()
        .map(EventId::from_u128)
        .chain([EventId::new()])
        .collect();
    {
        let store = JsonStore::open_with(dir.path(), options())?;
        for (n, &id) in ids.iter().enumerate() {
            store.append("s", ExpectedVersion::Any, vec![ev(n as u64, id)])?;
        }
    }
    let store = JsonStore::open_with(dir.path(), options())?;
    for (n, &id) in ids.iter().enumerate() {
        // The same event again is an idempotent no-op reporting where it is stored.
        let again = store.append("s", ExpectedVersion::Any, vec![ev(n as u64, id)])?;
        assert_eq!(again.first_position, n as u64 + 1, "id {id}");
        // The same id with another payload is refused.
        let other = store.append("s", ExpectedVersion::Any, vec![ev(99, id)]);
        assert!(
            matches!(other, Err(StoreError::DuplicateEventId { .. })),
            "id {id}: {other:?}"
        );
        // Linking finds it by id.
        assert_eq!(store.link_to_stream(id, &format!("link-{n}"))?, 1);
    }
    assert_eq!(store.last_position()?, ids.len() as u64);
    let unknown = EventId::from_u128(1_234);
    assert!(matches!(
        store.link_to_stream(unknown, "x"),
        Err(StoreError::EventNotFound(_))
    ));
    Ok(())
}
