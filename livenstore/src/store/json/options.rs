//! Options of a [`JsonStore`](super::JsonStore): durability, segment size, what reads do with
//! damage, how long an open waits for the lock, and who hears what an open recovered.
//!
//! Invariant: the defaults are the safe choice (`Durability::Always`, 64 MiB segments, the
//! crate's payload limit, reads that fail on damage, no waiting for the lock).

use std::sync::Arc;
use std::time::Duration;

use super::RecoveryReport;
use crate::backend::MAX_PAYLOAD_BYTES;

/// When appended lines are forced to the disk (`fsync`).
///
/// Every mode survives a crash of the process: an append writes its lines to the operating
/// system before it returns, so they are in the page cache even if the process dies right after.
/// The modes differ in what survives a power loss or a kernel crash.
///
/// # Examples
///
/// ```
/// use livenstore::store::json::{Durability, JsonStoreOptions};
/// use livenstore::{EventStore, ExpectedVersion, JsonStore, NewEvent};
///
/// assert_eq!(Durability::default(), Durability::Always);
///
/// // A bulk load: no fsync per append, one at the end.
/// let dir = tempfile::tempdir().unwrap();
/// let options = JsonStoreOptions::new().durability(Durability::Never);
/// let store = JsonStore::open_with(dir.path(), options).unwrap();
/// for n in 1..=100 {
///     let event = NewEvent::from_json("Imported", format!(r#"{{"n":{n}}}"#)).unwrap();
///     store.append("import", ExpectedVersion::Any, vec![event]).unwrap();
/// }
/// store.sync().unwrap();
/// assert_eq!(store.last_position().unwrap(), 100);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// `fsync` before `append` returns: an acknowledged append survives a power loss.
    /// Concurrent appenders share one `fsync` (group commit).
    #[default]
    Always,
    /// `fsync` at most once per interval (by a background flusher, or by the next append once the
    /// interval has passed): a power loss may lose the appends of the last interval, never part of
    /// one append, and never an append that a later surviving one depended on.
    Batch(Duration),
    /// Never `fsync` (the operating system writes back when it likes): a power loss may lose any
    /// recent appends (whole appends only: a partial batch is cut off on open).
    Never,
}

/// A function an open calls with what it recovered (see [`JsonStoreOptions::on_recovery`]).
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use livenstore::store::json::{JsonStoreOptions, RecoveryHook, RecoveryReport};
/// use livenstore::{EventStore, ExpectedVersion, JsonStore, NewEvent};
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = JsonStore::open(dir.path()).unwrap();
/// let event = NewEvent::from_json("Counted", r#"{"n":1}"#).unwrap();
/// store.append("counter", ExpectedVersion::NoStream, vec![event]).unwrap();
/// drop(store);
/// // A crash in the middle of the next append: its line is cut short.
/// let segment = dir.path().join("segment-00000001.jsonl");
/// let intact = std::fs::metadata(&segment).unwrap().len();
/// let mut bytes = std::fs::read(&segment).unwrap();
/// bytes.extend_from_slice(br#"{"crc":"9a0b"#);
/// std::fs::write(&segment, bytes).unwrap();
///
/// // One hook, shared by the options of every store the program opens.
/// let torn_tails = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&torn_tails);
/// let hook: RecoveryHook = Arc::new(move |report: &RecoveryReport| {
///     log.lock().unwrap().extend(report.torn_tail.clone());
/// });
/// let options = JsonStoreOptions::new().on_recovery({
///     let hook = Arc::clone(&hook);
///     move |report| hook(report)
/// });
/// let store = JsonStore::open_with(dir.path(), options).unwrap();
/// assert_eq!(torn_tails.lock().unwrap()[0].offset, intact);
/// assert_eq!(store.last_position().unwrap(), 1);
/// ```
pub type RecoveryHook = Arc<dyn Fn(&RecoveryReport) + Send + Sync>;

/// How a [`JsonStore`](super::JsonStore) is opened.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use livenstore::store::json::{Durability, JsonStoreOptions};
/// use livenstore::JsonStore;
///
/// let dir = tempfile::tempdir().unwrap();
/// let options = JsonStoreOptions::new()
///     .durability(Durability::Batch(Duration::from_millis(5)))
///     .wait_for_lock(Duration::from_secs(2))
///     .on_recovery(|report| eprintln!("recovered: {report:?}"));
/// let store = JsonStore::open_with(dir.path(), options).unwrap();
/// assert!(store.recovery().is_empty());
/// ```
#[derive(Clone)]
pub struct JsonStoreOptions {
    /// When appends are made durable. Default [`Durability::Always`].
    pub durability: Durability,
    /// A segment file is closed and a new one started once a batch would make it larger than
    /// this many bytes (a single batch larger than the limit gets a segment of its own).
    /// Default 64 MiB.
    pub segment_size: u64,
    /// The largest payload accepted, in bytes. Default [`MAX_PAYLOAD_BYTES`].
    pub max_payload_bytes: usize,
    /// Whether reads of a damaged store opened read-only skip the damaged records instead of
    /// failing on them (see [`skip_damaged`](Self::skip_damaged)). Default `false`.
    pub skip_damaged: bool,
    /// How long a writable open waits for another holder of the store's lock to let go.
    /// Default `None`: it fails at once with [`StoreError::Locked`](crate::StoreError::Locked).
    pub lock_timeout: Option<Duration>,
    recovery_hook: Option<RecoveryHook>,
}

impl std::fmt::Debug for JsonStoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonStoreOptions")
            .field("durability", &self.durability)
            .field("segment_size", &self.segment_size)
            .field("max_payload_bytes", &self.max_payload_bytes)
            .field("skip_damaged", &self.skip_damaged)
            .field("lock_timeout", &self.lock_timeout)
            .field("on_recovery", &self.recovery_hook.as_ref().map(|_| "Fn"))
            .finish()
    }
}

/// Equal when every setting is, and both have no hook or the same one.
impl PartialEq for JsonStoreOptions {
    fn eq(&self, other: &Self) -> bool {
        let same_hook = match (&self.recovery_hook, &other.recovery_hook) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        self.durability == other.durability
            && self.segment_size == other.segment_size
            && self.max_payload_bytes == other.max_payload_bytes
            && self.skip_damaged == other.skip_damaged
            && self.lock_timeout == other.lock_timeout
            && same_hook
    }
}

impl Eq for JsonStoreOptions {}

impl Default for JsonStoreOptions {
    fn default() -> Self {
        JsonStoreOptions {
            durability: Durability::Always,
            segment_size: 64 * 1024 * 1024,
            max_payload_bytes: MAX_PAYLOAD_BYTES,
            skip_damaged: false,
            lock_timeout: None,
            recovery_hook: None,
        }
    }
}

impl JsonStoreOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the durability.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets the segment size limit in bytes (at least 1).
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.segment_size = bytes.max(1);
        self
    }

    /// Sets the payload size limit in bytes.
    pub fn max_payload_bytes(mut self, bytes: usize) -> Self {
        self.max_payload_bytes = bytes;
        self
    }

    /// Reads skip damaged records instead of failing on them: for salvaging what is intact of
    /// a damaged store opened with [`open_read_only_with`](super::JsonStore::open_read_only_with)
    /// (what `livenstore DIR export --skip-damaged` does). The skipped records are listed in
    /// [`RecoveryReport::damaged`]; holes that `repair` recorded are skipped either way.
    pub fn skip_damaged(mut self, skip: bool) -> Self {
        self.skip_damaged = skip;
        self
    }

    /// A writable open waits up to `timeout` for another process (or another open in this one)
    /// to release the store's lock, instead of failing at once with
    /// [`StoreError::Locked`](crate::StoreError::Locked).
    pub fn wait_for_lock(mut self, timeout: Duration) -> Self {
        self.lock_timeout = Some(timeout);
        self
    }

    /// Calls `hook` when an open finds something to report: a torn tail (moved to a quarantine
    /// file by a writable open, left alone by a read-only one: then
    /// [`TornTail::quarantine`](super::TornTail::quarantine) is `None`), or damaged records (a
    /// read-only open). A [`refresh`](super::JsonStore::refresh) of a read-only store calls it
    /// again when the damage it finds changes. It runs before the open returns, on the opening
    /// thread; what it was told stays available from
    /// [`JsonStore::recovery`](super::JsonStore::recovery).
    pub fn on_recovery(mut self, hook: impl Fn(&RecoveryReport) + Send + Sync + 'static) -> Self {
        self.recovery_hook = Some(Arc::new(hook));
        self
    }

    /// Tells the hook, if any, about `report` when it holds anything.
    pub(crate) fn report_recovery(&self, report: &RecoveryReport) {
        if let Some(hook) = &self.recovery_hook {
            if !report.is_empty() {
                hook(report);
            }
        }
    }
}
