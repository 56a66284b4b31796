//! The PostgreSQL store named by `--postgres URL --schema NAME`.
//!
//! Rules:
//! - The URL is parsed when the command line is read ([`Server::new`]); a malformed one is a
//!   usage error whose message does not repeat the URL (it may hold a password). Nothing shows
//!   the password: messages name the schema, the database and `host:port` only.
//! - Read commands never create the schema. Connecting a [`PostgresStore`] creates (or upgrades)
//!   its schema, so [`Server::for_reading`] first checks, on a plain connection of its own, that
//!   the schema exists and holds a livenstore store (its `livenstore_migrations` table), and
//!   connects the store only then.
//! - `append` ([`Server::for_writing`]) connects the store directly, creating the schema when it
//!   is missing, as `append` creates a missing directory.
//! - A server that cannot be reached is [`StoreError::Connection`] naming `host:port`, whoever
//!   connects (the check or the store), after the store's connect timeout unless the URL sets
//!   its own.

use std::fmt;

use livenstore::StoreError;
use livenstore_postgres::{PostgresConfig, PostgresStore};
use postgres::NoTls;

use crate::error::CliError;

/// Connections the command's store may open: commands run on one thread and use one at a time;
/// the second lets the store replace a broken connection while the first is still checked out.
const POOL_SIZE: u32 = 2;

/// A schema on a PostgreSQL server, not connected yet.
pub struct Server {
    /// As given, for [`PostgresStore::connect_with`].
    url: String,
    /// Parsed, with the store's connect timeout when the URL sets none.
    config: postgres::Config,
    schema: String,
    /// `host:port`, for messages.
    endpoint: String,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the URL: it may hold a password.
        f.debug_struct("Server")
            .field("endpoint", &self.endpoint)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// `schema `NAME` in database `DB` at HOST:PORT` (without the database when the URL names
/// none).
impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "schema `{}`", self.schema)?;
        if let Some(db) = self.config.get_dbname() {
            write!(f, " in database `{db}`")?;
        }
        write!(f, " at {}", self.endpoint)
    }
}

impl Server {
    /// The server at `url` (`postgresql://...` or `key=value` form), store schema `schema`
    /// (checked by the command line's parser).
    ///
    /// # Errors
    ///
    /// [`CliError::InvalidUrl`] when `url` does not parse.
    pub fn new(url: &str, schema: String) -> Result<Self, CliError> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| CliError::InvalidUrl(crate::with_causes(&e)))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(PostgresConfig::new().connect_timeout_value());
        }
        if config.get_application_name().is_none() {
            config.application_name("livenstore");
        }
        let endpoint = livenstore_postgres::endpoint(&config);
        Ok(Server {
            url: url.to_owned(),
            config,
            schema,
            endpoint,
        })
    }

    /// The store, if its schema exists; nothing is created.
    ///
    /// # Errors
    ///
    /// [`CliError::NoSchema`] or [`CliError::NotAStoreSchema`]; [`StoreError::Connection`]
    /// naming `host:port` when the server cannot be reached; [`StoreError::Backend`] when the
    /// check fails on the server.
    pub fn for_reading(&self) -> Result<PostgresStore, CliError> {
        let (schema_exists, has_store) = self.look_for_schema()?;
        if !schema_exists {
            return Err(CliError::NoSchema {
                place: self.to_string(),
            });
        }
        if !has_store {
            return Err(CliError::NotAStoreSchema {
                place: self.to_string(),
            });
        }
        self.for_writing()
    }

    /// The store, its schema created or upgraded when needed.
    ///
    /// # Errors
    ///
    /// [`StoreError::Connection`] naming `host:port` when the server cannot be reached, and the
    /// errors of [`PostgresStore::connect_with`].
    pub fn for_writing(&self) -> Result<PostgresStore, CliError> {
        let config = PostgresConfig::new()
            .schema(self.schema.clone())
            .pool_size(POOL_SIZE)
            .connect_timeout(self.connect_timeout());
        Ok(PostgresStore::connect_with(&self.url, config)?)
    }

    fn connect_timeout(&self) -> std::time::Duration {
        self.config
            .get_connect_timeout()
            .copied()
            .unwrap_or_else(|| PostgresConfig::new().connect_timeout_value())
    }

    /// Whether the schema exists, and whether it holds a livenstore store.
    fn look_for_schema(&self) -> Result<(bool, bool), StoreError> {
        let mut client = self
            .config
            .connect(NoTls)
            .map_err(|e| StoreError::Connection {
                endpoint: self.endpoint.clone(),
                source: Box::new(e),
            })?;
        // `format('%I.%I')` quotes the names as identifiers; `to_regclass` is NULL when there is
        // no such table (and never fails on a name).
        let row = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1), \
                        to_regclass(format('%I.%I', $1::text, 'livenstore_migrations')) IS NOT NULL",
                &[&self.schema],
            )
            .map_err(|e| StoreError::Backend {
                backend: "PostgreSQL",
                operation: "looking for the schema",
                outcome_unknown: false,
                source: Box::new(e),
            })?;
        Ok((row.get(0), row.get(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_schema_database_and_endpoint_but_no_password() {
        let server = Server::new(
            "postgresql://ada:s3cret@db.example:6543/orders",
            "billing".into(),
        )
        .expect("a valid URL");
        assert_eq!(
            server.to_string(),
            "schema `billing` in database `orders` at db.example:6543"
        );
        assert!(!format!("{server:?}").contains("s3cret"));
        let server = Server::new("host=h1,h2 port=7000 user=x", "s".into()).expect("valid");
        assert_eq!(server.to_string(), "schema `s` at h1:7000,h2:7000");
        let server = Server::new("user=x", "s".into()).expect("valid");
        assert_eq!(server.endpoint, "localhost:5432");
    }

    #[test]
    fn a_malformed_url_is_refused_without_repeating_it() {
        let err = Server::new("postgresql://ada:s3cret@[::1", "s".into()).unwrap_err();
        assert!(matches!(err, CliError::InvalidUrl(_)), "{err:?}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn the_connect_timeout_of_the_url_wins() {
        let server = Server::new("host=h connect_timeout=9", "s".into()).expect("valid");
        assert_eq!(server.connect_timeout(), std::time::Duration::from_secs(9));
        let server = Server::new("host=h", "s".into()).expect("valid");
        assert_eq!(
            server.connect_timeout(),
            PostgresConfig::new().connect_timeout_value()
        );
    }
}
