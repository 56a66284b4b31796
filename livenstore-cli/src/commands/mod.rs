//! One module per command group; [`run`] dispatches.

mod append;
mod consumers;
mod events;
mod export;
pub(crate) mod import;
mod nats_import;
mod repair;
mod snapshots;
mod stats;
mod streams;
mod tail;
mod trace;
mod verify;

use crate::args::{Cli, Command};
use crate::error::CliError;
use crate::output::Output;
use crate::store::{Named, Target};

/// How many events a command reads at a time, so a large store is never held in memory whole
/// (tables keep their rendered rows, `--json` output streams).
pub const PAGE: usize = 1000;

/// Runs the command, writing its results to standard output.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let target = Target::new(Named {
        dir: cli.dir,
        postgres: cli.postgres,
        schema: cli
            .schema
            .unwrap_or_else(|| livenstore_postgres::DEFAULT_SCHEMA.to_owned()),
        nats: cli.nats,
        nats_stream: cli
            .nats_stream
            .unwrap_or_else(|| livenstore_nats::DEFAULT_STREAM.to_owned()),
    })?;
    let mut out = Output::stdout();
    let (store, json) = (&target, cli.json);
    let result = match cli.command {
        Command::Streams => streams::run(store, json, &mut out),
        Command::Stream { name, from, limit } => {
            events::stream(store, &name, from, limit, json, &mut out)
        }
        Command::Event { id } => events::event(store, id, json, &mut out),
        Command::Trace { id } => trace::run(store, id, json, &mut out),
        Command::All {
            from,
            event_type,
            limit,
        } => events::all(store, from, event_type.as_deref(), limit, json, &mut out),
        Command::Tail {
            stream,
            from,
            interval_ms,
            max,
            timeout,
        } => {
            let follow = tail::Follow {
                stream,
                from,
                interval: std::time::Duration::from_millis(interval_ms),
                max,
                timeout: timeout.map(std::time::Duration::from_secs),
            };
            tail::run(store, &follow, json, &mut out)
        }
        Command::Stats => stats::run(store, json, &mut out),
        Command::Verify => {
            let dir = store.dir_only("verify", verify::NOT_FOR_SERVERS)?;
            verify::run(dir, json, &mut out)
        }
        Command::Repair { wait } => {
            let dir = store.dir_only("repair", repair::NOT_FOR_SERVERS)?;
            repair::run(dir, wait, json, &mut out)
        }
        Command::Export {
            format,
            output,
            skip_damaged,
        } => export::run(
            store,
            format,
            output.as_deref(),
            skip_damaged,
            json,
            &mut out,
        ),
        Command::Import { file, wait } => match store {
            Target::Nats(server) => nats_import::run(server, &file, json, &mut out),
            Target::Dir(_) | Target::Postgres(_) => {
                let dir = store.dir_only("import", import::NOT_FOR_POSTGRES)?;
                import::run(dir, &file, wait, json, &mut out)
            }
        },
        Command::Append(args) => append::run(store, args, json, &mut out),
        Command::Consumers { action } => consumers::consumers(store, action, json, &mut out),
        Command::Parked { consumer, action } => {
            consumers::parked(store, consumer.as_deref(), action, json, &mut out)
        }
        Command::Snapshots {
            aggregate_type,
            delete,
            wait,
        } => match delete {
            Some(t) => snapshots::delete(store, &t, wait, json, &mut out),
            None => snapshots::list(store, aggregate_type.as_deref(), json, &mut out),
        },
    };
    // What was printed before a failure still reaches the reader.
    let flushed = out.flush();
    result.and(flushed)
}
