//! [`FollowerOptions`]: how a [`PostgresSubscriptionManager`](crate::PostgresSubscriptionManager)(super::PostgresSubscriptionManager)'s
//! follower polls and reads.

use std::time::Duration;

use livenstore::StoreError;

/// Settings of a [`PostgresSubscriptionManager`](crate::PostgresSubscriptionManager)'s follower.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use livenstore_postgres::FollowerOptions;
///
/// let options = FollowerOptions::new().poll_interval(Duration::from_secs(2)).page_size(1000);
/// assert_eq!(options.poll_interval_value(), Duration::from_secs(2));
/// assert!(FollowerOptions::new().page_size(0).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerOptions {
    pub(crate) poll_interval: Duration,
    pub(crate) page_size: usize,
    pub(crate) listen: bool,
    pub(crate) max_retry_delay: Duration,
}

impl Default for FollowerOptions {
    fn default() -> Self {
        FollowerOptions {
            poll_interval: Duration::from_millis(500),
            page_size: 512,
            listen: true,
            max_retry_delay: Duration::from_secs(5),
        }
    }
}

impl FollowerOptions {
    /// The defaults: `LISTEN` for notifications, a poll every 500 ms, pages of 512 events,
    /// retries up to every 5 s.
    pub fn new() -> Self {
        Self::default()
    }

    /// How often the follower reads the store when no notification arrived: the fallback that
    /// bounds the delay when notifications are lost (a dropped connection) or unavailable.
    /// Not zero.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// How many events one store read returns at most (at least 1).
    pub fn page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size;
        self
    }

    /// Whether to `LISTEN` for the notifications appends send (default `true`). Without, the
    /// follower only polls: for servers reached through a pooler that does not pass `LISTEN`
    /// on. (The store itself keeps prepared statements per connection, so a pooler must keep a
    /// client on one server connection: PgBouncer in session mode, not transaction mode.)
    pub fn listen(mut self, listen: bool) -> Self {
        self.listen = listen;
        self
    }

    /// The longest wait between attempts to reconnect the listener or to read again after a
    /// failed read (the waits double from 50 ms up to it). Not zero.
    pub fn max_retry_delay(mut self, delay: Duration) -> Self {
        self.max_retry_delay = delay;
        self
    }

    /// The configured poll interval.
    pub fn poll_interval_value(&self) -> Duration {
        self.poll_interval
    }

    /// The configured page size.
    pub fn page_size_value(&self) -> usize {
        self.page_size
    }

    /// Whether the follower listens for notifications.
    pub fn listen_value(&self) -> bool {
        self.listen
    }

    /// The configured longest retry delay.
    pub fn max_retry_delay_value(&self) -> Duration {
        self.max_retry_delay
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`] for a zero poll interval, page size or retry delay.
    pub fn validate(&self) -> Result<(), StoreError> {
        let problem = if self.poll_interval.is_zero() {
            "the poll interval must not be zero"
        } else if self.page_size == 0 {
            "the page size must be at least 1"
        } else if self.max_retry_delay.is_zero() {
            "the retry delay must not be zero"
        } else {
            return Ok(());
        };
        Err(StoreError::InvalidArgument(problem.into()))
    }
}
