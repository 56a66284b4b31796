//! `--nats URL import FILE`: fills a new or empty NATS store from an export, keeping everything
//! the export holds but holes (ids, types, streams, versions, positions, recorded times,
//! metadata, payloads, links and their times), through [`JetStreamStore::import_events`] and
//! [`JetStreamStore::import_link`].
//!
//! Rules:
//! - The store must hold nothing (no event, no stream) when the import starts.
//! - The store takes records in log order, times never going back, but an export writes each
//!   link just before the next entry of its stream, or at the end of the file when none follows
//!   (a stream of links only): so the file is read twice. The first reading checks every line
//!   and keeps the links (as `export` does); a line that is not a record, or a hole (a record the
//!   exported store lost: the store cannot keep its position taken; import such a file into a
//!   directory), stops the import before anything is written. The second reading sends the
//!   events in position order with each link put back at its time: before the first event
//!   recorded after it, or recorded at the same time but written after it in the file.
//!   Standard input is copied to a temporary file first, to be read twice.
//! - Events are sent in batches: the consecutive events up to a link, the end of the file,
//!   [`BATCH_EVENTS`] events or about [`BATCH_BYTES`] of payload. The store checks each against
//!   the log's rules (it must come next: position, stream version, time, unseen id) and writes
//!   consecutive events of one time as one message, so an import is a few messages rather than
//!   one append per event.
//! - A refusal names the line of the record refused. When a batch fails, the events of the
//!   batch the store did take are found by id and the rest are sent one at a time, so the
//!   error is the one of the first event the store does not take, and the summary counts what
//!   it holds. An import that another writer races, or a file whose records cannot be put in
//!   log order, stops there; the records before it stay in the store.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use livenstore::store::json::Hole;
use livenstore::{EventId, EventStore, LinkInfo, RecordedEvent, StoreError, Timestamp};
use livenstore_nats::JetStreamStore;

use super::import::{self, Destination, Refused, Summary};
use crate::error::CliError;
use crate::nats::NatsServer;
use crate::output::Output;

/// The most events sent to the store at a time.
pub const BATCH_EVENTS: usize = 10_000;

/// About the most payload bytes held for one batch.
pub const BATCH_BYTES: usize = 16 << 20;

/// A link of the file: its line, and what it links.
struct Link {
    line: u64,
    id: EventId,
    link: LinkInfo,
}

/// The first reading of the file: every line checked, the links kept (in their order by time,
/// then by line, once sorted).
#[derive(Default)]
struct Survey {
    links: Vec<Link>,
}

impl Destination for Survey {
    fn event(&mut self, _: u64, _: &RecordedEvent) -> Result<(), Refused> {
        Ok(())
    }

    fn link(&mut self, line: u64, id: EventId, link: &LinkInfo) -> Result<(), Refused> {
        self.links.push(Link {
            line,
            id,
            link: link.clone(),
        });
        Ok(())
    }

    fn hole(&mut self, line: u64, _: &Hole) -> Result<(), Refused> {
        Err(Refused {
            line,
            reason: "a hole (a record the exported store lost) cannot be imported with --nats: \
                     the store cannot keep its position taken; import the file into a directory \
                     (nothing was imported)"
                .to_owned(),
        })
    }

    fn summary(&self) -> Summary {
        // Nothing is written by the first reading.
        Summary {
            events: 0,
            links: 0,
            holes: 0,
        }
    }
}

/// The second reading: the store an import writes into, the links still to send (in reverse
/// order: the next one last), the events waiting to be sent (with their lines) and what it
/// wrote.
struct Batches<'a> {
    store: &'a JetStreamStore,
    waiting: Vec<Link>,
    pending: Vec<RecordedEvent>,
    lines: Vec<u64>,
    bytes: usize,
    events: u64,
    links: u64,
}

impl Batches<'_> {
    /// Sends the links that come before a record at `time` on line `line` (every link when
    /// `None`), after the events before them.
    fn links_before(&mut self, before: Option<(Timestamp, u64)>) -> Result<(), Refused> {
        while let Some(next) = self.waiting.last() {
            if before.is_some_and(|at| (next.link.linked_at, next.line) >= at) {
                break;
            }
            self.flush()?;
            let Link { line, id, link } = self.waiting.pop().expect("a link is next");
            self.store.import_link(id, &link).map_err(|e| Refused {
                line,
                reason: format!("link of event {id} into `{}`: {e}", link.stream),
            })?;
            self.links += 1;
        }
        Ok(())
    }

    /// Sends the pending events.
    fn flush(&mut self) -> Result<(), Refused> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let events = std::mem::take(&mut self.pending);
        let lines = std::mem::take(&mut self.lines);
        self.bytes = 0;
        match self.store.import_events(&events) {
            Ok(_) => {
                self.events += events.len() as u64;
                Ok(())
            }
            Err(_) => self.one_at_a_time(&events, &lines),
        }
    }

    /// After a batch failed: skips the events of it the store took, sends the others one at a
    /// time, and names the line of the first it refuses (none when the failure was passing and
    /// it takes them all).
    fn one_at_a_time(&mut self, events: &[RecordedEvent], lines: &[u64]) -> Result<(), Refused> {
        for (event, &line) in events.iter().zip(lines) {
            let stored = matches!(
                self.store.read(event.id()),
                Ok(found) if found.position() == event.position() && found.stream() == event.stream()
            );
            if !stored {
                self.store
                    .import_events(std::slice::from_ref(event))
                    .map_err(|e| Refused {
                        line,
                        reason: format!("event {}: {e}", event.id()),
                    })?;
            }
            self.events += 1;
        }
        Ok(())
    }
}

impl Destination for Batches<'_> {
    fn event(&mut self, line: u64, event: &RecordedEvent) -> Result<(), Refused> {
        self.links_before(Some((event.recorded_at(), line)))?;
        self.bytes += event.payload().len() + event.metadata().len() * 64;
        self.pending.push(event.clone());
        self.lines.push(line);
        if self.pending.len() >= BATCH_EVENTS || self.bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn link(&mut self, _: u64, _: EventId, _: &LinkInfo) -> Result<(), Refused> {
        // Sent at its time, from what the first reading kept.
        Ok(())
    }

    fn hole(&mut self, line: u64, _: &Hole) -> Result<(), Refused> {
        // The first reading refused it; the file changed since.
        Err(Refused {
            line,
            reason: "a hole, which the first reading of the file did not find (did it change?)"
                .to_owned(),
        })
    }

    fn finish(&mut self) -> Result<(), Refused> {
        self.links_before(None)?;
        self.flush()
    }

    fn summary(&self) -> Summary {
        Summary {
            events: self.events,
            links: self.links,
            holes: 0,
        }
    }
}

/// A copy of standard input, removed on drop.
struct Spilled(PathBuf);

impl Drop for Spilled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Copies standard input to a new temporary file.
fn spill_stdin() -> Result<Spilled, CliError> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let path = std::env::temp_dir().join(format!(
        "livenstore-import-{}-{nanos}.jsonl",
        std::process::id()
    ));
    let failed = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| CliError::File {
            action,
            path,
            source,
        }
    };
    let mut file = File::options()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(failed("cannot create", &path))?;
    let spilled = Spilled(path);
    std::io::copy(&mut std::io::stdin().lock(), &mut file)
        .map_err(failed("cannot write", &spilled.0))?;
    Ok(spilled)
}

/// `import FILE` (`-` for standard input) into the JetStream stream of `server`, created when
/// missing.
pub fn run(server: &NatsServer, file: &Path, json: bool, out: &mut Output) -> Result<(), CliError> {
    let name = file.display().to_string();
    let spilled = match name.as_str() {
        "-" => Some(spill_stdin()?),
        _ => None,
    };
    let path = spilled.as_ref().map_or(file, |s| s.0.as_path());
    let read = || -> Result<BufReader<File>, CliError> {
        let opened = File::open(path).map_err(|source| CliError::File {
            action: "cannot open",
            path: path.to_path_buf(),
            source,
        })?;
        Ok(BufReader::new(opened))
    };
    let mut survey = Survey::default();
    import::feed(&mut read()?, &name, &mut survey)?;
    let store = &server.for_writing()?;
    let place = server.to_string();
    if store.last_position()? > 0 || !store.streams()?.is_empty() {
        return Err(CliError::Store(StoreError::InvalidArgument(format!(
            "{place} holds records; an import needs an empty store"
        ))));
    }
    let mut waiting = survey.links;
    // The next one last.
    waiting.sort_by_key(|l| std::cmp::Reverse((l.link.linked_at, l.line)));
    let mut batches = Batches {
        store,
        waiting,
        pending: Vec::new(),
        lines: Vec::new(),
        bytes: 0,
        events: 0,
        links: 0,
    };
    import::feed(&mut read()?, &name, &mut batches)?;
    let summary = batches.summary();
    if json {
        out.json(&summary)
    } else {
        out.line(&format!(
            "imported {} event(s) and {} link(s) into {place}",
            summary.events, summary.links
        ))
    }
}
