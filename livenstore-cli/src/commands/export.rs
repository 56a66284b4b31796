//! `export`: every event and link, as JSON lines in an order `import` replays (see
//! `export_format.rs`).
//!
//! Works on any store through the [`EventStore`] trait. The export ends at the last position the
//! store has when it starts (`end`), so the file is a store as it was, even while writers go on
//! (a directory opened read-only does not change anyway; a PostgreSQL store does):
//! - Links are collected first, reading every stream once and keeping only the links. A stream
//!   is read up to its first entry whose event lies beyond `end` (an event appended later, or a
//!   link to one): every entry after it came later too. Links made after the start to events up
//!   to `end` are kept; they follow everything else of their stream, so the file stays a valid
//!   store.
//! - Then the events up to `end` are written in position order with each stream's links placed
//!   before the first entry that follows them in that stream; links after a stream's last event
//!   come at the end.
//!
//! So the export reads the log twice and holds only the links in memory.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use livenstore::{EventId, EventStore, LinkInfo};
use serde::Serialize;

use super::PAGE;
use crate::args::ExportFormat;
use crate::error::CliError;
use crate::export_format::ExportRecord;
use crate::output::Output;
use crate::store::Target;

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
}

/// `export [--format jsonl] [--output FILE]`.
pub fn run(
    target: &Target,
    format: ExportFormat,
    output: Option<&Path>,
    json: bool,
    out: &mut Output,
) -> Result<(), CliError> {
    let ExportFormat::Jsonl = format;
    let opened = target.for_reading()?;
    let store = opened.events();
    let end = store.last_position()?;
    let mut links = collect_links(store, end)?;
    let mut sink = match output {
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
    let (mut events, mut link_count) = (0u64, 0u64);
    let mut next = 1;
    while next <= end {
        let want = usize::try_from(end - next + 1).map_or(PAGE, |left| left.min(PAGE));
        let page = store.read_all(next, want)?;
        let Some(last) = page.last() else { break };
        next = last.position() + 1;
        for event in page {
            if let Some(queue) = links.get_mut(event.stream()) {
                while queue
                    .front()
                    .is_some_and(|(_, l)| l.version < event.version())
                {
                    if let Some((id, link)) = queue.pop_front() {
                        sink.record(&ExportRecord::Link { id, link })?;
                        link_count += 1;
                    }
                }
            }
            sink.record(&ExportRecord::Event(event))?;
            events += 1;
        }
    }
    for (_, queue) in links {
        for (id, link) in queue {
            sink.record(&ExportRecord::Link { id, link })?;
            link_count += 1;
        }
    }
    if let Sink::File(mut file, path) = sink {
        file.flush().map_err(|source| write_error(&path, source))?;
        let name = path.display().to_string();
        let summary = Summary {
            file: &name,
            events,
            links: link_count,
        };
        if json {
            out.json(&summary)?;
        } else {
            out.line(&format!(
                "exported {events} event(s) and {link_count} link(s) to {name}"
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
) -> Result<BTreeMap<String, VecDeque<(EventId, LinkInfo)>>, CliError> {
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
                    queue.push_back((entry.id(), link.clone()));
                }
            }
        }
        if !queue.is_empty() {
            all.insert(info.stream, queue);
        }
    }
    Ok(all)
}
