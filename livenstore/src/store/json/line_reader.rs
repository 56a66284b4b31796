//! [`LineReader`]: the lines of a segment file in order, through a large buffer, each one
//! to be decoded or refused: what the open scan (`recovery.rs`) and the survey (`survey.rs`) walk.
//!
//! Invariant: `offset` and `number` always describe the end of the last line returned (its
//! byte offset past its newline, and its 1-based number), so a reader started at a cursor
//! continues its count.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::format::{decode_line, Record};
use super::io::io_err;
use crate::StoreError;

/// Bytes read from the file at a time.
const BUFFER: usize = 1 << 20;

/// One line of a segment.
pub(crate) struct SegmentLine<'a> {
    /// Its 1-based number in the file.
    pub number: u64,
    /// The byte offset where it starts.
    pub start: u64,
    /// The byte offset just past its end.
    pub end: u64,
    /// Its length in bytes, with the newline.
    pub len: usize,
    /// Whether it ends in a newline (only the last line of a file may not).
    pub complete: bool,
    /// Its bytes, without the newline.
    pub text: &'a [u8],
}

impl<'a> SegmentLine<'a> {
    /// The record the line holds, or why it holds none (a line without its newline was cut
    /// short).
    #[inline]
    pub fn decode(&self) -> Result<Record<'a>, String> {
        if self.complete {
            decode_line(self.text)
        } else {
            Err("the last line has no newline (write cut short)".into())
        }
    }
}

/// Reads the lines of a segment file (see the module docs).
pub(crate) struct LineReader<'p, R> {
    reader: BufReader<R>,
    path: &'p Path,
    buf: Vec<u8>,
    /// The byte offset just past the last line read.
    pub offset: u64,
    /// The number of the last line read (0 before the first).
    pub number: u64,
}

impl<'p, R: Read> LineReader<'p, R> {
    /// Reads `file` (named `path` in errors), already positioned at byte `offset`, which is
    /// just past line `number`.
    pub fn new(file: R, path: &'p Path, offset: u64, number: u64) -> Self {
        LineReader {
            reader: BufReader::with_capacity(BUFFER, file),
            path,
            buf: Vec::with_capacity(4096),
            offset,
            number,
        }
    }

    /// The next line, `None` at the end of the file.
    #[inline]
    ///
    /// # Errors
    ///
    /// `Io` with the path.
    pub fn next_line(&mut self) -> Result<Option<SegmentLine<'_>>, StoreError> {
        self.buf.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.buf)
            .map_err(io_err(self.path))?;
        if n == 0 {
            return Ok(None);
        }
        self.number += 1;
        let start = self.offset;
        self.offset += n as u64;
        let complete = self.buf.last() == Some(&b'\n');
        let text = if complete {
            &self.buf[..n - 1]
        } else {
            &self.buf[..]
        };
        Ok(Some(SegmentLine {
            number: self.number,
            start,
            end: self.offset,
            len: n,
            complete,
            text,
        }))
    }
}
