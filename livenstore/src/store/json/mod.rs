//! [`JsonStore`]: a crash-safe event store in append-only JSON-lines segment files.
//!
//! The log is one line per record, appended, fsynced as the [`Durability`] says, one writer per
//! directory (a lock file), nothing in it ever discarded: what the log no longer counts goes to
//! quarantine files, and damage is reported, never skipped silently.
//!
//! # On-disk format
//!
//! A store is a directory holding:
//! - `LOCK`: empty; the open writer holds an exclusive lock on it (see `lock.rs`).
//! - `segment-00000001.jsonl`, `segment-00000002.jsonl`, ...: the log, in order, ids contiguous.
//!   A new segment starts when a batch would push the current one past
//!   [`JsonStoreOptions::segment_size`]; a batch never spans two segments.
//! - `segment-00000001.jsonl.torn-<nanos>` and `segment-00000001.jsonl.damaged-<nanos>`:
//!   quarantine files, the bytes a writable open cut off as a torn tail and the damaged lines
//!   [`repair`] moved out of that segment ([`list_quarantine`]).
//! - `checkpoints/<consumer>.checkpoint`: consumer checkpoints ([`JsonStore::checkpoints`]).
//! - `snapshots/<type>.<id>.snapshot`: the latest snapshot of each aggregate, one CRC-checked
//!   line (key characters outside `[A-Za-z0-9_-]` written `%XX`; a name too long for the file
//!   system ends in a hash of the key). Written by a background thread, to `.<name>.tmp` then
//!   moved into place (the old file moved aside to `<name>.old` first, removed once the new one
//!   is in place); a writable open finishes or undoes what a crash left (`snapshots.rs`).
//! - Any other file is ignored (so editors' backups or a README do no harm); a file named like a
//!   segment must be one, or opening fails with [`StoreError::Corrupted`](crate::StoreError::Corrupted).
//!
//! Every line is one JSON object (readable with `jq`), the event's payload inline and last:
//!
//! ```text
//! {"crc":"5f0e2a91","event":{"position":1,"id":"01JD...","stream":"user-1","version":1,"event_type":"UserCreated","recorded_at":"2026-11-23T09:00:00.000000000Z","metadata":{},"batch":[1,2]},"payload":{"name":"ada"}}
//! {"crc":"0c4d17b3","event":{"position":2,...,"batch":[2,2]},"payload":{...}}
//! {"crc":"9a0b11fe","link":{"id":"01JD...","stream":"admins","version":1,"linked_at":"..."}}
//! {"crc":"77c2d0e1","hole":{"position":3,"stream":"user-2","version":1,"quarantine":{"file":"segment-00000001.jsonl.damaged-...","offset":0,"bytes":251},"line":4,"reason":"checksum mismatch ...","repaired_at":"..."}}
//! ```
//!
//! - `crc` is the CRC-32 (IEEE) of every byte after the `{"crc":"XXXXXXXX",` prefix, up to and
//!   without the newline.
//! - `batch: [i, n]`: the line is the i-th of the n events one `append` wrote. A link line is a
//!   batch of its own.
//! - A hole line is what [`repair`] leaves for a lost record: the position and stream version it
//!   held stay taken, and where its bytes went is on record. Reads skip holes. (When the
//!   damaged line no longer tells which stream it was in, and it was its stream's last record,
//!   that version cannot be kept taken: the repair report says so with `stream: None`.)
//!
//! # Index: rebuilt by a header-only scan
//!
//! The in-memory index (per position: segment, offset, length, stream, version, type, time, id;
//! per stream: its positions; id to position) is not persisted: opening scans every line,
//! checks its checksum and parses only the header, stopping before `"payload":` (the payload is
//! last on the line, so it is never parsed). Payloads and metadata stay on disk and are read
//! with positioned reads (`read_exact_at`, adjacent lines in one read) when asked for. Opening a
//! 1,000,000-event store takes well under a second (BENCHMARKS.md). A persisted index checkpoint
//! would cut that to the tail's scan; it is not done yet.
//!
//! # Invariants
//!
//! 1. Positions are contiguous from 1 across the whole log, holes included; versions are
//!    contiguous from 1 per stream, holes included; `recorded_at` never decreases along
//!    positions. Opening checks all three.
//! 2. No byte is discarded. The log is only appended to, but for two explicit exceptions that
//!    first move the bytes to a synced quarantine file: the cut of a torn tail (never
//!    acknowledged) on a writable open, and [`repair`], which copies every intact line byte for
//!    byte and replaces each damaged one by a hole line. (The bytes of a write that failed are
//!    cut back at once: that append returned the error.)
//! 3. An append is one `write` of all its lines, made under the writer lock; a batch counts only
//!    once its last line (`[n, n]`) is on disk whole.
//! 4. One writer per directory (the `LOCK` file); read-only opens never write. A writer never
//!    opens a damaged log.
//! 5. A segment is synced before the next one is created, and the directory is synced after a
//!    segment is created, so a synced segment's successor never outlives it.
//!
//! # Crash cases and damage
//!
//! The rule that tells a torn tail from corruption is written in `recovery.rs`: a torn tail is
//! only what an interrupted append can leave (an unfinished batch, a line cut short, blocks of
//! zeros never written); anything else, a complete line with a bad checksum included, is
//! corruption.
//!
//! 1. Crash before `write`: nothing of the append is in the file; the append was not acknowledged.
//! 2. Crash in the middle of `write` (or power loss before the data reached the disk): the file
//!    ends with some lines of the batch, maybe part of a line, maybe blocks of zeros. That is a
//!    torn tail: a writable open moves its bytes to a `.torn-` quarantine file and cuts the
//!    segment back to the end of the last complete batch (`set_len` + `sync_all`), reporting it
//!    in [`JsonStore::recovery`] and to [`JsonStoreOptions::on_recovery`]. The append was not
//!    acknowledged.
//! 3. Crash after `write`, before `fsync`: a process crash keeps the lines (they are in the page
//!    cache); a power loss may lose them, whole batches or as in case 2. With
//!    [`Durability::Always`] the append was not acknowledged yet.
//! 4. Crash after `fsync`: the batch survives anything but a failing disk.
//! 5. Power loss with unsynced data in the middle of the file turning to zeros: the zeros are
//!    damage followed by no complete batch (nothing after them was synced), so case 2 applies.
//! 6. Damage that is not a torn tail (bit rot, hand editing), in the last line or any other: a
//!    writable open fails with [`StoreError::Corrupted`](crate::StoreError::Corrupted) naming the file and line; a read-only
//!    open works, lists the damaged records in [`RecoveryReport::damaged`], and its reads that
//!    reach one fail (or skip it, with [`JsonStoreOptions::skip_damaged`]); [`verify`] lists
//!    every damaged line; [`repair`], run by hand, moves them to a `.damaged-` quarantine file.
//! 7. Crash while creating a segment: an empty last segment is valid and appended to.
//! 8. `fsync` fails: the store refuses further appends (the kernel may have dropped the pages);
//!    reopening rescans what really is in the files.
//! 9. Crash during [`repair`]: each segment is the old one or the repaired one (a rename of a
//!    synced copy), the bytes it moves are in a quarantine file before; running it again
//!    finishes the work.
//!
//! # Durability
//!
//! Every mode survives a process crash (`kill -9`): an append's lines are handed to the kernel
//! before it returns. [`Durability::Always`] (the default) also survives a power loss for every
//! acknowledged append; [`Durability::Batch`] may lose the last interval's appends; and
//! [`Durability::Never`] may lose any recent ones. In every mode a power loss loses whole
//! appends only. Note: readers of this store may see an append's events while its `fsync` is
//! still running; a power loss at that moment loses them, though their append never returned.
//!
//! # Errors and odd files
//!
//! Missing permissions and other I/O failures are [`StoreError::Io`](crate::StoreError::Io) with the path. A segment
//! that holds something other than records (garbage, non-UTF-8 text) is
//! [`StoreError::Corrupted`](crate::StoreError::Corrupted) with file and line, unless it is a torn tail (case 2).

mod batch;
mod crc;
mod durability;
mod encode;
mod entry;
mod format;
#[cfg(fuzzing)]
pub mod fuzz;
mod id_index;
mod import;
mod index;
mod io;
mod line_reader;
mod lines;
mod lock;
mod options;
mod quarantine;
mod read;
mod recovery;
mod repair;
mod resolve;
mod salvage;
mod shared;
mod snapshot_dir;
mod snapshot_file;
mod snapshot_writer;
mod snapshots;
mod store;
mod survey;
mod verify;
mod write;
mod writer;

pub use import::JsonImporter;
pub use options::{Durability, JsonStoreOptions, RecoveryHook};
pub use quarantine::{list_quarantine, QuarantineFile, QuarantineKind};
pub use recovery::{DamagedRecord, RecoveryReport, TornTail};
pub use repair::{repair, repair_with, Hole, RepairReport};
pub use store::JsonStore;
pub use verify::{verify, VerifyProblem, VerifyReport};
