//! The command line on damaged stores: a flipped bit in the last line is reported and
//! quarantined, never silently cut; torn tails are warned about; `repair`, `export
//! --skip-damaged` and `import` keep every intact event with its position and version; and the
//! rough edges of `append` (payload from a file or standard input, `--wait`, ids over the
//! largest ULID).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{bin, fast, run, run_with_stdin, segments, Run, R};
use livenstore::store::json::list_quarantine;
use livenstore::{EventStore, ExpectedVersion, JsonStore, NewEvent};

/// Flips one bit `at` bytes into line `line` (1-based) of the first segment.
fn flip(dir: &Path, line: usize, at: usize) -> std::io::Result<()> {
    let path = &segments(dir)[0];
    let mut bytes = std::fs::read(path)?;
    let start: usize = bytes
        .split_inclusive(|&b| b == b'\n')
        .take(line - 1)
        .map(<[u8]>::len)
        .sum();
    bytes[start + at] ^= 0x02;
    std::fs::write(path, bytes)
}

/// Standard error's lines.
fn stderr_lines(run: &Run) -> Vec<&str> {
    run.stderr.lines().collect()
}

#[test]
fn the_bit_flip_trial_ends_with_the_fifth_event_quarantined_and_reported() -> R {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("store");
    let dir_s = dir.to_str().ok_or("path")?;
    for n in 1..=5 {
        run(
            &dir,
            &[
                "append",
                "acc-1",
                "Deposited",
                &format!(r#"{{"amount":{n}}}"#),
            ],
        )
        .ok();
    }
    flip(&dir, 5, 40)?;

    let verify = run(&dir, &["verify"]).fails(1, &["1 corrupted line(s) and 0 torn tail(s)"]);
    assert!(
        verify.stdout.contains(":5: corrupted: checksum mismatch"),
        "{}",
        verify.stdout
    );
    assert!(verify.stdout.contains("repair"), "{}", verify.stdout);

    // The next append is refused, saying why and what to do.
    let refused = run(&dir, &["append", "acc-1", "Deposited", r#"{"amount":6}"#]);
    let refused = refused.fails(1, &["line 5", "checksum mismatch", "repair"]);
    assert!(refused.stdout.is_empty());

    let repaired = run(&dir, &["repair"]).ok();
    assert!(
        repaired
            .stdout
            .contains("position 5, stream `acc-1` version 5"),
        "{}",
        repaired.stdout
    );
    assert!(
        repaired.stdout.contains("moved to a quarantine file"),
        "{}",
        repaired.stdout
    );
    let quarantine = list_quarantine(&dir)?;
    assert_eq!(quarantine.len(), 1);

    let verify = run(&dir, &["verify", "--json"]).ok().json_lines();
    assert_eq!(verify[0]["healthy"], true);
    assert_eq!(
        (verify[0]["events"].as_u64(), verify[0]["holes"].as_u64()),
        (Some(4), Some(1))
    );
    assert_eq!(verify[0]["quarantine"][0]["kind"], "damaged");
    let text = run(&dir, &["verify"]).ok().stdout;
    assert!(
        text.contains("quarantine file: ") && text.contains("1 hole(s)"),
        "{text}"
    );

    let stats = run(&dir, &["stats", "--json"]).ok().json_lines();
    assert_eq!(
        (stats[0]["events"].as_u64(), stats[0]["holes"].as_u64()),
        (Some(4), Some(1))
    );
    let name = quarantine[0]
        .path
        .file_name()
        .ok_or("name")?
        .to_string_lossy();
    assert_eq!(
        stats[0]["quarantine"][name.as_ref()].as_u64(),
        Some(quarantine[0].bytes)
    );

    let appended = run(
        &dir,
        &["append", "acc-1", "Deposited", r#"{"amount":6}"#, "--json"],
    );
    let appended = appended.ok().json_lines();
    assert_eq!(
        (
            appended[0]["version"].as_u64(),
            appended[0]["position"].as_u64()
        ),
        (Some(6), Some(6))
    );
    let again = run(&dir, &["repair", "--json"]).ok().json_lines();
    assert_eq!(again[0]["repaired"], false);
    assert!(dir_s.len() > 1);
    Ok(())
}

#[test]
fn a_torn_tail_cut_by_append_is_a_warning_and_its_bytes_are_kept() -> R {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("store");
    run(&dir, &["append", "s", "A", "{}"]).ok();
    let segment = segments(&dir)[0].clone();
    let mut file = std::fs::OpenOptions::new().append(true).open(&segment)?;
    file.write_all(br#"{"crc":"12345678","event":{"posi"#)?;
    drop(file);

    // Readers leave it alone, silently (it may be an append in progress).
    let read = run(&dir, &["all", "--json"]).ok();
    assert_eq!(read.json_lines().len(), 1);

    let appended = run(&dir, &["append", "s", "A", "{}", "--json"]);
    assert_eq!(appended.code, Some(0), "{}", appended.stderr);
    let warning = stderr_lines(&appended);
    assert_eq!(warning.len(), 1, "{}", appended.stderr);
    assert!(
        warning[0].starts_with("livenstore: warning: "),
        "{}",
        warning[0]
    );
    assert!(
        warning[0].contains("cut off a torn tail at line 2"),
        "{}",
        warning[0]
    );
    let quarantine = list_quarantine(&dir)?;
    assert_eq!(quarantine.len(), 1);
    assert!(warning[0].contains(&quarantine[0].path.display().to_string()));
    assert_eq!(
        std::fs::read(&quarantine[0].path)?,
        br#"{"crc":"12345678","event":{"posi"#
    );
    assert_eq!(appended.json_lines()[0]["position"], 2);
    Ok(())
}

/// A store of 30 events in three streams with two links.
fn damaged_store(root: &Path) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    let dir = root.join("store");
    let store = JsonStore::open_with(&dir, fast())?;
    for n in 0..30u64 {
        let event = NewEvent::from_json(
            "Counted",
            format!(r#"{{"n":{n},"pad":"xxxxxxxxxxxxxxxxxxxx"}}"#),
        )?;
        store.append(&format!("s{}", n % 3), ExpectedVersion::Any, vec![event])?;
    }
    let first = store.read_all(1, 1)?[0].id();
    let ninth = store.read_all(9, 1)?[0].id();
    store.link_to_stream(first, "index")?;
    store.link_to_stream(ninth, "index")?;
    Ok(dir)
}

/// The next append to `s2` of a copy of [`damaged_store`] takes position 31 and version 11,
/// whatever was lost: nothing is given out twice.
fn assert_next_append_after_the_30(store: &JsonStore) -> R {
    let event = NewEvent::from_json("A", "{}")?;
    let next = store.append("s2", ExpectedVersion::Exact(10), vec![event])?;
    assert_eq!((next.first_position, next.stream_version), (31, 11));
    Ok(())
}

#[test]
fn export_skips_damage_only_when_asked_and_the_copy_keeps_positions_and_versions() -> R {
    let root = tempfile::tempdir()?;
    let dir = damaged_store(root.path())?;
    flip(&dir, 12, 200)?; // position 12: s2 version 4, in its payload

    let plain = run(&dir, &["export"]);
    assert_eq!(plain.code, Some(1));
    let lines = stderr_lines(&plain);
    assert!(
        lines.last().is_some_and(|l| l.contains("--skip-damaged")),
        "{}",
        plain.stderr
    );

    let file = root.path().join("out.jsonl");
    let file_s = file.to_str().ok_or("path")?;
    let skipped = run(&dir, &["export", "--skip-damaged", "-o", file_s, "--json"]);
    assert_eq!(skipped.code, Some(0), "{}", skipped.stderr);
    let listed: Vec<&str> = stderr_lines(&skipped)
        .into_iter()
        .filter(|l| l.contains("skipped damaged record"))
        .collect();
    assert_eq!(listed.len(), 1, "{}", skipped.stderr);
    assert!(
        listed[0].contains(":12: checksum mismatch"),
        "{}",
        listed[0]
    );
    assert!(
        listed[0].contains("position 12, stream `s2` version 4"),
        "{}",
        listed[0]
    );
    let summary = skipped.json_lines();
    assert_eq!(
        (summary[0]["events"].as_u64(), summary[0]["holes"].as_u64()),
        (Some(29), Some(1))
    );

    let copy = root.path().join("copy");
    run(&copy, &["import", file_s]).ok();
    let copy_store = JsonStore::open(&copy)?;
    let source = JsonStore::open_read_only_with(&dir, fast().skip_damaged(true))?;
    assert_eq!(
        copy_store.read_all(1, usize::MAX)?,
        source.read_all(1, usize::MAX)?
    );
    assert_eq!(
        copy_store.read_stream("index", 1, 9)?,
        source.read_stream("index", 1, 9)?
    );
    // The lost position and version stay taken in the copy.
    assert_next_append_after_the_30(&copy_store)
}

#[test]
fn a_repaired_store_exports_its_holes_and_the_copy_matches_it() -> R {
    let root = tempfile::tempdir()?;
    let dir = damaged_store(root.path())?;
    flip(&dir, 1, 200)?; // the first event, which is linked: its link goes too
    flip(&dir, 30, 200)?; // the last event (s2 version 10)
    run(&dir, &["repair"]).ok();
    let exported = run(&dir, &["export"]).ok().json_lines();
    let holes = exported.iter().filter(|l| l.get("hole").is_some()).count();
    assert_eq!(holes, 3, "two events and one link");
    let copy = root.path().join("copy");
    let text: String = exported.iter().map(|l| format!("{l}\n")).collect();
    let done = run_with_stdin(&copy, &["import", "-"], text.as_bytes()).ok();
    assert!(
        done.stdout
            .contains("28 event(s) and 1 link(s) (and 3 hole(s))"),
        "{}",
        done.stdout
    );
    let (a, b) = (JsonStore::open(&dir)?, JsonStore::open(&copy)?);
    common::assert_same_events(&a, &b)?;
    assert_next_append_after_the_30(&a)?;
    assert_next_append_after_the_30(&b)
}

#[test]
fn append_takes_its_payload_from_a_file_or_standard_input() -> R {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("store");
    let big = format!(r#"{{"blob":"{}"}}"#, "x".repeat(300 * 1024));
    let file = root.path().join("payload.json");
    std::fs::write(&file, &big)?;
    let at_file = format!("@{}", file.display());
    run(&dir, &["append", "s", "Big", &at_file]).ok();

    let args = ["append", "s", "Big", "-", "--json"];
    let done = run_with_stdin(&dir, &args, big.as_bytes()).ok();
    assert_eq!(done.json_lines()[0]["version"], 2);
    let store = JsonStore::open_read_only(&dir)?;
    for event in store.read_stream("s", 1, 2)? {
        assert_eq!(event.payload().as_str(), big);
    }
    run(&dir, &["append", "s", "Big", "@/nonexistent/payload.json"]).fails(
        1,
        &["cannot read the payload from /nonexistent/payload.json"],
    );
    run(&dir, &["append", "s", "Big", "@"]).fails(1, &["cannot read the payload"]);
    Ok(())
}

#[test]
fn wait_lets_a_writer_queue_for_the_lock() -> R {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("store");
    let holder = JsonStore::open(&dir)?;
    run(&dir, &["append", "s", "A", "{}"]).fails(1, &["locked by another process"]);
    run(&dir, &["append", "s", "A", "{}", "--wait", "0.1"])
        .fails(1, &["locked by another process"]);
    let waiter = bin()
        .arg(&dir)
        .args(["append", "s", "A", "{}", "--wait", "30", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    std::thread::sleep(Duration::from_millis(300));
    holder.append(
        "s",
        ExpectedVersion::NoStream,
        vec![NewEvent::from_json("H", "{}")?],
    )?;
    drop(holder);
    let done = Run::from(waiter.wait_with_output()?).ok();
    assert_eq!(done.json_lines()[0]["version"], 2);
    run(&dir, &["append", "s", "A", "{}", "--wait", "soon"]).fails(2, &["not a number of seconds"]);
    Ok(())
}

#[test]
fn ids_over_the_largest_ulid_are_refused() -> R {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("store");
    for id in ["8ZZZZZZZZZZZZZZZZZZZZZZZZZ", "ZZZZZZZZZZZZZZZZZZZZZZZZZZ"] {
        run(&dir, &["append", "s", "A", "{}", "--id", id])
            .fails(2, &[id, "larger than the largest ULID"]);
        run(&dir, &["event", id]).fails(2, &["larger than the largest ULID"]);
    }
    assert!(!dir.exists(), "nothing was created");
    let max = "7ZZZZZZZZZZZZZZZZZZZZZZZZZ";
    let appended = run(&dir, &["append", "s", "A", "{}", "--id", max, "--json"]).ok();
    assert_eq!(appended.json_lines()[0]["id"], max);
    Ok(())
}

#[test]
fn directory_only_commands_refuse_postgres_as_usage_errors() -> R {
    let url = "postgresql://nobody@127.0.0.1:1/none";
    for args in [&["repair"][..], &["export", "--skip-damaged"]] {
        let mut all = vec!["--postgres", url];
        all.extend_from_slice(args);
        let out = Run::from(bin().args(&all).output()?);
        out.fails(2, &["works on a JsonStore directory"]);
    }
    let root = tempfile::tempdir()?;
    run(&root.path().join("missing"), &["repair"]).fails(1, &["no store at"]);
    Ok(())
}
