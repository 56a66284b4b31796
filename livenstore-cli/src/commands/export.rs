//! `export`: every event and link, as JSON lines in an order `import` replays (see
//! `export_format.rs`).
//!
//! Works on any store through the [`EventStore`] trait. The export ends at the last position the
//! store has when it starts (`end`), so the file is a store as it was, even while writers go on
//! (a directory opened read-only does not change anyway; a PostgreSQL or NATS store does):
//! - Links are collected first, reading every stream once and keeping only the links. A stream
//!   is read up to its first entry whose event lies beyond `end` (an event appended later, or a
//!   link to one): every entry after it came later too. Links made after the start to events up
//!   to `end` are kept; they follow everything else of their stream, so the file stays a valid
//!   store.
//! - A directory's holes (records `repair` moved out, or with `--skip-damaged` the damaged
//!   records skipped) are written too, so the copy keeps every position and version taken.
//! - Then the events up to `end` are written in position order, each hole before the event
//!   that follows its position, and each stream's links and holes before the first entry that
//!   follows them in that stream; what follows a stream's last event comes at the end.
//!
//! So the export reads the log twice and holds only the links and holes in memory.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use livenstore::store::json::Hole;
use livenstore::{EventId, EventStore, LinkInfo, StoreError};
use serde::Serialize;

use super::PAGE;
use crate::args::ExportFormat;
use crate::error::CliError;
use crate::export_format::ExportRecord;
use crate::output::Output;
use crate::store::{Store, Target};
use crate::warning;

/// Why `export --skip-damaged` refuses `--postgres` and `--nats`.
pub const SKIP_DAMAGED_NOT_FOR_SERVERS: &str =
    "it skips damaged lines of segment files; a server's store has none";

/// Where the lines go.
enum Sink<'a> {
    Stdout(&'a mut Output),
    File(BufWriter<File>, PathBuf),
}

impl Sink<'_> {
    fn record(&mut self, record: &ExportRecord) -> Result<(), CliError> {
        let line = record
            .to_line()
            .map_err(|e| CliError::Output(std::io::Error::other(e)))?;
        match self {
            Sink::Stdout(out) => out.line(&line),
            Sink::File(file, path) => file
                .write_all(line.as_bytes())
                .and_then(|()| file.write_all(b"\n"))
                .map_err(|source| write_error(path, source)),
        }
    }
}

fn write_error(path: &Path, source: std::io::Error) -> CliError {
    CliError::File {
        action: "cannot write",
        path: path.to_path_buf(),
        source,
    }
}

/// The summary printed when the export goes to a file.
#[derive(Serialize)]
struct Summary<'a> {
    file: &'a str,
    events: u64,
    links: u64,
    holes: u64,
}

/// What a stream holds besides its own events: links, and holes whose position is unknown.
enum Extra {
    Link(EventId, LinkInfo),
    Hole(Hole),
}

impl Extra {
    fn version(&self) -> u64 {
        match self {
            Extra::Link(_, link) => link.version,
            Extra::Hole(hole) => hole.version.unwrap_or(0),
        }
    }
}

/// The first item of `queue` when it matches `wanted`, taken off.
fn pop_front_if<T>(queue: &mut VecDeque<T>, wanted: impl Fn(&T) -> bool) -> Option<T> {
    if queue.front().is_some_and(wanted) {
        queue.pop_front()
    } else {
        None
    }
}

/// Writes records, placing each stream's extras before the entries that follow them.
struct Writer<'o> {
    sink: Sink<'o>,
    extras: BTreeMap<String, VecDeque<Extra>>,
    holes: VecDeque<Hole>,
    /// Events, links and holes written.
    counts: (u64, u64, u64),
}

impl Writer<'_> {
    /// Writes the extras of `stream` that come before its version `version`.
    fn before(&mut self, stream: &str, version: u64) -> Result<(), CliError> {
        while let Some(extra) = self
            .extras
            .get_mut(stream)
            .and_then(|queue| pop_front_if(queue, |e| e.version() < version))
        {
            self.extra(extra)?;
        }
        Ok(())
    }

    fn extra(&mut self, extra: Extra) -> Result<(), CliError> {
        match extra {
            Extra::Link(id, link) => {
                self.sink.record(&ExportRecord::Link { id, link })?;
                self.counts.1 += 1;
            }
            Extra::Hole(hole) => self.hole(hole)?,
        }
        Ok(())
    }

    fn hole(&mut self, hole: Hole) -> Result<(), CliError> {
        if let (Some(stream), Some(version)) = (&hole.stream, hole.version) {
            self.before(&stream.clone(), version)?;
        }
        self.sink.record(&ExportRecord::Hole(hole))?;
        self.counts.2 += 1;
        Ok(())
    }

    /// Writes the holes at positions before `position`.
    fn holes_before(&mut self, position: u64) -> Result<(), CliError> {
        while let Some(hole) = pop_front_if(&mut self.holes, |h| {
            h.position.is_some_and(|p| p < position)
        }) {
            self.hole(hole)?;
        }
        Ok(())
    }
}

/// A damaged store's export fails with a pointer to `--skip-damaged`.
fn damaged(error: StoreError) -> CliError {
    match error {
        StoreError::Corrupted { .. } => CliError::DamagedExport(error),
        other => CliError::Store(other),
    }
}

/// `export [--format jsonl] [--output FILE] [--skip-damaged]`.
pub fn run(
    target: &Target,
    format: ExportFormat,
    output: Option<&Path>,
    skip_damaged: bool,
    json: bool,
    out: &mut Output,
) -> Result<(), CliError> {
    let ExportFormat::Jsonl = format;
    if skip_damaged {
        target.dir_only("export --skip-damaged", SKIP_DAMAGED_NOT_FOR_SERVERS)?;
    }
    let opened = target.for_reading_with(skip_damaged)?;
    let store = opened.events();
    let holes = match &opened {
        Store::Json { store, .. } => {
            if skip_damaged {
                store.recovery().damaged.iter().for_each(warning::skipped);
            }
            store.holes()
        }
        Store::Postgres { .. } | Store::Nats { .. } => Vec::new(),
    };
    let end = store.last_position()?;
    let mut extras = collect_links(store, end).map_err(|e| match e {
        CliError::Store(e) => damaged(e),
        other => other,
    })?;
    let (positioned, unplaced): (Vec<Hole>, Vec<Hole>) =
        holes.into_iter().partition(|h| h.position.is_some());
    for hole in unplaced {
        let Some(stream) = hole.stream.clone() else {
            continue; // no position and no stream: nothing to keep taken
        };
        let queue = extras.entry(stream).or_default();
        let at = queue.partition_point(|e| e.version() < hole.version.unwrap_or(0));
        queue.insert(at, Extra::Hole(hole));
    }
    let sink = match output {
        None => Sink::Stdout(out),
        Some(path) => {
            let file = File::create(path).map_err(|source| CliError::File {
                action: "cannot create",
                path: path.to_path_buf(),
                source,
            })?;
            Sink::File(BufWriter::new(file), path.to_path_buf())
        }
    };
    let mut writer = Writer {
        sink,
        extras,
        holes: positioned.into(),
        counts: (0, 0, 0),
    };
    let mut next = 1;
    while next <= end {
        let want = usize::try_from(end - next + 1).map_or(PAGE, |left| left.min(PAGE));
        let page = store.read_all(next, want).map_err(damaged)?;
        let Some(last) = page.last() else { break };
        next = last.position() + 1;
        for event in page {
            writer.holes_before(event.position())?;
            writer.before(event.stream(), event.version())?;
            writer.sink.record(&ExportRecord::Event(event))?;
            writer.counts.0 += 1;
        }
    }
    writer.holes_before(u64::MAX)?;
    for (_, queue) in std::mem::take(&mut writer.extras) {
        for extra in queue {
            writer.extra(extra)?;
        }
    }
    let (events, link_count, hole_count) = writer.counts;
    if let Sink::File(mut file, path) = writer.sink {
        file.flush().map_err(|source| write_error(&path, source))?;
        let name = path.display().to_string();
        let summary = Summary {
            file: &name,
            events,
            links: link_count,
            holes: hole_count,
        };
        if json {
            out.json(&summary)?;
        } else {
            let holes = match hole_count {
                0 => String::new(),
                n => format!(" (and {n} hole(s))"),
            };
            out.line(&format!(
                "exported {events} event(s) and {link_count} link(s){holes} to {name}"
            ))?;
        }
    }
    Ok(())
}

/// Every link of every stream, in version order per stream, up to the stream's first entry
/// whose event lies beyond position `end`.
fn collect_links(
    store: &dyn EventStore,
    end: u64,
) -> Result<BTreeMap<String, VecDeque<Extra>>, CliError> {
    let mut all = BTreeMap::new();
    for info in store.streams()? {
        let mut queue = VecDeque::new();
        let mut next = 1;
        'stream: loop {
            let page = store.read_stream(&info.stream, next, PAGE)?;
            let Some(last) = page.last() else { break };
            next = last.stream_version() + 1;
            for entry in &page {
                if entry.position() > end {
                    break 'stream;
                }
                if let Some(link) = entry.link() {
                    queue.push_back(Extra::Link(entry.id(), link.clone()));
                }
            }
        }
        if !queue.is_empty() {
            all.insert(info.stream, queue);
        }
    }
    Ok(all)
}
