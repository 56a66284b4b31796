//! The bank account as an HTTP service (axum): commands through the async repository, the
//! account's state and events as JSON, and every event live as server-sent events.
//!
//! ```text
//! cargo run --example bank_service -- data/bank                       # a JSON store directory
//! cargo run --example bank_service -- --postgres postgresql://postgres@127.0.0.1:5432/test
//! cargo run --example bank_service -- --nats nats://127.0.0.1:4222 --stream BANK
//! cargo run --example bank_service -- data/bank --listen 127.0.0.1:8080
//! ```
//!
//! It prints the address it listens on and serves until Ctrl-C. Routes, bodies and error
//! statuses: `service/api.rs` and `service/error.rs`; the README's "Async and web services"
//! has a curl session.
#![forbid(unsafe_code)]

mod service;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use livenstore_nats::{JetStreamConfig, JetStreamStore};
use livenstore_postgres::{PostgresConfig, PostgresStore};
use service::Backend;

const USAGE: &str = "usage: bank_service DIR [--listen ADDR]
       bank_service --postgres URL [--schema NAME] [--listen ADDR]
       bank_service --nats URL [--stream NAME] [--listen ADDR]

  DIR             a JSON store directory (created if missing)
  --postgres URL  a PostgreSQL store instead (tables created in the schema on first use)
  --schema NAME   the PostgreSQL schema (default: livenstore)
  --nats URL      a NATS JetStream store instead (the stream created on first use)
  --stream NAME   the JetStream stream (default: LIVENSTORE)
  --listen ADDR   the address to listen on (default: 127.0.0.1:3000; port 0 picks one)";

/// Where the events are kept.
#[derive(Debug)]
enum StoreArg {
    /// A JSON store directory.
    Dir(String),
    /// A PostgreSQL server, and the schema when not the default.
    Postgres { url: String, schema: Option<String> },
    /// A NATS server, and the JetStream stream when not the default.
    Nats { url: String, stream: Option<String> },
}

/// The command line.
#[derive(Debug)]
struct Args {
    store: StoreArg,
    listen: SocketAddr,
}

/// Parses the arguments after the program's name (`Err("")` for `--help`).
fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut dir, mut url, mut schema) = (None, None, None);
    let (mut nats, mut stream) = (None, None);
    let mut listen = SocketAddr::from(([127, 0, 0, 1], 3000));
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--postgres" => url = Some(value("--postgres")?),
            "--schema" => schema = Some(value("--schema")?),
            "--nats" => nats = Some(value("--nats")?),
            "--stream" => stream = Some(value("--stream")?),
            "--listen" => {
                let addr = value("--listen")?;
                listen = addr
                    .parse()
                    .map_err(|err| format!("--listen {addr}: {err} (e.g. 127.0.0.1:3000)"))?;
            }
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            path if dir.is_none() => dir = Some(path.to_owned()),
            extra => return Err(format!("unexpected argument {extra}")),
        }
    }
    if schema.is_some() && url.is_none() {
        return Err("--schema needs --postgres".into());
    }
    if stream.is_some() && nats.is_none() {
        return Err("--stream needs --nats".into());
    }
    let store = match (dir, url, nats) {
        (Some(dir), None, None) => StoreArg::Dir(dir),
        (None, Some(url), None) => StoreArg::Postgres { url, schema },
        (None, None, Some(url)) => StoreArg::Nats { url, stream },
        (None, None, None) => return Err("give a directory, --postgres URL or --nats URL".into()),
        _ => return Err("give one of a directory, --postgres URL and --nats URL".into()),
    };
    Ok(Args { store, listen })
}

/// Opens the store. Outside the runtime: the PostgreSQL and NATS stores connect synchronously.
fn backend(store: &StoreArg) -> Result<Backend, livenstore::StoreError> {
    match store {
        StoreArg::Dir(dir) => Backend::json(dir),
        StoreArg::Postgres { url, schema } => {
            let mut config = PostgresConfig::new();
            if let Some(schema) = schema {
                config = config.schema(schema.clone());
            }
            Backend::postgres(PostgresStore::connect_with(url, config)?)
        }
        StoreArg::Nats { url, stream } => {
            let mut config = JetStreamConfig::new();
            if let Some(stream) = stream {
                config = config.stream(stream.clone())?;
            }
            Backend::nats(JetStreamStore::connect_with(url, config)?)
        }
    }
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("bank_service: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let backend = match backend(&args.store) {
        Ok(backend) => backend,
        Err(err) => {
            eprintln!("bank_service: error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("bank_service: error: no runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let description = backend.description.clone();
    let served = runtime.block_on(async move {
        let running = service::start(backend, args.listen).await?;
        println!(
            "bank_service: {description}, listening on http://{}",
            running.addr()
        );
        // Ctrl-C ends the service; an error of the signal handler ends it too.
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("bank_service: stopping");
        if !running.stop(Duration::from_secs(3)).await? {
            eprintln!("bank_service: closed the connections still open after 3 s (live feeds)");
        }
        Ok::<(), std::io::Error>(())
    });
    // The runtime goes first, so the store's last handle is dropped outside it.
    drop(runtime);
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bank_service: error: {err}");
            ExitCode::FAILURE
        }
    }
}
