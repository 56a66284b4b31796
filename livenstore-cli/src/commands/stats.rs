//! `stats`: how much the store holds.
//!
//! Events, streams and links come from the index (cheap); the count per event type reads every
//! event once (in pages), and the segment sizes come from the directory listing.

use std::collections::BTreeMap;
use std::path::Path;

use livenstore::{EventStore, Timestamp};
use serde::Serialize;

use super::PAGE;
use crate::error::CliError;
use crate::open;
use crate::output::{Align, Output, Table};

/// What `stats` reports (`--json` prints it as one object).
#[derive(Serialize)]
struct Stats {
    events: u64,
    streams: u64,
    links: u64,
    segments: u64,
    segment_bytes: u64,
    first_recorded_at: Option<Timestamp>,
    last_recorded_at: Option<Timestamp>,
    /// Bytes of an unfinished last batch that a read-only open leaves alone (a writer is in
    /// the middle of an append, or crashed there; the next writable open cuts them off).
    torn_tail_bytes: u64,
    types: BTreeMap<String, u64>,
}

/// `stats`.
pub fn run(dir: &Path, json: bool, out: &mut Output) -> Result<(), CliError> {
    let store = open::for_reading(dir)?;
    let events = store.last_position()?;
    let streams = store.streams()?;
    let entries: u64 = streams.iter().map(|s| s.event_count).sum();
    let mut types = BTreeMap::new();
    let (mut first, mut last) = (None, None);
    let mut next = 1;
    loop {
        let page = store.read_all(next, PAGE)?;
        let Some(end) = page.last() else { break };
        next = end.position() + 1;
        first = first.or(Some(page[0].recorded_at()));
        last = Some(end.recorded_at());
        for event in &page {
            *types.entry(event.event_type().to_owned()).or_insert(0) += 1;
        }
    }
    let (segments, segment_bytes) = segment_files(dir)?;
    let stats = Stats {
        events,
        streams: streams.len() as u64,
        links: entries.saturating_sub(events),
        segments,
        segment_bytes,
        first_recorded_at: first,
        last_recorded_at: last,
        torn_tail_bytes: store.recovery().torn_tail.map_or(0, |t| t.bytes),
        types,
    };
    if json {
        return out.json(&stats);
    }
    let time = |t: Option<Timestamp>| t.map_or_else(|| "-".to_owned(), |t| t.to_string());
    let mut table = Table::new(&[("", Align::Left), ("", Align::Left)]);
    table.row(vec!["events".into(), stats.events.to_string()]);
    table.row(vec!["streams".into(), stats.streams.to_string()]);
    table.row(vec!["links".into(), stats.links.to_string()]);
    table.row(vec!["segments".into(), stats.segments.to_string()]);
    table.row(vec![
        "segment bytes".into(),
        stats.segment_bytes.to_string(),
    ]);
    table.row(vec!["first event".into(), time(stats.first_recorded_at)]);
    table.row(vec!["last event".into(), time(stats.last_recorded_at)]);
    if stats.torn_tail_bytes > 0 {
        table.row(vec![
            "torn tail bytes".into(),
            stats.torn_tail_bytes.to_string(),
        ]);
    }
    table.write_rows(out)?;
    if !stats.types.is_empty() {
        out.line("")?;
        let mut types = Table::new(&[("TYPE", Align::Left), ("EVENTS", Align::Right)]);
        for (name, count) in &stats.types {
            types.row(vec![name.clone(), count.to_string()]);
        }
        types.write(out)?;
    }
    Ok(())
}

/// Number and total size of the `segment-*.jsonl` files.
fn segment_files(dir: &Path) -> Result<(u64, u64), CliError> {
    let io = |source| CliError::File {
        action: "cannot list",
        path: dir.to_path_buf(),
        source,
    };
    let (mut count, mut bytes) = (0, 0);
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("segment-") && name.ends_with(".jsonl") {
            count += 1;
            bytes += entry.metadata().map_err(io)?.len();
        }
    }
    Ok((count, bytes))
}
