//! Turning the client library's errors into [`StoreError`]s.
//!
//! Rules: a failure to reach the server is [`StoreError::Connection`] naming `host:port`; every
//! other database failure is [`StoreError::Backend`] naming the operation. No error of the
//! client library panics or is swallowed.

use livenstore::StoreError;

/// The backend name carried by [`StoreError::Backend`].
pub(crate) const BACKEND: &str = "PostgreSQL";

/// Where a connection configuration points, as `host:port` (or `socket-dir:port`), for error
/// messages. Several hosts are joined with `,`.
pub(crate) fn endpoint(config: &postgres::Config) -> String {
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

/// A database failure during `operation`.
pub(crate) fn backend(operation: &'static str, error: postgres::Error) -> StoreError {
    StoreError::Backend {
        backend: BACKEND,
        operation,
        outcome_unknown: false,
        source: Box::new(error),
    }
}

/// A database failure during `operation` whose append may or may not have committed.
pub(crate) fn outcome_unknown(operation: &'static str, error: postgres::Error) -> StoreError {
    StoreError::Backend {
        backend: BACKEND,
        operation,
        outcome_unknown: true,
        source: Box::new(error),
    }
}

/// The pool could not hand out a connection (the server is unreachable or the pool timed out).
pub(crate) fn pool(endpoint: &str, error: r2d2::Error) -> StoreError {
    StoreError::Connection {
        endpoint: endpoint.to_owned(),
        source: Box::new(error),
    }
}

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
        // No SQLSTATE: an I/O error on the socket.
        None => error.as_db_error().is_none(),
    }
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
