//! Checkpoints kept by the backend: the store's own rules, and what a new handle sees.

use crate::pubsub::{CheckpointError, CheckpointStore};

/// The rules of a [`CheckpointStore`]: save, load, overwrite, list in name order, delete, and
/// names refused.
///
/// `checkpoints` must be empty; `largest` is the largest position the backend keeps
/// (`u64::MAX`, or `i64::MAX as u64` for a signed column). Proves: nothing is there at first; a
/// save overwrites a smaller or a larger position; names with dots (`a..b` is not `a.b`) and
/// `-` round-trip, each on its own; the listing is sorted by name; a delete says whether there
/// was a checkpoint, and a deleted name can be saved again; an invalid name is
/// [`CheckpointError::InvalidName`].
///
/// A backend calls it as `checkpoints_save_load_overwrite_list_and_delete(&test.connect().checkpoints(), u64::MAX)`.
pub fn checkpoints_save_load_overwrite_list_and_delete(
    checkpoints: &dyn CheckpointStore,
    largest: u64,
) {
    assert_eq!(checkpoints.load("projector").unwrap(), None);
    assert!(checkpoints.list().unwrap().is_empty());
    checkpoints.save("projector", 7).unwrap();
    assert_eq!(checkpoints.load("projector").unwrap(), Some(7));
    checkpoints.save("projector", 3).unwrap();
    assert_eq!(checkpoints.load("projector").unwrap(), Some(3));
    // Names with dots (a key separator for some backends) and every other allowed character.
    for (name, position) in [("other.consumer_2", 0), ("a..b", 1), ("x-", largest)] {
        checkpoints.save(name, position).unwrap();
        assert_eq!(checkpoints.load(name).unwrap(), Some(position), "{name}");
    }
    assert_eq!(checkpoints.load("a.b").unwrap(), None, "not a..b");
    assert_eq!(checkpoints.load("projector").unwrap(), Some(3), "its own");
    assert_eq!(
        checkpoints.list().unwrap(),
        [
            ("a..b".to_owned(), 1),
            ("other.consumer_2".to_owned(), 0),
            ("projector".to_owned(), 3),
            ("x-".to_owned(), largest),
        ]
    );
    checkpoints.save("projector", largest).unwrap();
    assert_eq!(checkpoints.load("projector").unwrap(), Some(largest));
    assert_eq!(
        checkpoints.list().unwrap()[2],
        ("projector".to_owned(), largest),
        "the listing sees the overwrite"
    );
    assert!(checkpoints.delete("projector").unwrap());
    assert!(!checkpoints.delete("projector").unwrap());
    assert!(!checkpoints.delete("never-saved").unwrap());
    assert_eq!(checkpoints.load("projector").unwrap(), None);
    assert_eq!(checkpoints.list().unwrap().len(), 3);
    assert!(matches!(
        checkpoints.delete("a/b"),
        Err(CheckpointError::InvalidName { .. })
    ));
    // Saved again after a delete.
    checkpoints.save("projector", 9).unwrap();
    assert_eq!(checkpoints.load("projector").unwrap(), Some(9));
}

/// A checkpoint saved through one handle is read by a new one (a restarted process), and a
/// store elsewhere (another schema, another stream) does not see it.
///
/// `connect` opens the checkpoint store of a new handle on the same place, every call;
/// `elsewhere` is the checkpoint store of another place on the same server. Proves: `billing`
/// saved at 1234 and its handle dropped, a second handle loads 1234, and `elsewhere` loads
/// nothing.
///
/// A backend calls it as
/// `checkpoints_survive_a_new_handle(|| test.connect().checkpoints(), &elsewhere.connect().checkpoints())`.
pub fn checkpoints_survive_a_new_handle<C: CheckpointStore>(
    connect: impl Fn() -> C,
    elsewhere: &dyn CheckpointStore,
) {
    let first = connect();
    first.save("billing", 1234).unwrap();
    drop(first);
    // A new handle (a restarted process) reads what the old one saved.
    let again = connect();
    assert_eq!(again.load("billing").unwrap(), Some(1234));
    // Another place is another store: its checkpoints are its own.
    assert_eq!(elsewhere.load("billing").unwrap(), None);
}
