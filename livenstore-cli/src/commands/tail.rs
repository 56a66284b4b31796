//! `tail`: follows the events another process appends.
//!
//! A directory is opened read-only (no lock), so the writer goes on undisturbed. Every
//! `interval` the command refreshes the store ([`Store::refresh`]: for a directory
//! [`JsonStore::refresh`](livenstore::JsonStore::refresh), which scans only the bytes appended
//! since the last scan; a PostgreSQL server shows new events to the next read; a NATS store waits
//! until its replica has every message the server holds) and prints the
//! new events, read from the last position (or stream version) seen on (of one stream with
//! `--stream`, linked ones included). Positions are gap-free and become visible in order in every
//! store, so reading on from the last one seen misses nothing. Output is flushed after each
//! poll, so a pipe sees events as they come. It runs until Ctrl-C (the default signal behaviour
//! ends the process), or until `--max` events were printed or `--timeout` seconds passed.

use std::time::{Duration, Instant};

use livenstore::{EventStore, RecordedEvent, StoreError};

use super::events::event_line;
use super::PAGE;
use crate::error::CliError;
use crate::output::Output;
use crate::store::{Store, Target};

/// What to follow and when to stop.
pub struct Follow {
    /// Only this stream.
    pub stream: Option<String>,
    /// First position (or stream version) to print; default: after the last one at start.
    pub from: Option<u64>,
    /// Time between polls.
    pub interval: Duration,
    /// Stop after this many events.
    pub max: Option<u64>,
    /// Stop after this long.
    pub timeout: Option<Duration>,
}

/// `tail [--stream S] [--from N] [--interval-ms MS] [--max N] [--timeout SECS]`.
pub fn run(target: &Target, follow: &Follow, json: bool, out: &mut Output) -> Result<(), CliError> {
    let opened: Store = target.for_reading()?;
    let store = opened.events();
    let start = Instant::now();
    let mut next = match (&follow.stream, follow.from) {
        (_, Some(from)) => from.max(1),
        (Some(stream), None) => store.stream_version(stream)? + 1,
        (None, None) => store.last_position()? + 1,
    };
    let mut printed = 0u64;
    loop {
        let left = follow.max.map_or(u64::MAX, |max| max - printed);
        if left == 0 {
            return Ok(());
        }
        let count = usize::try_from(left).unwrap_or(usize::MAX).min(PAGE);
        let page = read(store, follow.stream.as_deref(), next, count)?;
        if let Some(last) = page.last() {
            next = match follow.stream {
                Some(_) => last.stream_version() + 1,
                None => last.position() + 1,
            };
        }
        for event in &page {
            if json {
                out.json(event)?;
            } else {
                out.line(&event_line(event))?;
            }
        }
        printed += page.len() as u64;
        out.flush()?;
        if follow.timeout.is_some_and(|t| start.elapsed() >= t) {
            return Ok(());
        }
        if page.len() == count {
            continue; // more may be waiting already
        }
        let nap = match follow.timeout {
            Some(t) => follow.interval.min(t.saturating_sub(start.elapsed())),
            None => follow.interval,
        };
        std::thread::sleep(nap);
        opened.refresh()?;
    }
}

fn read(
    store: &dyn EventStore,
    stream: Option<&str>,
    from: u64,
    count: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    match stream {
        Some(stream) => store.read_stream(stream, from, count),
        None => store.read_all(from, count),
    }
}
