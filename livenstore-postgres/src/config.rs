//! How a [`PostgresStore`](crate::PostgresStore) uses its server: schema, pool and limits.

use std::time::Duration;

use livenstore::backend::MAX_PAYLOAD_BYTES;
use livenstore::StoreError;

/// The longest schema name, in bytes: the notification channel is `livenstore_<schema>`, and
/// PostgreSQL identifiers hold at most 63 bytes.
pub const MAX_SCHEMA_NAME_BYTES: usize = 48;

/// The schema a store uses when none is configured.
pub const DEFAULT_SCHEMA: &str = "livenstore";

/// Settings of a [`PostgresStore`](crate::PostgresStore).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use livenstore_postgres::PostgresConfig;
///
/// let config = PostgresConfig::new()
///     .schema("billing_events")
///     .pool_size(8)
///     .connect_timeout(Duration::from_secs(2));
/// assert_eq!(config.schema_name(), "billing_events");
/// assert!(PostgresConfig::new().schema("no spaces").validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    schema: String,
    pool_size: u32,
    connect_timeout: Duration,
    max_payload: usize,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        PostgresConfig {
            schema: DEFAULT_SCHEMA.to_owned(),
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
            max_payload: MAX_PAYLOAD_BYTES,
        }
    }
}

impl PostgresConfig {
    /// The defaults: schema `livenstore`, 16 pooled connections, 5 s to connect, payloads up to
    /// [`MAX_PAYLOAD_BYTES`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The schema holding the store's tables (created on connect). One database can hold many
    /// independent stores, one per schema. 1 to [`MAX_SCHEMA_NAME_BYTES`] bytes of lowercase
    /// ASCII letters, digits and `_`, not starting with a digit.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// The most connections the store's pool opens (used by [`connect`](crate::PostgresStore::connect);
    /// a pool given to [`with_pool`](crate::PostgresStore::with_pool) keeps its own size).
    pub fn pool_size(mut self, size: u32) -> Self {
        self.pool_size = size;
        self
    }

    /// How long connecting to the server may take before it is an error.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The largest payload accepted, in bytes of JSON text.
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.max_payload = bytes;
        self
    }

    /// The configured schema name.
    pub fn schema_name(&self) -> &str {
        &self.schema
    }

    /// The configured pool size.
    pub fn pool_size_value(&self) -> u32 {
        self.pool_size
    }

    /// The configured connect timeout.
    pub fn connect_timeout_value(&self) -> Duration {
        self.connect_timeout
    }

    /// The configured payload limit.
    pub fn max_payload_value(&self) -> usize {
        self.max_payload
    }

    /// The channel appends notify (`LISTEN`/`NOTIFY`): `livenstore_<schema>`.
    pub fn notification_channel(&self) -> String {
        format!("livenstore_{}", self.schema)
    }

    /// Checks the settings: the schema name's rules, a pool of at least one connection and a
    /// non-zero connect timeout.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`] saying what is wrong.
    pub fn validate(&self) -> Result<(), StoreError> {
        validate_schema_name(&self.schema)?;
        if self.pool_size == 0 {
            return Err(StoreError::InvalidArgument(
                "the pool size must be at least 1".into(),
            ));
        }
        if self.connect_timeout.is_zero() {
            return Err(StoreError::InvalidArgument(
                "the connect timeout must not be zero".into(),
            ));
        }
        Ok(())
    }
}

/// Checks a schema name (see [`PostgresConfig::schema`]). Names are never quoted from user
/// input without this check, so they cannot inject SQL.
///
/// # Errors
///
/// [`StoreError::InvalidArgument`] saying what is wrong.
pub fn validate_schema_name(schema: &str) -> Result<(), StoreError> {
    let reason = if schema.is_empty() {
        "it is empty"
    } else if schema.len() > MAX_SCHEMA_NAME_BYTES {
        "it is longer than 48 bytes"
    } else if schema.as_bytes()[0].is_ascii_digit() {
        "it starts with a digit"
    } else if schema.starts_with("pg_") {
        "names starting with `pg_` are reserved by PostgreSQL"
    } else if !schema
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        "only lowercase ASCII letters, digits and `_` are allowed"
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidArgument(format!(
        "invalid schema name {:?}: {reason}",
        schema.chars().take(100).collect::<String>()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        for good in ["livenstore", "a", "_x", "events_2026", &"s".repeat(48)] {
            assert!(validate_schema_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1abc",
            "pg_temp",
            "Upper",
            "with space",
            "a;drop",
            "quote\"",
            &"s".repeat(49),
        ] {
            assert!(
                matches!(
                    validate_schema_name(bad),
                    Err(StoreError::InvalidArgument(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn validate_checks_pool_and_timeout() {
        assert!(PostgresConfig::new().validate().is_ok());
        assert!(PostgresConfig::new().pool_size(0).validate().is_err());
        assert!(PostgresConfig::new()
            .connect_timeout(Duration::ZERO)
            .validate()
            .is_err());
        assert_eq!(
            PostgresConfig::new().schema("abc").notification_channel(),
            "livenstore_abc"
        );
    }
}
