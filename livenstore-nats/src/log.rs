//! [`Log`]: the replica and what the store's tasks share about it.
//!
//! Invariants:
//! - `folded` always holds the replica's sequence after the last fold, and is sent after the
//!   replica's lock is released, so a waiter woken by it reads a replica at least that far.
//! - Once `damage` is set it stays set: the stream held a message the store cannot fold, the
//!   replica stopped before it, and every call fails with that error from then on.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use bytes::Bytes;
use livenstore::StoreError;
use tokio::sync::watch;

use crate::codec::{self, Kind, Message};
use crate::error;
use crate::replica::Replica;

/// The replica, its progress and its damage, shared by the store and its tasks.
#[derive(Debug)]
pub(crate) struct Log {
    pub(crate) stream: String,
    pub(crate) append_subject: String,
    pub(crate) link_subject: String,
    replica: RwLock<Replica>,
    /// The shared text of every stream name and event type decoded (so a million events of
    /// one type hold one copy of its name); only the follower decodes.
    names: Mutex<HashSet<Arc<str>>>,
    folded: watch::Sender<u64>,
    damage: Mutex<Option<(u64, String)>>,
    /// The append message the writer is publishing and its body (see [`Log::publishing`]).
    own: Mutex<Option<(Bytes, Arc<Message>)>>,
}

impl Log {
    pub(crate) fn new(stream: &str, prefix: &str) -> Self {
        Log {
            stream: stream.to_owned(),
            append_subject: format!("{prefix}.append"),
            link_subject: format!("{prefix}.link"),
            replica: RwLock::new(Replica::default()),
            names: Mutex::new(HashSet::new()),
            folded: watch::channel(0).0,
            damage: Mutex::new(None),
            own: Mutex::new(None),
        }
    }

    /// The replica, for reading; the damage error when the replica stopped at a bad message.
    pub(crate) fn read(&self) -> Result<RwLockReadGuard<'_, Replica>, StoreError> {
        self.check()?;
        Ok(self.replica.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The damage error, if any.
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        let damage = self.damage.lock().unwrap_or_else(PoisonError::into_inner);
        match &*damage {
            None => Ok(()),
            Some((sequence, reason)) => {
                Err(error::corrupted(&self.stream, *sequence, reason.clone()))
            }
        }
    }

    /// What kind of message `subject` carries, if it is one of the store's.
    pub(crate) fn kind(&self, subject: &str) -> Option<Kind> {
        if subject == self.append_subject {
            Some(Kind::Append)
        } else if subject == self.link_subject {
            Some(Kind::Link)
        } else {
            None
        }
    }

    /// Decodes and folds the message at `sequence`; on failure records the damage. The body is
    /// decoded before the replica's write lock is taken, so reads wait only for the fold.
    ///
    /// # Errors
    ///
    /// The damage error.
    pub(crate) fn fold_raw(
        &self,
        sequence: u64,
        first_sequence: u64,
        subject: &str,
        body: &[u8],
    ) -> Result<(), StoreError> {
        if sequence
            <= self
                .replica
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .sequence()
        {
            return Ok(()); // the writer folded its own message first
        }
        // The same bytes decode to the same message (the codec's round trip): the writer's own
        // message is folded from its decoded copy.
        let message = match (self.own(subject, body), self.kind(subject)) {
            (Some(own), _) => Ok(own),
            (None, None) => Err(format!(
                "message {sequence} has subject {subject}, which livenstore does not write"
            )),
            (None, Some(kind)) => {
                let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
                codec::decode(kind, body, |name| intern(&mut names, name))
                    .map(Arc::new)
                    .map_err(|reason| format!("message {sequence}: {reason}"))
            }
        };
        let outcome = message.and_then(|message| {
            let mut replica = self.replica.write().unwrap_or_else(PoisonError::into_inner);
            replica
                .fold(sequence, first_sequence, &message)
                .map_err(|reason| format!("message {sequence}: {reason}"))
        });
        self.after_fold(sequence, outcome)
    }

    /// Tells the follower which append message the writer is publishing (`None` once the
    /// publish has an outcome), as its body and its decoded form.
    pub(crate) fn publishing(&self, own: Option<(Bytes, Arc<Message>)>) {
        *self.own.lock().unwrap_or_else(PoisonError::into_inner) = own;
    }

    /// The writer's message being published, when `body` on `subject` is that message's body
    /// byte for byte.
    fn own(&self, subject: &str, body: &[u8]) -> Option<Arc<Message>> {
        if subject != self.append_subject {
            return None;
        }
        let own = self.own.lock().unwrap_or_else(PoisonError::into_inner);
        match &*own {
            Some((bytes, message)) if bytes[..] == *body => Some(Arc::clone(message)),
            _ => None,
        }
    }

    /// Folds a message the writer has just had acknowledged at `sequence`.
    pub(crate) fn fold_own(&self, sequence: u64, message: &Message) -> Result<(), StoreError> {
        let outcome = {
            let mut replica = self.replica.write().unwrap_or_else(PoisonError::into_inner);
            replica
                .fold(sequence, 1, message)
                .map_err(|reason| format!("message {sequence}: {reason}"))
        };
        self.after_fold(sequence, outcome)
    }

    fn after_fold(&self, sequence: u64, outcome: Result<u64, String>) -> Result<(), StoreError> {
        match outcome {
            Ok(_) => {
                self.folded.send_if_modified(|last| {
                    let moved = sequence > *last;
                    *last = (*last).max(sequence);
                    moved
                });
                Ok(())
            }
            Err(reason) => {
                let mut damage = self.damage.lock().unwrap_or_else(PoisonError::into_inner);
                damage.get_or_insert((sequence, reason));
                drop(damage);
                // Wake waiters so they see the damage.
                self.folded.send_modify(|_| {});
                self.check()
            }
        }
    }

    /// Checks the server's `last` sequence against `before`, the replica's sequence read
    /// **before** the server was asked (the replica may move on meanwhile): a stream that ends
    /// before a message the replica had already folded was deleted and made again (or lost
    /// messages). The replica can never match it again, so that is damage (at `last + 1`, the
    /// first message the stream lost).
    ///
    /// # Errors
    ///
    /// The damage error.
    pub(crate) fn check_server_last(&self, before: u64, last: u64) -> Result<(), StoreError> {
        if last >= before {
            return Ok(());
        }
        self.after_fold(
            last + 1,
            Err(format!(
                "the stream ends at message {last}, but the store had read it up to message \
                 {before}: the stream was deleted and made again, or lost messages"
            )),
        )
    }

    /// Waits until the replica has folded `sequence`, or `timeout` passes.
    ///
    /// # Errors
    ///
    /// The damage error, or a backend error after `timeout`.
    pub(crate) async fn wait_for(
        &self,
        sequence: u64,
        timeout: Duration,
    ) -> Result<(), StoreError> {
        let mut folded = self.folded.subscribe();
        let reached = tokio::time::timeout(timeout, async {
            loop {
                self.check()?;
                if *folded.borrow_and_update() >= sequence {
                    return Ok(());
                }
                if folded.changed().await.is_err() {
                    return Err(error::stopped("wait for the log"));
                }
            }
        })
        .await;
        match reached {
            Ok(result) => result,
            Err(_) => Err(error::message(
                "catch up with the stream",
                false,
                format!(
                    "the store did not receive message {sequence} of stream {} within {timeout:?}",
                    self.stream
                ),
            )),
        }
    }

    /// A receiver of the folded sequence, for followers of the log.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.folded.subscribe()
    }
}

/// The shared text of `name` in `names`.
fn intern(names: &mut HashSet<Arc<str>>, name: &str) -> Arc<str> {
    if let Some(shared) = names.get(name) {
        return shared.clone();
    }
    let shared: Arc<str> = Arc::from(name);
    names.insert(shared.clone());
    shared
}
