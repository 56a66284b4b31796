//! Turning the client library's errors into [`StoreError`]s.
//!
//! Rules: a failure to reach the server is [`StoreError::Connection`] naming `host:port`; every
//! other database failure is [`StoreError::Backend`] naming the operation. No error of the
//! client library panics or is swallowed.
//!
//! The source of a `Backend` error is a [`ClientError`]: it prints the client library's error
//! with the server's own message (the client library prints only "db error") or the cause of a
//! lost connection, and ends the chain (nothing printed twice). One `ClientError` can be shared
//! by every append of a group commit that failed together.

use std::sync::Arc;

use livenstore::StoreError;

/// The backend name carried by [`StoreError::Backend`].
pub(crate) const BACKEND: &str = "PostgreSQL";

/// Where a connection configuration points, as `host:port` (or `socket-dir:port`), as the
/// store's errors name it. Several hosts are joined with `,`.
///
/// # Examples
///
/// ```
/// let config: postgres::Config = "postgresql://postgres@db.example:6432/app".parse().unwrap();
/// assert_eq!(livenstore_postgres::endpoint(&config), "db.example:6432");
/// ```
pub fn endpoint(config: &postgres::Config) -> String {
    let ports = config.get_ports();
    let port_at = |i: usize| ports.get(i).or(ports.first()).copied().unwrap_or(5432);
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| match host {
            postgres::config::Host::Tcp(name) => format!("{name}:{}", port_at(i)),
            #[cfg(unix)]
            postgres::config::Host::Unix(dir) => format!("{}:{}", dir.display(), port_at(i)),
        })
        .collect();
    if hosts.is_empty() {
        format!("localhost:{}", port_at(0))
    } else {
        hosts.join(",")
    }
}

/// An error of the client library, shareable, printed with the server's message.
#[derive(Debug, Clone)]
pub(crate) struct ClientError(Arc<postgres::Error>);

impl ClientError {
    /// Wraps `error`.
    pub(crate) fn new(error: postgres::Error) -> Self {
        ClientError(Arc::new(error))
    }

    /// The client library's error.
    pub(crate) fn get(&self) -> &postgres::Error {
        &self.0
    }

    /// A [`StoreError::Backend`] for `operation` with this error as its source.
    pub(crate) fn to_store_error(&self, operation: &'static str, unknown: bool) -> StoreError {
        StoreError::Backend {
            backend: BACKEND,
            operation,
            outcome_unknown: unknown,
            source: Box::new(self.clone()),
        }
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        // "db error" alone says nothing: add the server's message (and the decoding error of a
        // column, the I/O error of a lost connection).
        if let Some(db) = self.0.as_db_error() {
            write!(
                f,
                ": {} {}: {}",
                db.severity(),
                db.code().code(),
                db.message()
            )?;
            if let Some(detail) = db.detail() {
                write!(f, " ({detail})")?;
            }
        } else if let Some(cause) = std::error::Error::source(&*self.0) {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

/// The end of the chain: its message already holds what the client's error and its causes say.
impl std::error::Error for ClientError {}

/// What a store says when its `log_head` row is gone (the schema was damaged by hand).
pub(crate) const MISSING_HEAD: &str = "the log_head row is missing";

/// Stored data that breaks the schema's rules (what says how), met during `operation`.
pub(crate) fn invalid_stored(operation: &'static str, what: &str) -> StoreError {
    StoreError::Backend {
        backend: BACKEND,
        operation,
        outcome_unknown: false,
        source: Box::new(crate::codec::InvalidValue::new(what)),
    }
}

/// The outcome of an append whose group-commit leader panicked (a bug): it may or may not have
/// been stored.
pub(crate) fn abandoned() -> StoreError {
    StoreError::Backend {
        backend: BACKEND,
        operation: "append",
        outcome_unknown: true,
        source: "the thread running the append's group panicked".into(),
    }
}

/// A database failure during `operation`.
pub(crate) fn backend(operation: &'static str, error: postgres::Error) -> StoreError {
    ClientError::new(error).to_store_error(operation, false)
}

/// The pool could not hand out a connection (the server is unreachable or the pool timed out).
pub(crate) fn pool(endpoint: &str, error: r2d2::Error) -> StoreError {
    PoolError::new(error).to_store_error(endpoint)
}

/// An error of the connection pool, shareable like [`ClientError`].
#[derive(Debug, Clone)]
pub(crate) struct PoolError(Arc<r2d2::Error>);

impl PoolError {
    /// Wraps `error`.
    pub(crate) fn new(error: r2d2::Error) -> Self {
        PoolError(Arc::new(error))
    }

    /// A [`StoreError::Connection`] naming `endpoint`, with this error as its source.
    pub(crate) fn to_store_error(&self, endpoint: &str) -> StoreError {
        StoreError::Connection {
            endpoint: endpoint.to_owned(),
            source: Box::new(self.clone()),
        }
    }
}

impl std::fmt::Display for PoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The end of the chain: its message is the pool's error's.
impl std::error::Error for PoolError {}

/// Whether `error` means the connection is gone (so a fresh connection may succeed).
pub(crate) fn is_connection_lost(error: &postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    match error.code() {
        // admin_shutdown, crash_shutdown, cannot_connect_now, connection_failure...
        Some(code) => matches!(
            code.code(),
            "57P01" | "57P02" | "57P03" | "08000" | "08003" | "08006"
        ),
        // No SQLSTATE: lost when the socket failed (an I/O error), not for a parameter or
        // column that did not convert.
        None => std::error::Error::source(error).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

/// Whether the server rolled the transaction back to break a deadlock: nothing of it is
/// stored, and running it again can succeed.
pub(crate) fn is_deadlock(error: &postgres::Error) -> bool {
    error.code().is_some_and(|code| code.code() == "40P01")
}

/// A unique violation (SQLSTATE 23505): the constraint's name.
pub(crate) fn unique_violation(error: &postgres::Error) -> Option<&str> {
    let db = error.as_db_error()?;
    (db.code().code() == "23505").then(|| db.constraint().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_names_host_and_port() {
        let config: postgres::Config = "postgresql://postgres@127.0.0.1:5433/test".parse().unwrap();
        assert_eq!(endpoint(&config), "127.0.0.1:5433");
        let config: postgres::Config = "host=db1,db2 port=6000 user=x".parse().unwrap();
        assert_eq!(endpoint(&config), "db1:6000,db2:6000");
        let config: postgres::Config = "user=x".parse().unwrap();
        assert_eq!(endpoint(&config), "localhost:5432");
    }
}
