//! `verify` on damaged stores, `tail` following another process, and the error paths: missing
//! directory, locked store, bad arguments, a reader that goes away.

mod common;

use std::io::{BufReader, Read};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{
    assert_exits_cleanly, bin, ev, fast, read_lines, run, run_raw, sample_store, segments, Run, R,
};
use livenstore::{EventStore, ExpectedVersion, JsonStore};

#[test]
fn verify_passes_a_healthy_store() -> R {
    let root = tempfile::tempdir()?;
    let dir = sample_store(root.path());
    let text = run(&dir, &["verify"]).ok().stdout;
    assert!(
        text.contains("5 event(s), 3 link(s); 0 corrupted, 0 torn"),
        "{text}"
    );
    let json = run(&dir, &["verify", "--json"]).ok().json_lines();
    assert_eq!(json[0]["healthy"], true);
    assert_eq!(json[0]["lines"], 8);
    Ok(())
}

#[test]
fn verify_reports_a_corrupted_middle_line_with_file_and_line() -> R {
    let root = tempfile::tempdir()?;
    let dir = sample_store(root.path());
    let segment = segments(&dir)[0].clone();
    let text = std::fs::read_to_string(&segment)?;
    std::fs::write(&segment, text.replacen(r#""n":2"#, r#""n":7"#, 1))?;

    let report = run(&dir, &["verify"]).fails(1, &["verify found 1 corrupted line(s)"]);
    let expected = format!("{}:2: corrupted: ", segment.display());
    assert!(report.stdout.contains(&expected), "{}", report.stdout);
    assert!(report.stdout.contains("checksum"), "{}", report.stdout);

    let json = run(&dir, &["verify", "--json"])
        .fails(1, &["corrupted"])
        .json_lines();
    let problem = &json[0]["problems"][0];
    assert_eq!(json[0]["healthy"], false);
    assert_eq!(problem["file"], segment.display().to_string());
    assert_eq!(
        (problem["line"].as_u64(), problem["kind"].as_str()),
        (Some(2), Some("corrupted"))
    );

    // Reading a damaged store warns once, then fails where a read reaches the damage, with
    // the file and line.
    let file = segment.display().to_string();
    let all = run(&dir, &["all"]);
    assert_eq!(all.code, Some(1));
    let lines: Vec<&str> = all.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", all.stderr);
    assert!(
        lines[0].starts_with("livenstore: warning: "),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("is damaged: 1 record(s)") && lines[0].contains("repair"));
    assert!(
        lines[1].starts_with("livenstore: error: corrupted store file"),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains(&file) && lines[1].contains("line 2"),
        "{}",
        lines[1]
    );
    // Streams the damage does not touch read fine.
    let user2 = run(&dir, &["stream", "user-2", "--json"]);
    assert_eq!((user2.code, user2.json_lines().len()), (Some(0), 3));
    Ok(())
}

#[test]
fn verify_reports_a_torn_tail() -> R {
    let root = tempfile::tempdir()?;
    let dir = sample_store(root.path());
    let segment = segments(&dir)[0].clone();
    let mut bytes = std::fs::read(&segment)?;
    let copy = bytes[..60].to_vec(); // the start of a line, as a crash mid-write leaves it
    bytes.extend_from_slice(&copy);
    std::fs::write(&segment, &bytes)?;

    let report = run(&dir, &["verify"]).fails(1, &["0 corrupted line(s) and 1 torn tail(s)"]);
    let expected = format!("{}:9: torn tail", segment.display());
    assert!(report.stdout.contains(&expected), "{}", report.stdout);
    // Readers leave the torn tail alone and see the complete records.
    let stats = run(&dir, &["stats", "--json"]).ok().json_lines();
    assert_eq!(
        (
            stats[0]["events"].as_u64(),
            stats[0]["torn_tail_bytes"].as_u64()
        ),
        (Some(5), Some(60))
    );
    Ok(())
}

#[test]
fn tail_follows_appends_made_by_other_processes() -> R {
    let root = tempfile::tempdir()?;
    let dir = sample_store(root.path());
    // A writer holds the lock the whole time: tail reads without it.
    let writer = JsonStore::open_with(&dir, fast())?;
    let mut tail = bin()
        .arg(&dir)
        .args([
            "tail",
            "--from",
            "6",
            "--max",
            "3",
            "--timeout",
            "60",
            "--interval-ms",
            "20",
        ])
        .args(["--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut out = BufReader::new(tail.stdout.take().ok_or("stdout")?);
    let started = Instant::now();
    writer.append("user-9", ExpectedVersion::NoStream, vec![ev("A", 6)])?;
    let first = read_lines(&mut out, 1)?;
    writer.append(
        "user-9",
        ExpectedVersion::Exact(1),
        vec![ev("B", 7), ev("C", 8)],
    )?;
    let rest = read_lines(&mut out, 3)?;
    assert_exits_cleanly(&mut tail)?;
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "stopped by --max, not the timeout"
    );
    let lines: Vec<serde_json::Value> = first
        .iter()
        .chain(&rest)
        .map(|l| serde_json::from_str(l))
        .collect::<Result<_, _>>()?;
    let positions: Vec<u64> = lines
        .iter()
        .filter_map(|l| l["position"].as_u64())
        .collect();
    assert_eq!(positions, [6, 7, 8], "and nothing after --max");
    Ok(())
}

#[test]
fn tail_of_one_stream_follows_appends_through_the_binary_and_links() -> R {
    let root = tempfile::tempdir()?;
    let dir = sample_store(root.path());
    let mut tail = bin()
        .arg(&dir)
        .args(["tail", "--stream", "admins", "--from", "3", "--max", "2"])
        .args(["--timeout", "60", "--interval-ms", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut out = BufReader::new(tail.stdout.take().ok_or("stdout")?);
    // `admins` is at version 2: events of other streams are not printed, a link into `admins`
    // and an event appended to it are.
    run(&dir, &["append", "user-1", "Ignored", "{}"]).ok();
    {
        let store = JsonStore::open_with(&dir, fast())?;
        let id = store.read_all(6, 1)?[0].id();
        store.link_to_stream(id, "admins")?;
    }
    run(
        &dir,
        &["append", "admins", "AdminAdded", r#"{"who":"eve"}"#],
    )
    .ok();
    let lines = read_lines(&mut out, 3)?;
    assert!(tail.wait()?.success());
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].contains("user-1 v4 (linked into admins v3)"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("admins v4") && lines[1].contains("AdminAdded"),
        "{}",
        lines[1]
    );
    Ok(())
}

#[test]
fn tail_stops_at_its_timeout_when_nothing_comes() -> R {
    let root = tempfile::tempdir()?;
    let dir = sample_store(root.path());
    let started = Instant::now();
    // By default tail starts after the last event: the five already there are not printed.
    let done = run(&dir, &["tail", "--timeout", "1", "--interval-ms", "50"]).ok();
    assert!(done.stdout.is_empty(), "{}", done.stdout);
    assert!(started.elapsed() >= Duration::from_secs(1));
    // --from 1 prints what is already there.
    let all = run(&dir, &["tail", "--from", "1", "--max", "5", "--json"])
        .ok()
        .json_lines();
    assert_eq!(all.len(), 5);
    Ok(())
}

#[test]
fn a_missing_directory_is_one_line_and_is_not_created() -> R {
    let root = tempfile::tempdir()?;
    let missing = root.path().join("nope");
    let commands: [&[&str]; 9] = [
        &["streams"],
        &["stream", "s"],
        &["event", "01JD0000000000000000000000"],
        &["all"],
        &["tail", "--timeout", "1"],
        &["stats"],
        &["verify"],
        &["export"],
        &["all", "--json"],
    ];
    for args in commands {
        run(&missing, args).fails(1, &["no store at", "does not exist"]);
        assert!(!missing.exists(), "{args:?} created the directory");
    }
    // A directory that is not a store, for reads and writes alike.
    std::fs::write(root.path().join("notes.txt"), "hello")?;
    run(root.path(), &["streams"]).fails(1, &["is not a livenstore store"]);
    run(root.path(), &["append", "s", "T", "{}"]).fails(1, &["is not a livenstore store"]);
    run(&root.path().join("notes.txt"), &["stats"]).fails(1, &["is not a directory"]);
    Ok(())
}

#[test]
fn a_locked_store_refuses_appends_but_not_reads() -> R {
    let root = tempfile::tempdir()?;
    let dir = sample_store(root.path());
    let writer = JsonStore::open_with(&dir, fast())?;
    run(&dir, &["append", "s", "T", "{}"]).fails(1, &["is locked by another process"]);
    for args in [
        &["streams"][..],
        &["all"],
        &["stats"],
        &["verify"],
        &["export"],
    ] {
        run(&dir, args).ok();
    }
    drop(writer);
    run(&dir, &["append", "s", "T", "{}"]).ok();
    Ok(())
}

#[test]
fn bad_arguments_exit_2_with_one_line_and_no_panic() -> R {
    let root = tempfile::tempdir()?;
    let dir = sample_store(root.path());
    let d = dir.to_str().ok_or("path")?;
    let cases: [&[&str]; 12] = [
        &[d],
        &[d, "stram"],
        &[d, "stream"],
        &[d, "all", "--from", "x"],
        &[d, "all", "--limit", "-1"],
        &[d, "event", "not-an-id"],
        &[d, "tail", "--interval-ms", "0"],
        &[d, "export", "--format", "csv"],
        &[d, "append", "s", "T"],
        &[d, "append", "s", "T", "{}", "--expect", "soon"],
        &[d, "append", "s", "T", "{}", "--meta", "novalue"],
        &[d, "streams", "--bogus"],
    ];
    for args in cases {
        let done = run_raw(args);
        assert_eq!(done.code, Some(2), "{args:?}: {}", done.stderr);
        assert_eq!(done.stderr.lines().count(), 1, "{args:?}: {}", done.stderr);
        assert!(
            done.stderr.starts_with("livenstore: error: "),
            "{}",
            done.stderr
        );
    }
    // No arguments at all: the help, on standard error, exit 2.
    let bare = run_raw(&[]);
    assert_eq!(bare.code, Some(2));
    assert!(bare.stderr.contains("Usage: livenstore"), "{}", bare.stderr);
    let help = run_raw(&["--help"]).ok();
    for command in [
        "streams", "stream", "event", "all", "tail", "stats", "verify", "export",
    ] {
        assert!(
            help.stdout.contains(command),
            "{command} missing from --help"
        );
    }
    assert!(run_raw(&["--version"])
        .ok()
        .stdout
        .starts_with("livenstore "));
    Ok(())
}

#[test]
fn a_reader_that_goes_away_ends_the_command_quietly() -> R {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("big");
    let store = JsonStore::open_with(&dir, fast())?;
    let events: Vec<_> = (0..3000).map(|i| ev("Filler", i)).collect();
    store.append("s", ExpectedVersion::NoStream, events)?;
    drop(store);
    let mut child = bin()
        .arg(&dir)
        .args(["all", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdout = child.stdout.take().ok_or("stdout")?;
    let mut first = [0u8; 100];
    stdout.read_exact(&mut first)?;
    drop(stdout); // like `| head -c 100`
    let done = Run::from(child.wait_with_output()?);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(done.stderr.is_empty(), "{}", done.stderr);
    Ok(())
}
