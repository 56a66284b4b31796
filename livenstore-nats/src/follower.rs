//! The follower task: an ordered JetStream consumer that folds every message of the stream into
//! the replica, from the store's opening on, for the store's whole life.
//!
//! Invariants:
//! - It starts each consumer at the replica's sequence + 1, so a restarted consumer (after a
//!   lost connection, a server restart or an error) neither skips nor repeats a message.
//! - It never gives up while the store is open: an error is followed by a pause (growing to
//!   one second) and a new consumer. Only damage stops it (the replica cannot go past a message
//!   it cannot fold).
//! - A reconnect of the client starts a new consumer at once: after a server restart the old
//!   (ephemeral) consumer is gone, and the client library notices that only after its own
//!   retries (about fifteen seconds), during which the replica would stand still and every
//!   append that must catch up with the stream would fail.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use async_nats::jetstream::stream::Stream;
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::log::Log;

/// Runs until the store's runtime shuts down or the log is damaged.
pub(crate) async fn follow(stream: Stream, log: Arc<Log>, mut connects: watch::Receiver<u64>) {
    let mut pause = Duration::from_millis(10);
    loop {
        if log.check().is_err() {
            return;
        }
        connects.borrow_and_update();
        let followed = tokio::select! {
            followed = follow_once(&stream, &log) => followed,
            // Reconnected: the consumer may be gone with the server's state; start a new one.
            changed = connects.changed() => match changed {
                Ok(()) => Ok(()),
                Err(_) => return, // the connection is gone
            },
        };
        match followed {
            Ok(()) => pause = Duration::from_millis(10),
            Err(_) if log.check().is_err() => return,
            Err(_) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// One ordered consumer, until it fails.
async fn follow_once(stream: &Stream, log: &Log) -> Result<(), async_nats::Error> {
    let start = log.read().map(|r| r.sequence())? + 1;
    let mut info_stream = stream.clone();
    let first_sequence = info_stream.info().await?.state.first_sequence;
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: start,
            },
            ..Default::default()
        })
        .await?;
    let mut messages = consumer.messages().await?;
    while let Some(message) = messages.next().await {
        let message = message?;
        let sequence = message.info()?.stream_sequence;
        log.fold_raw(
            sequence,
            first_sequence,
            message.subject.as_str(),
            &message.payload,
        )?;
    }
    Ok(())
}
