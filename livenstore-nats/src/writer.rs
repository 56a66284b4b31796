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
use std::time::{Duration, Instant};

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
/// How many request timeouts an append or link may spend being overtaken by other writers
/// before it fails (not stored).
pub(crate) const OVERTAKEN_TIMEOUTS: u32 = 4;
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
    /// A message of recorded events or a recorded link, stored as it is (an import).
    Import { message: Message, reply: Reply<()> },
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
                Request::Import { message, reply } => {
                    let _ = reply.send(self.import(message).await);
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
        let deadline = Instant::now() + self.timeout * OVERTAKEN_TIMEOUTS;
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
            let body_len = body.len();
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
            let duplicate = matches!(outcome, Published::Duplicate(_));
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
                    // expected: fold up to it and decide again (the ids answer). The server
                    // holds the message, so when the replica cannot reach it the outcome is
                    // unknown, never "not stored".
                    if let Err(e) = self.log.wait_for(sequence, self.timeout).await {
                        answer_all(group, |_| maybe_stored(&e));
                        return;
                    }
                    let seen = self.log.read().map(|r| r.find(first_id).is_some());
                    if duplicate && seen.is_ok_and(|seen| !seen) {
                        // The server has a message with this id, which the replica does not
                        // hold: the server's limits removed it (and the event in it). Deciding
                        // again would publish the same id again, for the whole window.
                        refuse_removed(&mut group, first_id);
                    }
                }
                Published::TooLarge => {
                    answer_all(group, |_| StoreError::PayloadTooLarge {
                        size: body_len,
                        limit: self.max_message,
                    });
                    return;
                }
                Published::Overtaken => {
                    if Instant::now() > deadline {
                        answer_all(group, |_| overtaken_too_long("append"));
                        return;
                    }
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
    /// before), defers those that repeat an id of an earlier member or whose answer would rest
    /// on an earlier member being stored, and encodes the rest.
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
        let mut encoded: Vec<Vec<u8>> = Vec::with_capacity(group.len());
        let mut results = Vec::with_capacity(group.len());
        let mut position = replica.last_position() + 1;
        let mut size = codec::append_frame_bytes(0);
        for member in group.drain(..) {
            if member
                .events
                .iter()
                .any(|e| e.id().is_some_and(|id| ids.contains(&id)))
            {
                deferred.push_back(member.into_request());
                continue;
            }
            // An answer decided against an earlier member's versions holds only if that member
            // is stored: such members wait for the next group instead of being answered now.
            let depends = versions.contains_key(&member.stream);
            match decide(&replica, &versions, &member) {
                Err(_) | Ok(Decision::Done(_)) if depends => {
                    deferred.push_back(member.into_request());
                }
                Err(e) => {
                    let _ = member.reply.send(Err(e));
                }
                Ok(Decision::Done(result)) => {
                    let _ = member.reply.send(Ok(result));
                }
                Ok(Decision::Write { version }) => {
                    let part = AppendPart {
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
                    };
                    let bytes = codec::encode_part(&part);
                    if size + bytes.len() + 1 > self.max_message {
                        let alone = codec::append_frame_bytes(1) + bytes.len();
                        if alone > self.max_message {
                            let _ = member.reply.send(Err(StoreError::PayloadTooLarge {
                                size: alone,
                                limit: self.max_message,
                            }));
                        } else {
                            deferred.push_back(member.into_request());
                        }
                        continue;
                    }
                    size += bytes.len() + 1;
                    let count = member.events.len() as u64;
                    versions.insert(member.stream.clone(), version + count - 1);
                    ids.extend(member.events.iter().filter_map(NewEvent::id));
                    results.push(AppendResult {
                        stream_version: version + count - 1,
                        first_position: position,
                        last_position: position + count - 1,
                    });
                    position += count;
                    parts.push(part);
                    encoded.push(bytes);
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
        let body = codec::encode_append_parts(message.position, message.recorded_at, &encoded);
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
        let deadline = Instant::now() + self.timeout * OVERTAKEN_TIMEOUTS;
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
            let stored_link = |writer: &Self| {
                writer
                    .log
                    .read()
                    .ok()
                    .and_then(|replica| replica.link_version(stream, id))
            };
            match self
                .publish(&subject, body, message_id, expected_sequence)
                .await
            {
                Published::Stored(sequence) if sequence == expected_sequence + 1 => {
                    self.log.fold_own(sequence, &Message::Link(link.clone()))?;
                    return Ok(link.version);
                }
                Published::Stored(sequence) | Published::Duplicate(sequence) => {
                    self.log
                        .wait_for(sequence, self.timeout)
                        .await
                        .map_err(|e| maybe_stored(&e))?;
                    if let Some(version) = stored_link(self) {
                        return Ok(version); // an earlier publish of this link landed
                    }
                }
                Published::TooLarge => {
                    return Err(error::message(
                        "link",
                        false,
                        "the link message is larger than the server's max_payload".to_owned(),
                    ));
                }
                Published::Overtaken => {
                    if Instant::now() > deadline {
                        return Err(overtaken_too_long("link"));
                    }
                    self.catch_up().await?;
                }
                Published::Failed { error, unknown } => {
                    attempts += 1;
                    let resolved = self.catch_up().await;
                    if resolved.is_ok() {
                        if let Some(version) = stored_link(self) {
                            return Ok(version);
                        }
                    }
                    if attempts >= MAX_ATTEMPTS {
                        let moved = resolved.is_ok()
                            && self
                                .log
                                .read()
                                .is_ok_and(|r| r.sequence() > expected_sequence);
                        return Err(error::message("link", unknown && !moved, error));
                    }
                    if resolved.is_err() {
                        tokio::time::sleep(RETRY_PAUSE * attempts).await;
                    }
                }
            }
        }
    }

    /// Publishes `body` guarded by `expected_sequence`, with `message_id` as its `Nats-Msg-Id`.
    pub(crate) async fn publish(
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
                PublishErrorKind::MaxPayloadExceeded => Published::TooLarge,
                kind => Published::Failed {
                    unknown: kind != PublishErrorKind::StreamNotFound,
                    error: format!("the publish failed: {e}"),
                },
            },
        }
    }

    /// Waits until the replica holds every message the server holds now.
    pub(crate) async fn catch_up(&self) -> Result<(), StoreError> {
        let before = self.log.read()?.sequence();
        let info = tokio::time::timeout(self.timeout, self.stream.get_info())
            .await
            .map_err(|e| error::backend("read the stream's last sequence", false, e))?
            .map_err(|e| error::backend("read the stream's last sequence", false, e))?;
        // Else a guard the server refuses for ever would be published again for ever.
        self.log
            .check_server_last(before, info.state.last_sequence)?;
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
pub(crate) enum Published {
    Stored(u64),
    Duplicate(u64),
    Overtaken,
    /// Over the server's `max_payload` (refused before it was sent).
    TooLarge,
    Failed {
        error: String,
        unknown: bool,
    },
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

/// Answers the member holding `id` (stored in a message the server's limits removed) with
/// [`StoreError::DuplicateEventId`], and keeps the others to decide again.
fn refuse_removed(group: &mut Vec<Member>, id: EventId) {
    let (refused, kept): (Vec<Member>, Vec<Member>) = std::mem::take(group)
        .into_iter()
        .partition(|m| m.events.iter().any(|e| e.id() == Some(id)));
    *group = kept;
    answer_all(refused, |_| StoreError::DuplicateEventId {
        id,
        reason: "it was stored in a message the stream's limits have removed",
    });
}

/// The failure of an append or link that other writers kept getting ahead of.
pub(crate) fn overtaken_too_long(operation: &'static str) -> StoreError {
    error::message(
        operation,
        false,
        "other writers kept storing messages first; it was not stored".to_owned(),
    )
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

/// A copy of `error` for a caller whose message the server holds though the replica could not
/// read it: a backend error says the outcome is unknown.
fn maybe_stored(error: &StoreError) -> StoreError {
    match clone_error(error) {
        StoreError::Backend {
            backend,
            operation,
            source,
            ..
        } => StoreError::Backend {
            backend,
            operation,
            outcome_unknown: true,
            source,
        },
        other => other,
    }
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
