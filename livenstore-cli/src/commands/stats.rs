//! `stats`: how much the store holds.
//!
//! Events, streams and links come from the store's counts (cheap); the count per event type
//! reads every event once (in pages). A directory also reports its segment files (from the
//! directory listing) and the torn tail a read-only open left alone; a PostgreSQL store has no
//! such files, so those fields are left out.
//!
//! The counts describe one moment, the one the streams were read at: a read-only directory does
//! not change while it is open, and for a store other processes append to (a PostgreSQL server)
//! `counts` works out how many events that moment held; the types are counted over the events up
//! to it (positions become visible in order, so the events of a moment are a prefix of the log).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use livenstore::{EventStore, StreamInfo, Timestamp};
use serde::Serialize;

use super::PAGE;
use crate::error::CliError;
use crate::output::{Align, Output, Table};
use crate::store::{Store, Target};

/// What `stats` reports (`--json` prints it as one object).
#[derive(Serialize)]
struct Stats {
    events: u64,
    streams: u64,
    links: u64,
    /// Directories only.
    #[serde(skip_serializing_if = "Option::is_none")]
    segments: Option<u64>,
    /// Directories only.
    #[serde(skip_serializing_if = "Option::is_none")]
    segment_bytes: Option<u64>,
    first_recorded_at: Option<Timestamp>,
    last_recorded_at: Option<Timestamp>,
    /// Bytes of an unfinished last batch that a read-only open leaves alone (a writer is in
    /// the middle of an append, or crashed there; the next writable open cuts them off).
    /// Directories only.
    #[serde(skip_serializing_if = "Option::is_none")]
    torn_tail_bytes: Option<u64>,
    types: BTreeMap<String, u64>,
}

/// `stats`.
pub fn run(target: &Target, json: bool, out: &mut Output) -> Result<(), CliError> {
    let opened = target.for_reading()?;
    let store = opened.events();
    let (events, streams) = counts(store)?;
    let entries: u64 = streams.iter().map(|s| s.event_count).sum();
    let mut types = BTreeMap::new();
    let (mut first, mut last) = (None, None);
    let mut next = 1;
    while next <= events {
        let want = usize::try_from(events - next + 1).map_or(PAGE, |left| left.min(PAGE));
        let page = store.read_all(next, want)?;
        let Some(end) = page.last() else { break };
        next = end.position() + 1;
        first = first.or(Some(page[0].recorded_at()));
        last = Some(end.recorded_at());
        for event in &page {
            *types.entry(event.event_type().to_owned()).or_insert(0) += 1;
        }
    }
    let (segments, segment_bytes, torn_tail_bytes) = match &opened {
        Store::Json { store, dir } => {
            let (count, bytes) = segment_files(dir)?;
            let torn = store.recovery().torn_tail.map_or(0, |t| t.bytes);
            (Some(count), Some(bytes), Some(torn))
        }
        Store::Postgres { .. } => (None, None, None),
    };
    let stats = Stats {
        events,
        streams: streams.len() as u64,
        links: entries.saturating_sub(events),
        segments,
        segment_bytes,
        first_recorded_at: first,
        last_recorded_at: last,
        torn_tail_bytes,
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
    if let (Some(count), Some(bytes)) = (stats.segments, stats.segment_bytes) {
        table.row(vec!["segments".into(), count.to_string()]);
        table.row(vec!["segment bytes".into(), bytes.to_string()]);
    }
    table.row(vec!["first event".into(), time(stats.first_recorded_at)]);
    table.row(vec!["last event".into(), time(stats.last_recorded_at)]);
    if let Some(torn) = stats.torn_tail_bytes.filter(|&bytes| bytes > 0) {
        table.row(vec!["torn tail bytes".into(), torn.to_string()]);
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

/// The streams, and how many events the store held when they were read, so that the links
/// counted from them (entries of streams less events) are exact even while other processes
/// append. The last position is read before and after the streams; of the events appended in
/// between, those the streams already count are those whose version their stream had reached
/// (version `v` of a stream is one entry only). Links do not move the last position: one made
/// while the streams are read counts as made before.
fn counts(store: &dyn EventStore) -> Result<(u64, Vec<StreamInfo>), CliError> {
    let before = store.last_position()?;
    let streams = store.streams()?;
    let after = store.last_position()?;
    let mut events = before;
    if after > before {
        let versions: HashMap<&str, u64> = streams
            .iter()
            .map(|s| (s.stream.as_str(), s.last_version))
            .collect();
        let mut next = before + 1;
        while next <= after {
            let want = usize::try_from(after - next + 1).map_or(PAGE, |left| left.min(PAGE));
            let page = store.read_all(next, want)?;
            let Some(last) = page.last() else { break };
            next = last.position() + 1;
            let counted = page.iter().filter(|e| {
                versions
                    .get(e.stream())
                    .is_some_and(|&version| version >= e.version())
            });
            events += counted.count() as u64;
        }
    }
    Ok((events, streams))
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
