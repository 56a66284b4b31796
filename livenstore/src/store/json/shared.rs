//! [`Shared`]: what a [`JsonStore`](super::JsonStore) and its background flusher share: the
//! directory, options, index, writer and group-commit state.

use std::path::PathBuf;
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::durability::Syncer;
use super::index::Index;
use super::lock::DirLock;
use super::read::{self, Slot};
use super::snapshot_writer::SnapshotWriter;
use super::writer::Writer;
use super::{JsonStoreOptions, RecoveryReport};
use crate::StoreError;

pub(crate) struct Shared {
    pub(crate) dir: PathBuf,
    pub(crate) options: JsonStoreOptions,
    pub(crate) index: RwLock<Index>,
    pub(crate) writer: Option<Mutex<Writer>>,
    pub(crate) syncer: Syncer,
    pub(crate) recovery: Mutex<RecoveryReport>,
    /// Writes snapshot files in the background (`snapshot_writer.rs`).
    pub(crate) snapshot_writer: SnapshotWriter,
    pub(crate) _lock: Option<DirLock>,
}

impl Shared {
    pub(crate) fn index(&self) -> RwLockReadGuard<'_, Index> {
        self.index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn index_mut(&self) -> RwLockWriteGuard<'_, Index> {
        self.index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// [`read::plan`] with this store's choice for damaged records.
    pub(crate) fn plan<S: Into<Slot>>(
        &self,
        index: &Index,
        slots: impl Iterator<Item = S>,
        max: usize,
    ) -> Result<(Vec<read::Want>, read::ReadCtx), StoreError> {
        read::plan(index, slots, max, self.options.skip_damaged)
    }
}
