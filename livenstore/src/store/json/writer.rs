//! [`Writer`]: the writable end of the log: the last segment, opened for appending, and how a
//! batch is written to it (rolling to a new segment when it would grow past the size limit).
//!
//! Invariants:
//! - A batch's lines go to the file in one `write_all`. A failed write is cut back (`set_len`)
//!   so the file ends at a batch boundary; those bytes are the only ones ever cut without a
//!   quarantine file, their append having returned the error. If the cut fails too, the writer
//!   refuses every later append.
//! - A segment is synced before the next one is created, and the directory after it is.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::index::{Index, SegmentFile};
use super::io::{io_err, sync_dir};
use super::quarantine::{write_quarantine, QuarantineKind};
use super::recovery::{open_segment, segment_name, TornTail};
use crate::StoreError;

/// The writable end of the log.
#[derive(Debug)]
pub(crate) struct Writer {
    pub(crate) file: Arc<File>,
    pub(crate) path: PathBuf,
    dir: PathBuf,
    segment: u32,
    size: u64,
    /// Batches written since open (the group-commit counter).
    pub(crate) written: u64,
    /// The lines of the batch being written (kept between appends for its capacity).
    pub(crate) buf: Vec<u8>,
    /// Set when the file could not be brought back to a batch boundary: no append may follow.
    pub(crate) broken: Option<String>,
}

impl Writer {
    /// Opens the last segment for appending (creating segment 1 in an empty store), after
    /// cutting off `torn`.
    ///
    /// # Errors
    ///
    /// `Io` with the path.
    pub fn open(
        dir: &Path,
        index: &mut Index,
        torn: Option<&mut TornTail>,
    ) -> Result<Self, StoreError> {
        if index.segments.is_empty() {
            let path = dir.join(segment_name(1));
            create_segment(dir, &path)?;
            index.segments.push(open_segment(1, path)?);
        }
        let last = index.segments.last().ok_or_else(|| StoreError::Corrupted {
            path: dir.to_path_buf(),
            line: 0,
            reason: "no segment after creating the first one".into(),
        })?;
        let (segment, path) = (last.id, last.path.clone());
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        if let Some(torn) = torn {
            // The torn bytes go to a quarantine file (synced) before the segment is cut.
            let mut bytes = Vec::new();
            let mut reader = File::open(&path).map_err(io_err(&path))?;
            reader
                .seek(SeekFrom::Start(torn.offset))
                .and_then(|_| reader.read_to_end(&mut bytes))
                .map_err(io_err(&path))?;
            torn.quarantine = Some(write_quarantine(&path, QuarantineKind::TornTail, &bytes)?);
            file.set_len(torn.offset).map_err(io_err(&path))?;
            file.sync_all().map_err(io_err(&path))?;
        }
        let size = file.metadata().map_err(io_err(&path))?.len();
        Ok(Writer {
            file: Arc::new(file),
            path,
            dir: dir.to_path_buf(),
            segment,
            size,
            written: 0,
            buf: Vec::new(),
            broken: None,
        })
    }

    /// Writes `self.buf` as one batch, rolling to a new segment first when it would grow past
    /// `segment_size` (handing the new segment, opened for reads, to `rolled`). Returns the
    /// segment and offset the batch starts at.
    pub(crate) fn write_batch(
        &mut self,
        segment_size: u64,
        rolled: impl FnOnce(SegmentFile),
    ) -> Result<(u32, u64), StoreError> {
        let len = self.buf.len() as u64;
        if self.size > 0 && self.size + len > segment_size {
            rolled(self.roll()?);
        }
        let start = self.size;
        if let Err(source) = (&*self.file).write_all(&self.buf) {
            // Leave the file at a batch boundary (the failed append's bytes go: it returns the
            // error). If even that fails, the file ends in part of a batch: refuse to append
            // after it; the next open finds it as a torn tail.
            if let Err(cut) = self.file.set_len(start) {
                self.broken = Some(format!(
                    "an append's write failed ({source}) and could not be cut back ({cut}); \
                     reopen the store"
                ));
            }
            return Err(StoreError::Io {
                path: self.path.clone(),
                source,
            });
        }
        self.size += len;
        self.written += 1;
        Ok((self.segment, start))
    }

    /// Syncs the segment, creates the next one and writes there from now on. Returns the new
    /// segment opened for reads.
    fn roll(&mut self) -> Result<SegmentFile, StoreError> {
        self.file.sync_data().map_err(io_err(&self.path))?;
        let id = self.segment + 1;
        let path = self.dir.join(segment_name(id));
        let file = create_segment(&self.dir, &path)?;
        let reader = open_segment(id, path.clone())?;
        self.file = Arc::new(file);
        self.path = path;
        self.segment = id;
        self.size = 0;
        Ok(reader)
    }
}

/// Creates segment file `path` (refusing one that exists) and syncs `dir` so the file survives a
/// crash.
pub(crate) fn create_segment(dir: &Path, path: &Path) -> Result<File, StoreError> {
    let file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(path)
        .map_err(io_err(path))?;
    sync_dir(dir)?;
    Ok(file)
}
