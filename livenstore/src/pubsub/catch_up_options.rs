//! [`CatchUpOptions`]: how a catch-up subscription reads and what it does when its handler fails.

use std::time::Duration;

use super::subscription::OnHandlerError;

/// Options of a catch-up subscription.
///
/// # Examples
///
/// ```
/// use std::sync::{mpsc, Arc};
/// use std::time::Duration;
/// use livenstore::pubsub::{subscribe_from_with, CatchUpOptions, EventFilter, StartFrom};
/// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
///
/// let store = Arc::new(InMemoryStore::new());
/// let events = (1..=5).map(|n| NewEvent::from_json("Counted", n.to_string()).unwrap()).collect();
/// store.append("counter", ExpectedVersion::NoStream, events).unwrap();
///
/// let options = CatchUpOptions::new()
///     .name("counter-view")
///     .page_size(2)
///     .poll_interval(Duration::from_millis(50));
/// let (tx, rx) = mpsc::channel();
/// let subscription = subscribe_from_with(store, None, StartFrom::Beginning, EventFilter::all(),
///     options, Box::new(move |delivery| {
///         tx.send(delivery.event().position())?;
///         Ok(())
///     }))
/// .unwrap();
/// assert_eq!(subscription.name(), "counter-view");
/// let seen: Vec<u64> = (0..5).map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap()).collect();
/// assert_eq!(seen, [1, 2, 3, 4, 5], "read in pages of two, delivered in order");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatchUpOptions {
    pub(crate) name: Option<String>,
    pub(crate) page_size: usize,
    pub(crate) poll_interval: Duration,
    pub(crate) on_handler_error: OnHandlerError,
}

impl Default for CatchUpOptions {
    fn default() -> Self {
        CatchUpOptions {
            name: None,
            page_size: 512,
            poll_interval: Duration::from_millis(500),
            on_handler_error: OnHandlerError::Continue,
        }
    }
}

impl CatchUpOptions {
    /// Defaults: automatic name, pages of 512 events, a poll every 500 ms,
    /// [`OnHandlerError::Continue`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The name used in error reports.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// How many events one store read returns at most (at least 1).
    pub fn page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size;
        self
    }

    /// How often the reader looks at the store when no publication woke it, and how long it
    /// waits before retrying a failed read.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// What happens after a handler error or panic. With [`OnHandlerError::Stop`], the failed
    /// event does not count as processed (a consumer's checkpoint stays before it).
    pub fn on_handler_error(mut self, policy: OnHandlerError) -> Self {
        self.on_handler_error = policy;
        self
    }
}
