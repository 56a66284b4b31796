//! `import FILE`: fills a new or empty store from an export, keeping everything the export
//! holds (ids, types, streams, versions, positions, recorded times, metadata, payloads, links
//! and their times) through [`JsonImporter`].
//!
//! The file is read one line at a time, so its size does not matter. A line that is not a
//! record, or a record the store's rules refuse, stops the import with the file and line; the
//! records before it stay in the store (a valid store), as the error says.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use std::time::Duration;

use livenstore::store::json::JsonImporter;
use serde::Serialize;

use crate::error::CliError;
use crate::export_format::ExportRecord;
use crate::open;
use crate::output::Output;

/// Why `import` refuses `--postgres`.
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
    let mut text = String::new();
    let mut line = 0u64;
    loop {
        text.clear();
        line += 1;
        let stop = |reason: String, importer: &JsonImporter| CliError::Import {
            file: name.to_owned(),
            line,
            reason,
            events: importer.events(),
            links: importer.links(),
        };
        match input.read_line(&mut text) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Err(stop(format!("cannot read: {e}"), &importer)),
        }
        let record = text.trim_end_matches(['\n', '\r']);
        if record.trim().is_empty() {
            continue;
        }
        let written = match ExportRecord::parse(record) {
            Ok(ExportRecord::Event(event)) => importer.event(&event),
            Ok(ExportRecord::Link { id, link }) => importer.link(id, &link),
            Ok(ExportRecord::Hole(hole)) => importer.hole(&hole),
            Err(reason) => return Err(stop(reason, &importer)),
        };
        written.map_err(|e| stop(e.to_string(), &importer))?;
    }
    let summary = Summary {
        events: importer.events(),
        links: importer.links(),
        holes: importer.holes(),
    };
    drop(
        importer
            .finish()
            .map_err(|e| CliError::from_store(dir, e))?,
    );
    Ok(summary)
}

/// `import FILE [--wait SECS]` (`-` for standard input).
pub fn run(
    dir: &Path,
    file: &Path,
    wait: Option<Duration>,
    json: bool,
    out: &mut Output,
) -> Result<(), CliError> {
    let name = file.display().to_string();
    let mut input: Box<dyn BufRead> = if name == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let opened = File::open(file).map_err(|source| CliError::File {
            action: "cannot open",
            path: file.to_path_buf(),
            source,
        })?;
        Box::new(BufReader::new(opened))
    };
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
