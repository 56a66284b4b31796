//! Shared by the CLI tests: running the real binary, and making stores with the library.
#![allow(dead_code)] // each test file uses its own part

pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use livenstore::pubsub::{CheckpointStore, ParkedEvent, ParkedEventStore};
use livenstore::store::json::{Durability, JsonStoreOptions};
use livenstore::store::{Snapshot, SnapshotStore};
use livenstore::{EventStore, ExpectedVersion, JsonStore, Metadata, NewEvent, Payload, Timestamp};

pub type R = Result<(), Box<dyn std::error::Error>>;

/// The `livenstore` binary Cargo built for these tests.
pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_livenstore"));
    cmd.stdin(Stdio::null());
    cmd
}

/// What one run printed and how it ended.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Exit status 0, and nothing on standard error.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, Some(0), "stderr: {}", self.stderr);
        assert!(self.stderr.is_empty(), "stderr: {}", self.stderr);
        self
    }

    /// The exit status, and exactly one `livenstore: error:` line on standard error holding
    /// each of `needles`.
    #[track_caller]
    pub fn fails(self, code: i32, needles: &[&str]) -> Self {
        assert_eq!(
            self.code,
            Some(code),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        assert_eq!(self.stderr.lines().count(), 1, "one line: {}", self.stderr);
        assert!(
            self.stderr.starts_with("livenstore: error: "),
            "{}",
            self.stderr
        );
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "{needle:?} not in {}",
                self.stderr
            );
        }
        self
    }

    /// Standard output as JSON lines.
    #[track_caller]
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        let run = Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(!run.stderr.contains("panicked"), "panic: {}", run.stderr);
        run
    }
}

/// Runs `livenstore <dir> <args>`.
pub fn run(dir: &Path, args: &[&str]) -> Run {
    let out = bin().arg(dir).args(args).output().expect("run livenstore");
    Run::from(out)
}

/// Runs `livenstore <dir> <args>` with `input` on its standard input.
pub fn run_with_stdin(dir: &Path, args: &[&str], input: &[u8]) -> Run {
    use std::io::Write;
    let mut child = bin()
        .arg(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run livenstore");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write to livenstore");
    drop(stdin);
    Run::from(child.wait_with_output().expect("wait for livenstore"))
}

/// Waits for `child` (spawned with its standard error piped) and checks that it exited with
/// status 0 and wrote nothing on standard error.
pub fn assert_exits_cleanly(child: &mut std::process::Child) -> R {
    use std::io::Read;
    let status = child.wait()?;
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .ok_or("stderr")?
        .read_to_string(&mut stderr)?;
    assert!(status.success() && stderr.is_empty(), "{status}: {stderr}");
    Ok(())
}

/// Runs `livenstore <args>` (no directory put in front).
pub fn run_raw(args: &[&str]) -> Run {
    Run::from(bin().args(args).output().expect("run livenstore"))
}

pub fn fast() -> JsonStoreOptions {
    JsonStoreOptions::new().durability(Durability::Never)
}

pub fn ev(kind: &str, n: u64) -> NewEvent {
    NewEvent::from_json(kind.to_string(), format!(r#"{{"n":{n}}}"#)).expect("valid json")
}

/// A store with streams `user-1` (3 events, one with metadata), `user-2` (2 events), links of
/// user-1's first event into `admins` (a stream of links only) and into `user-2` (between its
/// two events), and user-2's first event linked into `admins`. Returns the directory.
pub fn sample_store(root: &Path) -> PathBuf {
    let dir = root.join("store");
    let store = JsonStore::open_with(&dir, fast()).expect("open");
    fill_sample(&store);
    dir
}

/// Writes the events and links of [`sample_store`] into `store`, which must be empty.
pub fn fill_sample(store: &impl EventStore) {
    let meta = Metadata::new().with_correlation_id("req-1");
    store
        .append(
            "user-1",
            ExpectedVersion::NoStream,
            vec![
                ev("UserCreated", 1).with_metadata(meta),
                ev("UserRenamed", 2),
            ],
        )
        .expect("append");
    store
        .append(
            "user-2",
            ExpectedVersion::NoStream,
            vec![ev("UserCreated", 3)],
        )
        .expect("append");
    let first = store.read_all(1, 1).expect("read")[0].id();
    let third = store.read_all(3, 1).expect("read")[0].id();
    store.link_to_stream(first, "admins").expect("link");
    store.link_to_stream(first, "user-2").expect("link");
    store
        .append(
            "user-2",
            ExpectedVersion::Exact(2),
            vec![ev("UserRenamed", 4)],
        )
        .expect("append");
    store
        .append(
            "user-1",
            ExpectedVersion::Exact(2),
            vec![ev("UserDeleted", 5)],
        )
        .expect("append");
    store.link_to_stream(third, "admins").expect("link");
}

/// Both stores hold the same events, streams and links, compared event by event: ids, types,
/// versions, positions, times, metadata, payloads.
pub fn assert_same_events(a: &impl EventStore, b: &impl EventStore) -> R {
    let (all_a, all_b) = (a.read_all(1, usize::MAX)?, b.read_all(1, usize::MAX)?);
    assert_eq!(all_a.len(), all_b.len());
    for (x, y) in all_a.iter().zip(&all_b) {
        assert_eq!(x, y, "position {}", x.position());
    }
    assert_eq!(a.streams()?, b.streams()?);
    for info in a.streams()? {
        let (x, y) = (
            a.read_stream(&info.stream, 1, usize::MAX)?,
            b.read_stream(&info.stream, 1, usize::MAX)?,
        );
        assert_eq!(x, y, "stream {}", info.stream);
    }
    Ok(())
}

/// Reads up to `count` lines from a running `tail` (fewer when it ends first).
pub fn read_lines(
    reader: &mut impl std::io::BufRead,
    count: usize,
) -> Result<Vec<String>, std::io::Error> {
    let mut lines = Vec::new();
    for _ in 0..count {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        lines.push(line.trim_end().to_owned());
    }
    Ok(lines)
}

/// The segment files of `dir`, in order.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    v.sort();
    v
}

/// `consumers` and `parked`: ten events; `projector` at 4, `mailer` at 10 with events 3 and 7
/// parked.
pub fn fill_consumers<S: EventStore>(
    store: &S,
    checkpoints: &dyn CheckpointStore,
    parked: &dyn ParkedEventStore,
) -> R {
    for n in 0..10 {
        let event = NewEvent::from_json("Counted", n.to_string())?;
        store.append("counter", ExpectedVersion::Any, vec![event])?;
    }
    checkpoints.save("projector", 4)?;
    checkpoints.save("mailer", 10)?;
    for position in [7, 3] {
        let event = &store.read_all(position, 1)?[0];
        parked.park(&ParkedEvent::new("mailer", event, "smtp down".into(), 3))?;
    }
    Ok(())
}

/// Checks `consumers` and `parked` on a store `fill_consumers` filled, run by `cli(args)`;
/// `parked` is the store's parked events.
pub fn check_consumers(cli: &dyn Fn(&[&str]) -> Run, parked: &dyn ParkedEventStore) -> R {
    let table = cli(&["consumers"]).ok().stdout;
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["CONSUMER", "POSITION", "LAG", "PARKED"]);
    assert_eq!(rows[1], ["mailer", "10", "0", "2"]);
    assert_eq!(rows[2], ["projector", "4", "6", "0"]);

    let lines = cli(&["parked", "--consumer", "mailer", "--json"])
        .ok()
        .json_lines();
    let positions: Vec<u64> = lines
        .iter()
        .filter_map(|l| l["position"].as_u64())
        .collect();
    assert_eq!(positions, [3, 7], "in position order");
    assert_eq!(lines[0]["error"], "smtp down");
    assert_eq!(lines[0]["attempts"], 3);
    let table = cli(&["parked"]).ok().stdout;
    assert!(table.starts_with("CONSUMER"), "{table}");
    assert!(table.contains("smtp down"), "{table}");

    cli(&["parked", "replay", "mailer"]).ok();
    assert!(parked.replay_requested("mailer")?);
    let id = lines[1]["event_id"].as_str().ok_or("an id")?.to_owned();
    let dropped = cli(&["parked", "drop", "mailer", "--id", &id, "--json"])
        .ok()
        .json_lines();
    assert_eq!(dropped[0]["events"], 1);
    assert_eq!(parked.list(Some("mailer"))?.len(), 1);
    cli(&["parked", "drop", "mailer"]).ok();
    assert!(parked.list(None)?.is_empty());

    cli(&["consumers", "reset", "projector"]).ok();
    cli(&["consumers", "reset", "mailer", "--to", "6"]).ok();
    let status = cli(&["consumers", "--json"]).ok().json_lines();
    assert_eq!(
        (status[0]["name"].as_str(), status[0]["lag"].as_u64()),
        (Some("mailer"), Some(4))
    );
    assert_eq!(status[1]["position"], 0);
    cli(&["consumers", "reset", "mailer", "--to", "11"])
        .fails(1, &["past the store's last position, 10"]);
    cli(&["consumers", "delete", "projector"]).ok();
    assert_eq!(cli(&["consumers", "--json"]).ok().json_lines().len(), 1);
    cli(&["consumers", "reset", "../x"]).fails(1, &["invalid consumer name"]);
    Ok(())
}

/// `snapshots`: two accounts by today's code (fingerprint 0xa), one by older code (0xb, taken
/// earlier), one order.
pub fn fill_snapshots(snapshots: &dyn SnapshotStore) -> R {
    let at = |t, id: &str, v, f, nanos| -> Result<Snapshot, serde_json::Error> {
        Ok(
            Snapshot::new(t, id, v, Payload::from_json(r#"{"balance":1}"#)?)
                .with_fingerprint(f)
                .with_taken_at(Timestamp::from_unix_nanos(nanos)),
        )
    };
    snapshots.save_snapshot(&at("account", "1", 100, 0xa, 3_000_000)?)?;
    snapshots.save_snapshot(&at("account", "2", 200, 0xa, 4_000_000)?)?;
    snapshots.save_snapshot(&at("account", "3", 300, 0xb, 1_000_000)?)?;
    snapshots.save_snapshot(&at("order", "9", 7, 0xc, 2_000_000)?)?;
    Ok(())
}

/// Checks `snapshots` on a store `fill_snapshots` filled, run by `cli(args)`.
pub fn check_snapshots(cli: &dyn Fn(&[&str]) -> Run) -> R {
    let table = cli(&["snapshots"]).ok().stdout;
    for header in ["TYPE", "ID", "VERSION", "SIZE", "FINGERPRINT", "CURRENT"] {
        assert!(table.contains(header), "{table}");
    }
    assert_eq!(table.lines().count(), 5, "a header and four rows:\n{table}");
    let lines = cli(&["snapshots", "--json"]).ok().json_lines();
    let current: Vec<(String, bool)> = lines
        .iter()
        .map(|l| {
            (
                format!(
                    "{}/{}",
                    l["aggregate_type"].as_str().unwrap_or(""),
                    l["aggregate_id"]
                ),
                l["current"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(
        current,
        [
            ("account/\"1\"".to_owned(), true),
            ("account/\"2\"".to_owned(), true),
            ("account/\"3\"".to_owned(), false),
            ("order/\"9\"".to_owned(), true),
        ]
    );
    assert_eq!(lines[0]["fingerprint"], "000000000000000a");
    assert_eq!(lines[0]["state_bytes"], 13);
    assert_eq!(
        cli(&["snapshots", "--type", "order", "--json"])
            .ok()
            .json_lines()
            .len(),
        1
    );
    let deleted = cli(&["snapshots", "--delete", "account", "--json"])
        .ok()
        .json_lines();
    assert_eq!(deleted[0]["deleted"], 3);
    let left = cli(&["snapshots", "--json"]).ok().json_lines();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["aggregate_type"], "order");
    Ok(())
}
