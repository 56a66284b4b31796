//! Checkpoints: the last position a named consumer has processed.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::error::CheckpointError;
use crate::JsonStore;

/// The longest consumer name, in bytes.
pub const MAX_CONSUMER_NAME_BYTES: usize = 128;

/// Stores, per consumer name, the global position of the last event the consumer processed.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use livenstore::pubsub::{validate_consumer_name, CheckpointError, CheckpointStore};
///
/// /// Checkpoints in a map (in real life: a table of the application's database).
/// #[derive(Default)]
/// struct MapCheckpoints(Mutex<HashMap<String, u64>>);
///
/// impl CheckpointStore for MapCheckpoints {
///     fn load(&self, consumer: &str) -> Result<Option<u64>, CheckpointError> {
///         validate_consumer_name(consumer)?;
///         Ok(self.0.lock().unwrap().get(consumer).copied())
///     }
///
///     fn save(&self, consumer: &str, position: u64) -> Result<(), CheckpointError> {
///         validate_consumer_name(consumer)?;
///         self.0.lock().unwrap().insert(consumer.to_owned(), position);
///         Ok(())
///     }
/// }
///
/// let checkpoints = MapCheckpoints::default();
/// assert_eq!(checkpoints.load("projector").unwrap(), None);
/// checkpoints.save("projector", 42).unwrap();
/// assert_eq!(checkpoints.load("projector").unwrap(), Some(42));
/// assert!(checkpoints.save("../projector", 43).is_err());
/// ```
pub trait CheckpointStore: Send + Sync {
    /// The saved position of `consumer`, `None` when it has none.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::InvalidName`], I/O errors, [`CheckpointError::Corrupted`].
    fn load(&self, consumer: &str) -> Result<Option<u64>, CheckpointError>;

    /// Saves `position` for `consumer` (replacing the previous one).
    ///
    /// # Errors
    ///
    /// [`CheckpointError::InvalidName`], I/O errors.
    fn save(&self, consumer: &str, position: u64) -> Result<(), CheckpointError>;

    /// Every consumer with a saved position, by name.
    ///
    /// # Errors
    ///
    /// I/O or backend errors; [`CheckpointError::Unsupported`] from a store that cannot list
    /// (the default).
    fn list(&self) -> Result<Vec<(String, u64)>, CheckpointError> {
        Err(CheckpointError::Unsupported("list"))
    }

    /// Deletes the position of `consumer` (it starts from the beginning next time); returns
    /// whether there was one.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::InvalidName`], I/O or backend errors;
    /// [`CheckpointError::Unsupported`] from a store that cannot delete (the default).
    fn delete(&self, consumer: &str) -> Result<bool, CheckpointError> {
        let _ = consumer;
        Err(CheckpointError::Unsupported("delete"))
    }
}

/// Checks a consumer name: 1 to [`MAX_CONSUMER_NAME_BYTES`] bytes of ASCII letters, digits, `-`,
/// `_` and `.`, not starting with `.` (so it is a safe file name everywhere).
///
/// # Errors
///
/// [`CheckpointError::InvalidName`] saying what is wrong.
///
/// # Examples
///
/// ```
/// use livenstore::pubsub::validate_consumer_name;
/// assert!(validate_consumer_name("read-model.users_v2").is_ok());
/// assert!(validate_consumer_name("../etc").is_err());
/// ```
pub fn validate_consumer_name(name: &str) -> Result<(), CheckpointError> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.len() > MAX_CONSUMER_NAME_BYTES {
        "it is longer than 128 bytes"
    } else if name.starts_with('.') {
        "it starts with `.`"
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        "only ASCII letters, digits, `-`, `_` and `.` are allowed"
    } else {
        return Ok(());
    };
    Err(CheckpointError::InvalidName {
        name: name.chars().take(100).collect(),
        reason,
    })
}

/// Checkpoints in memory (lost on restart; for tests and for consumers that rebuild on start).
///
/// # Examples
///
/// ```
/// use std::sync::{mpsc, Arc};
/// use std::time::Duration;
/// use livenstore::pubsub::{CheckpointStore, Consumer, EventFilter, InMemoryCheckpointStore};
/// use livenstore::pubsub::InMemorySubscriptionManager;
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
///
/// let store = Arc::new(InMemoryStore::new());
/// let created = NewEvent::from_json("UserCreated", "{}").unwrap();
/// store.append("user-1", ExpectedVersion::NoStream, vec![created]).unwrap();
///
/// let checkpoints = Arc::new(InMemoryCheckpointStore::new());
/// let manager = InMemorySubscriptionManager::new();
/// let (tx, rx) = mpsc::channel();
/// let consumer = Consumer::new("projector", checkpoints.clone())
///     .unwrap()
///     .start(store, &manager, EventFilter::all(), move |delivery| {
///         tx.send(delivery.event().position())?;
///         Ok(())
///     })
///     .unwrap();
/// assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 1);
/// consumer.stop(); // saves the checkpoint
/// assert_eq!(checkpoints.load("projector").unwrap(), Some(1));
/// ```
#[derive(Debug, Default)]
pub struct InMemoryCheckpointStore {
    positions: Mutex<HashMap<String, u64>>,
}

impl InMemoryCheckpointStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl CheckpointStore for InMemoryCheckpointStore {
    fn load(&self, consumer: &str) -> Result<Option<u64>, CheckpointError> {
        validate_consumer_name(consumer)?;
        let positions = self
            .positions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(positions.get(consumer).copied())
    }

    fn save(&self, consumer: &str, position: u64) -> Result<(), CheckpointError> {
        validate_consumer_name(consumer)?;
        let mut positions = self
            .positions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        positions.insert(consumer.to_owned(), position);
        Ok(())
    }

    fn list(&self) -> Result<Vec<(String, u64)>, CheckpointError> {
        let positions = self
            .positions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<_> = positions.iter().map(|(k, v)| (k.clone(), *v)).collect();
        all.sort();
        Ok(all)
    }

    fn delete(&self, consumer: &str) -> Result<bool, CheckpointError> {
        validate_consumer_name(consumer)?;
        let mut positions = self
            .positions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(positions.remove(consumer).is_some())
    }
}

/// Checkpoints in a directory: one file `<consumer>.checkpoint` per consumer holding the
/// position as decimal text.
///
/// A save writes `<consumer>.checkpoint.tmp`, fsyncs it, renames it over the checkpoint and
/// fsyncs the directory, so after a crash the file holds either the old or the new position,
/// never a mix.
///
/// # Examples
///
/// ```
/// use livenstore::pubsub::{CheckpointStore, FileCheckpointStore};
///
/// let dir = tempfile::tempdir()?;
/// let checkpoints = FileCheckpointStore::open(dir.path().join("checkpoints"))?;
/// checkpoints.save("projector", 42)?;
/// let reopened = FileCheckpointStore::open(dir.path().join("checkpoints"))?;
/// assert_eq!(reopened.load("projector")?, Some(42));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FileCheckpointStore {
    dir: PathBuf,
    /// Serializes saves, so two threads never share a temporary file.
    write_lock: Mutex<()>,
}

impl FileCheckpointStore {
    /// Opens (creating it when missing) the checkpoint directory `dir`.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Io`] when the directory cannot be created.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, CheckpointError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|source| CheckpointError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(FileCheckpointStore {
            dir,
            write_lock: Mutex::new(()),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, consumer: &str) -> PathBuf {
        self.dir.join(format!("{consumer}.checkpoint"))
    }
}

pub(super) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_owned(),
        source,
    }
}

impl CheckpointStore for FileCheckpointStore {
    fn load(&self, consumer: &str) -> Result<Option<u64>, CheckpointError> {
        validate_consumer_name(consumer)?;
        let path = self.path_of(consumer);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CheckpointError::Io { path, source }),
        };
        match text.trim_end().parse::<u64>() {
            Ok(position) => Ok(Some(position)),
            Err(e) => Err(CheckpointError::Corrupted {
                path,
                reason: format!(
                    "not a position ({e}): {:?}",
                    text.chars().take(40).collect::<String>()
                ),
            }),
        }
    }

    fn save(&self, consumer: &str, position: u64) -> Result<(), CheckpointError> {
        validate_consumer_name(consumer)?;
        let _guard = self
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        replace_file(
            &self.dir,
            &format!("{consumer}.checkpoint"),
            format!("{position}\n").as_bytes(),
        )
    }

    fn list(&self) -> Result<Vec<(String, u64)>, CheckpointError> {
        let entries = fs::read_dir(&self.dir).map_err(io_error(&self.dir))?;
        let mut all = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_error(&self.dir))?;
            let name = entry.file_name();
            let Some(consumer) = name.to_str().and_then(|n| n.strip_suffix(".checkpoint")) else {
                continue;
            };
            if validate_consumer_name(consumer).is_err() {
                continue;
            }
            if let Some(position) = self.load(consumer)? {
                all.push((consumer.to_owned(), position));
            }
        }
        all.sort();
        Ok(all)
    }

    fn delete(&self, consumer: &str) -> Result<bool, CheckpointError> {
        validate_consumer_name(consumer)?;
        let _guard = self
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let path = self.path_of(consumer);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.dir).map(|()| true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(CheckpointError::Io { path, source }),
        }
    }
}

/// Replaces the file `name` of `dir` with `bytes`: written to `<name>.tmp`, fsynced, renamed
/// over `name`, the directory fsynced, so after a crash the file holds the old bytes or the new
/// ones, never a mix. (The caller serializes writes of one name.)
pub(super) fn replace_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), CheckpointError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let path = dir.join(name);
    {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io_error(&tmp))?;
        file.write_all(bytes).map_err(io_error(&tmp))?;
        file.sync_all().map_err(io_error(&tmp))?;
    }
    fs::rename(&tmp, &path).map_err(io_error(&path))?;
    sync_dir(dir)
}

#[cfg(unix)]
pub(super) fn sync_dir(dir: &Path) -> Result<(), CheckpointError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

#[cfg(not(unix))]
pub(super) fn sync_dir(_dir: &Path) -> Result<(), CheckpointError> {
    // Directories cannot be opened for syncing on this platform; the rename is what it offers.
    Ok(())
}

// `JsonStore::checkpoints` is defined here, where checkpoint stores live, so that the store
// module needs nothing of pub/sub (which builds on it).
impl JsonStore {
    /// The checkpoint store of this store's consumers: one file per consumer under
    /// `<dir>/checkpoints/`, so consumers resume where they stopped after a restart.
    ///
    /// # Errors
    ///
    /// [`CheckpointError`] when the directory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore::pubsub::CheckpointStore;
    /// use livenstore::JsonStore;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = JsonStore::open(dir.path()).unwrap();
    /// let checkpoints = store.checkpoints().unwrap();
    /// checkpoints.save("projector", 42).unwrap();
    /// assert_eq!(store.checkpoints().unwrap().load("projector").unwrap(), Some(42));
    /// ```
    pub fn checkpoints(&self) -> Result<FileCheckpointStore, CheckpointError> {
        FileCheckpointStore::open(self.path().join("checkpoints"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_separators_are_refused() {
        for bad in [
            "",
            "a/b",
            "a\\b",
            "..",
            ".hidden",
            "a b",
            "é",
            &"x".repeat(129),
        ] {
            assert!(validate_consumer_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_consumer_name(&"x".repeat(128)).is_ok());
    }

    #[test]
    fn in_memory_round_trip() -> Result<(), CheckpointError> {
        let store = InMemoryCheckpointStore::new();
        assert_eq!(store.load("c")?, None);
        store.save("c", 7)?;
        assert_eq!(store.load("c")?, Some(7));
        assert!(store.save("a/b", 1).is_err());
        Ok(())
    }

    #[test]
    fn file_store_survives_reopen_and_reports_corruption() -> Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let store = FileCheckpointStore::open(dir.path())?;
        assert_eq!(store.load("c")?, None);
        store.save("c", 1)?;
        store.save("c", 99)?;
        drop(store);
        let store = FileCheckpointStore::open(dir.path())?;
        assert_eq!(store.load("c")?, Some(99));
        assert!(!dir.path().join("c.checkpoint.tmp").exists());
        fs::write(dir.path().join("d.checkpoint"), "garbage")?;
        assert!(matches!(
            store.load("d"),
            Err(CheckpointError::Corrupted { .. })
        ));
        assert!(matches!(
            store.load("../d"),
            Err(CheckpointError::InvalidName { .. })
        ));
        Ok(())
    }
}
