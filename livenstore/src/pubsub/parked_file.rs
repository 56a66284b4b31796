//! [`FileParkedStore`]: parked events in a directory, `<consumer>.parked` (one JSON record per
//! line) and `<consumer>.replay` (an empty file: a replay was asked).
//!
//! Invariants:
//! - A change rewrites the consumer's file whole: written to `<consumer>.parked.tmp`, fsynced,
//!   renamed over the old one, the directory fsynced, so after a crash the file holds the old
//!   list or the new one, never a mix. Parking is rare (only after a handler's last attempt),
//!   so the rewrite costs nothing while events are handled.
//! - Changes are serialized by a lock in this process; only a consumer's own process parks for
//!   it, while the CLI may remove records or ask for a replay (a removal racing a park in
//!   another process may be lost: the record stays parked, never an event lost).
//! - A line that does not parse is [`CheckpointError::Corrupted`] with the file, never skipped.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::checkpoint::{io_error, replace_file, sync_dir, validate_consumer_name};
use super::error::CheckpointError;
use super::parked::{ParkedEvent, ParkedEventStore};
use crate::{EventId, JsonStore};

/// Parked events in a directory (see the module invariants). A `JsonStore` keeps its own in
/// `<dir>/parked/` ([`JsonStore::parked`]).
///
/// # Examples
///
/// ```
/// use livenstore::pubsub::ParkedEventStore;
/// use livenstore::{EventStore, ExpectedVersion, JsonStore, NewEvent};
///
/// let dir = tempfile::tempdir()?;
/// let store = JsonStore::open(dir.path())?;
/// store.append("account-1", ExpectedVersion::Any, vec![NewEvent::from_json("Opened", "{}")?])?;
/// let event = &store.read_all(1, 1)?[0];
/// let parked = store.parked()?;
/// parked.park(&livenstore::pubsub::ParkedEvent::new("mailer", event, "smtp down".into(), 3))?;
/// assert_eq!(store.parked()?.list(None)?.len(), 1, "kept on disk");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FileParkedStore {
    dir: PathBuf,
    write_lock: Mutex<()>,
}

impl FileParkedStore {
    /// Opens (creating it when missing) the directory `dir`.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Io`] when the directory cannot be created.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, CheckpointError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        Ok(FileParkedStore {
            dir,
            write_lock: Mutex::new(()),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self, consumer: &str) -> PathBuf {
        self.dir.join(format!("{consumer}.parked"))
    }

    fn marker(&self, consumer: &str) -> PathBuf {
        self.dir.join(format!("{consumer}.replay"))
    }

    fn read(&self, consumer: &str) -> Result<Vec<ParkedEvent>, CheckpointError> {
        let path = self.file(consumer);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(CheckpointError::Io { path, source }),
        };
        text.lines()
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str(line).map_err(|e| CheckpointError::Corrupted {
                    path: path.clone(),
                    reason: format!("line {}: {e}", i + 1),
                })
            })
            .collect()
    }

    fn write(&self, consumer: &str, events: &[ParkedEvent]) -> Result<(), CheckpointError> {
        let path = self.file(consumer);
        if events.is_empty() {
            return match fs::remove_file(&path) {
                Ok(()) => sync_dir(&self.dir),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
                Err(source) => Err(CheckpointError::Io { path, source }),
            };
        }
        let mut text = String::new();
        for event in events {
            let line = serde_json::to_string(event).map_err(|e| CheckpointError::Corrupted {
                path: path.clone(),
                reason: format!("cannot encode a record: {e}"),
            })?;
            text.push_str(&line);
            text.push('\n');
        }
        replace_file(&self.dir, &format!("{consumer}.parked"), text.as_bytes())
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, ()> {
        self.write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl ParkedEventStore for FileParkedStore {
    fn park(&self, event: &ParkedEvent) -> Result<(), CheckpointError> {
        validate_consumer_name(&event.consumer)?;
        let _guard = self.locked();
        let mut events = self.read(&event.consumer)?;
        events.retain(|e| e.event_id != event.event_id);
        events.push(event.clone());
        events.sort_by_key(|e| e.position);
        self.write(&event.consumer, &events)
    }

    fn list(&self, consumer: Option<&str>) -> Result<Vec<ParkedEvent>, CheckpointError> {
        if let Some(name) = consumer {
            validate_consumer_name(name)?;
            return self.read(name);
        }
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_error(&self.dir))? {
            let entry = entry.map_err(io_error(&self.dir))?;
            let file = entry.file_name();
            if let Some(name) = file.to_str().and_then(|n| n.strip_suffix(".parked")) {
                if validate_consumer_name(name).is_ok() {
                    names.push(name.to_owned());
                }
            }
        }
        names.sort();
        let mut all = Vec::new();
        for name in names {
            all.extend(self.read(&name)?);
        }
        Ok(all)
    }

    fn remove(&self, consumer: &str, event_id: Option<EventId>) -> Result<usize, CheckpointError> {
        validate_consumer_name(consumer)?;
        let _guard = self.locked();
        let mut events = self.read(consumer)?;
        let before = events.len();
        events.retain(|e| event_id.is_some_and(|id| id != e.event_id));
        if events.len() != before {
            self.write(consumer, &events)?;
        }
        Ok(before - events.len())
    }

    fn request_replay(&self, consumer: &str) -> Result<(), CheckpointError> {
        validate_consumer_name(consumer)?;
        let path = self.marker(consumer);
        fs::write(&path, b"").map_err(io_error(&path))?;
        sync_dir(&self.dir)
    }

    fn replay_requested(&self, consumer: &str) -> Result<bool, CheckpointError> {
        validate_consumer_name(consumer)?;
        Ok(self.marker(consumer).exists())
    }

    fn replay_done(&self, consumer: &str) -> Result<(), CheckpointError> {
        validate_consumer_name(consumer)?;
        let path = self.marker(consumer);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(source) => Err(CheckpointError::Io { path, source }),
        }
    }
}

// `JsonStore::parked` is defined here, beside the parked stores, so the store module needs
// nothing of pub/sub (which builds on it).
impl JsonStore {
    /// The parked events of this store's consumers, in `<dir>/parked/`.
    ///
    /// # Errors
    ///
    /// [`CheckpointError`] when the directory cannot be created.
    pub fn parked(&self) -> Result<FileParkedStore, CheckpointError> {
        FileParkedStore::open(self.path().join("parked"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventStore, ExpectedVersion, InMemoryStore, NewEvent, RecordedEvent};

    fn events(n: usize) -> Vec<RecordedEvent> {
        let store = InMemoryStore::new();
        for _ in 0..n {
            let event = NewEvent::from_json("E", "{}").unwrap();
            store
                .append("s-1", ExpectedVersion::Any, vec![event])
                .unwrap();
        }
        store.read_all(1, n).unwrap()
    }

    #[test]
    fn records_survive_a_reopen_in_position_order_and_damage_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let events = events(3);
        let parked = FileParkedStore::open(dir.path()).unwrap();
        for event in [&events[2], &events[0], &events[1]] {
            parked
                .park(&ParkedEvent::new("c", event, "boom".into(), 1))
                .unwrap();
        }
        parked
            .park(&ParkedEvent::new("c", &events[0], "again".into(), 2))
            .unwrap();
        let reopened = FileParkedStore::open(dir.path()).unwrap();
        let list = reopened.list(Some("c")).unwrap();
        let positions: Vec<u64> = list.iter().map(|e| e.position).collect();
        assert_eq!(positions, [1, 2, 3]);
        assert_eq!((list[0].error.as_str(), list[0].attempts), ("again", 2));
        assert_eq!(reopened.remove("c", Some(events[1].id())).unwrap(), 1);
        assert_eq!(reopened.list(None).unwrap().len(), 2);
        assert!(!dir.path().join("c.parked.tmp").exists());

        assert!(!reopened.replay_requested("c").unwrap());
        reopened.request_replay("c").unwrap();
        assert!(parked.replay_requested("c").unwrap());
        parked.replay_done("c").unwrap();
        assert!(!reopened.replay_requested("c").unwrap());

        assert_eq!(reopened.remove("c", None).unwrap(), 2);
        assert!(!dir.path().join("c.parked").exists());
        fs::write(dir.path().join("d.parked"), "{not json\n").unwrap();
        assert!(matches!(
            reopened.list(None),
            Err(CheckpointError::Corrupted { .. })
        ));
        assert!(matches!(
            reopened.park(&ParkedEvent::new("../x", &events[0], String::new(), 1)),
            Err(CheckpointError::InvalidName { .. })
        ));
    }
}
