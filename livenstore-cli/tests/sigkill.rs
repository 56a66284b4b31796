//! The SIGKILL trial: `livenstore DIR append` processes killed at random moments, two at a time
//! on one store, round after round. Nothing an append acknowledged (printed) may be lost, no
//! event may be half-stored or changed, and the store must never need `repair`: every crash
//! leaves at most a torn tail, which the next writer moves to a quarantine file.
//!
//! `LIVENSTORE_SIGKILL_ROUNDS` sets the rounds (40 by default, so `cargo test` stays quick);
//! `.ci/sigkill-trial 1000` runs the long trial in release mode and prints its figures.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{bin, R};
use livenstore::store::json::{list_quarantine, verify, QuarantineKind};
use livenstore::{EventId, EventStore, JsonStore};

/// A tiny deterministic generator (xorshift), so a failing round can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One append process: its id, payload file index, and the process.
struct Writer {
    id: EventId,
    payload: usize,
    child: Child,
}

#[test]
fn appends_killed_at_random_moments_lose_nothing_they_acknowledged() -> R {
    let rounds: u64 = std::env::var("LIVENSTORE_SIGKILL_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(40);
    let root = tempfile::tempdir()?;
    let dir = root.path().join("store");
    // Payloads from a few bytes to half a MiB, so kills land inside large writes too.
    let mut payloads = Vec::new();
    for (k, size) in [10usize, 1_000, 30_000, 200_000, 512_000]
        .iter()
        .enumerate()
    {
        let text = format!(r#"{{"k":{k},"fill":"{}"}}"#, "x".repeat(*size));
        let path = root.path().join(format!("payload-{k}.json"));
        std::fs::write(&path, &text)?;
        payloads.push((format!("@{}", path.display()), text));
    }
    let spawn = |id: EventId, payload: usize| -> std::io::Result<Writer> {
        let child = bin()
            .arg(&dir)
            .args([
                "append",
                "trial",
                "Tried",
                &payloads[payload].0,
                "--json",
                "--wait",
                "60",
            ])
            .args(["--id", &id.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        Ok(Writer { id, payload, child })
    };
    let mut sent: HashMap<EventId, usize> = HashMap::new();
    let mut acknowledged: HashMap<EventId, u64> = HashMap::new();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ rounds);
    let (mut killed, mut finished) = (0u64, 0u64);
    let mut life = 0;
    for round in 0..rounds {
        if round % 20 == 0 {
            // How long an append process takes now (opening scans a growing log), so the
            // kills are spread over its whole life.
            let started = Instant::now();
            let mut calibrate = spawn(EventId::new(), payloads.len() - 1)?;
            assert!(calibrate.child.wait()?.success());
            life = started.elapsed().as_micros() as u64;
            let mut out = String::new();
            calibrate
                .child
                .stdout
                .take()
                .ok_or("stdout")?
                .read_to_string(&mut out)?;
            let printed: serde_json::Value = serde_json::from_str(out.trim())?;
            let position = printed["position"].as_u64().ok_or("position")?;
            acknowledged.insert(calibrate.id, position);
            sent.insert(calibrate.id, calibrate.payload);
        }
        let mut writers = Vec::new();
        for _ in 0..2 {
            let payload = rng.below(payloads.len() as u64) as usize;
            let writer = spawn(EventId::new(), payload)?;
            sent.insert(writer.id, payload);
            writers.push(writer);
        }
        for writer in &mut writers {
            std::thread::sleep(Duration::from_micros(rng.below(life * 6 / 5)));
            match writer.child.try_wait()? {
                Some(_) => finished += 1,
                None => {
                    writer.child.kill()?;
                    killed += 1;
                }
            }
        }
        for mut writer in writers {
            writer.child.wait()?;
            let mut out = String::new();
            writer
                .child
                .stdout
                .take()
                .ok_or("stdout")?
                .read_to_string(&mut out)?;
            if let Some(line) = out.lines().next() {
                let printed: serde_json::Value = serde_json::from_str(line)?;
                assert_eq!(printed["id"], writer.id.to_string());
                let position = printed["position"].as_u64().ok_or("position")?;
                acknowledged.insert(writer.id, position);
            }
            let mut err = String::new();
            writer
                .child
                .stderr
                .take()
                .ok_or("stderr")?
                .read_to_string(&mut err)?;
            assert!(!err.contains("error"), "a writer failed: {err}");
        }
    }
    // The next writer recovers whatever the last kills left; then everything is checked.
    let store = JsonStore::open(&dir)?;
    let all = store.read_all(1, usize::MAX)?;
    let stored: HashMap<EventId, u64> = all.iter().map(|e| (e.id(), e.position())).collect();
    for (id, position) in &acknowledged {
        assert_eq!(
            stored.get(id),
            Some(position),
            "acknowledged event {id} lost or moved"
        );
    }
    for event in &all {
        let payload = sent.get(&event.id()).ok_or("an event nobody sent")?;
        assert_eq!(
            event.payload().as_str(),
            payloads[*payload].1,
            "event {}",
            event.id()
        );
    }
    let positions: Vec<u64> = all.iter().map(|e| e.position()).collect();
    assert_eq!(
        positions,
        (1..=all.len() as u64).collect::<Vec<_>>(),
        "no hole, no gap"
    );
    drop(store);
    let report = verify(&dir)?;
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let quarantine = list_quarantine(&dir)?;
    assert!(quarantine
        .iter()
        .all(|q| q.kind == QuarantineKind::TornTail));
    println!(
        "sigkill trial: {rounds} rounds, {} appends started, {killed} killed, {finished} finished \
         before their kill; {} acknowledged, all present; {} stored in all ({} stored but never \
         acknowledged); {} torn tails moved to quarantine files; process life ~{life} us",
        sent.len(),
        acknowledged.len(),
        all.len(),
        all.len() - acknowledged.len(),
        quarantine.len(),
    );
    Ok(())
}
