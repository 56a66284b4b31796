//! `import FILE`: fills a new or empty store directory from an export, keeping everything the
//! export holds (ids, types, streams, versions, positions, recorded times, metadata, payloads,
//! links and their times) through [`JsonImporter`]. The reading of the file ([`feed`]) is
//! shared with the import into a NATS store (`replay.rs`).
//!
//! The file is read one line at a time, so its size does not matter. A line that is not a
//! record, or a record the store's rules refuse, stops the import with the file and line; the
//! records before it stay in the store (a valid store), as the error says.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use std::time::Duration;

use livenstore::store::json::{Hole, JsonImporter};
use livenstore::{EventId, LinkInfo, RecordedEvent};
use serde::Serialize;

use crate::error::CliError;
use crate::export_format::ExportRecord;
use crate::open;
use crate::output::Output;

/// Why `import` refuses `--postgres` (with `--nats` the store imports the records itself: see
/// `nats_import.rs`).
pub const NOT_FOR_POSTGRES: &str =
    "it writes segment files; to copy a PostgreSQL store, export it and import the file into a \
     directory";

/// What an import wrote.
#[derive(Serialize)]
pub(crate) struct Summary {
    pub events: u64,
    pub links: u64,
    pub holes: u64,
}

/// A record a [`Destination`] refused: its line in the file, and why.
pub(crate) struct Refused {
    pub line: u64,
    pub reason: String,
}

/// Where an import writes the records it reads: a directory's [`JsonImporter`], or a NATS store
/// (`nats_import.rs`), which may hold records back and write them later (in [`finish`] at the
/// latest): its refusal names the line of the record refused, which may be an earlier one.
///
/// [`finish`]: Destination::finish
pub(crate) trait Destination {
    /// Imports the event on line `line`.
    fn event(&mut self, line: u64, event: &RecordedEvent) -> Result<(), Refused>;
    /// Imports the link of event `id` on line `line`.
    fn link(&mut self, line: u64, id: EventId, link: &LinkInfo) -> Result<(), Refused>;
    /// Imports the hole on line `line`.
    fn hole(&mut self, line: u64, hole: &Hole) -> Result<(), Refused>;
    /// Writes what is held back, at the end of the file.
    fn finish(&mut self) -> Result<(), Refused> {
        Ok(())
    }
    /// What was imported so far.
    fn summary(&self) -> Summary;
}

/// `error` as the refusal of line `line`.
fn refused(line: u64) -> impl FnOnce(livenstore::StoreError) -> Refused {
    move |error| Refused {
        line,
        reason: error.to_string(),
    }
}

impl Destination for JsonImporter {
    fn event(&mut self, line: u64, event: &RecordedEvent) -> Result<(), Refused> {
        JsonImporter::event(self, event).map_err(refused(line))
    }

    fn link(&mut self, line: u64, id: EventId, link: &LinkInfo) -> Result<(), Refused> {
        JsonImporter::link(self, id, link).map_err(refused(line))
    }

    fn hole(&mut self, line: u64, hole: &Hole) -> Result<(), Refused> {
        JsonImporter::hole(self, hole).map_err(refused(line))
    }

    fn summary(&self) -> Summary {
        Summary {
            events: self.events(),
            links: self.links(),
            holes: self.holes(),
        }
    }
}

/// Feeds every line of `input` (named `name` in errors) to `destination`.
///
/// # Errors
///
/// [`CliError::Import`] naming the line that is not a record or was refused (the records
/// before it stay imported), after [`Destination::finish`] at the end of the file.
pub(crate) fn feed(
    input: &mut dyn BufRead,
    name: &str,
    destination: &mut dyn Destination,
) -> Result<(), CliError> {
    let mut text = String::new();
    let mut line = 0u64;
    loop {
        text.clear();
        line += 1;
        let stop = |Refused { line, reason }, destination: &dyn Destination| {
            let done = destination.summary();
            CliError::Import {
                file: name.to_owned(),
                line,
                reason,
                events: done.events,
                links: done.links,
            }
        };
        let here = |reason: String| Refused { line, reason };
        match input.read_line(&mut text) {
            Ok(0) => return destination.finish().map_err(|r| stop(r, destination)),
            Ok(_) => {}
            Err(e) => {
                // What was read before the failure is written first, as records before a
                // refused line are.
                let held = destination.finish();
                return Err(stop(
                    held.err().unwrap_or(here(format!("cannot read: {e}"))),
                    destination,
                ));
            }
        }
        let record = text.trim_end_matches(['\n', '\r']);
        if record.trim().is_empty() {
            continue;
        }
        let written = match ExportRecord::parse(record) {
            Ok(ExportRecord::Event(event)) => destination.event(line, &event),
            Ok(ExportRecord::Link { id, link }) => destination.link(line, id, &link),
            Ok(ExportRecord::Hole(hole)) => destination.hole(line, &hole),
            Err(reason) => {
                let held = destination.finish();
                return Err(stop(held.err().unwrap_or(here(reason)), destination));
            }
        };
        written.map_err(|refused| stop(refused, destination))?;
    }
}

/// Feeds every line of `input` (named `name` in errors) to `importer`, then finishes it.
///
/// # Errors
///
/// [`CliError::Import`] naming the line that is not a record or was refused (the records
/// before it stay imported); the store's errors from finishing.
pub(crate) fn import_lines(
    input: &mut dyn BufRead,
    name: &str,
    mut importer: JsonImporter,
    dir: &Path,
) -> Result<Summary, CliError> {
    feed(input, name, &mut importer)?;
    let summary = Destination::summary(&importer);
    drop(
        importer
            .finish()
            .map_err(|e| CliError::from_store(dir, e))?,
    );
    Ok(summary)
}

/// The export file to read (`-`: standard input), and its name for messages.
///
/// # Errors
///
/// [`CliError::File`] when the file cannot be opened.
pub(crate) fn open_input(file: &Path) -> Result<(String, Box<dyn BufRead>), CliError> {
    let name = file.display().to_string();
    if name == "-" {
        return Ok((name, Box::new(std::io::stdin().lock())));
    }
    let opened = File::open(file).map_err(|source| CliError::File {
        action: "cannot open",
        path: file.to_path_buf(),
        source,
    })?;
    Ok((name, Box::new(BufReader::new(opened))))
}

/// `import FILE [--wait SECS]` (`-` for standard input).
pub fn run(
    dir: &Path,
    file: &Path,
    wait: Option<Duration>,
    json: bool,
    out: &mut Output,
) -> Result<(), CliError> {
    let (name, mut input) = open_input(file)?;
    open::check_writable_dir(dir)?;
    let importer = JsonImporter::create(dir, open::writer_options(wait))
        .map_err(|e| CliError::from_store(dir, e))?;
    let summary = import_lines(&mut input, &name, importer, dir)?;
    if json {
        out.json(&summary)
    } else {
        let holes = match summary.holes {
            0 => String::new(),
            n => format!(" (and {n} hole(s))"),
        };
        out.line(&format!(
            "imported {} event(s) and {} link(s){holes} into {}",
            summary.events,
            summary.links,
            dir.display()
        ))
    }
}
