//! `snapshots [--type T] [--delete TYPE]`: the aggregate snapshots a store keeps.
//!
//! The `CURRENT` column says whether a snapshot was taken by the same code as the newest
//! snapshot of its type (same state-shape fingerprint and snapshot version): a snapshot that is
//! not current is ignored by that code, which replays its aggregate in full and replaces the
//! snapshot on its next save.
//!
//! A directory keeps snapshots in `<dir>/snapshots/`, a PostgreSQL schema in its `snapshots`
//! table, a NATS store in its key-value bucket `<stream>_snapshots` (a missing bucket lists
//! nothing and is not created).

use std::collections::HashMap;
use std::time::Duration;

use livenstore::store::{SnapshotInfo, SnapshotStore};
use livenstore::Timestamp;
use serde::Serialize;

use crate::error::CliError;
use crate::output::{Align, Output, Table};
use crate::store::{Store, Target};

/// The key-value bucket of a NATS store's snapshots (`<stream>_snapshots`).
const BUCKET: &str = "snapshots";

/// One snapshot, as `--json` prints it.
#[derive(Serialize)]
struct SnapshotLine<'a> {
    aggregate_type: &'a str,
    aggregate_id: &'a str,
    version: u64,
    state_bytes: u64,
    fingerprint: String,
    snapshot_version: u32,
    taken_at: Timestamp,
    current: bool,
}

/// What `--delete` prints with `--json`.
#[derive(Serialize)]
struct Deleted<'a> {
    aggregate_type: &'a str,
    deleted: u64,
}

/// The store's snapshots (every store the command opens keeps them).
fn snapshots_of(store: &Store) -> Result<&dyn SnapshotStore, CliError> {
    store.events().snapshots().ok_or_else(|| {
        CliError::Store(livenstore::StoreError::InvalidArgument(
            "this store keeps no snapshots".into(),
        ))
    })
}

/// The newest snapshot of each type: its `(time, fingerprint, snapshot version)`.
fn current_code(snapshots: &[SnapshotInfo]) -> HashMap<&str, (Timestamp, u64, u32)> {
    let mut newest: HashMap<&str, (Timestamp, u64, u32)> = HashMap::new();
    for s in snapshots {
        let this = (s.taken_at, s.fingerprint, s.snapshot_version);
        newest
            .entry(&s.aggregate_type)
            .and_modify(|best| {
                if this.0 > best.0 {
                    *best = this;
                }
            })
            .or_insert(this);
    }
    newest
}

/// `snapshots [--type T]`.
pub fn list(
    target: &Target,
    aggregate_type: Option<&str>,
    json: bool,
    out: &mut Output,
) -> Result<(), CliError> {
    let store = target.for_reading()?;
    // A NATS store's missing bucket lists as empty (it is not created).
    let snapshots = snapshots_of(&store)?.list_snapshots(aggregate_type)?;
    let newest = current_code(&snapshots);
    let is_current = |s: &SnapshotInfo| {
        newest
            .get(s.aggregate_type.as_str())
            .is_some_and(|&(_, f, v)| (f, v) == (s.fingerprint, s.snapshot_version))
    };
    if json {
        for s in &snapshots {
            out.json(&SnapshotLine {
                aggregate_type: &s.aggregate_type,
                aggregate_id: &s.aggregate_id,
                version: s.version,
                state_bytes: s.state_bytes,
                fingerprint: format!("{:016x}", s.fingerprint),
                snapshot_version: s.snapshot_version,
                taken_at: s.taken_at,
                current: is_current(s),
            })?;
        }
        return Ok(());
    }
    let mut table = Table::new(&[
        ("TYPE", Align::Left),
        ("ID", Align::Left),
        ("VERSION", Align::Right),
        ("SIZE", Align::Right),
        ("FINGERPRINT", Align::Left),
        ("SNAPSHOT VERSION", Align::Right),
        ("TAKEN AT", Align::Left),
        ("CURRENT", Align::Left),
    ]);
    for s in &snapshots {
        table.row(vec![
            s.aggregate_type.clone(),
            s.aggregate_id.clone(),
            s.version.to_string(),
            s.state_bytes.to_string(),
            format!("{:016x}", s.fingerprint),
            s.snapshot_version.to_string(),
            s.taken_at.to_string(),
            if is_current(s) { "yes" } else { "no" }.to_owned(),
        ]);
    }
    table.write(out)
}

/// `snapshots --delete TYPE`.
pub fn delete(
    target: &Target,
    aggregate_type: &str,
    wait: Option<Duration>,
    json: bool,
    out: &mut Output,
) -> Result<(), CliError> {
    let deleted = match target {
        // Nothing to delete: neither the stream nor the bucket is created to find that out.
        Target::Nats(server) if !server.has_bucket(BUCKET)? => 0,
        _ => {
            let store = target.for_writing(wait)?;
            snapshots_of(&store)?.delete_snapshots(aggregate_type)?
        }
    };
    if json {
        return out.json(&Deleted {
            aggregate_type,
            deleted,
        });
    }
    out.line(&format!(
        "deleted {deleted} snapshot(s) of `{aggregate_type}`"
    ))
}
