//! [`PostgresStore`]: connecting, the connection pool and the schema, and the [`EventStore`]
//! implementation: each call checks its arguments and hands the work to the module that does it
//! (appends through the group commit, `read`, `link`).
//!
//! Invariant: every argument rule of the trait is checked here or in the module before any
//! round trip, so a refused call costs no connection.

use std::sync::Arc;

use livenstore::backend::validate_append;
use livenstore::store::{Snapshot, SnapshotStore};
use livenstore::{
    AppendResult, EventId, EventStore, ExpectedVersion, NewEvent, RecordedEvent, StoreError,
    StreamInfo, Timestamp,
};
use postgres::NoTls;
use r2d2_postgres::PostgresConnectionManager;

use crate::config::PostgresConfig;
use crate::inner::{Inner, PostgresPool};
use crate::sql::Sql;
use crate::write::group_commit::{GroupCommit, JoinRule, Limits};
use crate::write::pipeline::Pipeline;
use crate::write::plan::AppendRequest;
use crate::write::{append, link};
use crate::{error, read, schema};

/// The smallest pool whose store runs two append groups at once.
const MIN_POOL_TO_PIPELINE: u32 = 4;

/// The events that must be queued for another group to run beside a running one that still
/// writes its events: a group of its own costs round trips and a commit, more than writing
/// fewer events takes; below it, appends wait to share the next group. (Chosen with the
/// `postgres_store` bench; BENCHMARKS.md has the runs.)
const MIN_EVENTS_TO_PIPELINE: usize = 150;

/// The same once every running group has written its events and only waits for its lock and
/// commit: a server core would idle, so a smaller group is worth its commit (a few writers of
/// batches gain most; BENCHMARKS.md).
const MIN_EVENTS_TO_PIPELINE_WHEN_WRITTEN: usize = 64;

/// An event store in a PostgreSQL database, shared by any number of processes.
///
/// See the [crate documentation](crate) for the design; every
/// [`EventStore`](livenstore::EventStore) rule holds across processes.
///
/// # Examples
///
/// ```no_run
/// use livenstore::{EventStore, ExpectedVersion, NewEvent};
/// use livenstore_postgres::PostgresStore;
///
/// let store = PostgresStore::connect("postgresql://postgres@127.0.0.1:5432/test")?;
/// let opened = NewEvent::from_json("AccountOpened", r#"{"owner":"ada"}"#)?;
/// store.append("account-1", ExpectedVersion::NoStream, vec![opened])?;
/// assert_eq!(store.read_stream("account-1", 1, usize::MAX)?.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Clones are cheap and share the pool and the group commit.
#[derive(Clone)]
pub struct PostgresStore {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("endpoint", &self.inner.endpoint)
            .field("schema", &self.inner.config.schema_name())
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the server at `url` (`postgresql://user@host:port/database` or the
    /// `key=value` form) with the default [`PostgresConfig`], and creates or upgrades the
    /// `livenstore` schema.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`] for a malformed URL; [`StoreError::Connection`] naming
    /// host and port when the server cannot be reached; [`StoreError::Backend`] when the schema
    /// cannot be created.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PostgresConfig::default())
    }

    /// [`connect`](Self::connect) with settings.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect), and [`StoreError::InvalidArgument`] for invalid settings.
    pub fn connect_with(url: &str, config: PostgresConfig) -> Result<Self, StoreError> {
        config.validate()?;
        let mut pg: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::InvalidArgument(format!("invalid PostgreSQL URL: {e}")))?;
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(config.connect_timeout_value());
        }
        if pg.get_application_name().is_none() {
            pg.application_name("livenstore");
        }
        let endpoint = error::endpoint(&pg);
        // One direct connection first: it gives a clear error naming host and port, and runs
        // the migrations before any pooled connection is used.
        let mut client = pg.connect(NoTls).map_err(|e| StoreError::Connection {
            endpoint: endpoint.clone(),
            source: Box::new(e),
        })?;
        schema::migrate(&mut client, config.schema_name())?;
        drop(client);
        let pool = r2d2::Pool::builder()
            .max_size(config.pool_size_value())
            .min_idle(Some(0))
            .connection_timeout(config.connect_timeout_value())
            // A broken connection shows on first use; the store retries what is safe to retry
            // instead of paying a round trip per checkout.
            .test_on_check_out(false)
            .build_unchecked(PostgresConnectionManager::new(pg.clone(), NoTls));
        Ok(Self::from_parts(pool, config, endpoint, Some(pg)))
    }

    /// A store working through `pool`, in the default `livenstore` schema (created or upgraded
    /// now).
    ///
    /// # Errors
    ///
    /// [`StoreError::Connection`] when the pool cannot hand out a connection;
    /// [`StoreError::Backend`] when the schema cannot be created.
    pub fn with_pool(pool: PostgresPool) -> Result<Self, StoreError> {
        Self::with_pool_and_config(pool, PostgresConfig::default())
    }

    /// [`with_pool`](Self::with_pool) with settings (the pool size and connect timeout of
    /// `config` are not used: the pool has its own).
    ///
    /// # Errors
    ///
    /// As [`with_pool`](Self::with_pool), and [`StoreError::InvalidArgument`] for invalid
    /// settings.
    pub fn with_pool_and_config(
        pool: PostgresPool,
        config: PostgresConfig,
    ) -> Result<Self, StoreError> {
        config.validate()?;
        let endpoint = "the server of the given pool".to_owned();
        let mut client = pool.get().map_err(|e| error::pool(&endpoint, e))?;
        schema::migrate(&mut client, config.schema_name())?;
        drop(client);
        Ok(Self::from_parts(pool, config, endpoint, None))
    }

    fn from_parts(
        pool: PostgresPool,
        config: PostgresConfig,
        endpoint: String,
        pg_config: Option<postgres::Config>,
    ) -> Self {
        let channel = config.notification_channel();
        let sql = Sql::new(config.schema_name());
        // Up to three leaders pipeline their groups (the later ones write their events while
        // the first commits), each holding a connection; a small pool keeps one, leaving the
        // rest for reads. Three keep more server cores busy than two when a few writers append
        // batches, and cost nothing with many (BENCHMARKS.md, PostgreSQL).
        let leaders = if pool.max_size() >= MIN_POOL_TO_PIPELINE {
            3
        } else {
            1
        };
        PostgresStore {
            inner: Arc::new(Inner {
                pool,
                config,
                endpoint,
                channel,
                pg_config,
                sql,
                group: GroupCommit::new(
                    Limits::DEFAULT,
                    leaders,
                    JoinRule {
                        events: MIN_EVENTS_TO_PIPELINE,
                        events_when_written: MIN_EVENTS_TO_PIPELINE_WHEN_WRITTEN,
                    },
                ),
                pipeline: Pipeline::default(),
            }),
        }
    }

    /// The schema holding the store's tables.
    pub fn schema(&self) -> &str {
        self.inner.config.schema_name()
    }

    /// The store's settings.
    pub fn config(&self) -> &PostgresConfig {
        &self.inner.config
    }

    /// The connection pool (shared with the store: connections taken from it count against the
    /// store's).
    pub fn pool(&self) -> &PostgresPool {
        &self.inner.pool
    }

    /// The channel every append notifies, with its last position as payload.
    pub fn notification_channel(&self) -> &str {
        &self.inner.channel
    }

    /// Where the server is, as `host:port`.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }
}

impl PostgresStore {
    fn submit(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        validate_append(stream, &events, self.inner.config.max_payload_value())?;
        let request = AppendRequest {
            stream: stream.to_owned(),
            expected,
            events,
        };
        let inner = &*self.inner;
        inner.group.submit(
            request,
            |group| append::run_group(inner, group),
            || Err(error::abandoned()),
        )
    }
}

impl EventStore for PostgresStore {
    fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        self.submit(stream, expected, events)
    }

    fn read(&self, id: EventId) -> Result<RecordedEvent, StoreError> {
        read::read(&self.inner, id)
    }

    fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        read::read_stream(&self.inner, stream, from_version, max_count)
    }

    fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        read::read_all(&self.inner, from_position, max_count)
    }

    fn read_by_type(
        &self,
        event_type: &str,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        read::read_by_type(&self.inner, event_type, from_position, max_count)
    }

    fn read_time_range(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        read::read_time_range(&self.inner, from, to)
    }

    fn stream_info(&self, stream: &str) -> Result<Option<StreamInfo>, StoreError> {
        read::stream_info(&self.inner, stream)
    }

    fn streams(&self) -> Result<Vec<StreamInfo>, StoreError> {
        read::streams(&self.inner)
    }

    fn link_to_stream(&self, id: EventId, stream: &str) -> Result<u64, StoreError> {
        link::link(&self.inner, id, stream)
    }

    /// One lookup of the `events_correlation_id` index (migration 5): the cost grows with the
    /// conversation, not with the store.
    fn read_correlated(&self, correlation_id: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        read::read_correlated(&self.inner, correlation_id)
    }

    fn last_position(&self) -> Result<u64, StoreError> {
        read::last_position(&self.inner)
    }

    fn snapshots(&self) -> Option<&dyn SnapshotStore> {
        Some(self)
    }

    /// One statement: the snapshot and the stream's events from its version.
    fn snapshot_and_tail(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        stream: &str,
        max_count: usize,
    ) -> Result<Option<(Snapshot, Vec<RecordedEvent>)>, StoreError> {
        crate::snapshot_tail::snapshot_and_tail(
            &self.inner,
            aggregate_type,
            aggregate_id,
            stream,
            max_count,
        )
    }
}
