//! `stream`, `event` and `all`: reading events, as a table or as JSON lines.

use livenstore::{EventId, EventStore, RecordedEvent, StoreError};

use super::PAGE;
use crate::error::CliError;
use crate::output::{shorten, Align, Output, Table, PAYLOAD_COLUMN_CHARS};
use crate::store::Target;

/// `stream NAME [--from V] [--limit N]`.
pub fn stream(
    target: &Target,
    name: &str,
    from: u64,
    limit: Option<usize>,
    json: bool,
    out: &mut Output,
) -> Result<(), CliError> {
    let opened = target.for_reading()?;
    let store = opened.events();
    if store.stream_info(name)?.is_none() {
        return Err(CliError::NoSuchStream {
            name: name.to_owned(),
            place: opened.place(),
        });
    }
    let mut printer = EventPrinter::new(json, true);
    let mut next = from.max(1);
    let mut left = limit.unwrap_or(usize::MAX);
    while left > 0 {
        let page = store.read_stream(name, next, left.min(PAGE))?;
        let Some(last) = page.last() else { break };
        next = last.stream_version() + 1;
        left -= page.len();
        printer.print(&page, out)?;
    }
    printer.finish(out)
}

/// `event ID`.
pub fn event(target: &Target, id: EventId, json: bool, out: &mut Output) -> Result<(), CliError> {
    let event = target.for_reading()?.events().read(id)?;
    if json {
        return out.json(&event);
    }
    let metadata = serde_json::to_string(event.metadata()).unwrap_or_default();
    let fields = [
        ("id", event.id().to_string()),
        ("type", type_label(&event)),
        ("stream", event.stream().to_owned()),
        ("version", event.version().to_string()),
        ("position", event.position().to_string()),
        ("recorded at", event.recorded_at().to_string()),
        ("metadata", metadata),
    ];
    for (name, value) in fields {
        out.line(&format!("{:<12} {value}", format!("{name}:")))?;
    }
    out.line("payload:")?;
    let pretty = event
        .payload()
        .to_value()
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| event.payload().as_str().to_owned());
    out.line(&pretty)
}

/// `all [--from POS] [--type T] [--limit N]`.
pub fn all(
    target: &Target,
    from: u64,
    event_type: Option<&str>,
    limit: Option<usize>,
    json: bool,
    out: &mut Output,
) -> Result<(), CliError> {
    let opened = target.for_reading()?;
    let store = opened.events();
    let mut printer = EventPrinter::new(json, false);
    let mut next = from.max(1);
    let mut left = limit.unwrap_or(usize::MAX);
    while left > 0 {
        let page = read_page(store, event_type, next, left.min(PAGE))?;
        let Some(last) = page.last() else { break };
        next = last.position() + 1;
        left -= page.len();
        printer.print(&page, out)?;
    }
    printer.finish(out)
}

fn read_page(
    store: &dyn EventStore,
    event_type: Option<&str>,
    from: u64,
    count: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    match event_type {
        Some(t) => store.read_by_type(t, from, count),
        None => store.read_all(from, count),
    }
}

/// The event's type as the tables print it: its name, with `@N` when its event version is not 1
/// (`account.credited@2`).
pub fn type_label(event: &RecordedEvent) -> String {
    match event.event_version() {
        1 => event.event_type().to_owned(),
        version => format!("{}@{version}", event.event_type()),
    }
}

/// One line per event, for output that cannot wait for a whole table (`tail`).
pub fn event_line(event: &RecordedEvent) -> String {
    let linked = event
        .link()
        .map(|l| format!(" (linked into {} v{})", l.stream, l.version))
        .unwrap_or_default();
    format!(
        "{}  {} v{}{linked}  {}  {}  {}  {}",
        event.position(),
        event.stream(),
        event.version(),
        type_label(event),
        event.recorded_at(),
        event.id(),
        shorten(event.payload().as_str(), PAYLOAD_COLUMN_CHARS),
    )
}

/// Prints pages of events: JSON lines at once, or rows of a table printed at the end.
struct EventPrinter {
    json: bool,
    /// Events of one stream: the version column comes first, and linked events say where
    /// they come from.
    one_stream: bool,
    /// Rendered cells (payload cut), and for a linked event where it comes from; the events
    /// themselves are not kept, so memory stays small.
    rows: Vec<(Vec<String>, Option<String>)>,
}

impl EventPrinter {
    fn new(json: bool, one_stream: bool) -> Self {
        EventPrinter {
            json,
            one_stream,
            rows: Vec::new(),
        }
    }

    fn print(&mut self, page: &[RecordedEvent], out: &mut Output) -> Result<(), CliError> {
        if self.json {
            for event in page {
                out.json(event)?;
            }
            return Ok(());
        }
        for e in page {
            let mut cells = if self.one_stream {
                vec![e.stream_version().to_string(), e.position().to_string()]
            } else {
                vec![
                    e.position().to_string(),
                    e.stream().to_owned(),
                    e.version().to_string(),
                ]
            };
            cells.extend([
                type_label(e),
                e.recorded_at().to_string(),
                e.id().to_string(),
                shorten(e.payload().as_str(), PAYLOAD_COLUMN_CHARS),
            ]);
            let source = e.link().map(|_| format!("{} v{}", e.stream(), e.version()));
            self.rows.push((cells, source));
        }
        Ok(())
    }

    fn finish(self, out: &mut Output) -> Result<(), CliError> {
        if self.json {
            return Ok(());
        }
        let linked = self.rows.iter().any(|(_, source)| source.is_some());
        let mut columns = if self.one_stream {
            vec![("VERSION", Align::Right), ("POSITION", Align::Right)]
        } else {
            vec![
                ("POSITION", Align::Right),
                ("STREAM", Align::Left),
                ("VERSION", Align::Right),
            ]
        };
        let lead = columns.len();
        if linked {
            columns.push(("LINKED FROM", Align::Left));
        }
        columns.extend([
            ("TYPE", Align::Left),
            ("RECORDED AT", Align::Left),
            ("ID", Align::Left),
            ("PAYLOAD", Align::Left),
        ]);
        let mut table = Table::new(&columns);
        for (mut cells, source) in self.rows {
            if linked {
                cells.insert(lead, source.unwrap_or_else(|| "-".to_owned()));
            }
            table.row(cells);
        }
        table.write(out)
    }
}
