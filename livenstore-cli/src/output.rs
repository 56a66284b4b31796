//! Writing results: aligned tables for people, one JSON object per line for machines.
//!
//! Every write goes through [`Output`], which turns I/O errors into [`CliError::Output`] (never a
//! panic, unlike `println!` on a closed pipe).

use std::io::{BufWriter, Stdout, Write};

use serde::Serialize;

use crate::error::CliError;

/// Payloads longer than this many characters are cut in tables (`--json` prints them whole).
pub const PAYLOAD_COLUMN_CHARS: usize = 80;

/// Standard output, buffered.
pub struct Output {
    out: BufWriter<Stdout>,
}

impl Output {
    /// Buffered standard output.
    pub fn stdout() -> Self {
        Output {
            out: BufWriter::new(std::io::stdout()),
        }
    }

    /// Writes `text` and a newline.
    pub fn line(&mut self, text: &str) -> Result<(), CliError> {
        self.out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(CliError::Output)
    }

    /// Writes `value` as one line of JSON.
    pub fn json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CliError> {
        serde_json::to_writer(&mut self.out, value).map_err(|e| {
            CliError::Output(
                e.io_error_kind()
                    .map_or_else(|| std::io::Error::other(e.to_string()), Into::into),
            )
        })?;
        self.out.write_all(b"\n").map_err(CliError::Output)
    }

    /// Sends what is buffered to standard output.
    pub fn flush(&mut self) -> Result<(), CliError> {
        self.out.flush().map_err(CliError::Output)
    }
}

/// How a column is aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// A table: a header row and rows of cells, printed with columns padded to their widest cell
/// and two spaces between them.
pub struct Table {
    columns: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(columns: &[(&'static str, Align)]) -> Self {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (one cell per column).
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.columns.len());
        self.rows.push(cells);
    }

    /// Writes the header and the rows.
    pub fn write(&self, out: &mut Output) -> Result<(), CliError> {
        self.write_lines(out, true)
    }

    /// Writes the rows only (for name/value lists, whose header would say nothing).
    pub fn write_rows(&self, out: &mut Output) -> Result<(), CliError> {
        self.write_lines(out, false)
    }

    fn write_lines(&self, out: &mut Output, with_header: bool) -> Result<(), CliError> {
        let mut widths: Vec<usize> = self
            .columns
            .iter()
            .map(|(h, _)| if with_header { h.len() } else { 0 })
            .collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let header: Vec<String> = self.columns.iter().map(|(h, _)| (*h).to_owned()).collect();
        let header = with_header.then_some(&header);
        for row in header.into_iter().chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let (width, align) = (widths[i], self.columns[i].1);
                let pad = width - cell.chars().count();
                let last = i + 1 == row.len();
                if i > 0 {
                    line.push_str("  ");
                }
                if align == Align::Right {
                    line.extend(std::iter::repeat_n(' ', pad));
                }
                line.push_str(cell);
                if align == Align::Left && !last {
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.line(&line)?;
        }
        Ok(())
    }
}

/// `text` cut to `max` characters, ending in `…` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_counts_characters() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("abcd", 3), "ab…");
        assert_eq!(shorten("ééééé", 4), "ééé…");
    }
}
