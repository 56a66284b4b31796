//! The command line: `livenstore <DIR> <COMMAND> [OPTIONS]`,
//! `livenstore --postgres <URL> [--schema NAME] <COMMAND> [OPTIONS]` or
//! `livenstore --nats <URL> [--nats-stream NAME] <COMMAND> [OPTIONS]`, parsed by clap.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use livenstore::{EventId, ExpectedVersion};

/// Look inside, check, follow, export and import a livenstore store: a JsonStore directory, a
/// schema on a PostgreSQL server (--postgres) or a JetStream stream on a NATS server (--nats).
///
/// Read commands open a directory read-only, without taking the writer's lock, so they work while
/// an application has it open; `append`, `import` and `repair` take the lock. With --postgres,
/// read commands never create the schema (a missing one is an error); `append` creates it. With
/// --nats, read commands never create the JetStream stream; `append` and `import` create it.
/// `verify` and `repair` work on directories only, `import` on directories and with --nats.
/// `consumers`, `parked` and `snapshots` never create a missing checkpoint, parked-event or
/// snapshot store (a directory's folder, a NATS key-value bucket) to read it.
///
/// Exit status: 0 on success, 1 when the command failed (or `verify` found damage), 2 for a bad
/// command line, 3 when an append's outcome is unknown (the connection to the server was lost
/// while its commit was in flight: read the stream to find out, or run it again with the same
/// --id).
#[derive(Debug, Parser)]
#[command(name = "livenstore", version)]
#[command(group(ArgGroup::new("store").args(["dir", "postgres", "nats"]).required(true)))]
pub struct Cli {
    /// The store directory (a JsonStore). Give one of DIR, --postgres and --nats.
    pub dir: Option<PathBuf>,

    /// Use the store on this PostgreSQL server instead of a directory:
    /// `postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE` or `host=.. user=.. dbname=..`.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,

    /// The schema holding the store's tables on the --postgres server [default: livenstore].
    // `requires = "postgres"` would not refuse `DIR --schema NAME`: clap excuses an argument
    // missing when its group (`store`) is satisfied by another member.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["dir", "nats"],
          value_parser = parse_schema)]
    pub schema: Option<String>,

    /// Use the store in a JetStream stream on this NATS server instead of a directory:
    /// `nats://[USER:PASSWORD@]HOST[:PORT]`, several separated by commas.
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,

    /// The JetStream stream holding the store on the --nats server [default: LIVENSTORE].
    #[arg(long, value_name = "NAME", conflicts_with_all = ["dir", "postgres"],
          value_parser = parse_nats_stream)]
    pub nats_stream: Option<String>,

    /// Print JSON lines (one object per event, stream or report) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the streams: name, event count, last version, last time.
    Streams,

    /// Print the events of one stream in version order (linked events included).
    Stream {
        /// The stream's name.
        name: String,
        /// First version to print.
        #[arg(long, value_name = "V", default_value_t = 1)]
        from: u64,
        /// Print at most this many events.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },

    /// Print one event by its id.
    Event {
        /// The event's id (a 26-character ULID).
        id: EventId,
    },

    /// Print the causal tree of the conversation an event belongs to.
    ///
    /// Every event with its correlation id (metadata `correlation_id`), each under the event its
    /// `causation_id` names (the others are roots), roots and children in position order,
    /// indented two spaces per level: `POSITION  STREAM@VERSION  TYPE  ID`, the event asked
    /// about marked `<- asked`. For an event without a correlation id: the event and the events
    /// whose causation id is its id (a scan of the events stored after it). --json: one object
    /// per event, as `all --json` prints it, with `depth`, `parent` (the parent's id, null for a
    /// root) and `asked`.
    Trace {
        /// The event's id (a 26-character ULID).
        #[arg(value_name = "EVENT_ID")]
        id: EventId,
    },

    /// Print the events of the whole store in global order.
    All {
        /// First global position to print.
        #[arg(long, value_name = "POS", default_value_t = 1)]
        from: u64,
        /// Print only events of this type.
        #[arg(long = "type", value_name = "T")]
        event_type: Option<String>,
        /// Print at most this many events.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },

    /// Follow the events another process appends, one line each, until Ctrl-C.
    ///
    /// Polls the store every --interval-ms milliseconds (a read-only refresh that scans only what
    /// was appended since). --max and --timeout make it stop by itself (for scripts and tests).
    Tail {
        /// Follow only this stream (linked events included).
        #[arg(long, value_name = "S")]
        stream: Option<String>,
        /// Start at this global position (with --stream: at this stream version) instead of
        /// after the last event present at start.
        #[arg(long, value_name = "N")]
        from: Option<u64>,
        /// Milliseconds between two polls.
        #[arg(long, value_name = "MS", default_value_t = 200,
              value_parser = clap::value_parser!(u64).range(1..))]
        interval_ms: u64,
        /// Stop after printing this many events.
        #[arg(long, value_name = "N")]
        max: Option<u64>,
        /// Stop after this many seconds (exit status 0).
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
    },

    /// Count events, streams, links and event types; size of the segment files (directories).
    Stats,

    /// Check every line of every segment; exit status 1 when a record is torn or corrupted.
    /// Also lists the holes and quarantine files `repair` left. Directories only.
    Verify,

    /// Move damaged lines (and a torn tail) out of the log into quarantine files beside their
    /// segment, leaving a hole record for each lost position and stream version, so that the
    /// store opens and verifies again. Intact events keep their ids, positions and versions;
    /// nothing is deleted. Never done automatically. Directories only.
    Repair {
        /// Wait up to this many seconds for another process to release the store's lock.
        #[arg(long, value_name = "SECS", value_parser = parse_wait)]
        wait: Option<Duration>,
    },

    /// Write every event and link of the store as JSON lines, in an order `import` replays.
    Export {
        /// The output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Write to this file instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Export every intact event of a damaged store, listing the damaged records on
        /// standard error (each becomes a hole in the export, so positions and versions stay as
        /// they were). Without it, an export stops at the first damaged record. Directories
        /// only.
        #[arg(long)]
        skip_damaged: bool,
    },

    /// Fill a new or empty store from the output of `export` (`-` reads standard input).
    ///
    /// Everything the file holds is kept: ids, streams, versions, positions, recorded times,
    /// metadata, payloads, links and their times. With --nats, a file with holes is refused
    /// (import it into a directory). Not with --postgres: export a PostgreSQL store and import
    /// it into a directory.
    Import {
        /// The export file.
        file: PathBuf,
        /// Wait up to this many seconds for another process to release the store's lock.
        #[arg(long, value_name = "SECS", value_parser = parse_wait)]
        wait: Option<Duration>,
    },

    /// Append one event (for scripts). Creates the store when DIR (or the --schema, or the
    /// --nats-stream) does not exist.
    Append(AppendArgs),

    /// List the consumers (name, checkpoint position, lag behind the store's head, parked
    /// events), or reset or delete one's checkpoint. Stop a consumer before resetting it: a
    /// running one saves its own position over the reset.
    Consumers {
        /// What to do; listing when absent.
        #[command(subcommand)]
        action: Option<ConsumersAction>,
    },

    /// List the events consumers parked after their last failed attempt, or ask a consumer to
    /// re-deliver them, or drop them.
    Parked {
        /// List the parked events of this consumer only.
        #[arg(long, value_name = "NAME")]
        consumer: Option<String>,
        /// What to do; listing when absent.
        #[command(subcommand)]
        action: Option<ParkedAction>,
    },

    /// List the aggregate snapshots (type, id, version, size, fingerprint, snapshot version,
    /// time, and whether each was taken by the same code as the newest of its type), or delete
    /// those of one type.
    Snapshots {
        /// List the snapshots of this aggregate type only.
        #[arg(long = "type", value_name = "TYPE", conflicts_with = "delete")]
        aggregate_type: Option<String>,
        /// Delete every snapshot of this aggregate type (loads then replay whole streams until
        /// new snapshots are taken).
        #[arg(long, value_name = "TYPE")]
        delete: Option<String>,
        /// With --delete: wait up to this many seconds for another process to release the
        /// store's lock (directories).
        #[arg(long, value_name = "SECS", value_parser = parse_wait, requires = "delete")]
        wait: Option<Duration>,
    },
}

/// `consumers reset` and `consumers delete`.
#[derive(Debug, Subcommand)]
pub enum ConsumersAction {
    /// Set a consumer's checkpoint to position N (0, the default, rebuilds from the beginning):
    /// it handles the events after N when it next starts.
    Reset {
        /// The consumer.
        name: String,
        /// The position it resumes after.
        #[arg(long, value_name = "N", default_value_t = 0)]
        to: u64,
    },
    /// Delete a consumer's checkpoint.
    Delete {
        /// The consumer.
        name: String,
    },
}

/// `parked replay` and `parked drop`.
#[derive(Debug, Subcommand)]
pub enum ParkedAction {
    /// Ask a consumer to re-deliver its parked events, in position order (it does when it has
    /// caught up with the store; a stopped one when it next starts and catches up).
    Replay {
        /// The consumer.
        name: String,
    },
    /// Drop a consumer's parked events (all, or one with --id).
    Drop {
        /// The consumer.
        name: String,
        /// Only the event with this id.
        #[arg(long, value_name = "ULID")]
        id: Option<EventId>,
    },
}

/// The arguments of `append`: the event to append and the version condition.
#[derive(Debug, Args)]
pub struct AppendArgs {
    /// The stream to append to.
    pub stream: String,
    /// The event type.
    #[arg(value_name = "TYPE")]
    pub event_type: String,
    /// The payload: one JSON value; `-` reads it from standard input, `@FILE` from a file.
    #[arg(value_name = "JSON")]
    pub payload: String,
    /// The version of the event type's payload (`#[event(version = N)]` in the code that reads
    /// it).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub event_version: u32,
    /// The version the stream must be at: `any`, `no-stream`, `exists` or a number.
    #[arg(long, value_name = "VERSION", default_value = "any", value_parser = parse_expected)]
    pub expect: ExpectedVersion,
    /// The event's id (a ULID), for idempotent retries; a new one by default.
    #[arg(long, value_name = "ULID")]
    pub id: Option<EventId>,
    /// A metadata entry (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = parse_meta)]
    pub meta: Vec<(String, String)>,
    /// Wait up to this many seconds for another process to release the store's lock instead of
    /// failing at once (directories; a server's store has no such lock).
    #[arg(long, value_name = "SECS", value_parser = parse_wait)]
    pub wait: Option<Duration>,
}

/// Formats `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per line: events as `all --json` prints them, links as
    /// `{"link":{"id":..,"stream":..,"version":..,"linked_at":..}}`.
    Jsonl,
}

fn parse_expected(text: &str) -> Result<ExpectedVersion, String> {
    match text {
        "any" => Ok(ExpectedVersion::Any),
        "no-stream" => Ok(ExpectedVersion::NoStream),
        "exists" => Ok(ExpectedVersion::StreamExists),
        number => number.parse().map(ExpectedVersion::Exact).map_err(|_| {
            format!("`{number}` is not `any`, `no-stream`, `exists` or a version number")
        }),
    }
}

fn parse_schema(text: &str) -> Result<String, String> {
    match livenstore_postgres::validate_schema_name(text) {
        Ok(()) => Ok(text.to_owned()),
        Err(livenstore::StoreError::InvalidArgument(reason)) => Err(reason),
        Err(other) => Err(other.to_string()),
    }
}

fn parse_nats_stream(text: &str) -> Result<String, String> {
    match livenstore_nats::JetStreamConfig::new().stream(text) {
        Ok(_) => Ok(text.to_owned()),
        Err(livenstore::StoreError::InvalidArgument(reason)) => Err(reason),
        Err(other) => Err(other.to_string()),
    }
}

fn parse_wait(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("`{text}` is not a number of seconds"))
}

fn parse_meta(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_versions_parse() {
        assert_eq!(parse_expected("any"), Ok(ExpectedVersion::Any));
        assert_eq!(parse_expected("no-stream"), Ok(ExpectedVersion::NoStream));
        assert_eq!(parse_expected("exists"), Ok(ExpectedVersion::StreamExists));
        assert_eq!(parse_expected("7"), Ok(ExpectedVersion::Exact(7)));
        assert!(parse_expected("-1").is_err());
        assert!(parse_expected("seven").is_err());
    }

    #[test]
    fn metadata_entries_parse() {
        assert_eq!(parse_meta("k=v=w"), Ok(("k".into(), "v=w".into())));
        assert_eq!(parse_meta("k="), Ok(("k".into(), String::new())));
        assert!(parse_meta("=v").is_err());
        assert!(parse_meta("kv").is_err());
    }

    #[test]
    fn waits_are_seconds() {
        assert_eq!(parse_wait("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_wait("0.25"), Ok(Duration::from_millis(250)));
        for bad in ["-1", "soon", "NaN", "inf", ""] {
            assert!(parse_wait(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn schema_names_are_checked() {
        assert_eq!(parse_schema("billing_2"), Ok("billing_2".to_owned()));
        let refused = parse_schema("Bad-Name").unwrap_err();
        assert!(refused.contains("invalid schema name"), "{refused}");
    }

    #[test]
    fn nats_stream_names_are_checked() {
        assert_eq!(parse_nats_stream("BANK_2"), Ok("BANK_2".to_owned()));
        let refused = parse_nats_stream("a.b").unwrap_err();
        assert!(refused.contains("JetStream stream name"), "{refused}");
        // The help of --nats-stream names the default.
        assert_eq!(livenstore_nats::DEFAULT_STREAM, "LIVENSTORE");
    }

    #[test]
    fn exactly_one_store_is_named() {
        let parse =
            |args: &[&str]| Cli::try_parse_from(args).map(|cli| (cli.dir, cli.postgres, cli.nats));
        let (dir, pg, nats) = parse(&["livenstore", "data/x", "streams"]).unwrap();
        assert_eq!((dir, pg, nats), (Some(PathBuf::from("data/x")), None, None));
        let (dir, pg, nats) = parse(&["livenstore", "--postgres", "host=h", "all"]).unwrap();
        assert_eq!((dir, pg.as_deref(), nats), (None, Some("host=h"), None));
        let (dir, pg, nats) = parse(&["livenstore", "--nats", "nats://h", "all"]).unwrap();
        assert_eq!((dir, pg, nats.as_deref()), (None, None, Some("nats://h")));
        for bad in [
            &["livenstore", "streams"][..],
            &["livenstore", "--postgres", "host=h", "data/x", "streams"],
            &["livenstore", "data/x", "--schema", "s", "streams"],
            &["livenstore", "--nats", "nats://h", "data/x", "streams"],
            &[
                "livenstore",
                "--nats",
                "nats://h",
                "--postgres",
                "host=h",
                "streams",
            ],
            &[
                "livenstore",
                "--nats",
                "nats://h",
                "--schema",
                "s",
                "streams",
            ],
            &[
                "livenstore",
                "--postgres",
                "host=h",
                "--nats-stream",
                "S",
                "streams",
            ],
            &["livenstore", "data/x", "--nats-stream", "S", "streams"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
