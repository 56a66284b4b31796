//! The writer task: every append and link of one store goes through it, in groups.
//!
//! Appends made at the same time by many threads queue up; the writer takes every queued append
//! (up to [`MAX_GROUP_REQUESTS`] appends and [`MAX_GROUP_EVENTS`] events, and what fits in the
//! server's `max_payload`), decides each against the replica, and publishes the accepted ones
//! as **one** JetStream message with `Nats-Expected-Last-Sequence` set to the replica's
//! sequence. So:
//! - a group is all-or-nothing: one message is stored or not;
//! - the server refuses the message if any other message (another process's append or link)
//!   got in since the replica's sequence, so the checks made against the replica (versions,
//!   event ids) were made against the whole log; the writer then waits for the follower to fold
//!   the newer messages and decides the group again;
//! - positions are the replica's last position + 1..., gap-free and in commit order.
//!
//! When the publish fails without an answer (timeout, lost connection), the writer asks the
//! server for its last sequence and waits for the replica to reach it: if the group's first
//! event is there, it was stored and every caller gets its result; if the log moved past the
//! group's expected sequence without it, it can never be stored (the guard refuses it) and the
//! group is decided and published again; only when the server cannot be asked is the outcome
//! unknown, and the callers get [`StoreError::Backend`] saying so.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::Stream;
use async_nats::jetstream::Context;
use bytes::Bytes;
use livenstore::backend::check_idempotent;
use livenstore::{AppendResult, EventId, ExpectedVersion, NewEvent, StoreError, Timestamp};
use tokio::sync::mpsc;

use crate::codec::{self, AppendMessage, AppendPart, EventPart, LinkMessage, Message};
use crate::error;
use crate::log::Log;
use crate::replica::Replica;

/// The most appends one message holds.
pub(crate) const MAX_GROUP_REQUESTS: usize = 256;
/// The most events one message holds (a single larger append is one message of its own).
pub(crate) const MAX_GROUP_EVENTS: usize = 10_000;
/// Bytes of the server's `max_payload` kept for the headers.
const HEADER_ALLOWANCE: usize = 512;
/// How many times a group is published in all when publishes fail without an answer.
const MAX_ATTEMPTS: u32 = 4;
/// The pause before publishing again when the server could not be asked, times the attempt.
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// Where a caller waits for its answer.
pub(crate) type Reply<T> = std::sync::mpsc::SyncSender<Result<T, StoreError>>;

/// One call to the writer.
pub(crate) enum Request {
    /// An append (already validated by the caller's thread; every event has an id).
    Append {
        stream: String,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        reply: Reply<AppendResult>,
    },
    /// A link of event `id` into `stream`.
    Link {
        id: EventId,
        stream: String,
        reply: Reply<u64>,
    },
}

/// What the writer task needs.
pub(crate) struct Writer {
    pub(crate) js: Context,
    pub(crate) stream: Stream,
    pub(crate) log: Arc<Log>,
    pub(crate) max_message: usize,
    pub(crate) timeout: Duration,
    names: HashMap<String, Arc<str>>,
}

/// An append of the group being decided.
struct Member {
    stream: String,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
    reply: Reply<AppendResult>,
}

impl Writer {
    pub(crate) fn new(
        js: Context,
        stream: Stream,
        log: Arc<Log>,
        max_payload: usize,
        timeout: Duration,
    ) -> Self {
        Writer {
            js,
            stream,
            log,
            max_message: max_payload.saturating_sub(HEADER_ALLOWANCE).max(1024),
            timeout,
            names: HashMap::new(),
        }
    }

    /// Serves requests until every sender is gone.
    pub(crate) async fn run(mut self, mut requests: mpsc::UnboundedReceiver<Request>) {
        let mut deferred: VecDeque<Request> = VecDeque::new();
        loop {
            let first = match deferred.pop_front() {
                Some(request) => request,
                None => match requests.recv().await {
                    Some(request) => request,
                    None => return,
                },
            };
            match first {
                Request::Link { id, stream, reply } => {
                    let _ = reply.send(self.link(id, &stream).await);
                }
                Request::Append {
                    stream,
                    expected,
                    events,
                    reply,
                } => {
                    let mut events_in = events.len();
                    let mut group = vec![Member {
                        stream,
                        expected,
                        events,
                        reply,
                    }];
                    while group.len() < MAX_GROUP_REQUESTS && events_in < MAX_GROUP_EVENTS {
                        let next = match deferred.pop_front() {
                            Some(request) => request,
                            None => match requests.try_recv() {
                                Ok(request) => request,
                                Err(_) => break,
                            },
                        };
                        match next {
                            Request::Append {
                                stream,
                                expected,
                                events,
                                reply,
                            } if events_in + events.len() <= MAX_GROUP_EVENTS => {
                                events_in += events.len();
                                group.push(Member {
                                    stream,
                                    expected,
                                    events,
                                    reply,
                                });
                            }
                            other => {
                                deferred.push_front(other);
                                break;
                            }
                        }
                    }
                    self.append_group(group, &mut deferred).await;
                }
            }
        }
    }

    /// Decides, publishes and answers one group (members it cannot take now go to `deferred`).
    async fn append_group(&mut self, mut group: Vec<Member>, deferred: &mut VecDeque<Request>) {
        let mut attempts = 0;
        loop {
            let planned = match self.plan(&mut group, deferred) {
                Ok(Some(planned)) => planned,
                Ok(None) => return,
                Err(damage) => {
                    answer_all(group, |_| clone_error(&damage));
                    return;
                }
            };
            let Planned {
                message,
                body,
                results,
                expected_sequence,
            } = planned;
            let first_id = message.appends[0].events[0].id;
            let message = Arc::new(Message::Append(message));
            let body = Bytes::from(body);
            // The follower usually receives the message before its ack reaches this task: it
            // folds this decoded copy instead of decoding the same bytes.
            self.log
                .publishing(Some((body.clone(), Arc::clone(&message))));
            let outcome = self
                .publish(
                    &self.log.append_subject,
                    body,
                    first_id.to_string(),
                    expected_sequence,
                )
                .await;
            self.log.publishing(None);
            match outcome {
                Published::Stored(sequence) if sequence == expected_sequence + 1 => {
                    let folded = self.log.fold_own(sequence, &message);
                    for (member, result) in group.into_iter().zip(results) {
                        let answer = match &folded {
                            Ok(()) => Ok(result),
                            Err(e) => Err(clone_error(e)),
                        };
                        let _ = member.reply.send(answer);
                    }
                    return;
                }
                Published::Stored(sequence) | Published::Duplicate(sequence) => {
                    // Stored before (a retry within the duplicate window), or not where
                    // expected: fold up to it and decide again (the ids answer).
                    if let Err(e) = self.log.wait_for(sequence, self.timeout).await {
                        answer_all(group, |_| clone_error(&e));
                        return;
                    }
                }
                Published::Overtaken => {
                    if let Err(e) = self.catch_up().await {
                        answer_all(group, |_| clone_error(&e));
                        return;
                    }
                }
                Published::Failed { error, unknown } => {
                    attempts += 1;
                    let resolved = self.catch_up().await;
                    if attempts < MAX_ATTEMPTS {
                        if resolved.is_err() {
                            tokio::time::sleep(RETRY_PAUSE * attempts).await;
                        }
                        // Deciding again finds the group's ids if it was stored; else it is
                        // published again with the same guard and message id, which the
                        // server refuses or drops if the first publish landed after all.
                        continue;
                    }
                    let (stored, moved) = match (&resolved, self.log.read()) {
                        (Ok(()), Ok(replica)) => (
                            replica.find(first_id).is_some(),
                            replica.sequence() > expected_sequence,
                        ),
                        _ => (false, false),
                    };
                    if stored {
                        continue; // deciding again answers every member from the log
                    }
                    // Known not stored only when the log moved past the guard without it.
                    let unknown = unknown && !moved;
                    answer_all(group, |_| error::message("append", unknown, error.clone()));
                    return;
                }
            }
        }
    }

    /// Decides every member against the replica: answers those that fail (or were stored
    /// before), defers those that repeat an id of an earlier member, and encodes the rest.
    fn plan(
        &mut self,
        group: &mut Vec<Member>,
        deferred: &mut VecDeque<Request>,
    ) -> Result<Option<Planned>, StoreError> {
        let replica = self.log.read()?;
        let mut versions: HashMap<String, u64> = HashMap::new();
        let mut ids: HashSet<EventId> = HashSet::new();
        let mut kept = Vec::with_capacity(group.len());
        let mut parts = Vec::with_capacity(group.len());
        let mut results = Vec::with_capacity(group.len());
        let mut position = replica.last_position() + 1;
        let mut size = 128;
        for member in group.drain(..) {
            if member
                .events
                .iter()
                .any(|e| e.id().is_some_and(|id| ids.contains(&id)))
            {
                deferred.push_back(member.into_request());
                continue;
            }
            let decided = decide(&replica, &versions, &member);
            match decided {
                Err(e) => {
                    let _ = member.reply.send(Err(e));
                }
                Ok(Decision::Done(result)) => {
                    let _ = member.reply.send(Ok(result));
                }
                Ok(Decision::Write { version }) => {
                    let bytes: usize = member
                        .events
                        .iter()
                        .map(|e| e.payload().len() + e.event_type().len() + 160)
                        .sum::<usize>()
                        + member.stream.len();
                    if !kept.is_empty() && size + bytes > self.max_message {
                        deferred.push_back(member.into_request());
                        continue;
                    }
                    if size + bytes > self.max_message {
                        let _ = member.reply.send(Err(StoreError::PayloadTooLarge {
                            size: bytes,
                            limit: self.max_message,
                        }));
                        continue;
                    }
                    size += bytes;
                    let count = member.events.len() as u64;
                    versions.insert(member.stream.clone(), version + count - 1);
                    ids.extend(member.events.iter().filter_map(NewEvent::id));
                    results.push(AppendResult {
                        stream_version: version + count - 1,
                        first_position: position,
                        last_position: position + count - 1,
                    });
                    position += count;
                    parts.push(AppendPart {
                        stream: intern(&mut self.names, &member.stream),
                        version,
                        events: member
                            .events
                            .iter()
                            .map(|e| EventPart {
                                id: e.id().unwrap_or_default(),
                                event_type: intern(&mut self.names, e.event_type()),
                                event_version: e.event_version(),
                                metadata: e.metadata().clone(),
                                payload: e.payload().clone(),
                            })
                            .collect(),
                    });
                    kept.push(member);
                }
            }
        }
        *group = kept;
        if group.is_empty() {
            return Ok(None);
        }
        let message = AppendMessage {
            position: replica.last_position() + 1,
            recorded_at: Timestamp::now().max(replica.last_time()),
            appends: parts,
        };
        let body = codec::encode_append(&message);
        Ok(Some(Planned {
            expected_sequence: replica.sequence(),
            message,
            body,
            results,
        }))
    }

    /// Links event `id` into `stream`.
    async fn link(&mut self, id: EventId, stream: &str) -> Result<u64, StoreError> {
        let mut attempts = 0;
        loop {
            let (link, expected_sequence) = {
                let replica = self.log.read()?;
                if replica.find(id).is_none() {
                    return Err(StoreError::EventNotFound(id));
                }
                if replica.holds(stream, id) {
                    return Err(StoreError::InvalidArgument(format!(
                        "event {id} already is in stream {stream}"
                    )));
                }
                let link = LinkMessage {
                    id,
                    stream: intern(&mut self.names, stream),
                    version: replica.version(stream) + 1,
                    linked_at: Timestamp::now().max(replica.last_time()),
                };
                (link, replica.sequence())
            };
            let body = Bytes::from(codec::encode_link(&link));
            let subject = self.log.link_subject.clone();
            // Not the event's id: that is the message id of the append that stored it.
            let message_id = format!("link-{id}-{}", link.stream);
            match self
                .publish(&subject, body, message_id, expected_sequence)
                .await
            {
                Published::Stored(sequence) if sequence == expected_sequence + 1 => {
                    self.log.fold_own(sequence, &Message::Link(link.clone()))?;
                    return Ok(link.version);
                }
                Published::Stored(sequence) | Published::Duplicate(sequence) => {
                    self.log.wait_for(sequence, self.timeout).await?;
                }
                Published::Overtaken => self.catch_up().await?,
                Published::Failed { error, unknown } => {
                    attempts += 1;
                    let resolved = self.catch_up().await;
                    if resolved.is_err() || attempts >= MAX_ATTEMPTS {
                        return Err(error::message("link", unknown, error));
                    }
                    if self.log.read()?.holds(stream, id) {
                        return Ok(self.log.read()?.version(stream));
                    }
                }
            }
        }
    }

    /// Publishes `body` guarded by `expected_sequence`, with `message_id` as its `Nats-Msg-Id`.
    async fn publish(
        &self,
        subject: &str,
        body: Bytes,
        message_id: String,
        expected_sequence: u64,
    ) -> Published {
        let publish = PublishMessage::build()
            .payload(body)
            .message_id(message_id)
            .expected_last_sequence(expected_sequence);
        let acked = match self.js.send_publish(subject.to_owned(), publish).await {
            Ok(future) => future.await,
            Err(e) => Err(e),
        };
        match acked {
            Ok(ack) if ack.duplicate => Published::Duplicate(ack.sequence),
            Ok(ack) => Published::Stored(ack.sequence),
            Err(e) => match e.kind() {
                PublishErrorKind::WrongLastSequence => Published::Overtaken,
                kind => Published::Failed {
                    unknown: !matches!(
                        kind,
                        PublishErrorKind::StreamNotFound | PublishErrorKind::MaxPayloadExceeded
                    ),
                    error: format!("the publish failed: {e}"),
                },
            },
        }
    }

    /// Waits until the replica holds every message the server holds now.
    async fn catch_up(&self) -> Result<(), StoreError> {
        let info = tokio::time::timeout(self.timeout, self.stream.get_info())
            .await
            .map_err(|e| error::backend("read the stream's last sequence", false, e))?
            .map_err(|e| error::backend("read the stream's last sequence", false, e))?;
        self.log
            .wait_for(info.state.last_sequence, self.timeout)
            .await
    }
}

/// A decided group, ready to publish.
struct Planned {
    message: AppendMessage,
    body: Vec<u8>,
    results: Vec<AppendResult>,
    expected_sequence: u64,
}

/// What a publish came to.
enum Published {
    Stored(u64),
    Duplicate(u64),
    Overtaken,
    Failed { error: String, unknown: bool },
}

enum Decision {
    /// Answered without writing (stored before, or no events).
    Done(AppendResult),
    /// To write at stream version `version`...
    Write { version: u64 },
}

/// The idempotency rule, then the expected version, against the replica and the group's
/// earlier members.
fn decide(
    replica: &Replica,
    versions: &HashMap<String, u64>,
    member: &Member,
) -> Result<Decision, StoreError> {
    if let Some(done) = check_idempotent(&member.stream, &member.events, |id| Ok(replica.find(id)))?
    {
        return Ok(Decision::Done(done));
    }
    let current = versions
        .get(&member.stream)
        .copied()
        .unwrap_or_else(|| replica.version(&member.stream));
    member.expected.check(&member.stream, current)?;
    if member.events.is_empty() {
        return Ok(Decision::Done(AppendResult {
            stream_version: current,
            first_position: 0,
            last_position: 0,
        }));
    }
    Ok(Decision::Write {
        version: current + 1,
    })
}

impl Member {
    fn into_request(self) -> Request {
        Request::Append {
            stream: self.stream,
            expected: self.expected,
            events: self.events,
            reply: self.reply,
        }
    }
}

fn answer_all(group: Vec<Member>, mut error: impl FnMut(&Member) -> StoreError) {
    for member in group {
        let e = error(&member);
        let _ = member.reply.send(Err(e));
    }
}

fn intern(names: &mut HashMap<String, Arc<str>>, name: &str) -> Arc<str> {
    if let Some(shared) = names.get(name) {
        return shared.clone();
    }
    if names.len() >= 65_536 {
        names.clear();
    }
    let shared: Arc<str> = Arc::from(name);
    names.insert(name.to_owned(), shared.clone());
    shared
}

/// A copy of `error` for each caller of a group (store errors are not `Clone`).
pub(crate) fn clone_error(error: &StoreError) -> StoreError {
    match error {
        StoreError::Corrupted { path, line, reason } => StoreError::Corrupted {
            path: path.clone(),
            line: *line,
            reason: reason.clone(),
        },
        StoreError::Backend {
            backend,
            operation,
            outcome_unknown,
            source,
        } => StoreError::Backend {
            backend,
            operation,
            outcome_unknown: *outcome_unknown,
            source: source.to_string().into(),
        },
        other => error::message("append", true, other.to_string()),
    }
}
