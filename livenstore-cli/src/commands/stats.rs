//! `stats`: how much the store holds.
//!
//! Events, streams and links come from the store's counts (cheap); the count per event type
//! reads every event once (in pages). A directory also reports its segment files (from the
//! directory listing), the torn tail a read-only open left alone, the holes `repair` left, the
//! damaged records (a damaged store is counted around its damage, with a warning) and the
//! quarantine files; a server's store (PostgreSQL, NATS) has no such files, so those fields are
//! left out.
//!
//! The counts describe one moment, the one the streams were read at: a read-only directory does
//! not change while it is open, and for a store other processes append to (on a server)
//! `counts` works out how many events that moment held; the types are counted over the events up
//! to it (positions become visible in order, so the events of a moment are a prefix of the log).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use livenstore::store::json::list_quarantine;
use livenstore::{EventStore, JsonStore, StreamInfo, Timestamp};
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
    /// the middle of an append, or crashed there; the next writable open moves them to a
    /// quarantine file). Directories only.
    #[serde(skip_serializing_if = "Option::is_none")]
    torn_tail_bytes: Option<u64>,
    /// Lost records kept on record (holes `repair` left). Directories only.
    #[serde(skip_serializing_if = "Option::is_none")]
    holes: Option<u64>,
    /// Damaged records not repaired yet. Directories only.
    #[serde(skip_serializing_if = "Option::is_none")]
    damaged: Option<u64>,
    /// The quarantine files (`segment-*.jsonl.torn-*`, `segment-*.jsonl.damaged-*`) and their
    /// sizes. Directories only.
    #[serde(skip_serializing_if = "Option::is_none")]
    quarantine: Option<BTreeMap<String, u64>>,
    /// Events per type, as the tables name it (`name`, or `name@N` for event version N ≠ 1).
    types: BTreeMap<String, u64>,
}

/// What only a directory has.
#[derive(Default)]
struct DirFacts {
    segments: u64,
    segment_bytes: u64,
    torn_tail_bytes: u64,
    holes: u64,
    /// Lost positions (holes and damage): positions that hold no event.
    lost_positions: u64,
    damaged: u64,
    quarantine: BTreeMap<String, u64>,
}

/// `stats`.
pub fn run(target: &Target, json: bool, out: &mut Output) -> Result<(), CliError> {
    // A damaged directory is counted around its damage (the open warns about it).
    let opened = target.for_reading_with(target.is_dir())?;
    let store = opened.events();
    let facts = match &opened {
        Store::Json { store, dir } => Some(dir_facts(store, dir)?),
        Store::Postgres { .. } | Store::Nats { .. } => None,
    };
    let lost = facts.as_ref().map_or(0, |f| f.lost_positions);
    let (end, streams) = counts(store)?;
    let events = end.saturating_sub(lost);
    let entries: u64 = streams.iter().map(|s| s.event_count).sum();
    let mut types = BTreeMap::new();
    let (mut first, mut last) = (None, None);
    let mut next = 1;
    while next <= end {
        let want = usize::try_from(end - next + 1).map_or(PAGE, |left| left.min(PAGE));
        let page = store.read_all(next, want)?;
        let Some(tail) = page.last() else { break };
        next = tail.position() + 1;
        first = first.or(Some(page[0].recorded_at()));
        last = Some(tail.recorded_at());
        for event in &page {
            *types.entry(super::events::type_label(event)).or_insert(0) += 1;
        }
    }
    let stats = Stats {
        events,
        streams: streams.len() as u64,
        links: entries.saturating_sub(events),
        segments: facts.as_ref().map(|f| f.segments),
        segment_bytes: facts.as_ref().map(|f| f.segment_bytes),
        first_recorded_at: first,
        last_recorded_at: last,
        torn_tail_bytes: facts.as_ref().map(|f| f.torn_tail_bytes),
        holes: facts.as_ref().map(|f| f.holes),
        damaged: facts.as_ref().map(|f| f.damaged),
        quarantine: facts.map(|f| f.quarantine),
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
    if let Some(holes) = stats.holes.filter(|&n| n > 0) {
        table.row(vec!["holes".into(), holes.to_string()]);
    }
    if let Some(damaged) = stats.damaged.filter(|&n| n > 0) {
        table.row(vec!["damaged records".into(), damaged.to_string()]);
    }
    for (file, bytes) in stats.quarantine.iter().flatten() {
        table.row(vec![
            "quarantine file".into(),
            format!("{file} ({bytes} bytes)"),
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

/// The segment files (number and total size, from the listing), the torn tail, holes, damage
/// and quarantine files of a directory.
fn dir_facts(store: &JsonStore, dir: &Path) -> Result<DirFacts, CliError> {
    let io = |source| CliError::File {
        action: "cannot list",
        path: dir.to_path_buf(),
        source,
    };
    let mut facts = DirFacts::default();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("segment-") && name.ends_with(".jsonl") {
            facts.segments += 1;
            facts.segment_bytes += entry.metadata().map_err(io)?.len();
        }
    }
    let report = store.recovery();
    facts.torn_tail_bytes = report.torn_tail.map_or(0, |t| t.bytes);
    facts.damaged = report.damaged.len() as u64;
    for hole in store.holes() {
        facts.holes += u64::from(!hole.damaged);
        facts.lost_positions += u64::from(hole.position.is_some());
    }
    for file in list_quarantine(dir)? {
        let name = file
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        facts
            .quarantine
            .insert(name.unwrap_or_default(), file.bytes);
    }
    Ok(facts)
}
