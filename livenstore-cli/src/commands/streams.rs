//! `streams`: every stream with its event count, last version and last time.

use livenstore::{StreamInfo, Timestamp};
use serde::Serialize;

use crate::error::CliError;
use crate::output::{Align, Output, Table};
use crate::store::Target;

/// One stream, as `--json` prints it.
#[derive(Serialize)]
struct StreamLine<'a> {
    stream: &'a str,
    event_count: u64,
    first_version: u64,
    last_version: u64,
    first_recorded_at: Timestamp,
    last_recorded_at: Timestamp,
}

impl<'a> From<&'a StreamInfo> for StreamLine<'a> {
    fn from(info: &'a StreamInfo) -> Self {
        StreamLine {
            stream: &info.stream,
            event_count: info.event_count,
            first_version: info.first_version,
            last_version: info.last_version,
            first_recorded_at: info.first_recorded_at,
            last_recorded_at: info.last_recorded_at,
        }
    }
}

/// `streams`.
pub fn run(target: &Target, json: bool, out: &mut Output) -> Result<(), CliError> {
    let streams = target.for_reading()?.events().streams()?;
    if json {
        for info in &streams {
            out.json(&StreamLine::from(info))?;
        }
        return Ok(());
    }
    let mut table = Table::new(&[
        ("STREAM", Align::Left),
        ("EVENTS", Align::Right),
        ("LAST VERSION", Align::Right),
        ("LAST TIME", Align::Left),
    ]);
    for info in streams {
        table.row(vec![
            info.stream,
            info.event_count.to_string(),
            info.last_version.to_string(),
            info.last_recorded_at.to_string(),
        ]);
    }
    table.write(out)
}
