//! The follower's `LISTEN` connection: how it is opened, waited on, checked and given back.
//!
//! Invariants:
//! - [`ListenSource::connect`] returns only after `LISTEN` has run, so every append that commits
//!   afterwards notifies this connection (the follower reads the store after connecting, so
//!   appends committed before are not missed either).
//! - Every error of a connection means it is lost: the follower drops it and opens a new one,
//!   never reuses it.
//! - A pooled connection goes back to the pool after `UNLISTEN *` and with its application name
//!   reset, so no other user of the pool receives the store's notifications.
//! - Only notifications on the store's channel count; a payload that is not a position still
//!   counts as "something was appended" (the follower reads the store to find out what).

use std::time::Duration;

use livenstore::StoreError;
use postgres::fallible_iterator::FallibleIterator;
use postgres::{NoTls, SimpleQueryMessage};
use r2d2_postgres::PostgresConnectionManager;

use crate::error;
use crate::inner::PostgresPool;

/// The `application_name` of the follower's connection (see `pg_stat_activity`).
pub const LISTENER_APPLICATION_NAME: &str = "livenstore-listener";

/// How a dedicated connection notices a peer that vanished without closing the socket.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);

/// Where the follower's connection comes from.
pub(crate) struct ListenSource {
    pub(crate) connector: Connector,
    /// `host:port`, for errors.
    pub(crate) endpoint: String,
    /// The store's notification channel.
    pub(crate) channel: String,
}

/// How the follower gets a connection.
pub(crate) enum Connector {
    /// A connection of its own, outside the pool.
    Dedicated(Box<postgres::Config>),
    /// A connection taken from the store's pool for as long as the follower runs.
    Pooled(PostgresPool),
}

enum Connection {
    Dedicated(postgres::Client),
    Pooled(r2d2::PooledConnection<PostgresConnectionManager<NoTls>>),
}

/// A connection that is listening on the store's channel.
pub(crate) struct Listener {
    connection: Connection,
    channel: String,
    pid: i32,
}

/// What a wait on the listener ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Nothing arrived in time.
    Timeout,
    /// Appends were announced: `up_to` is the highest position announced, `None` when some
    /// payload was not a position.
    Notified { up_to: Option<u64> },
}

impl ListenSource {
    /// Opens (or takes) a connection, and listens.
    ///
    /// # Errors
    ///
    /// [`StoreError::Connection`] when no connection can be had; [`StoreError::Backend`] when
    /// `LISTEN` fails.
    pub(crate) fn connect(&self) -> Result<Listener, StoreError> {
        let channel = self.channel.clone();
        // The channel is `livenstore_<schema>` and schema names are validated: safe to quote.
        let mut listen = format!("LISTEN \"{channel}\"; SELECT pg_backend_pid()");
        let endpoint = &self.endpoint;
        let mut connection = match &self.connector {
            Connector::Dedicated(config) => {
                let mut config = (**config).clone();
                config
                    .application_name(LISTENER_APPLICATION_NAME)
                    .keepalives(true)
                    .keepalives_idle(KEEPALIVE_IDLE);
                let client = config.connect(NoTls).map_err(|e| StoreError::Connection {
                    endpoint: endpoint.clone(),
                    source: Box::new(e),
                })?;
                Connection::Dedicated(client)
            }
            Connector::Pooled(pool) => {
                // The name goes in the LISTEN's message: the statements of one simple query
                // share a transaction, so a failed LISTEN takes the SET back with it and the
                // connection returns to the pool with its own name.
                listen.insert_str(
                    0,
                    &format!("SET application_name = '{LISTENER_APPLICATION_NAME}'; "),
                );
                Connection::Pooled(pool.get().map_err(|e| error::pool(endpoint, e))?)
            }
        };
        let messages = connection
            .client()
            .simple_query(&listen)
            .map_err(|e| error::backend("listen", e))?;
        let pid = messages
            .iter()
            .find_map(|message| match message {
                SimpleQueryMessage::Row(row) => row.get(0).and_then(|pid| pid.parse().ok()),
                _ => None,
            })
            .ok_or_else(|| error::invalid_stored("listen", "no backend process id"))?;
        Ok(Listener {
            connection,
            channel,
            pid,
        })
    }
}

impl Connection {
    fn client(&mut self) -> &mut postgres::Client {
        match self {
            Connection::Dedicated(client) => client,
            Connection::Pooled(client) => client,
        }
    }
}

impl Listener {
    /// The server process id of the connection (`pg_backend_pid()`).
    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    /// Waits up to `timeout` for a notification, then takes every other one already arrived.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the connection is lost.
    pub(crate) fn wait(&mut self, timeout: Duration) -> Result<Wake, StoreError> {
        let client = self.connection.client();
        let mut notifications = client.notifications();
        let first = notifications
            .timeout_iter(timeout)
            .next()
            .map_err(|e| error::backend("listen", e))?;
        let Some(first) = first else {
            drop(notifications);
            return if client.is_closed() {
                Err(closed())
            } else {
                Ok(Wake::Timeout)
            };
        };
        let mut wake = Wake::Timeout;
        let mut pending = Some(first);
        let mut rest = notifications.iter();
        while let Some(notification) = pending {
            if notification.channel() == self.channel {
                let position = notification.payload().trim().parse::<u64>().ok();
                wake = match (wake, position) {
                    (Wake::Timeout, position) => Wake::Notified { up_to: position },
                    (Wake::Notified { up_to: Some(a) }, Some(b)) => Wake::Notified {
                        up_to: Some(a.max(b)),
                    },
                    (Wake::Notified { .. }, _) => Wake::Notified { up_to: None },
                };
            }
            pending = rest.next().map_err(|e| error::backend("listen", e))?;
        }
        Ok(wake)
    }

    /// A round trip on the connection, to find out whether it is still there.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the connection is lost.
    pub(crate) fn check(&mut self) -> Result<(), StoreError> {
        self.connection
            .client()
            .batch_execute("SELECT 1")
            .map_err(|e| error::backend("listen", e))
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Connection::Pooled(client) = &mut self.connection {
            // Best effort: a connection that fails here is broken, and the pool discards broken
            // connections (`is_closed`) instead of handing them out again.
            let _ = client.batch_execute("UNLISTEN *; RESET application_name");
        }
    }
}

fn closed() -> StoreError {
    StoreError::Backend {
        backend: error::BACKEND,
        operation: "listen",
        outcome_unknown: false,
        source: "the server closed the connection".into(),
    }
}
