//! The snapshots of a [`JsonStore`]: one file per aggregate in `<dir>/snapshots/`.
//!
//! Invariants:
//! - A file is `<type>.<id>.snapshot`, each part with every byte outside `[A-Za-z0-9_-]` written
//!   `%XX`; a name that would pass 200 bytes is `~<FNV-1a 64 of type, NUL, id>.snapshot`, and
//!   its key is checked against the file's header on load (a different key is no snapshot).
//! - A save writes `.<name>.tmp` (fsynced unless the store's durability is `Never`), then renames
//!   it over the file (and fsyncs the directory unless `Never`): a crash leaves the old snapshot
//!   or the new one, never a torn one. A writable open removes leftover `.tmp` files.
//! - Only the writer (the process holding `LOCK`) saves or deletes; within it, one mutex orders
//!   the saves, and the versions it has seen are remembered, so an older snapshot never replaces
//!   a newer one without a read of the file.
//! - A damaged file is reported by `load_snapshot` and `list_snapshots` as
//!   [`StoreError::Corrupted`], never returned; a save replaces it.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::PoisonError;

use super::io::{io_err, sync_dir};
use super::options::Durability;
use super::snapshot_dir::{file_name, type_of_name, DIR, SUFFIX, TEMP_SUFFIX};
use super::snapshot_file;
use super::JsonStore;
use crate::store::{validate_snapshot_key, Snapshot, SnapshotInfo, SnapshotStore, StoreError};

impl JsonStore {
    fn snapshot_dir(&self) -> PathBuf {
        self.shared.dir.join(DIR)
    }

    fn durable(&self) -> bool {
        !matches!(self.shared.options.durability, Durability::Never)
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        if self.shared.writer.is_none() {
            return Err(StoreError::ReadOnly {
                path: self.shared.dir.clone(),
            });
        }
        Ok(())
    }

    /// The snapshot in the file at `path`, if the file exists; `Err` when it is damaged.
    fn read_snapshot_file(path: &Path) -> Result<Option<Snapshot>, StoreError> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(path)(e)),
        };
        snapshot_file::decode(&bytes)
            .map(Some)
            .map_err(|reason| StoreError::Corrupted {
                path: path.to_path_buf(),
                line: 1,
                reason,
            })
    }

    /// The version of the stored snapshot of a key, `None` when there is none (or it is
    /// damaged, or the file holds another key: a save replaces those).
    fn stored_version(path: &Path, key: &(String, String)) -> Result<Option<u64>, StoreError> {
        match Self::read_snapshot_file(path) {
            Ok(Some(s)) if (s.aggregate_type(), s.aggregate_id()) == (&key.0[..], &key.1[..]) => {
                Ok(Some(s.version()))
            }
            Ok(_) | Err(StoreError::Corrupted { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes `bytes` to `path` through a temporary file and a rename.
    fn replace_file(&self, dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let temp = dir.join(format!(".{name}{TEMP_SUFFIX}"));
        let path = dir.join(name);
        {
            let mut file = fs::File::create(&temp).map_err(io_err(&temp))?;
            std::io::Write::write_all(&mut file, bytes).map_err(io_err(&temp))?;
            if self.durable() {
                file.sync_all().map_err(io_err(&temp))?;
            }
        }
        fs::rename(&temp, &path).map_err(io_err(&path))?;
        if self.durable() {
            sync_dir(dir)?;
        }
        Ok(())
    }

    /// Every snapshot file's name in the directory (none when it does not exist).
    fn snapshot_files(&self) -> Result<Vec<String>, StoreError> {
        let dir = self.snapshot_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&dir)(e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err(&dir))?;
            if let Some(name) = entry.file_name().to_str() {
                if name.ends_with(SUFFIX) && !name.starts_with('.') {
                    names.push(name.to_owned());
                }
            }
        }
        Ok(names)
    }
}

impl SnapshotStore for JsonStore {
    fn save_snapshot(&self, snapshot: &Snapshot) -> Result<bool, StoreError> {
        self.check_writable()?;
        let (aggregate_type, aggregate_id) = (snapshot.aggregate_type(), snapshot.aggregate_id());
        validate_snapshot_key(aggregate_type, aggregate_id)?;
        let bytes = snapshot_file::encode(snapshot).map_err(|source| StoreError::Encode {
            record: "snapshot",
            source,
        })?;
        let dir = self.snapshot_dir();
        let name = file_name(aggregate_type, aggregate_id);
        let key = (aggregate_type.to_owned(), aggregate_id.to_owned());
        let mut seen = self
            .shared
            .snapshots
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let stored = match seen.get(&key) {
            Some(&version) => Some(version),
            None => Self::stored_version(&dir.join(&name), &key)?,
        };
        if let Some(version) = stored {
            if !snapshot.replaces(version) {
                seen.insert(key, version);
                return Ok(false);
            }
        }
        if !dir.exists() {
            fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            if self.durable() {
                sync_dir(&self.shared.dir)?;
            }
        }
        self.replace_file(&dir, &name, &bytes)?;
        seen.insert(key, snapshot.version());
        Ok(true)
    }

    fn load_snapshot(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Option<Snapshot>, StoreError> {
        validate_snapshot_key(aggregate_type, aggregate_id)?;
        let path = self
            .snapshot_dir()
            .join(file_name(aggregate_type, aggregate_id));
        Ok(Self::read_snapshot_file(&path)?
            .filter(|s| s.aggregate_type() == aggregate_type && s.aggregate_id() == aggregate_id))
    }

    fn list_snapshots(
        &self,
        aggregate_type: Option<&str>,
    ) -> Result<Vec<SnapshotInfo>, StoreError> {
        let dir = self.snapshot_dir();
        let mut found = BTreeMap::new();
        for name in self.snapshot_files()? {
            if let (Some(wanted), Some(of_name)) = (aggregate_type, type_of_name(&name)) {
                if wanted != of_name {
                    continue;
                }
            }
            if let Some(snapshot) = Self::read_snapshot_file(&dir.join(&name))? {
                if aggregate_type.is_none_or(|wanted| wanted == snapshot.aggregate_type()) {
                    let info = snapshot.info();
                    found.insert(
                        (info.aggregate_type.clone(), info.aggregate_id.clone()),
                        info,
                    );
                }
            }
        }
        Ok(found.into_values().collect())
    }

    fn delete_snapshots(&self, aggregate_type: &str) -> Result<u64, StoreError> {
        self.check_writable()?;
        let dir = self.snapshot_dir();
        let mut seen = self
            .shared
            .snapshots
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut deleted = 0;
        for name in self.snapshot_files()? {
            let path = dir.join(&name);
            let of_type = match type_of_name(&name) {
                Some(of_name) => of_name == aggregate_type,
                // A hashed name: its header says; a damaged one cannot be attributed.
                None => matches!(
                    Self::read_snapshot_file(&path),
                    Ok(Some(s)) if s.aggregate_type() == aggregate_type
                ),
            };
            if of_type {
                fs::remove_file(&path).map_err(io_err(&path))?;
                deleted += 1;
            }
        }
        seen.retain(|(t, _), _| t != aggregate_type);
        if deleted > 0 && self.durable() {
            sync_dir(&dir)?;
        }
        Ok(deleted)
    }
}
