//! [`JetStreamStore`]: the [`EventStore`] on a NATS JetStream stream.
//!
//! Invariants:
//! - Every write goes through the one writer task of the store (`writer.rs`); every read is
//!   answered by the replica (`replica.rs`), which the follower task keeps up with the stream.
//! - A store is usable only once its replica has folded every message the server held when it
//!   opened: `connect` returns after that, so a new process reads what the others wrote.
//! - Appends are validated on the caller's thread (names, sizes, ids given twice), and get
//!   their event ids there, before they reach the writer, so a republished group keeps its ids.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::stream::Stream;
use livenstore::backend::{
    validate_append, validate_correlation_id, validate_stream_name, MAX_PAYLOAD_BYTES,
};
use livenstore::store::SnapshotStore;
use livenstore::{
    AppendResult, EventId, EventStore, ExpectedVersion, NewEvent, RecordedEvent, StoreError,
    StreamInfo, Timestamp,
};
use tokio::sync::mpsc;

use crate::checkpoints::JetStreamCheckpointStore;
use crate::config::JetStreamConfig;
use crate::connection::Connection;
use crate::error;
use crate::follower;
use crate::layout;
use crate::log::Log;
use crate::parked::JetStreamParkedStore;
use crate::snapshots::JetStreamSnapshotStore;
use crate::writer::{Request, Writer};

/// An event store kept in a NATS JetStream stream, shared by every process that connects to
/// it (see the [crate documentation](crate) for the layout and what it costs).
///
/// Cloning gives another handle to the same store; the connection closes when the last handle
/// (and the last checkpoint, snapshot or parked store made from it) is dropped.
///
/// # Examples
///
/// ```no_run
/// use livenstore::{EventStore, ExpectedVersion, NewEvent};
/// use livenstore_nats::JetStreamStore;
///
/// let store = JetStreamStore::connect("nats://127.0.0.1:4222")?;
/// let event = NewEvent::from_json("Deposited", r#"{"amount":5}"#)?;
/// let result = store.append("account-1", ExpectedVersion::Any, vec![event])?;
/// assert!(result.first_position >= 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct JetStreamStore {
    inner: Arc<Inner>,
}

struct Inner {
    // Dropped last: the runtime the tasks run on.
    writer: mpsc::UnboundedSender<Request>,
    /// The largest message body the server takes (its `max_payload`, less room for headers).
    max_message: usize,
    log: Arc<Log>,
    stream: Stream,
    snapshots: JetStreamSnapshotStore,
    checkpoints: JetStreamCheckpointStore,
    parked: JetStreamParkedStore,
    conn: Arc<Connection>,
}

impl std::fmt::Debug for JetStreamStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamStore")
            .field("endpoint", &self.inner.conn.endpoint)
            .field("stream", &self.inner.conn.config.stream)
            .finish_non_exhaustive()
    }
}

impl JetStreamStore {
    /// Connects to the server at `url` and opens the stream [`DEFAULT_STREAM`](crate::DEFAULT_STREAM)
    /// with the default [`JetStreamConfig`].
    ///
    /// # Errors
    ///
    /// See [`connect_with`](Self::connect_with).
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, JetStreamConfig::new())
    }

    /// Connects to the server at `url` (`nats://host:4222`, or several URLs separated by
    /// commas), finds or creates the stream `config` names, and reads it whole into the
    /// store's replica before returning.
    ///
    /// # Errors
    ///
    /// - [`StoreError::Connection`] naming the address when no server answers;
    /// - [`StoreError::InvalidArgument`] when the stream exists with settings the store cannot
    ///   use (nothing is written to it);
    /// - [`StoreError::Corrupted`] when the stream holds a message the store did not write, or
    ///   one that breaks the log's rules (its sequence is the error's `line`);
    /// - [`StoreError::Backend`] when the server refuses (JetStream not enabled, for one).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use livenstore_nats::{JetStreamConfig, JetStreamStore};
    ///
    /// let config = JetStreamConfig::new().stream("BANK")?.replicas(1);
    /// let store = JetStreamStore::connect_with("nats://127.0.0.1:4222", config)?;
    /// # Ok::<(), livenstore::StoreError>(())
    /// ```
    pub fn connect_with(url: &str, config: JetStreamConfig) -> Result<Self, StoreError> {
        let conn = Arc::new(Connection::open(url, config)?);
        let js = conn.js.clone();
        let layout_config = conn.config.clone();
        let stream = conn.run("open the JetStream stream", async move {
            layout::ensure_stream(&js, &layout_config).await
        })??;
        let state = stream.cached_info().state.clone();
        let log = Arc::new(Log::new(&conn.config.stream, &conn.config.subject_prefix()));
        if state.messages == 0 && state.last_sequence > 0 {
            // Every message was removed by the stream's limits (max_age): the positions and
            // versions it gave out are unknown, and giving them out again would break every
            // reader's checkpoint.
            return Err(StoreError::InvalidArgument(format!(
                "every message of the JetStream stream {} was removed by its limits (its last \
                 sequence is {}), so the positions and versions it gave out are unknown and the \
                 store will not give them out again: raise its max_age above the longest idle \
                 time, or delete the stream to start over",
                conn.config.stream, state.last_sequence
            )));
        }
        conn.handle().spawn(follower::follow(
            stream.clone(),
            Arc::clone(&log),
            conn.connects.clone(),
        ));
        let waiting = Arc::clone(&log);
        let target = state.last_sequence;
        let timeout = conn.config.request_timeout;
        conn.run("read the JetStream stream", async move {
            wait_while_moving(&waiting, target, timeout).await
        })??;
        let (sender, receiver) = mpsc::unbounded_channel();
        let writer = Writer::new(
            conn.js.clone(),
            stream.clone(),
            Arc::clone(&log),
            conn.client.server_info().max_payload,
            conn.config.request_timeout,
        );
        let max_message = writer.max_message;
        conn.handle().spawn(writer.run(receiver));
        Ok(JetStreamStore {
            inner: Arc::new(Inner {
                writer: sender,
                max_message,
                log,
                stream,
                snapshots: JetStreamSnapshotStore::new(&conn),
                checkpoints: JetStreamCheckpointStore::new(&conn),
                parked: JetStreamParkedStore::new(&conn),
                conn,
            }),
        })
    }

    /// The settings the store was opened with.
    pub fn config(&self) -> &JetStreamConfig {
        &self.inner.conn.config
    }

    /// The server address, without credentials.
    pub fn endpoint(&self) -> &str {
        &self.inner.conn.endpoint
    }

    /// Waits until the store has read every message the server holds now, so reads see every
    /// append made (by any process) before this call.
    ///
    /// Reads are answered from the store's replica, which follows the stream live (typically
    /// within a millisecond of another process's append); appends and links never need this,
    /// they check against the whole log. Use it before a read that must see another process's
    /// latest writes.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the server cannot be asked, or the store does not receive
    /// the messages within the request timeout.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use livenstore::EventStore;
    /// use livenstore_nats::JetStreamStore;
    ///
    /// let store = JetStreamStore::connect("nats://127.0.0.1:4222")?;
    /// store.sync()?;
    /// println!("{} events", store.last_position()?);
    /// # Ok::<(), livenstore::StoreError>(())
    /// ```
    pub fn sync(&self) -> Result<(), StoreError> {
        let stream = self.inner.stream.clone();
        let log = Arc::clone(&self.inner.log);
        let timeout = self.inner.conn.config.request_timeout;
        self.inner.conn.run("sync", async move {
            let before = log.read()?.sequence();
            let info = tokio::time::timeout(timeout, stream.get_info())
                .await
                .map_err(|e| error::backend("read the stream's last sequence", false, e))?
                .map_err(|e| error::backend("read the stream's last sequence", false, e))?;
            log.check_server_last(before, info.state.last_sequence)?;
            log.wait_for(info.state.last_sequence, timeout).await
        })?
    }

    /// [`sync`](Self::sync) when the config asks reads to be synced.
    fn fresh(&self) -> Result<(), StoreError> {
        if self.inner.conn.config.sync_reads {
            self.sync()?;
        }
        Ok(())
    }

    /// Whether the connection to the server is up now.
    pub fn is_connected(&self) -> bool {
        self.inner.conn.client.connection_state() == async_nats::connection::State::Connected
    }

    /// The largest message body the server takes.
    pub(crate) fn max_message(&self) -> usize {
        self.inner.max_message
    }

    pub(crate) fn connection(&self) -> &Arc<Connection> {
        &self.inner.conn
    }

    /// The consumer checkpoints kept in this store's key-value bucket `<stream>_checkpoints`,
    /// sharing the store's connection (no I/O: the bucket is created by the first write; until then it reads as empty). Every
    /// process on the stream sees the same checkpoints.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use livenstore::pubsub::{CheckpointStore, Consumer};
    /// use livenstore_nats::JetStreamStore;
    ///
    /// let store = JetStreamStore::connect("nats://127.0.0.1:4222")?;
    /// let _consumer = Consumer::new("balances", Arc::new(store.checkpoints()))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checkpoints(&self) -> JetStreamCheckpointStore {
        self.inner.checkpoints.clone()
    }

    /// The events this store's consumers parked, in its key-value bucket `<stream>_parked`,
    /// sharing the store's connection (no I/O: the bucket is created by the first write; until then it reads as empty). Give it to
    /// [`Consumer::park_to`](livenstore::pubsub::Consumer::park_to).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use livenstore::pubsub::ParkedEventStore;
    /// use livenstore_nats::JetStreamStore;
    ///
    /// let store = JetStreamStore::connect("nats://127.0.0.1:4222")?;
    /// for parked in store.parked().list(None)? {
    ///     println!("{} parked {} at {}: {}", parked.consumer, parked.event_id, parked.position, parked.error);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parked(&self) -> JetStreamParkedStore {
        self.inner.parked.clone()
    }

    pub(crate) fn log(&self) -> &Arc<Log> {
        &self.inner.log
    }

    pub(crate) fn call<T>(
        &self,
        operation: &'static str,
        request: impl FnOnce(crate::writer::Reply<T>) -> Request,
    ) -> Result<T, StoreError> {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        self.inner
            .writer
            .send(request(reply))
            .map_err(|_| error::stopped(operation))?;
        answer.recv().map_err(|_| error::stopped(operation))?
    }
}

/// Waits for the replica to reach `target`, for as long as it keeps moving.
async fn wait_while_moving(log: &Log, target: u64, step: Duration) -> Result<(), StoreError> {
    let mut reached = log.read()?.sequence();
    loop {
        match log.wait_for(target, step).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                let now = log.read()?.sequence();
                if now == reached {
                    return Err(e);
                }
                reached = now;
            }
        }
    }
}

impl EventStore for JetStreamStore {
    fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        validate_append(stream, &events, MAX_PAYLOAD_BYTES)?;
        self.inner.log.check()?;
        let events = events
            .into_iter()
            .map(|e| match e.id() {
                Some(_) => e,
                None => e.with_id(EventId::new()),
            })
            .collect();
        self.call("append", |reply| Request::Append {
            stream: stream.to_owned(),
            expected,
            events,
            reply,
        })
    }

    fn read(&self, id: EventId) -> Result<RecordedEvent, StoreError> {
        self.fresh()?;
        self.inner
            .log
            .read()?
            .find(id)
            .ok_or(StoreError::EventNotFound(id))
    }

    fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.fresh()?;
        validate_stream_name(stream)?;
        Ok(self
            .inner
            .log
            .read()?
            .read_stream(stream, from_version, max_count))
    }

    fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.fresh()?;
        Ok(self.inner.log.read()?.read_all(from_position, max_count))
    }

    fn read_by_type(
        &self,
        event_type: &str,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.fresh()?;
        Ok(self
            .inner
            .log
            .read()?
            .read_by_type(event_type, from_position, max_count))
    }

    fn read_time_range(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.fresh()?;
        Ok(self.inner.log.read()?.read_time_range(from, to))
    }

    fn stream_info(&self, stream: &str) -> Result<Option<StreamInfo>, StoreError> {
        self.fresh()?;
        validate_stream_name(stream)?;
        Ok(self.inner.log.read()?.stream_info(stream))
    }

    fn streams(&self) -> Result<Vec<StreamInfo>, StoreError> {
        self.fresh()?;
        Ok(self.inner.log.read()?.streams())
    }

    fn link_to_stream(&self, id: EventId, stream: &str) -> Result<u64, StoreError> {
        validate_stream_name(stream)?;
        self.inner.log.check()?;
        self.call("link", |reply| Request::Link {
            id,
            stream: stream.to_owned(),
            reply,
        })
    }

    fn read_correlated(&self, correlation_id: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        self.fresh()?;
        validate_correlation_id(correlation_id)?;
        Ok(self.inner.log.read()?.read_correlated(correlation_id))
    }

    fn last_position(&self) -> Result<u64, StoreError> {
        self.fresh()?;
        Ok(self.inner.log.read()?.last_position())
    }

    fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        self.fresh()?;
        validate_stream_name(stream)?;
        Ok(self.inner.log.read()?.version(stream))
    }

    fn snapshots(&self) -> Option<&dyn SnapshotStore> {
        Some(&self.inner.snapshots)
    }
}
