//! `--postgres URL --schema NAME`: the commands on a PostgreSQL store, driven through the real
//! binary. Tests that need a server skip (one printed line) when `LIVENSTORE_POSTGRES_URL` is
//! unset; those of the command line and of an unreachable server always run.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use common::{ev, fill_sample, run, run_raw, server, Run, R};
use livenstore::{EventStore, ExpectedVersion};
use livenstore_postgres::testing::TestSchema;
use serde_json::Value;

/// Nothing listens on port 1 of the loopback address: connecting is refused at once.
const UNREACHABLE: &str = "postgresql://postgres@127.0.0.1:1/test";
const UNREACHABLE_ARGS: [&str; 2] = ["--postgres", UNREACHABLE];

/// Runs `livenstore --postgres URL --schema NAME <args>`.
fn pg(test: &TestSchema, args: &[&str]) -> Run {
    server::on(&pg_args(test), args)
}

/// The `--postgres` arguments for `Command::args`.
fn pg_args(test: &TestSchema) -> [&str; 4] {
    ["--postgres", test.url(), "--schema", test.schema()]
}

/// Whether the server has schema `name`, asked on a connection of the test's own.
fn schema_exists(test: &TestSchema, name: &str) -> Result<bool, postgres::Error> {
    let mut client = test
        .url()
        .parse::<postgres::Config>()?
        .connect(postgres::NoTls)?;
    let row = client.query_one(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)",
        &[&name],
    )?;
    Ok(row.get(0))
}

#[test]
fn append_then_every_read_command_on_postgres() -> R {
    let Some(test) = TestSchema::new() else {
        return Ok(());
    };
    // `append` creates the schema, as it creates a missing directory.
    server::check_append_and_read_commands(&pg_args(&test), || test.connect(), test.schema())
}

#[test]
fn tail_follows_what_another_process_appends() -> R {
    let Some(test) = TestSchema::new() else {
        return Ok(());
    };
    pg(&test, &["append", "s-1", "First", "{}"]).ok();
    server::check_tail_follows_what_another_process_appends(&pg_args(&test), &test.connect())
}

#[test]
fn export_of_postgres_imports_into_a_directory_unchanged() -> R {
    let Some(test) = TestSchema::new() else {
        return Ok(());
    };
    let root = tempfile::tempdir()?;
    server::check_export_imports_into_a_directory(&pg_args(&test), &test.connect(), root.path())?;
    Ok(())
}

#[test]
fn an_export_taken_while_others_write_imports_cleanly() -> R {
    let Some(test) = TestSchema::new() else {
        return Ok(());
    };
    let store = test.connect();
    fill_sample(&store);
    // Streams read after `mixed` (by name), so that reading the links of every stream takes a
    // while after `mixed` was read: the writer appends meanwhile.
    for n in 0..200 {
        store.append(
            &format!("pad-{n:03}"),
            ExpectedVersion::NoStream,
            vec![ev("Pad", n)],
        )?;
    }
    let root = tempfile::tempdir()?;
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| -> R {
        // Another writer, the whole time the exports run: appends to the sample's streams,
        // links each new event into `mixed` (which also gets events of its own) and into a
        // stream of links only, and links old events into `admins`.
        let writer = s.spawn(|| -> Result<u64, livenstore::StoreError> {
            let writer = test.connect();
            let mut rounds = 0;
            while !stop.load(Ordering::Relaxed) {
                rounds += 1;
                let stream = format!("user-{}", rounds % 3 + 1);
                let new = writer.append(&stream, ExpectedVersion::Any, vec![ev("Busy", rounds)])?;
                let id = writer.read_all(new.last_position, 1)?[0].id();
                writer.link_to_stream(id, "mixed")?;
                writer.link_to_stream(id, &format!("feed-{}", rounds % 2))?;
                writer.append("mixed", ExpectedVersion::Any, vec![ev("Own", rounds)])?;
                let old = writer.read_all(rounds % new.last_position + 1, 1)?[0].id();
                // Linking an event twice into one stream is refused: that is fine here.
                let _ = writer.link_to_stream(old, "admins");
            }
            Ok(rounds)
        });
        // Stops the writer however this thread leaves the scope (a failed check panics).
        let stop_writer = StopOnDrop(&stop);
        for round in 0..4 {
            let file = root.path().join(format!("export-{round}.jsonl"));
            let path = file.to_str().ok_or("path")?;
            pg(&test, &["export", "-o", path]).ok();
            let copy = root.path().join(format!("copy-{round}"));
            run(&copy, &["import", path]).ok();
            run(&copy, &["verify"]).ok();
        }
        drop(stop_writer);
        let rounds = writer.join().map_err(|_| "the writer panicked")??;

        assert!(rounds > 0, "the writer wrote while the exports ran");
        Ok(())
    })
}

#[test]
fn stats_taken_while_others_append_are_of_one_moment() -> R {
    let Some(test) = TestSchema::new() else {
        return Ok(());
    };
    let store = test.connect();
    fill_sample(&store);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| -> R {
        // Appends only (no links), to many streams, the whole time.
        let writer = s.spawn(|| -> Result<u64, livenstore::StoreError> {
            let writer = test.connect();
            let mut rounds = 0;
            while !stop.load(Ordering::Relaxed) {
                rounds += 1;
                let stream = format!("busy-{}", rounds % 50);
                writer.append(&stream, ExpectedVersion::Any, vec![ev("Busy", rounds)])?;
            }
            Ok(rounds)
        });
        let stop_writer = StopOnDrop(&stop);
        for _ in 0..10 {
            let stats = pg(&test, &["stats", "--json"]).ok().json_lines().remove(0);
            assert_eq!(stats["links"], 3, "the sample's links, exactly: {stats}");
            let typed: u64 = stats["types"]
                .as_object()
                .ok_or("types")?
                .values()
                .filter_map(Value::as_u64)
                .sum();
            assert_eq!(Some(typed), stats["events"].as_u64(), "{stats}");
        }
        drop(stop_writer);
        let rounds = writer.join().map_err(|_| "the writer panicked")??;
        assert!(rounds > 0, "the writer wrote while stats ran");
        Ok(())
    })
}

/// Sets its flag when dropped, also while a panic unwinds.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[test]
fn read_commands_do_not_create_a_missing_schema() -> R {
    let Some(test) = TestSchema::new() else {
        return Ok(());
    };
    let commands: [&[&str]; 7] = [
        &["streams"],
        &["stream", "s"],
        &["event", "01JD0000000000000000000000"],
        &["all", "--json"],
        &["tail", "--timeout", "1"],
        &["stats"],
        &["export"],
    ];
    server::check_read_commands_do_not_create_a_missing_store(
        &pg_args(&test),
        &commands,
        &["no livenstore schema", test.schema(), "does not exist"],
        &|| Ok(schema_exists(&test, test.schema())?),
    )?;
    // A schema that is not a store's is left alone too.
    let mut client = test
        .url()
        .parse::<postgres::Config>()?
        .connect(postgres::NoTls)?;
    client.batch_execute(&format!("CREATE SCHEMA \"{}\"", test.schema()))?;
    pg(&test, &["streams"]).fails(1, &["is not a livenstore store", test.schema()]);
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = $1",
            &[&test.schema()],
        )?
        .get(0);
    assert_eq!(tables, 0, "no table was created");
    Ok(())
}

#[test]
fn verify_and_import_refuse_postgres_before_connecting() -> R {
    // The server is unreachable: the refusal comes first, so it does not matter.
    let root = tempfile::tempdir()?;
    let file = root.path().join("x.jsonl");
    std::fs::write(&file, "")?;
    let file = file.to_str().ok_or("path")?;
    for (args, what) in [
        (&["verify"][..], "verify works on a JsonStore directory"),
        (&["import", file], "import works on a JsonStore directory"),
        (
            &["import", "-", "--json"],
            "import works on a JsonStore directory",
        ),
    ] {
        server::check_each_fails(
            &UNREACHABLE_ARGS,
            &[args],
            2,
            &[what, "not with --postgres"],
        );
    }
    Ok(())
}

#[test]
fn an_unreachable_server_is_one_line_naming_host_and_port() -> R {
    server::check_each_fails(
        &UNREACHABLE_ARGS,
        &[&["streams"], &["append", "s", "T", "{}"], &["stats"]],
        1,
        &["cannot connect to 127.0.0.1:1"],
    );
    Ok(())
}

#[test]
fn a_malformed_url_is_a_usage_error_that_does_not_repeat_it() -> R {
    server::check_the_password_is_not_repeated(
        "--postgres",
        &[
            "postgresql://ada:s3cret@[::1",
            "postgresql://ada:s3cret@h:99999/db",
            "host=h password=s3cret bogus=1",
        ],
        2,
        "invalid --postgres URL",
    );
    Ok(())
}

#[test]
fn exactly_one_of_dir_and_postgres_names_the_store() -> R {
    let root = tempfile::tempdir()?;
    let dir = root.path().to_str().ok_or("path")?;
    let cases: [(&[&str], &str); 5] = [
        (&["streams"], "<DIR|--postgres <URL>|--nats <URL>>"),
        (&["--json", "all"], "<DIR|--postgres <URL>|--nats <URL>>"),
        (
            &["--postgres", UNREACHABLE, dir, "streams"],
            "cannot be used with",
        ),
        (
            &[dir, "--postgres", UNREACHABLE, "streams"],
            "cannot be used with",
        ),
        (&[dir, "--schema", "s", "streams"], "cannot be used with"),
    ];
    for (args, needle) in cases {
        run_raw(args).fails(2, &[needle]);
    }
    run_raw(&[
        "--postgres",
        UNREACHABLE,
        "--schema",
        "Not-Valid",
        "streams",
    ])
    .fails(2, &["invalid schema name"]);
    // The help says how to name either.
    let help = run_raw(&["--help"]).ok().stdout;
    assert!(
        help.contains("--postgres <URL>") && help.contains("--schema <NAME>"),
        "{help}"
    );
    Ok(())
}
