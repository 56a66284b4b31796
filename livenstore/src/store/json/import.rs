//! [`JsonImporter`]: fills an empty store with the records of another one, keeping what appends
//! cannot: the recorded and link times.
//!
//! An append stamps every event with the current time and a link with the time it is made, so a
//! store copied through [`EventStore`](crate::EventStore) calls would keep ids, types, streams,
//! versions, positions, metadata, payloads and links, but not the times. The importer writes the
//! records as given, with their times, after checking them against the same log rules an open
//! checks.
//!
//! Invariants:
//! - The importer holds the directory's `LOCK` from [`JsonImporter::create`] to
//!   [`JsonImporter::finish`], and starts only on a store with no records (no segment, or one
//!   empty segment).
//! - Every record is checked before it is written (names, payload, and the log rules of
//!   `Index::push_event` / `Index::push_link`: contiguous positions and versions, `recorded_at`
//!   never decreasing, unique ids, link targets known and not linked twice into one stream); a
//!   rejected record writes nothing and the import may go on.
//! - Every record is written as a batch of its own, in the order given, so any prefix of the
//!   files that ends on a line boundary is a valid store.
//! - Segments roll as the writer rolls them (at [`JsonStoreOptions::segment_size`]); a segment is
//!   synced before the next is created and the directory is synced after each creation.
//! - After an I/O error the importer refuses further records (the file may end in part of a
//!   line, which the next open cuts off as a torn tail).
//!
//! Crash cases: nothing is synced before [`finish`](JsonImporter::finish) but full segments, so a
//! crash (or dropping the importer without `finish`) leaves a valid store holding a prefix of the
//! records: whole records, a torn last line being cut off by the next writable open.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::encode::{encode_event, encode_hole, encode_link, json_string, BatchHeader, EventLine};
use super::entry::{EntryKind, EventEntry};
use super::format::{HoleRecord, LinkRecord};
use super::index::{Gap, GapKind, Index};
use super::io::{io_err, sync_dir};
use super::lock::DirLock;
use super::recovery::{list_segments, segment_name};
use super::writer::create_segment;
use super::Hole;
use super::{JsonStore, JsonStoreOptions};
use crate::backend::{
    check_payload_size, validate_event_type, validate_event_version, validate_stream_name,
};
use crate::{EventId, LinkInfo, RecordedEvent, StoreError, Timestamp};

/// Writes exported records into an empty [`JsonStore`] directory, keeping everything: ids,
/// types, streams, versions, positions, recorded times, metadata, payloads, and links with their
/// times. (Appends through [`EventStore`](crate::EventStore) would stamp new times.)
///
/// Give it the events in position order and each link after its target event and after the
/// entries before it in its stream (the order [`EventStore::read_all`](crate::EventStore) and
/// [`read_stream`](crate::EventStore::read_stream) give them, merged); then call
/// [`finish`](Self::finish) for the open store.
///
/// Every record is checked against the log rules an open checks before it is written; a refused
/// record writes nothing, and the import may go on. Each record is a batch of its own and
/// nothing but full segments is synced before `finish`, so a crash (or dropping the importer
/// without `finish`) leaves a valid store holding a prefix of the records.
///
/// # Examples
///
/// ```
/// use livenstore::store::json::{JsonImporter, JsonStoreOptions};
/// use livenstore::{EventStore, ExpectedVersion, JsonStore, NewEvent};
///
/// let from = tempfile::tempdir().unwrap();
/// let source = JsonStore::open(from.path()).unwrap();
/// let event = NewEvent::from_json("UserCreated", r#"{"name":"ada"}"#).unwrap();
/// source.append("user-1", ExpectedVersion::NoStream, vec![event]).unwrap();
/// let original = source.read_all(1, usize::MAX).unwrap();
/// source.link_to_stream(original[0].id(), "admins").unwrap();
/// let link = source.read_stream("admins", 1, 1).unwrap()[0].link().cloned().unwrap();
///
/// let to = tempfile::tempdir().unwrap();
/// let mut importer = JsonImporter::create(to.path(), JsonStoreOptions::default()).unwrap();
/// importer.event(&original[0]).unwrap();
/// importer.link(original[0].id(), &link).unwrap();
/// let copy = importer.finish().unwrap();
/// assert_eq!(copy.read_all(1, usize::MAX).unwrap(), original);
/// assert_eq!(copy.read_stream("admins", 1, 1).unwrap()[0].link(), Some(&link));
/// ```
#[derive(Debug)]
pub struct JsonImporter {
    dir: PathBuf,
    options: JsonStoreOptions,
    lock: DirLock,
    index: Index,
    out: BufWriter<File>,
    path: PathBuf,
    segment: u32,
    size: u64,
    line: Vec<u8>,
    events: u64,
    links: u64,
    holes: u64,
    failed: bool,
}

impl JsonImporter {
    /// Takes the writer's lock of the store in `dir` (creating the directory if needed) for an
    /// import. The store must hold no records.
    ///
    /// # Errors
    ///
    /// [`StoreError::Locked`] when another process has the store open,
    /// [`StoreError::InvalidArgument`] when it holds records, [`StoreError::Io`] with the path,
    /// [`StoreError::Corrupted`] when segment files are missing in the sequence.
    pub fn create(dir: impl AsRef<Path>, options: JsonStoreOptions) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let lock = DirLock::acquire(&dir)?;
        let segments = list_segments(&dir)?;
        let (segment, path, file) = match segments.as_slice() {
            [] => {
                let path = dir.join(segment_name(1));
                let file = create_segment(&dir, &path)?;
                (1, path, file)
            }
            [(id, path)] => {
                let len = std::fs::metadata(path).map_err(io_err(path))?.len();
                if len > 0 {
                    return Err(not_empty(&dir));
                }
                let file = OpenOptions::new()
                    .append(true)
                    .open(path)
                    .map_err(io_err(path))?;
                (*id, path.clone(), file)
            }
            _ => return Err(not_empty(&dir)),
        };
        Ok(JsonImporter {
            dir,
            options,
            lock,
            index: Index::default(),
            out: BufWriter::with_capacity(1 << 20, file),
            path,
            segment,
            size: 0,
            line: Vec::new(),
            events: 0,
            links: 0,
            holes: 0,
            failed: false,
        })
    }

    /// Writes `event` at its own position, version and `recorded_at`, with its id, type,
    /// metadata and payload.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`] when the event breaks a log rule (its position is not the
    /// next one, its version not its stream's next, its time before the previous event's, its
    /// id already imported) or carries link information;
    /// [`StoreError::InvalidStreamName`], [`StoreError::InvalidEventType`],
    /// [`StoreError::PayloadTooLarge`]; [`StoreError::Io`]. Nothing is written on an error other
    /// than `Io`.
    pub fn event(&mut self, event: &RecordedEvent) -> Result<(), StoreError> {
        self.check_usable()?;
        if event.link().is_some() {
            return Err(StoreError::InvalidArgument(format!(
                "event {} was read through a link; import the event itself and the link with \
                 `link`",
                event.id()
            )));
        }
        validate_stream_name(event.stream())?;
        validate_event_type(event.event_type())?;
        validate_event_version(event.event_version())?;
        let payload = event.payload().as_str();
        check_payload_size(payload.len(), self.options.max_payload_bytes)?;
        // The payload needs no parse: every `Payload` is valid JSON (see `payload.rs`).
        self.line.clear();
        let encode_error = |source| StoreError::Encode {
            record: "event",
            source,
        };
        // Each imported event is its own batch of one.
        let batch =
            BatchHeader::new(event.stream(), event.recorded_at(), 1).map_err(encode_error)?;
        let event_type_json = json_string(event.event_type()).map_err(encode_error)?;
        let line = EventLine {
            position: event.position(),
            id: event.id(),
            version: event.version(),
            event_type_json: &event_type_json,
            event_version: event.event_version(),
            metadata: event.metadata(),
            index: 1,
            payload,
        };
        encode_event(&mut self.line, &batch, &line).map_err(encode_error)?;
        let (segment, offset) = self.place();
        let stream = self.index.intern_stream(event.stream());
        let event_type = self.index.intern_type(event.event_type());
        let entry = EventEntry {
            id: event.id().to_u128(),
            recorded_at: event.recorded_at().as_unix_nanos(),
            version: event.version(),
            offset,
            segment,
            len: u32::try_from(self.line.len()).unwrap_or(u32::MAX),
            stream,
            event_type,
            event_version: event.event_version(),
            kind: EntryKind::Event,
        };
        self.index
            .push_event(event.position(), entry, event.metadata().correlation_id())
            .map_err(|reason| rejected(event.id(), reason))?;
        self.write_line()?;
        self.events += 1;
        Ok(())
    }

    /// Writes a hole: a record the exported store had lost (see [`Hole`]), keeping its position
    /// and stream version taken so that the records after it keep theirs.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`] when `hole.position` is not the next position or
    /// `hole.version` not its stream's next version, or it names neither;
    /// [`StoreError::InvalidStreamName`]; [`StoreError::Io`]. Nothing is written on an error
    /// other than `Io`.
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore::store::json::{Hole, JsonImporter, JsonStoreOptions};
    /// use livenstore::{EventStore, ExpectedVersion, NewEvent};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut importer = JsonImporter::create(dir.path(), JsonStoreOptions::default()).unwrap();
    /// let lost = Hole { position: Some(1), stream: Some("s".into()), version: Some(1), damaged: false };
    /// importer.hole(&lost).unwrap();
    /// let store = importer.finish().unwrap();
    /// let event = NewEvent::from_json("A", "{}").unwrap();
    /// let appended = store.append("s", ExpectedVersion::Exact(1), vec![event]).unwrap();
    /// assert_eq!((appended.first_position, appended.stream_version), (2, 2));
    /// assert_eq!(store.holes().len(), 1);
    /// ```
    pub fn hole(&mut self, hole: &Hole) -> Result<(), StoreError> {
        self.check_usable()?;
        let slot = match (&hole.stream, hole.version) {
            (Some(stream), Some(version)) => {
                validate_stream_name(stream)?;
                Some((stream, version))
            }
            _ => None,
        };
        if hole.position.is_none() && slot.is_none() {
            return Err(StoreError::InvalidArgument(
                "a hole names a position, or a stream and version".into(),
            ));
        }
        let record = HoleRecord {
            position: hole.position,
            stream: slot.map(|(s, _)| s.clone()),
            version: slot.map(|(_, v)| v),
            id: None,
            quarantine: None,
            line: 0,
            reason: "lost before the store was exported (a hole of the exported store)".into(),
            repaired_at: Timestamp::now(),
        };
        self.line.clear();
        encode_hole(&mut self.line, &record).map_err(|source| StoreError::Encode {
            record: "hole",
            source,
        })?;
        let stream = slot.map(|(s, _)| self.index.intern_stream(s));
        self.index
            .push_gap(Gap {
                position: hole.position,
                stream,
                version: slot.map(|(_, v)| v),
                id: None,
                kind: GapKind::Hole,
            })
            .map_err(|reason| StoreError::InvalidArgument(format!("hole rejected: {reason}")))?;
        self.write_line()?;
        self.holes += 1;
        Ok(())
    }

    /// Writes a link of event `id` into `link.stream` at `link.version`, made at
    /// `link.linked_at`.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`] when the event was not imported yet, already is in that
    /// stream, or `link.version` is not the stream's next version;
    /// [`StoreError::InvalidStreamName`]; [`StoreError::Io`]. Nothing is written on an error
    /// other than `Io`.
    pub fn link(&mut self, id: EventId, link: &LinkInfo) -> Result<(), StoreError> {
        self.check_usable()?;
        validate_stream_name(&link.stream)?;
        self.line.clear();
        let record = LinkRecord {
            id,
            stream: link.stream.as_str().into(),
            version: link.version,
            linked_at: link.linked_at,
        };
        encode_link(&mut self.line, &record).map_err(|source| StoreError::Encode {
            record: "link",
            source,
        })?;
        let stream = self.index.intern_stream(&link.stream);
        self.index
            .push_link(id, stream, link.version, link.linked_at)
            .map_err(|reason| rejected(id, reason))?;
        self.write_line()?;
        self.links += 1;
        Ok(())
    }

    /// Events imported so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Holes imported so far.
    pub fn holes(&self) -> u64 {
        self.holes
    }

    /// Links imported so far.
    pub fn links(&self) -> u64 {
        self.links
    }

    /// Syncs everything written, releases the lock and opens the store with the importer's
    /// options.
    ///
    /// Between releasing the lock and the open, another process could take the lock; the open
    /// then fails with [`StoreError::Locked`] and the imported records stay intact.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when a write or `fsync` fails (or failed before), and the errors of
    /// [`JsonStore::open_with`].
    pub fn finish(mut self) -> Result<JsonStore, StoreError> {
        self.check_usable()?;
        let path = self.path.clone();
        self.out.flush().map_err(io_err(&path))?;
        self.out.get_ref().sync_all().map_err(io_err(&path))?;
        sync_dir(&self.dir)?;
        let JsonImporter {
            dir, options, lock, ..
        } = self;
        drop(lock);
        JsonStore::open_with(dir, options)
    }

    fn check_usable(&self) -> Result<(), StoreError> {
        if self.failed {
            return Err(StoreError::InvalidArgument(format!(
                "an earlier write to {} failed; the import cannot go on",
                self.path.display()
            )));
        }
        Ok(())
    }

    /// Where the line in `self.line` will go: the next segment when it would not fit in this
    /// one. Returns the segment and offset; [`write_line`](Self::write_line) rolls.
    fn place(&self) -> (u32, u64) {
        if self.needs_roll() {
            (self.segment + 1, 0)
        } else {
            (self.segment, self.size)
        }
    }

    fn needs_roll(&self) -> bool {
        self.size > 0 && self.size + self.line.len() as u64 > self.options.segment_size
    }

    fn roll(&mut self) -> Result<(), StoreError> {
        self.out.flush().map_err(io_err(&self.path))?;
        self.out.get_ref().sync_data().map_err(io_err(&self.path))?;
        let segment = self.segment + 1;
        let path = self.dir.join(segment_name(segment));
        let file = create_segment(&self.dir, &path)?;
        self.out = BufWriter::with_capacity(1 << 20, file);
        self.path = path;
        self.segment = segment;
        self.size = 0;
        Ok(())
    }

    /// Writes the line in `self.line`, rolling to a new segment first when it does not fit.
    fn write_line(&mut self) -> Result<(), StoreError> {
        if self.needs_roll() {
            let rolled = self.roll();
            self.failed |= rolled.is_err();
            rolled?;
        }
        if let Err(source) = self.out.write_all(&self.line) {
            self.failed = true;
            return Err(StoreError::Io {
                path: self.path.clone(),
                source,
            });
        }
        self.size += self.line.len() as u64;
        Ok(())
    }
}

fn not_empty(dir: &Path) -> StoreError {
    StoreError::InvalidArgument(format!(
        "the store at {} holds records; an import needs an empty store",
        dir.display()
    ))
}

fn rejected(id: EventId, reason: String) -> StoreError {
    StoreError::InvalidArgument(format!("record for event {id} rejected: {reason}"))
}
