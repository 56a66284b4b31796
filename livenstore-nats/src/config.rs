//! [`JetStreamConfig`]: which JetStream stream a store uses and the settings it creates it with.
//!
//! Invariant: a config never holds a stream name JetStream would refuse or that would make a
//! subject wildcard; [`JetStreamConfig::stream`] checks it, so every later use can build
//! subjects and bucket names from it without escaping.

use std::time::Duration;

use livenstore::StoreError;

/// The JetStream stream name used when [`JetStreamConfig::stream`] is not called.
pub const DEFAULT_STREAM: &str = "LIVENSTORE";

/// The longest stream name [`JetStreamConfig::stream`] accepts (the buckets add a suffix, and
/// JetStream names are kept well under its 255-byte file-name limit).
pub const MAX_STREAM_NAME_BYTES: usize = 64;

/// How a [`JetStreamStore`](crate::JetStreamStore) finds or creates its JetStream stream.
///
/// Settings other than the name apply when the store **creates** the stream. An existing stream
/// is checked (subjects, file storage, limits retention, no per-subject limit, not sealed) and
/// used with its own replicas and limits; change those with `nats stream edit`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use livenstore_nats::JetStreamConfig;
///
/// let config = JetStreamConfig::new()
///     .stream("BANK")?
///     .replicas(3)
///     .max_age(Duration::from_secs(365 * 24 * 3600));
/// assert_eq!(config.stream_name(), "BANK");
/// assert_eq!(config.subject_prefix(), "livenstore.BANK");
/// # Ok::<(), livenstore::StoreError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamConfig {
    pub(crate) stream: String,
    pub(crate) replicas: usize,
    pub(crate) max_age: Option<Duration>,
    pub(crate) max_bytes: Option<u64>,
    pub(crate) max_messages: Option<u64>,
    pub(crate) duplicate_window: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) sync_reads: bool,
}

impl Default for JetStreamConfig {
    fn default() -> Self {
        JetStreamConfig {
            stream: DEFAULT_STREAM.to_owned(),
            replicas: 1,
            max_age: None,
            max_bytes: None,
            max_messages: None,
            duplicate_window: Duration::from_secs(120),
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            sync_reads: false,
        }
    }
}

impl JetStreamConfig {
    /// The defaults: stream [`DEFAULT_STREAM`], one replica, no retention limit, a two-minute
    /// duplicate window, five-second request and connect timeouts.
    pub fn new() -> Self {
        Self::default()
    }

    /// The JetStream stream to use: ASCII letters, digits, `_` and `-`, at most
    /// [`MAX_STREAM_NAME_BYTES`].
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`] for any other name.
    pub fn stream(mut self, name: impl Into<String>) -> Result<Self, StoreError> {
        let name = name.into();
        let valid = !name.is_empty()
            && name.len() <= MAX_STREAM_NAME_BYTES
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(StoreError::InvalidArgument(format!(
                "JetStream stream name {name:?}: use 1 to {MAX_STREAM_NAME_BYTES} ASCII letters, \
                 digits, `_` or `-`"
            )));
        }
        self.stream = name;
        Ok(self)
    }

    /// The number of replicas of a stream the store creates (1 to 5; a cluster is needed for
    /// more than 1). Values outside 1..=5 are clamped.
    pub fn replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas.clamp(1, 5);
        self
    }

    /// Messages older than `max_age` are removed by the server. **Events are lost** when a
    /// limit removes them: positions and versions keep counting, and reads start at the oldest
    /// kept event; when every message is removed, a new store refuses to open (see the crate
    /// documentation, section Retention limits). The duplicate window is shortened to `max_age`
    /// when longer. Unlimited by default.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// The stream keeps at most `max_bytes`, removing its oldest messages (see
    /// [`max_age`](Self::max_age) for what that costs). Unlimited by default.
    pub fn max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = Some(max_bytes);
        self
    }

    /// The stream keeps at most `max_messages` messages (appends and links), removing its
    /// oldest (see [`max_age`](Self::max_age)). Unlimited by default.
    pub fn max_messages(mut self, max_messages: u64) -> Self {
        self.max_messages = Some(max_messages);
        self
    }

    /// The window in which the server drops a republished append by its `Nats-Msg-Id`
    /// (two minutes by default). Idempotency holds beyond it too: see the crate documentation.
    pub fn duplicate_window(mut self, window: Duration) -> Self {
        self.duplicate_window = window;
        self
    }

    /// How long a JetStream request (an append's acknowledgement, a stream query) may take
    /// before it fails (five seconds by default).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long connecting may take before it fails (five seconds by default).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Whether every read first waits until the store holds every message the server held
    /// when the read began ([`JetStreamStore::sync`](crate::JetStreamStore::sync)), so a read
    /// sees every append any process made before it: one round trip to the server per read.
    /// Off by default: reads are answered from the replica, which follows the stream live
    /// (see the crate documentation, "Reads are as fresh as the replica").
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore_nats::JetStreamConfig;
    ///
    /// let config = JetStreamConfig::new().sync_reads(true);
    /// # let _ = config;
    /// ```
    pub fn sync_reads(mut self, sync: bool) -> Self {
        self.sync_reads = sync;
        self
    }

    /// The JetStream stream's name.
    pub fn stream_name(&self) -> &str {
        &self.stream
    }

    /// The prefix of the stream's subjects: `livenstore.<stream>`. Appends go to
    /// `<prefix>.append`, links to `<prefix>.link`; the stream takes `<prefix>.>`.
    pub fn subject_prefix(&self) -> String {
        format!("livenstore.{}", self.stream)
    }

    /// The name of the key-value bucket `what` (`checkpoints`, `snapshots`, `parked`) of this
    /// stream: `<stream>_<what>`.
    pub fn bucket_name(&self, what: &str) -> String {
        format!("{}_{what}", self.stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_are_checked() {
        assert!(JetStreamConfig::new().stream("ok_Name-1").is_ok());
        for bad in ["", "a.b", "a b", "a*", "a>", "é", &"x".repeat(65)] {
            assert!(JetStreamConfig::new().stream(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_derive_from_the_stream() {
        let config = JetStreamConfig::new().stream("S1").unwrap();
        assert_eq!(config.subject_prefix(), "livenstore.S1");
        assert_eq!(config.bucket_name("checkpoints"), "S1_checkpoints");
        assert_eq!(JetStreamConfig::new().replicas(9).replicas, 5);
    }
}
