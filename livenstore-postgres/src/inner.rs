//! [`Inner`]: what a [`PostgresStore`](crate::PostgresStore) and its clones share: the pool, the
//! configuration, the statements, the group commit and the pipeline.

use livenstore::{AppendResult, StoreError};
use postgres::NoTls;
use r2d2_postgres::PostgresConnectionManager;

use crate::config::PostgresConfig;
use crate::sql::Sql;
use crate::write::group_commit::GroupCommit;
use crate::write::pipeline::Pipeline;
use crate::write::plan::AppendRequest;

/// The connection pool a [`PostgresStore`](crate::PostgresStore) works through.
///
/// # Examples
///
/// Building a pool connects lazily, so no server is needed until a connection is asked for:
///
/// ```
/// use livenstore_postgres::PostgresPool;
/// use postgres::NoTls;
/// use r2d2_postgres::PostgresConnectionManager;
///
/// let config: postgres::Config = "postgresql://postgres@127.0.0.1:5432/app".parse().unwrap();
/// let pool: PostgresPool = r2d2::Pool::builder()
///     .max_size(8)
///     .min_idle(Some(0))
///     .build_unchecked(PostgresConnectionManager::new(config, NoTls));
/// assert_eq!(pool.max_size(), 8);
/// assert_eq!(pool.state().connections, 0);
/// ```
///
/// A store working through it creates or upgrades its schema at once, on the server:
///
/// ```no_run
/// use livenstore_postgres::{PostgresPool, PostgresStore};
/// use postgres::NoTls;
/// use r2d2_postgres::PostgresConnectionManager;
///
/// let config: postgres::Config = "postgresql://postgres@127.0.0.1:5432/app".parse()?;
/// let pool: PostgresPool = r2d2::Pool::new(PostgresConnectionManager::new(config, NoTls))?;
/// let store = PostgresStore::with_pool(pool)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type PostgresPool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// What a store and its clones share.
pub(crate) struct Inner {
    pub(crate) pool: PostgresPool,
    pub(crate) config: PostgresConfig,
    /// `host:port` of the server, for error messages.
    pub(crate) endpoint: String,
    /// `livenstore_<schema>`.
    pub(crate) channel: String,
    /// How to open a connection outside the pool (a dedicated `LISTEN` connection); `None` for
    /// a store made [`with_pool`](crate::PostgresStore::with_pool).
    pub(crate) pg_config: Option<postgres::Config>,
    /// The statements, for this schema.
    pub(crate) sql: Sql,
    /// Appends waiting for, or in, a group transaction.
    pub(crate) group: GroupCommit<AppendRequest, Result<AppendResult, StoreError>>,
    /// The order of the running groups and the chain a pipelined group decides against.
    pub(crate) pipeline: Pipeline,
}
