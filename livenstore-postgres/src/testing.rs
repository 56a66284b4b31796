//! Test support: throw-away schemas on the server named by [`URL_VAR`].
//!
//! Tests that need a server call [`TestSchema::new`]: when `LIVENSTORE_POSTGRES_URL` is unset it
//! prints one line saying the tests are skipped and why (once per process) and returns `None`, so
//! `cargo test --workspace` passes on a machine without PostgreSQL. When it is set, the server
//! must be reachable: a test that cannot connect fails, it is not skipped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{PostgresConfig, PostgresStore};

/// The environment variable holding the test server's URL
/// (`postgresql://postgres@127.0.0.1:5432/test`).
pub const URL_VAR: &str = "LIVENSTORE_POSTGRES_URL";

/// The prefix of every schema [`TestSchema`] creates.
pub const SCHEMA_PREFIX: &str = "lvtest_";

/// The test server's URL, or `None` (after printing the skip line once) when [`URL_VAR`] is
/// unset or empty.
pub fn url() -> Option<String> {
    livenstore::testing::server_url(
        URL_VAR,
        "livenstore-postgres",
        "a PostgreSQL server",
        "PostgreSQL",
    )
}

/// A schema with a unique name on the test server, dropped (with everything in it) on drop.
///
/// # Examples
///
/// ```no_run
/// use livenstore::{EventStore, ExpectedVersion, NewEvent};
/// use livenstore_postgres::testing::{TestSchema, SCHEMA_PREFIX};
///
/// // In a test: skipped (with one line on standard error) when LIVENSTORE_POSTGRES_URL is unset.
/// let Some(schema) = TestSchema::new() else { return };
/// assert!(schema.schema().starts_with(SCHEMA_PREFIX));
/// let store = schema.connect();
/// let event = NewEvent::from_json("Deposited", r#"{"amount":5}"#).unwrap();
/// let result = store.append("account-1", ExpectedVersion::NoStream, vec![event]).unwrap();
/// assert_eq!(result.first_position, 1, "every test starts from an empty schema");
/// // Dropping `schema` drops the schema and everything in it.
/// ```
#[derive(Debug)]
pub struct TestSchema {
    url: String,
    schema: String,
}

impl TestSchema {
    /// A new unique schema name on the test server, or `None` when no server is configured (see
    /// [`url`]). The schema itself is created by the first store that connects to it.
    pub fn new() -> Option<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let url = url()?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let schema = format!(
            "{SCHEMA_PREFIX}{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Some(TestSchema { url, schema })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema's name.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The versions of the migrations applied to this schema, in order (see
    /// [`schema::MIGRATIONS`](crate::schema::MIGRATIONS)).
    ///
    /// # Panics
    ///
    /// When the server cannot be reached or the schema has no migrations table yet.
    pub fn applied_migrations(&self) -> Vec<i32> {
        let rows = self
            .url
            .parse::<postgres::Config>()
            .and_then(|c| c.connect(postgres::NoTls))
            .and_then(|mut client| {
                client.query(
                    &format!(
                        "SELECT version FROM \"{}\".livenstore_migrations ORDER BY version",
                        self.schema
                    ),
                    &[],
                )
            });
        match rows {
            Ok(rows) => rows.iter().map(|row| row.get(0)).collect(),
            Err(err) => panic!(
                "the migrations of schema {} cannot be read: {err}",
                self.schema
            ),
        }
    }

    /// Settings naming this schema, with a small pool.
    pub fn config(&self) -> PostgresConfig {
        PostgresConfig::new()
            .schema(self.schema.clone())
            .pool_size(4)
    }

    /// A store in this schema.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached: with [`URL_VAR`] set, that is a failure.
    pub fn connect(&self) -> PostgresStore {
        self.connect_with(self.config())
    }

    /// A store in this schema with `config` (its schema is replaced by this one's).
    ///
    /// # Panics
    ///
    /// As [`connect`](Self::connect).
    pub fn connect_with(&self, config: PostgresConfig) -> PostgresStore {
        let config = config.schema(self.schema.clone());
        match PostgresStore::connect_with(&self.url, config) {
            Ok(store) => store,
            Err(err) => panic!("{URL_VAR} is set but the test server cannot be used: {err}"),
        }
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        // Best effort: a schema left behind only takes space, and its name marks it as a test's.
        if let Ok(mut client) = self
            .url
            .parse::<postgres::Config>()
            .and_then(|c| c.connect(postgres::NoTls))
        {
            let _ = client.batch_execute(&format!(
                "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                self.schema
            ));
        }
    }
}

/// A store in a fresh schema and the schema's guard, or `None` when no server is configured: the
/// `make` of `livenstore::conformance_tests!(skippable ...)`.
pub fn store() -> Option<(PostgresStore, TestSchema)> {
    let schema = TestSchema::new()?;
    Some((schema.connect(), schema))
}
