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

/// Why `import` refuses `--postgres` (with `--nats` it replays the file through the store:
/// see `replay.rs`).
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

/// Where an import writes the records it reads: a directory's [`JsonImporter`], or a server's
/// store (`replay.rs`). Each refusal is the reason, without the line (the caller adds it).
pub(crate) trait Destination {
    /// Imports an event.
    fn event(&mut self, event: &RecordedEvent) -> Result<(), String>;
    /// Imports a link of event `id`.
    fn link(&mut self, id: EventId, link: &LinkInfo) -> Result<(), String>;
    /// Imports a hole.
    fn hole(&mut self, hole: &Hole) -> Result<(), String>;
    /// What was imported so far.
    fn summary(&self) -> Summary;
}

impl Destination for JsonImporter {
    fn event(&mut self, event: &RecordedEvent) -> Result<(), String> {
        JsonImporter::event(self, event).map_err(|e| e.to_string())
    }

    fn link(&mut self, id: EventId, link: &LinkInfo) -> Result<(), String> {
        JsonImporter::link(self, id, link).map_err(|e| e.to_string())
    }

    fn hole(&mut self, hole: &Hole) -> Result<(), String> {
        JsonImporter::hole(self, hole).map_err(|e| e.to_string())
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
/// before it stay imported).
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
        let stop = |reason: String, destination: &dyn Destination| {
            let done = destination.summary();
            CliError::Import {
                file: name.to_owned(),
                line,
                reason,
                events: done.events,
                links: done.links,
            }
        };
        match input.read_line(&mut text) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(stop(format!("cannot read: {e}"), destination)),
        }
        let record = text.trim_end_matches(['\n', '\r']);
        if record.trim().is_empty() {
            continue;
        }
        let written = match ExportRecord::parse(record) {
            Ok(ExportRecord::Event(event)) => destination.event(&event),
            Ok(ExportRecord::Link { id, link }) => destination.link(id, &link),
            Ok(ExportRecord::Hole(hole)) => destination.hole(&hole),
            Err(reason) => return Err(stop(reason, destination)),
        };
        written.map_err(|reason| stop(reason, destination))?;
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
