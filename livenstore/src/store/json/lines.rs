//! The lines of a survey (`survey.rs`): what each line of a segment was found to be, with the
//! stream and type names interned.

use std::collections::HashMap;

use super::format::HoleRecord;
use super::salvage::Salvage;

/// The fields of an intact event line.
#[derive(Debug, Clone)]
pub(crate) struct EventFields {
    pub position: u64,
    pub id: u128,
    pub stream: u32,
    pub version: u64,
    pub event_type: u32,
    pub event_version: u32,
    pub recorded_at: u64,
    pub batch: (u32, u32),
    /// The correlation id of its metadata, if any.
    pub correlation_id: Option<Box<str>>,
}

/// The fields of an intact link line.
#[derive(Debug, Clone)]
pub(crate) struct LinkFields {
    pub id: u128,
    pub stream: u32,
    pub version: u64,
    pub linked_at: u64,
}

/// A line that is not (or no longer) counted as a record.
#[derive(Debug, Clone)]
pub(crate) struct Damaged {
    pub reason: String,
    pub salvage: Salvage,
    /// What an interrupted append leaves: a line cut short, or unwritten blocks.
    pub torn_like: bool,
}

/// What a line is.
#[derive(Debug, Clone)]
pub(crate) enum LineKind {
    Event(EventFields),
    Link(LinkFields),
    Hole(Box<HoleRecord>),
    Damaged(Box<Damaged>),
}

/// One line of a segment.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    /// Index into [`Survey::segments`].
    pub segment: usize,
    /// 1-based line number in the segment.
    pub number: u64,
    pub offset: u64,
    /// Bytes, with the newline.
    pub len: u64,
    pub kind: LineKind,
}

impl Line {
    /// The damage, for a damaged line.
    pub fn damaged(&self) -> Option<&Damaged> {
        match &self.kind {
            LineKind::Damaged(d) => Some(d),
            _ => None,
        }
    }
}

/// Interned names: streams and types are numbered in the order met.
#[derive(Debug, Default)]
pub(crate) struct Names {
    pub names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Names {
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }
}
