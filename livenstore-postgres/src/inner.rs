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
