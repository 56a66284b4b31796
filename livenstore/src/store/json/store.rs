//! [`JsonStore`]: opening (writable, read-only, refresh), and the [`EventStore`] implementation.

use std::path::Path;
use std::sync::mpsc::{RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use super::durability::Syncer;
use super::index::{GapKind, Index};
use super::io::io_err;
use super::lock::DirLock;
use super::read::{self, Slot};
use super::shared::Shared;
use super::snapshot_dir;
use super::snapshot_writer::SnapshotWriter;
use super::survey::Survey;
use super::write;
use super::writer::Writer;
use super::{recovery, verify, Durability, Hole, JsonStoreOptions, RecoveryReport, VerifyReport};
use crate::store::{
    AppendResult, EventStore, ExpectedVersion, SnapshotStore, StoreError, StreamInfo,
};
use crate::{EventId, LinkInfo, NewEvent, RecordedEvent, Timestamp};

/// A crash-safe event store in append-only JSON-lines files (see the [module docs](super) for the
/// format, the crash cases and the invariants).
///
/// # Examples
///
/// ```
/// use livenstore::store::json::{Durability, JsonStoreOptions};
/// use livenstore::{EventStore, ExpectedVersion, JsonStore, NewEvent};
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = JsonStore::open(dir.path()).unwrap();
/// let event = NewEvent::from_json("UserCreated", r#"{"name":"ada"}"#).unwrap();
/// store.append("user-1", ExpectedVersion::NoStream, vec![event]).unwrap();
/// drop(store);
///
/// let options = JsonStoreOptions::new().durability(Durability::Never);
/// let store = JsonStore::open_with(dir.path(), options).unwrap();
/// assert_eq!(store.read_stream("user-1", 1, usize::MAX).unwrap().len(), 1);
/// ```
pub struct JsonStore {
    pub(crate) shared: Arc<Shared>,
    flusher: Option<(Sender<()>, JoinHandle<()>)>,
}

impl std::fmt::Debug for JsonStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonStore")
            .field("dir", &self.shared.dir)
            .field("read_only", &self.shared.writer.is_none())
            .finish_non_exhaustive()
    }
}

impl JsonStore {
    /// Opens (creating it if needed) the store in `dir` with the default options.
    ///
    /// # Errors
    ///
    /// [`StoreError::Locked`] when another open holds the directory (at once, or after
    /// [`JsonStoreOptions::wait_for_lock`]), [`StoreError::Io`] with the path,
    /// [`StoreError::Corrupted`] when the log is damaged other than by a torn tail: a writer
    /// must not build on damage.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(dir, JsonStoreOptions::default())
    }

    /// Opens (creating it if needed) the store in `dir` with `options`. A torn final batch is
    /// moved to a quarantine file, cut off, and reported by [`recovery`](Self::recovery) and to
    /// [`JsonStoreOptions::on_recovery`].
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open); a damaged store is [`StoreError::Corrupted`] naming the first
    /// damaged line (see [`repair`](super::repair()) and [`open_read_only`](Self::open_read_only)).
    pub fn open_with(dir: impl AsRef<Path>, options: JsonStoreOptions) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let lock = DirLock::acquire_within(&dir, options.lock_timeout)?;
        let mut index = Index::default();
        let mut torn = recovery::scan_dir(&dir, &mut index).map_err(refuse_damage)?;
        let writer = Writer::open(&dir, &mut index, torn.as_mut())?;
        snapshot_dir::remove_temp_files(&dir)?;
        let report = RecoveryReport {
            torn_tail: torn,
            damaged: Vec::new(),
        };
        options.report_recovery(&report);
        let durability = options.durability;
        let snapshot_writer = SnapshotWriter::new(
            dir.join(snapshot_dir::DIR),
            !matches!(durability, Durability::Never),
        );
        let shared = Arc::new(Shared {
            dir,
            options,
            index: RwLock::new(index),
            writer: Some(Mutex::new(writer)),
            syncer: Syncer::new(),
            recovery: Mutex::new(report),
            snapshot_writer,
            _lock: Some(lock),
        });
        let flusher = match durability {
            Durability::Batch(interval) => Some(spawn_flusher(&shared, interval)),
            _ => None,
        };
        Ok(JsonStore { shared, flusher })
    }

    /// Opens the store in `dir` for reading only, without taking the writer's lock (it works
    /// while another process writes). It sees the complete batches present now;
    /// [`refresh`](Self::refresh) picks up later ones. Appends fail.
    ///
    /// A damaged store opens too: the damaged records are listed in
    /// [`recovery`](Self::recovery)`().damaged`, reads that do not reach them work, and reads
    /// that do fail with [`StoreError::Corrupted`] naming the file and line (see
    /// [`open_read_only_with`](Self::open_read_only_with) to skip them instead).
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] (also when `dir` does not exist), [`StoreError::Corrupted`] when a
    /// segment file is missing, or when positions or versions jump by more than the damaged
    /// lines between them can have held (a log edited by hand).
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_read_only_with(dir, JsonStoreOptions::default())
    }

    /// [`open_read_only`](Self::open_read_only) with `options`: of them, a read-only store uses
    /// [`skip_damaged`](JsonStoreOptions::skip_damaged) (reads skip damaged records instead of
    /// failing) and [`on_recovery`](JsonStoreOptions::on_recovery).
    ///
    /// # Errors
    ///
    /// As [`open_read_only`](Self::open_read_only).
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore::store::json::JsonStoreOptions;
    /// use livenstore::{EventStore, ExpectedVersion, JsonStore, NewEvent};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = JsonStore::open(dir.path()).unwrap();
    /// for n in 1..=3 {
    ///     let event = NewEvent::from_json("Counted", format!(r#"{{"n":{n}}}"#)).unwrap();
    ///     store.append("counter", ExpectedVersion::Any, vec![event]).unwrap();
    /// }
    /// drop(store);
    /// let segment = dir.path().join("segment-00000001.jsonl");
    /// let text = std::fs::read_to_string(&segment).unwrap();
    /// std::fs::write(&segment, text.replacen(r#"{"n":2}"#, r#"{"n":7}"#, 1)).unwrap();
    ///
    /// let strict = JsonStore::open_read_only(dir.path()).unwrap();
    /// assert_eq!(strict.recovery().damaged.len(), 1);
    /// assert!(strict.read_stream("counter", 1, 10).is_err(), "reaches the damage");
    /// assert_eq!(strict.read_stream("counter", 3, 10).unwrap().len(), 1);
    ///
    /// let salvage = JsonStoreOptions::new().skip_damaged(true);
    /// let lenient = JsonStore::open_read_only_with(dir.path(), salvage).unwrap();
    /// assert_eq!(lenient.read_all(1, 10).unwrap().len(), 2);
    /// ```
    pub fn open_read_only_with(
        dir: impl AsRef<Path>,
        options: JsonStoreOptions,
    ) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        let mut index = Index::default();
        let report = scan_or_survey(&dir, &mut index)?;
        options.report_recovery(&report);
        // Never writes: a read-only store refuses saves.
        let snapshot_writer = SnapshotWriter::new(dir.join(snapshot_dir::DIR), false);
        let shared = Arc::new(Shared {
            dir,
            options,
            index: RwLock::new(index),
            writer: None,
            syncer: Syncer::new(),
            recovery: Mutex::new(report),
            snapshot_writer,
            _lock: None,
        });
        Ok(JsonStore {
            shared,
            flusher: None,
        })
    }

    /// For a read-only store: scans what the writer appended since the open or the last refresh
    /// and returns how many positions were added. For a writable store: returns 0 (it always
    /// sees its own appends). When a segment file was replaced since (by [`repair`](super::repair())), the whole
    /// log is scanned again.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`], [`StoreError::Corrupted`] when a segment file went missing.
    pub fn refresh(&self) -> Result<u64, StoreError> {
        if self.shared.writer.is_some() {
            return Ok(0);
        }
        let dir = &self.shared.dir;
        let mut index = self.shared.index_mut();
        let before = index.last_position();
        let damaged_before = self.lock_recovery().damaged.clone();
        let report = if segments_replaced(&index)? {
            let mut fresh = Index::default();
            let report = scan_or_survey(dir, &mut fresh)?;
            *index = fresh;
            report
        } else {
            match recovery::scan_dir(dir, &mut index) {
                Ok(torn) => RecoveryReport {
                    torn_tail: torn,
                    damaged: damaged_before.clone(),
                },
                Err(StoreError::Corrupted { line, .. }) if line > 0 => {
                    // New damage: survey the whole log again.
                    let survey = Survey::take(dir)?;
                    *index = survey.build_index()?;
                    survey.report()
                }
                Err(e) => return Err(e),
            }
        };
        let added = index.last_position().saturating_sub(before);
        drop(index);
        if report.damaged != damaged_before {
            self.shared.options.report_recovery(&report);
        }
        *self.lock_recovery() = report;
        Ok(added)
    }

    /// What opening (or the last [`refresh`](Self::refresh)) found: the torn tail moved to a
    /// quarantine file (writable open) or left alone (read-only open), and the damaged records
    /// a read-only open found.
    pub fn recovery(&self) -> RecoveryReport {
        self.lock_recovery().clone()
    }

    /// The lost records the store keeps on record, in log order: the holes `repair` left, and
    /// for a damaged store opened read-only the damaged records (see [`Hole`]). Reads skip holes;
    /// a copy made with `export` and `import` keeps them, so its positions and versions are the
    /// same.
    pub fn holes(&self) -> Vec<Hole> {
        let index = self.shared.index();
        index
            .gaps
            .iter()
            .map(|gap| Hole {
                position: gap.position,
                stream: gap.stream.and_then(|s| {
                    let state = index.streams.get(s as usize)?;
                    Some(state.name.to_string())
                }),
                version: gap.version.filter(|_| gap.stream.is_some()),
                damaged: matches!(gap.kind, GapKind::Damaged(_)),
            })
            .collect()
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.shared.dir
    }

    /// Whether this store was opened with [`open_read_only`](Self::open_read_only).
    pub fn is_read_only(&self) -> bool {
        self.shared.writer.is_none()
    }

    /// Forces every append so far to the disk, whatever the durability mode.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when `fsync` fails.
    pub fn sync(&self) -> Result<(), StoreError> {
        match &self.shared.writer {
            Some(_) => write::sync_all_written(&self.shared),
            None => Ok(()),
        }
    }

    /// Checks every segment of the store in `dir` (see [`verify`]).
    ///
    /// # Errors
    ///
    /// As [`verify`].
    pub fn verify(dir: impl AsRef<Path>) -> Result<VerifyReport, StoreError> {
        verify(dir)
    }

    fn lock_recovery(&self) -> std::sync::MutexGuard<'_, RecoveryReport> {
        self.shared
            .recovery
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Whether a segment file of `index` was replaced (renamed over, as `repair` does) or removed
/// since it was opened.
fn segments_replaced(index: &Index) -> Result<bool, StoreError> {
    use std::os::unix::fs::MetadataExt;
    for segment in &index.segments {
        let open = segment.file.metadata().map_err(io_err(&segment.path))?;
        match std::fs::metadata(&segment.path) {
            Ok(now) if (now.dev(), now.ino()) == (open.dev(), open.ino()) => {}
            Ok(_) => return Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
            Err(source) => {
                return Err(StoreError::Io {
                    path: segment.path.clone(),
                    source,
                })
            }
        }
    }
    Ok(false)
}

/// A writable open of a damaged store fails: the error says how to go on.
fn refuse_damage(error: StoreError) -> StoreError {
    match error {
        StoreError::Corrupted { path, line, reason } if line > 0 => StoreError::Corrupted {
            path,
            line,
            reason: format!(
                "{reason} (the store refuses writes while it is damaged: `livenstore DIR repair` \
                 moves damaged lines to a quarantine file; reads work through a read-only open)"
            ),
        },
        other => other,
    }
}

/// Scans the log into `index`; when it is damaged, surveys it instead (so reads that do not
/// reach the damage work).
fn scan_or_survey(dir: &Path, index: &mut Index) -> Result<RecoveryReport, StoreError> {
    match recovery::scan_dir(dir, index) {
        Ok(torn) => Ok(RecoveryReport {
            torn_tail: torn,
            damaged: Vec::new(),
        }),
        Err(StoreError::Corrupted { line, .. }) if line > 0 => {
            let survey = Survey::take(dir)?;
            *index = survey.build_index()?;
            Ok(survey.report())
        }
        Err(e) => Err(e),
    }
}

fn spawn_flusher(
    shared: &Arc<Shared>,
    interval: std::time::Duration,
) -> (Sender<()>, JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let shared = Arc::clone(shared);
    let handle = std::thread::spawn(move || loop {
        match rx.recv_timeout(interval) {
            Err(RecvTimeoutError::Timeout) => {
                // Errors are kept by the syncer and reported to the next append.
                let _ = write::sync_all_written(&shared);
            }
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
    });
    (tx, handle)
}

impl Drop for JsonStore {
    fn drop(&mut self) {
        // The snapshots still queued are written before the store (and its lock) goes.
        self.shared.snapshot_writer.stop();
        if let Some((tx, handle)) = self.flusher.take() {
            drop(tx);
            let _ = handle.join();
            // Batch mode: flush what the last interval wrote.
            let _ = write::sync_all_written(&self.shared);
        }
    }
}

impl EventStore for JsonStore {
    fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        write::append(&self.shared, stream, expected, events)
    }

    fn read(&self, id: EventId) -> Result<RecordedEvent, StoreError> {
        let index = self.shared.index();
        let position = index.position_of(id).ok_or(StoreError::EventNotFound(id))?;
        let (wants, ctx) = self.shared.plan(&index, std::iter::once(position), 1)?;
        drop(index);
        read::load(wants, &ctx)?
            .pop()
            .ok_or(StoreError::EventNotFound(id))
    }

    fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        crate::backend::validate_stream_name(stream)?;
        let index = self.shared.index();
        let Some(sid) = index.stream_id(stream) else {
            return Ok(Vec::new());
        };
        let state = &index.streams[sid as usize];
        let skip = usize::try_from(from_version.saturating_sub(1)).unwrap_or(usize::MAX);
        let slots = state.entries.iter().enumerate().skip(skip).map(|(i, e)| {
            let version = i as u64 + 1;
            if e.position == 0 {
                return Slot::Missing(sid, version);
            }
            let link = e.linked_at.map(|at| LinkInfo {
                stream: stream.to_owned(),
                version,
                linked_at: Timestamp::from_unix_nanos(at),
            });
            Slot::At(e.position, link)
        });
        let (wants, ctx) = self.shared.plan(&index, slots, max_count)?;
        drop(index);
        read::load(wants, &ctx)
    }

    fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let index = self.shared.index();
        let from = from_position.max(1);
        let last = index.last_position();
        let (wants, ctx) = self.shared.plan(&index, from..=last, max_count)?;
        drop(index);
        read::load(wants, &ctx)
    }

    fn read_by_type(
        &self,
        event_type: &str,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let index = self.shared.index();
        let Some(&tid) = index.type_ids.get(event_type) else {
            return Ok(Vec::new());
        };
        let list = &index.by_type[tid as usize];
        let start = list.partition_point(|&p| p < from_position);
        let positions = list[start..].iter().copied();
        let (wants, ctx) = self.shared.plan(&index, positions, max_count)?;
        drop(index);
        read::load(wants, &ctx)
    }

    fn read_time_range(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let index = self.shared.index();
        let (from, to) = (from.as_unix_nanos(), to.as_unix_nanos());
        let start = index.events.partition_point(|e| e.recorded_at < from);
        let end = index
            .events
            .partition_point(|e| e.recorded_at < to)
            .max(start);
        let positions = start as u64 + 1..=end as u64;
        let (wants, ctx) = self.shared.plan(&index, positions, usize::MAX)?;
        drop(index);
        read::load(wants, &ctx)
    }

    fn stream_info(&self, stream: &str) -> Result<Option<StreamInfo>, StoreError> {
        crate::backend::validate_stream_name(stream)?;
        let index = self.shared.index();
        Ok(index
            .stream_id(stream)
            .and_then(|sid| write::stream_info(&index, sid)))
    }

    fn streams(&self) -> Result<Vec<StreamInfo>, StoreError> {
        let index = self.shared.index();
        let mut all: Vec<StreamInfo> = (0..index.streams.len() as u32)
            .filter_map(|sid| write::stream_info(&index, sid))
            .collect();
        all.sort_unstable_by(|a, b| a.stream.cmp(&b.stream));
        Ok(all)
    }

    fn link_to_stream(&self, id: EventId, stream: &str) -> Result<u64, StoreError> {
        write::link(&self.shared, id, stream)
    }

    /// Reads the positions the index lists under `correlation_id` (built on open from the
    /// headers the scan reads, kept up to date by appends): a read of those lines only. In a
    /// damaged store opened read-only, a damaged record is under no correlation id (its header
    /// cannot be trusted), as it is under no type for `read_by_type`: the lookup returns the
    /// intact events and does not reach the damage.
    fn read_correlated(&self, correlation_id: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        crate::backend::validate_correlation_id(correlation_id)?;
        let index = self.shared.index();
        let positions = index.correlations.get(correlation_id).iter().copied();
        let (wants, ctx) = self.shared.plan(&index, positions, usize::MAX)?;
        drop(index);
        read::load(wants, &ctx)
    }

    fn last_position(&self) -> Result<u64, StoreError> {
        Ok(self.shared.index().last_position())
    }

    fn has_gaps(&self, stream: &str) -> Result<bool, StoreError> {
        let index = self.shared.index();
        Ok(index
            .stream_id(stream)
            .is_some_and(|sid| index.streams[sid as usize].gaps > 0))
    }

    fn snapshots(&self) -> Option<&dyn SnapshotStore> {
        Some(self)
    }
}
