//! Step 5 of a survey: which lost positions and stream versions the damaged lines held.
//!
//! The intact records are the truth (their checksums vouch for them). Between two of them, the
//! global positions and each stream's versions they skip were held by the damaged lines in
//! between, so those are given out in order:
//! - Positions: between intact records at positions `a` and `b`, positions `a+1..b` go to the
//!   damaged lines in between that may have held an event (not a link), in line order, those
//!   whose own salvaged position lies in the range first when there are more lines than
//!   positions. More positions than lines (a newline flipped, two lines run together) go to the
//!   last of them; with no damaged line at all they are *orphans*, gaps no line explains.
//! - Versions: the same per stream, between two intact entries of the stream, among the damaged
//!   lines whose salvaged stream is that stream (first) or unreadable.
//! - After the last intact record: damaged lines that may hold an event take the next positions
//!   (a lost position is never given out again); a damaged line whose salvaged stream and
//!   version continue its stream takes that version.
//!
//! Invariant: positions and each stream's versions given out ascend along the lines, so gaps
//! can be pushed into an [`Index`](super::index::Index) in line order.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use super::lines::{Line, LineKind, Names};

/// A lost position and/or stream version, and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SurveyGap {
    /// The line it replaces (a damaged line: `cause`) or goes before (an orphan).
    pub line: usize,
    pub position: Option<u64>,
    pub stream: Option<u32>,
    pub version: Option<u64>,
    /// The lost event's id, when its damaged line still shows it.
    pub id: Option<u128>,
    /// The damaged line that held it; `None` for an orphan.
    pub cause: Option<usize>,
}

impl SurveyGap {
    /// Why an orphan is a gap.
    pub fn orphan_reason(&self) -> String {
        match (self.position, self.version) {
            (Some(p), _) => format!("position {p} is missing from the log (no line holds it)"),
            (None, Some(v)) => {
                format!("stream version {v} is missing from the log (no line holds it)")
            }
            (None, None) => "a record is missing from the log".to_owned(),
        }
    }
}

/// The most records one damaged line can explain: a line of `len` bytes holds at most one record
/// per 64 bytes (lines run together when a newline is damaged), and a few lines may have been
/// removed whole.
fn capacity(lines: &[Line], cands: &[usize]) -> u64 {
    16 + cands.iter().map(|&c| lines[c].len / 64 + 1).sum::<u64>()
}

/// Gives out the lost positions and versions (see the module docs). Errors name the line whose
/// jump no damage can explain.
pub(crate) fn resolve(
    lines: &[Line],
    streams: &mut Names,
) -> Result<Vec<SurveyGap>, (usize, String)> {
    let mut given = Given::default();
    positions(lines, &mut given)?;
    versions(lines, streams, &mut given)?;
    Ok(given.into_gaps(lines))
}

/// What was given out so far.
#[derive(Default)]
struct Given {
    positions: HashMap<usize, Vec<u64>>,
    slots: HashMap<usize, Vec<(u32, u64)>>,
    orphan_positions: Vec<(usize, u64)>,
    orphan_slots: Vec<(usize, u32, u64)>,
}

impl Given {
    fn into_gaps(mut self, lines: &[Line]) -> Vec<SurveyGap> {
        let mut orphan_positions: HashMap<usize, Vec<u64>> = HashMap::new();
        for (line, p) in self.orphan_positions {
            orphan_positions.entry(line).or_default().push(p);
        }
        let mut orphan_slots: HashMap<usize, Vec<(u32, u64)>> = HashMap::new();
        for (line, s, v) in self.orphan_slots {
            orphan_slots.entry(line).or_default().push((s, v));
        }
        let mut gaps = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let orphan = |position, slot: Option<(u32, u64)>| SurveyGap {
                line: i,
                position,
                stream: slot.map(|(s, _)| s),
                version: slot.map(|(_, v)| v),
                id: None,
                cause: None,
            };
            for p in orphan_positions.remove(&i).unwrap_or_default() {
                gaps.push(orphan(Some(p), None));
            }
            for slot in orphan_slots.remove(&i).unwrap_or_default() {
                gaps.push(orphan(None, Some(slot)));
            }
            let Some(damaged) = line.damaged() else {
                continue;
            };
            let positions = self.positions.remove(&i).unwrap_or_default();
            let slots = self.slots.remove(&i).unwrap_or_default();
            for k in 0..positions.len().max(slots.len()) {
                let slot = slots.get(k).copied();
                gaps.push(SurveyGap {
                    line: i,
                    position: positions.get(k).copied(),
                    stream: slot.map(|(s, _)| s),
                    version: slot.map(|(_, v)| v),
                    id: (k == 0)
                        .then(|| damaged.salvage.id.map(|id| id.to_u128()))
                        .flatten(),
                    cause: Some(i),
                });
            }
        }
        gaps
    }
}

/// Chooses which of `cands` (in order of preference) take the values of `range`: all of them
/// when they are no more than the values, else those whose salvaged value is in the range
/// first, then the others in their order; returned in line order.
fn choose(
    mut cands: Vec<usize>,
    range: &Range<u64>,
    salvaged: impl Fn(usize) -> Option<u64>,
) -> Vec<usize> {
    let wanted = range.end - range.start;
    if cands.len() as u64 <= wanted {
        cands.sort_unstable();
        return cands;
    }
    let mut chosen: Vec<usize> = cands
        .iter()
        .copied()
        .filter(|&c| salvaged(c).is_some_and(|v| range.contains(&v)))
        .take(wanted as usize)
        .collect();
    for &c in &cands {
        if chosen.len() as u64 >= wanted {
            break;
        }
        if !chosen.contains(&c) {
            chosen.push(c);
        }
    }
    chosen.sort_unstable();
    chosen
}

fn positions(lines: &[Line], given: &mut Given) -> Result<(), (usize, String)> {
    let mut expected = 1u64;
    let mut cands: Vec<usize> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let position = match &line.kind {
            LineKind::Event(e) => e.position,
            LineKind::Hole(h) => match h.position {
                Some(p) => p,
                None => continue,
            },
            LineKind::Damaged(_) => {
                cands.push(i);
                continue;
            }
            LineKind::Link(_) => continue,
        };
        let range = expected..position;
        if range.end - range.start > capacity(lines, &cands) {
            return Err((
                i,
                format!(
                    "position {position} follows position {} with more records missing than \
                     the damaged lines before it can have held",
                    expected - 1
                ),
            ));
        }
        let all = std::mem::take(&mut cands);
        let eligible = all
            .iter()
            .copied()
            .filter(|&c| {
                lines[c]
                    .damaged()
                    .is_some_and(|d| d.salvage.may_hold_position())
            })
            .collect::<Vec<_>>();
        // With no line that may hold an event, the last damaged line takes them all.
        let fallback = eligible.last().or(all.last()).copied();
        let chosen = choose(eligible, &range, |c| {
            lines[c].damaged().and_then(|d| d.salvage.position)
        });
        let mut values = range.clone();
        for &c in &chosen {
            if let Some(p) = values.next() {
                given.positions.entry(c).or_default().push(p);
            }
        }
        match chosen.last().copied().or(fallback) {
            Some(last) => given.positions.entry(last).or_default().extend(values),
            None => given.orphan_positions.extend(values.map(|p| (i, p))),
        }
        expected = position + 1;
    }
    for c in cands {
        if lines[c]
            .damaged()
            .is_some_and(|d| d.salvage.may_hold_position())
        {
            given.positions.entry(c).or_default().push(expected);
            expected += 1;
        }
    }
    Ok(())
}

fn versions(lines: &[Line], streams: &mut Names, given: &mut Given) -> Result<(), (usize, String)> {
    let damaged: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].damaged().is_some())
        .collect();
    let mut last: HashMap<u32, (u64, Option<usize>)> = HashMap::new();
    let mut taken: HashSet<usize> = HashSet::new();
    for (i, line) in lines.iter().enumerate() {
        let (stream, version) = match &line.kind {
            LineKind::Event(e) => (e.stream, e.version),
            LineKind::Link(l) => (l.stream, l.version),
            LineKind::Hole(h) => match (h.stream.as_deref(), h.version) {
                (Some(name), Some(v)) => (streams.intern(name), v),
                _ => continue,
            },
            LineKind::Damaged(_) => continue,
        };
        let (before, since) = last.get(&stream).copied().unwrap_or((0, None));
        let range = before + 1..version;
        if range.end > range.start {
            let from = since.map_or(0, |l| l + 1);
            let between = &damaged
                [damaged.partition_point(|&d| d < from)..damaged.partition_point(|&d| d < i)];
            let name = streams.names[stream as usize].as_str();
            // Lines that name this stream first, then those whose stream is unreadable, then
            // those naming another (the name itself may be what was damaged).
            let tier = |c: &usize| match lines[*c]
                .damaged()
                .and_then(|d| d.salvage.stream.as_deref())
            {
                Some(salvaged) if salvaged == name => 0,
                None => 1,
                Some(_) => 2,
            };
            let mut cands: Vec<usize> = Vec::new();
            for wanted in 0..3 {
                cands.extend(
                    between
                        .iter()
                        .copied()
                        .filter(|c| !taken.contains(c) && tier(c) == wanted),
                );
            }
            if range.end - range.start > capacity(lines, &cands) {
                return Err((
                    i,
                    format!(
                        "stream version {version} follows version {before} with more records \
                         missing than the damaged lines before it can have held"
                    ),
                ));
            }
            let chosen = choose(cands, &range, |c| {
                lines[c].damaged().and_then(|d| d.salvage.version)
            });
            let mut values = range.clone();
            for &c in &chosen {
                if let Some(v) = values.next() {
                    given.slots.entry(c).or_default().push((stream, v));
                    taken.insert(c);
                }
            }
            match chosen.last() {
                Some(&c) => given
                    .slots
                    .entry(c)
                    .or_default()
                    .extend(values.map(|v| (stream, v))),
                None => given.orphan_slots.extend(values.map(|v| (i, stream, v))),
            }
        }
        last.insert(stream, (version, Some(i)));
    }
    // After each stream's last intact entry: damaged lines that continue it.
    for c in damaged {
        let Some(d) = lines[c].damaged() else {
            continue;
        };
        let (Some(name), Some(version)) = (d.salvage.stream.as_deref(), d.salvage.version) else {
            continue;
        };
        if taken.contains(&c) {
            continue;
        }
        let stream = streams.intern(name);
        let (before, since) = last.get(&stream).copied().unwrap_or((0, None));
        if version == before + 1 && since.is_none_or(|l| l < c) {
            given.slots.entry(c).or_default().push((stream, version));
            taken.insert(c);
            last.insert(stream, (version, Some(c)));
        }
    }
    Ok(())
}
