//! [`check_schema_lock`]: a checked-in file that fails a test when an event type changed shape
//! without a new version, or when a stored version lost its upcast path.
//!
//! The lock holds one line per `(event type name, version)` the program has ever registered:
//! `{"name":..,"version":..,"fingerprint":..,"shape":..,"rust":..}`, sorted, after a `#` comment
//! header. Invariants:
//! - A line is never removed: a version once written may be stored somewhere, and must keep
//!   decoding. New `(name, version)` pairs are added; a line whose type was only moved or renamed
//!   in Rust (same shape) gets the new path.
//! - The file is written only when every check passes, through a temporary file renamed over it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{EventRegistration, EventRegistry};

/// One line of the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    name: String,
    version: u32,
    /// The fingerprint in hex (empty for a type that declares no shape).
    fingerprint: String,
    /// The shape's description, so a diff of the file shows what changed.
    shape: String,
    /// The Rust path of the type when it was locked.
    rust: String,
}

impl Entry {
    fn of(reg: &EventRegistration) -> Entry {
        let shape = reg.shape();
        Entry {
            name: reg.event_type().to_owned(),
            version: reg.event_version(),
            fingerprint: if shape.is_declared() {
                shape.to_string()
            } else {
                String::new()
            },
            shape: shape.description().to_owned(),
            rust: reg.rust_path().to_owned(),
        }
    }
}

const HEADER: &str =
    "# livenstore schema lock: the shape of every event type and version this program \
has registered.\n# Commit it. livenstore::testing::check_schema_lock fails when a type's shape \
changes without a new version,\n# or when a version loses its upcast path. Lines are added, never \
removed.\n";

/// Checks every `#[derive(DomainEvent)]` type of the program against the lock file at `path`,
/// writing the file when it is missing and adding the types it does not list yet.
///
/// Call it from one test of the crate that defines (or links) the events; commit the file it
/// writes. It fails, naming the Rust type, when:
/// - an event type's shape (its fields and their types, its variants, its `#[serde]`
///   attributes: [`Shape`](crate::Shape)) changed while its `(name, version)` did not: bump
///   `version` and add an upcast from the old one;
/// - a version in the lock has no type any more, and the current type of its name has no upcast
///   path from it: events stored at it would not decode;
/// - the [`EventRegistry`] itself is refused (two types claim one name and version, or a
///   version has no path), or the file is not a lock;
/// - no event type is linked into the test binary at all (an integration test of a library
///   links the library only when it names it: add `use my_crate as _;` beside the call);
/// - in check-only mode (the environment variable `LIVENSTORE_SCHEMA_LOCK=check`, for CI), the
///   file is missing or lacks a type: nothing is written, so a lock that was never committed
///   fails CI instead of passing it.
///
/// # Panics
///
/// In each case above, with every problem found in the message; also when the file cannot be
/// read or written.
///
/// # Examples
///
/// ```
/// // tests/schema.rs of a crate with events:
/// #[derive(serde::Serialize, serde::Deserialize, livenstore::DomainEvent)]
/// #[event(name = "doc.lock.opened")]
/// struct Opened { owner: String }
///
/// # std::env::remove_var("LIVENSTORE_SCHEMA_LOCK"); // this example writes a lock
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("events.lock");
/// # /*
/// #[test]
/// fn event_schemas_are_locked() {
///     livenstore::testing::check_schema_lock("events.lock");
/// }
/// # */
/// livenstore::testing::check_schema_lock(&path);
/// let lock = std::fs::read_to_string(&path).unwrap();
/// assert!(lock.contains(r#""name":"doc.lock.opened","version":1"#));
/// assert!(lock.contains(r#""shape":"struct{owner:String}""#));
/// // The next run finds everything as locked.
/// livenstore::testing::check_schema_lock(&path);
/// ```
pub fn check_schema_lock(path: impl AsRef<Path>) {
    let path = path.as_ref();
    let registry = match EventRegistry::global() {
        Ok(registry) => registry,
        Err(error) => panic!("schema lock {}: {error}", path.display()),
    };
    let registrations = registry.registrations();
    if registrations.is_empty() {
        panic!(
            "schema lock {}: no event type is linked into this test binary, so there is nothing \
             to lock; if the events live in your library, name it in the test: `use my_crate as _;`",
            path.display()
        );
    }
    let mode = match std::env::var(MODE_VAR) {
        Ok(value) if value == "check" => Mode::CheckOnly,
        _ => Mode::Update,
    };
    if let Err(problems) = check(&registrations, |name| registry.get(name), path, mode) {
        panic!("schema lock {} fails:\n{problems}", path.display());
    }
}

/// The environment variable that turns on check-only mode (`check`).
const MODE_VAR: &str = "LIVENSTORE_SCHEMA_LOCK";

/// Whether a check may write the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Write a missing file, add new entries, update moved types' paths.
    Update,
    /// Write nothing; a missing file or entry is a problem.
    CheckOnly,
}

/// The check, on any registrations: `Ok` after writing what changed, or every problem found.
fn check<'a>(
    registrations: &[&'a EventRegistration],
    current: impl Fn(&str) -> Option<&'a EventRegistration>,
    path: &Path,
    mode: Mode,
) -> Result<(), String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(format!("- it cannot be read: {error}")),
    };
    if text.is_none() && mode == Mode::CheckOnly {
        return Err(format!(
            "- the file does not exist ({MODE_VAR}=check writes nothing): run the test without \
             it to write the lock, and commit it"
        ));
    }
    let mut locked = match &text {
        Some(text) => parse(text)?,
        None => BTreeMap::new(),
    };
    let mut problems = String::new();
    for reg in registrations {
        let now = Entry::of(reg);
        match locked.get_mut(&(now.name.clone(), now.version)) {
            None if mode == Mode::CheckOnly => {
                let _ = writeln!(
                    problems,
                    "- `{}` (`{}` version {}) is not in the lock ({MODE_VAR}=check writes \
                     nothing): run the test without it to add it, and commit the lock",
                    now.rust, now.name, now.version
                );
            }
            None => {
                locked.insert((now.name.clone(), now.version), now);
            }
            Some(was)
                if was.fingerprint != now.fingerprint
                    && !was.fingerprint.is_empty()
                    && !now.fingerprint.is_empty() =>
            {
                let _ = writeln!(
                    problems,
                    "- `{}` changed shape but `{}` is still version {}: give it `version = {}` \
                     and an upcast from version {} (`upcast_from = ...` with the old type, or \
                     `upcast_json(from = {}, ...)`); if it is an older type kept to read stored \
                     events, restore its shape instead\n    locked: {} ({})\n    now:    {} ({})",
                    now.rust,
                    now.name,
                    now.version,
                    now.version + 1,
                    now.version,
                    now.version,
                    was.shape,
                    was.rust,
                    now.shape,
                    now.rust,
                );
            }
            Some(was) => *was = now,
        }
    }
    for ((name, version), entry) in &locked {
        let registered = registrations
            .iter()
            .any(|r| r.event_type() == name && r.event_version() == *version);
        if registered {
            continue;
        }
        match current(name) {
            Some(reg) if reg.upcasts_from(*version) => {}
            Some(reg) => {
                let _ = writeln!(
                    problems,
                    "- `{name}` version {version} (was `{}`) has no type any more, and `{}` \
                     (version {}) has no upcast from it: events stored at version {version} \
                     would not decode; keep the old type and give `{}` `upcast_from`, or add \
                     `upcast_json(from = {version}, ...)`",
                    entry.rust,
                    reg.rust_path(),
                    reg.event_version(),
                    reg.rust_path(),
                );
            }
            None => {
                let _ = writeln!(
                    problems,
                    "- `{name}` version {version} (was `{}`) has no type any more: events stored \
                     under `{name}` would not decode; keep a type that answers to it (by name or \
                     `aliases(\"{name}\")`)",
                    entry.rust,
                );
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let written = render(&locked);
    if mode == Mode::Update && text.as_deref() != Some(written.as_str()) {
        write(path, &written).map_err(|error| format!("- it cannot be written: {error}"))?;
    }
    Ok(())
}

/// The entries of a lock file, by `(name, version)`.
fn parse(text: &str) -> Result<BTreeMap<(String, u32), Entry>, String> {
    let mut entries = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let entry: Entry = serde_json::from_str(line)
            .map_err(|error| format!("- line {} is not a lock entry: {error}", i + 1))?;
        entries.insert((entry.name.clone(), entry.version), entry);
    }
    Ok(entries)
}

/// The file's text: the header, then one line per entry in order.
fn render(entries: &BTreeMap<(String, u32), Entry>) -> String {
    let mut out = String::from(HEADER);
    for entry in entries.values() {
        // An `Entry` of strings and a number always serializes.
        if let Ok(line) = serde_json::to_string(entry) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// Writes `text` to a temporary file beside `path`, then renames it over `path`.
fn write(path: &Path, text: &str) -> std::io::Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    std::fs::write(&temp, text)?;
    std::fs::rename(&temp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DomainEvent, Shape, UpcastError};

    macro_rules! event {
        ($ty:ident, $name:literal, $version:literal, $shape:literal, $from:expr) => {
            #[derive(serde::Serialize, serde::Deserialize)]
            struct $ty;
            impl DomainEvent for $ty {
                const EVENT_TYPE: &'static str = $name;
                const EVENT_VERSION: u32 = $version;
                const SHAPE: Shape = Shape::of($shape);
                fn from_stored(_: u32, _: &[u8]) -> Result<Self, UpcastError> {
                    Ok($ty)
                }
                fn upcasts_from(version: u32) -> bool {
                    version == $version || $from.contains(&version)
                }
            }
        };
    }
    event!(A1, "a", 1, "struct{x:u8}", [0u32; 0]);
    event!(A1Wider, "a", 1, "struct{x:u16}", [0u32; 0]);
    event!(A2, "a", 2, "struct{x:u16}", [1u32]);
    event!(A2NoPath, "a", 2, "struct{x:u16}", [0u32; 0]);
    event!(B1, "b", 1, "unit", [0u32; 0]);

    static A1_REG: EventRegistration = EventRegistration::new::<A1>("app::A1");
    static A1_MOVED: EventRegistration = EventRegistration::new::<A1>("app::events::A1");
    static A1_WIDER: EventRegistration = EventRegistration::new::<A1Wider>("app::A1Wider");
    static A2_REG: EventRegistration = EventRegistration::new::<A2>("app::A2");
    static A2_NO_PATH: EventRegistration = EventRegistration::new::<A2NoPath>("app::A2NoPath");
    static B1_REG: EventRegistration = EventRegistration::new::<B1>("app::B1");

    /// Runs the check with `regs` as the whole program (the last of a name is its current type).
    fn run(regs: &[&'static EventRegistration], path: &Path) -> Result<(), String> {
        run_in(regs, path, Mode::Update)
    }

    fn run_in(regs: &[&'static EventRegistration], path: &Path, mode: Mode) -> Result<(), String> {
        check(
            regs,
            |name| regs.iter().rev().find(|r| r.event_type() == name).copied(),
            path,
            mode,
        )
    }

    #[test]
    fn check_only_mode_writes_nothing_and_refuses_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.lock");
        let problems = run_in(&[&A1_REG], &path, Mode::CheckOnly).unwrap_err();
        assert!(problems.contains("does not exist"), "{problems}");
        assert!(!path.exists());
        run(&[&A1_REG], &path).unwrap();
        run_in(&[&A1_REG], &path, Mode::CheckOnly).unwrap();
        let problems = run_in(&[&A1_REG, &B1_REG], &path, Mode::CheckOnly).unwrap_err();
        assert!(
            problems.contains("`app::B1` (`b` version 1) is not in the lock"),
            "{problems}"
        );
        assert!(!std::fs::read_to_string(&path).unwrap().contains("app::B1"));
    }

    #[test]
    fn a_missing_lock_is_written_and_then_passes_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.lock");
        run(&[&A1_REG, &B1_REG], &path).unwrap();
        let first = std::fs::read_to_string(&path).unwrap();
        assert!(first.starts_with("# livenstore schema lock"), "{first}");
        let a = format!(
            r#"{{"name":"a","version":1,"fingerprint":"{}","shape":"struct{{x:u8}}","rust":"app::A1"}}"#,
            Shape::of("struct{x:u8}")
        );
        assert!(first.contains(&a), "{first}");
        assert!(
            first.find(r#""name":"a""#) < first.find(r#""name":"b""#),
            "sorted"
        );
        run(&[&A1_REG, &B1_REG], &path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
    }

    #[test]
    fn a_changed_shape_at_the_same_version_fails_naming_the_type() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.lock");
        run(&[&A1_REG], &path).unwrap();
        let before = std::fs::read_to_string(&path).unwrap();
        let problems = run(&[&A1_WIDER], &path).unwrap_err();
        assert!(
            problems.contains("`app::A1Wider` changed shape"),
            "{problems}"
        );
        assert!(problems.contains("still version 1"), "{problems}");
        assert!(problems.contains("struct{x:u8}") && problems.contains("struct{x:u16}"));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            before,
            "not written"
        );
    }

    #[test]
    fn a_moved_type_of_the_same_shape_updates_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.lock");
        run(&[&A1_REG], &path).unwrap();
        run(&[&A1_MOVED], &path).unwrap();
        let lock = std::fs::read_to_string(&path).unwrap();
        assert!(lock.contains(r#""rust":"app::events::A1""#), "{lock}");
    }

    #[test]
    fn a_removed_version_needs_an_upcast_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.lock");
        run(&[&A1_REG, &B1_REG], &path).unwrap();
        let problems = run(&[&A2_NO_PATH, &B1_REG], &path).unwrap_err();
        assert!(
            problems.contains("`a` version 1 (was `app::A1`) has no type any more")
                && problems.contains("`app::A2NoPath` (version 2) has no upcast from it"),
            "{problems}"
        );
        let problems = run(&[&A1_REG], &path).unwrap_err();
        assert!(
            problems.contains("`b` version 1 (was `app::B1`)"),
            "{problems}"
        );
        // With a path from version 1, the old line stays and the new version is added.
        run(&[&A2_REG, &B1_REG], &path).unwrap();
        let lock = std::fs::read_to_string(&path).unwrap();
        assert!(lock.contains(r#""name":"a","version":1"#), "{lock}");
        assert!(lock.contains(r#""name":"a","version":2"#), "{lock}");
    }

    #[test]
    fn a_file_that_is_no_lock_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.lock");
        std::fs::write(&path, "# header\n{\"name\":\"a\"}\n").unwrap();
        let problems = run(&[&A1_REG], &path).unwrap_err();
        assert!(
            problems.contains("line 2 is not a lock entry"),
            "{problems}"
        );
    }
}
