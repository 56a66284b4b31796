//! A consumer's handler with retries and parking, and the re-delivery of what it parked.
//!
//! Invariants:
//! - An event is handed to the user's handler at most `max_attempts` times in a row, with the
//!   policy's waits between; after the last failure it is parked (when the consumer parks) and
//!   counts as handled, so the consumer goes on; without parking the error goes to the
//!   consumer's handler-error policy as before.
//! - A handler that succeeds the first time costs one branch: nothing is read or written for
//!   parking unless an attempt fails.
//! - Re-delivery hands the parked events of one consumer to the same handler in position
//!   order; each one that succeeds is removed, each one that fails again is parked again with
//!   its attempts added, each one that can no longer be read stays parked saying why; the
//!   replay request is cleared after the pass. A request is looked for at most once a second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::delivery::Delivery;
use super::error::HandlerError;
use super::parked::{ParkedEvent, ParkedEventStore};
use super::retry::RetryPolicy;
use crate::EventStore;

/// The user's handler, wrapped.
pub(crate) struct RetryingHandler<F> {
    pub(crate) consumer: String,
    pub(crate) handler: F,
    pub(crate) policy: RetryPolicy,
    pub(crate) parked: Option<Arc<dyn ParkedEventStore>>,
    /// When a replay request was last looked for.
    pub(crate) replay_checked: Option<Instant>,
}

/// How often a consumer looks for a replay request while it keeps catching up.
const REPLAY_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// What became of one delivery.
enum Handled {
    Ok,
    /// Failed every attempt: the last error and the attempts made.
    Failed(HandlerError, u32),
}

impl<F> RetryingHandler<F>
where
    F: FnMut(&Delivery) -> Result<(), HandlerError>,
{
    fn attempt(&mut self, delivery: &Delivery) -> Handled {
        let mut attempt = 1;
        loop {
            match (self.handler)(delivery) {
                Ok(()) => return Handled::Ok,
                Err(error) if attempt >= self.policy.max_attempts => {
                    return Handled::Failed(error, attempt)
                }
                Err(_) => {
                    std::thread::sleep(self.policy.delay(attempt));
                    attempt += 1;
                }
            }
        }
    }

    /// Handles `delivery`: retried, then parked (or the error returned when nothing parks).
    pub(crate) fn handle(&mut self, delivery: &Delivery) -> Result<(), HandlerError> {
        match self.attempt(delivery) {
            Handled::Ok => Ok(()),
            Handled::Failed(error, attempts) => match &self.parked {
                Some(parked) => {
                    let record = ParkedEvent::new(
                        &self.consumer,
                        delivery.event(),
                        error.to_string(),
                        attempts,
                    );
                    parked.park(&record).map_err(|e| -> HandlerError {
                        format!("{error} (and it could not be parked: {e})").into()
                    })
                }
                None => Err(error),
            },
        }
    }

    /// Re-delivers the parked events of this consumer when a replay was asked; `Err` says what
    /// could not be read or written (the request then stays, for the next pass).
    pub(crate) fn replay_if_requested<S>(&mut self, store: &S) -> Result<(), HandlerError>
    where
        S: EventStore + ?Sized,
    {
        let Some(parked) = self.parked.clone() else {
            return Ok(());
        };
        // Asked at most once a second: a consumer that follows live events one by one is idle
        // after each, and the question is a file `stat` or a database round trip.
        let now = Instant::now();
        if self
            .replay_checked
            .is_some_and(|at| now.duration_since(at) < REPLAY_CHECK_INTERVAL)
        {
            return Ok(());
        }
        self.replay_checked = Some(now);
        if !parked.replay_requested(&self.consumer)? {
            return Ok(());
        }
        for record in parked.list(Some(&self.consumer))? {
            let event = match store.read(record.event_id) {
                Ok(event) => event,
                // Gone (retention) or unreadable (damage): it stays parked, saying why, and the
                // others are replayed.
                Err(error) => {
                    let again = ParkedEvent {
                        error: format!("cannot be read for a replay: {error}"),
                        parked_at: crate::Timestamp::now(),
                        ..record
                    };
                    parked.park(&again)?;
                    continue;
                }
            };
            let delivery = Delivery { event, live: false };
            match self.attempt(&delivery) {
                Handled::Ok => {
                    parked.remove(&self.consumer, Some(record.event_id))?;
                }
                Handled::Failed(error, attempts) => {
                    let again = ParkedEvent::new(
                        &self.consumer,
                        delivery.event(),
                        error.to_string(),
                        record.attempts.saturating_add(attempts),
                    );
                    parked.park(&again)?;
                }
            }
        }
        parked.replay_done(&self.consumer)?;
        Ok(())
    }
}
