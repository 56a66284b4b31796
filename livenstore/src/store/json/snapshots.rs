//! The snapshots of a [`JsonStore`]: one file per aggregate in `<dir>/snapshots/`.
//!
//! Invariants:
//! - A file is `<type>.<id>.snapshot`, each part with every byte outside `[A-Za-z0-9_-]` written
//!   `%XX`; a name that would pass 200 bytes is `~<FNV-1a 64 of type, NUL, id>.snapshot`, and
//!   its key is checked against the file's header on load (a different key is no snapshot).
//! - A file is written as `.<name>.tmp` (fsynced unless the store's durability is `Never`), the
//!   old one moved aside to `<name>.old`, the new one renamed into place, the old one removed
//!   (and the directory fsynced unless `Never`): a crash leaves the old snapshot or the new one,
//!   never a torn one, and a load reads `<name>.old` while `name` is missing. A writable open
//!   removes leftover `.tmp` files and finishes an interrupted replacement.
//! - Only the writer (the process holding `LOCK`) saves or deletes. Saves are written by a
//!   background thread (`snapshot_writer.rs`): `save_snapshot` returns once the snapshot is
//!   queued, and this process's loads see it from then on; a write that fails is returned by the
//!   next save.
//! - An older snapshot never replaces a newer one: the writer knows the version stored for each
//!   key it has seen, reading a file at most once to learn it.
//! - A damaged file is reported by `load_snapshot` and `list_snapshots` as
//!   [`StoreError::Corrupted`], never returned; a save replaces it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::io::{io_err, sync_dir};
use super::options::Durability;
use super::snapshot_dir::{self, file_name, type_of_name, DIR};
use super::snapshot_file;
use super::snapshot_writer::Queued;
use super::JsonStore;
use crate::store::{validate_snapshot_key, Snapshot, SnapshotInfo, SnapshotStore, StoreError};

impl JsonStore {
    fn snapshot_dir(&self) -> PathBuf {
        self.shared.dir.join(DIR)
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        if self.shared.writer.is_none() {
            return Err(StoreError::ReadOnly {
                path: self.shared.dir.clone(),
            });
        }
        Ok(())
    }
}

impl SnapshotStore for JsonStore {
    fn save_snapshot(&self, snapshot: &Snapshot) -> Result<bool, StoreError> {
        self.check_writable()?;
        validate_snapshot_key(snapshot.aggregate_type(), snapshot.aggregate_id())?;
        let bytes = snapshot_file::encode(snapshot).map_err(|source| StoreError::Encode {
            record: "snapshot",
            source,
        })?;
        match self.shared.snapshot_writer.queue(snapshot, bytes)? {
            Queued::Yes => Ok(true),
            Queued::Older => Ok(false),
        }
    }

    fn load_snapshot(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Option<Snapshot>, StoreError> {
        validate_snapshot_key(aggregate_type, aggregate_id)?;
        let key = (aggregate_type.to_owned(), aggregate_id.to_owned());
        if let Some(pending) = self.shared.snapshot_writer.pending(&key) {
            return Ok(Some(pending));
        }
        let name = file_name(aggregate_type, aggregate_id);
        Ok(snapshot_dir::read_snapshot(&self.snapshot_dir(), &name)?
            .filter(|s| s.aggregate_type() == aggregate_type && s.aggregate_id() == aggregate_id))
    }

    fn list_snapshots(
        &self,
        aggregate_type: Option<&str>,
    ) -> Result<Vec<SnapshotInfo>, StoreError> {
        self.shared.snapshot_writer.flush();
        let dir = self.snapshot_dir();
        let mut found = BTreeMap::new();
        for name in snapshot_dir::files(&dir)? {
            if let (Some(wanted), Some(of_name)) = (aggregate_type, type_of_name(&name)) {
                if wanted != of_name {
                    continue;
                }
            }
            if let Some(snapshot) = snapshot_dir::read_file(&dir.join(&name))? {
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
        let writer = &self.shared.snapshot_writer;
        writer.flush();
        let dir = self.snapshot_dir();
        let mut deleted = 0;
        for name in snapshot_dir::files(&dir)? {
            let path = dir.join(&name);
            let of_type = match type_of_name(&name) {
                Some(of_name) => of_name == aggregate_type,
                // A hashed name: its header says; a damaged one cannot be attributed.
                None => matches!(
                    snapshot_dir::read_file(&path),
                    Ok(Some(s)) if s.aggregate_type() == aggregate_type
                ),
            };
            if of_type {
                std::fs::remove_file(&path).map_err(io_err(&path))?;
                deleted += 1;
            }
        }
        writer.forget(aggregate_type);
        if deleted > 0 && !matches!(self.shared.options.durability, Durability::Never) {
            sync_dir(&dir)?;
        }
        Ok(deleted)
    }
}
