//! Imports: recorded events and links stored as they are (ids, positions, versions, times,
//! metadata, payloads), to move a store from another backend to JetStream without changing
//! anything a reader can see.
//!
//! Invariants:
//! - An import message obeys every rule of the log (`replica.rs`): it is checked against the
//!   replica before it is published, under the same sequence guard as appends, so an import
//!   racing another writer fails instead of breaking the log.
//! - Consecutive events recorded at the same time (one append in the source store) go into one
//!   message, so an imported append stays one atomic message when it fits the server's limit;
//!   events of different times are never put together (a message has one time).

use livenstore::backend::{validate_event_type, validate_event_version, validate_stream_name};
use std::time::Instant;

use livenstore::{EventId, LinkInfo, RecordedEvent, StoreError};

use crate::codec::{self, AppendMessage, AppendPart, EventPart, LinkMessage, Message};
use crate::error;
use crate::replica::Replica;
use crate::store::JetStreamStore;
use crate::writer::{
    overtaken_too_long, Published, Request, Writer, MAX_GROUP_EVENTS, OVERTAKEN_TIMEOUTS,
};

impl JetStreamStore {
    /// Stores already-recorded events exactly as they are: each must come next in the log
    /// (its position the store's last + 1, its version its stream's next, its time not before
    /// the latest, its id not stored yet). Link information on the events is ignored; import
    /// links with [`import_link`](Self::import_link) in their place in the log. Returns the
    /// number of JetStream messages written.
    ///
    /// For copying a store (the `livenstore import` command uses it): `export` from one store,
    /// `import` into an empty stream.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`] naming the rule an event breaks (the events before it are
    /// stored); [`StoreError::PayloadTooLarge`] when one event does not fit in a message; the
    /// append errors of [`EventStore::append`](livenstore::EventStore::append) otherwise.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use livenstore::{EventStore, InMemoryStore, ExpectedVersion, NewEvent};
    /// use livenstore_nats::{JetStreamConfig, JetStreamStore};
    ///
    /// let source = InMemoryStore::new();
    /// source.append("a", ExpectedVersion::Any, vec![NewEvent::from_json("Tick", "{}")?])?;
    /// let config = JetStreamConfig::new().stream("COPY")?;
    /// let target = JetStreamStore::connect_with("nats://127.0.0.1:4222", config)?;
    /// target.import_events(&source.read_all(1, usize::MAX)?)?;
    /// assert_eq!(target.read_all(1, 10)?, source.read_all(1, 10)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn import_events(&self, events: &[RecordedEvent]) -> Result<u64, StoreError> {
        for event in events {
            validate_stream_name(event.stream())?;
            validate_event_type(event.event_type())?;
            validate_event_version(event.event_version())?;
        }
        let limit = self.max_message();
        let mut messages = 0;
        let mut rest = events;
        while let Some(first) = rest.first() {
            let mut size = 128;
            let mut taken = 0;
            for event in rest {
                let bytes = encoded_size(event);
                let same_append = event.recorded_at() == first.recorded_at()
                    && event.position() == first.position() + taken as u64;
                if taken > 0 && (!same_append || size + bytes > limit || taken >= MAX_GROUP_EVENTS)
                {
                    break;
                }
                size += bytes;
                taken += 1;
            }
            let (group, next) = rest.split_at(taken);
            let message = Message::Append(AppendMessage {
                position: first.position(),
                recorded_at: first.recorded_at(),
                appends: parts(group),
            });
            self.call("import", |reply| Request::Import { message, reply })?;
            messages += 1;
            rest = next;
        }
        Ok(messages)
    }

    /// Stores a recorded link as it is: event `id` linked into `link.stream` at `link.version`
    /// at `link.linked_at`, which must come next in the log (see
    /// [`import_events`](Self::import_events)).
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`] naming the rule the link breaks; the errors of
    /// [`EventStore::link_to_stream`](livenstore::EventStore::link_to_stream) otherwise.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use livenstore::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
    /// use livenstore_nats::JetStreamStore;
    ///
    /// let source = InMemoryStore::new();
    /// source.append("a", ExpectedVersion::Any, vec![NewEvent::from_json("Tick", "{}")?])?;
    /// let id = source.read_all(1, 1)?[0].id();
    /// source.link_to_stream(id, "audit")?;
    /// let target = JetStreamStore::connect("nats://127.0.0.1:4222")?;
    /// target.import_events(&source.read_all(1, usize::MAX)?)?;
    /// let linked = source.read_stream("audit", 1, 1)?.remove(0);
    /// target.import_link(id, linked.link().expect("read through the link"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn import_link(&self, id: EventId, link: &LinkInfo) -> Result<(), StoreError> {
        validate_stream_name(&link.stream)?;
        let message = Message::Link(LinkMessage {
            id,
            stream: link.stream.as_str().into(),
            version: link.version,
            linked_at: link.linked_at,
        });
        self.call("import", |reply| Request::Import { message, reply })
    }
}

/// About what an event takes in a message body.
fn encoded_size(event: &RecordedEvent) -> usize {
    event.payload().len() + event.event_type().len() + event.stream().len() + 200
}

/// The events of one message as appends: a new part wherever the stream changes.
fn parts(events: &[RecordedEvent]) -> Vec<AppendPart> {
    let mut parts: Vec<AppendPart> = Vec::new();
    for event in events {
        let part = EventPart {
            id: event.id(),
            event_type: event.event_type().into(),
            event_version: event.event_version(),
            metadata: event.metadata().clone(),
            payload: event.payload().without_typed(),
        };
        match parts.last_mut() {
            Some(last)
                if *last.stream == *event.stream()
                    && last.version + last.events.len() as u64 == event.version() =>
            {
                last.events.push(part);
            }
            _ => parts.push(AppendPart {
                stream: event.stream().into(),
                version: event.version(),
                events: vec![part],
            }),
        }
    }
    parts
}

impl Writer {
    /// Stores an imported message as it is, if it may follow the log's last message.
    pub(crate) async fn import(&mut self, message: Message) -> Result<(), StoreError> {
        let (subject, body, message_id) = match &message {
            Message::Append(append) => (
                self.log.append_subject.clone(),
                codec::encode_append(append),
                format!("import-{}", append.position),
            ),
            Message::Link(link) => (
                self.log.link_subject.clone(),
                codec::encode_link(link),
                format!("link-{}-{}", link.id, link.stream),
            ),
        };
        if body.len() > self.max_message {
            return Err(StoreError::PayloadTooLarge {
                size: body.len(),
                limit: self.max_message,
            });
        }
        let deadline = Instant::now() + self.timeout * OVERTAKEN_TIMEOUTS;
        loop {
            let expected_sequence = {
                let replica = self.log.read()?;
                if imported(&replica, &message) {
                    return Ok(()); // stored by an earlier call (or an earlier publish of this one)
                }
                replica.check(&message).map_err(|reason| {
                    StoreError::InvalidArgument(format!("cannot import: {reason}"))
                })?;
                replica.sequence()
            };
            let published = self
                .publish(
                    &subject,
                    bytes::Bytes::from(body.clone()),
                    message_id.clone(),
                    expected_sequence,
                )
                .await;
            match published {
                Published::Stored(sequence) if sequence == expected_sequence + 1 => {
                    return self.log.fold_own(sequence, &message);
                }
                Published::Stored(sequence) | Published::Duplicate(sequence) => {
                    self.log.wait_for(sequence, self.timeout).await?;
                    if !imported(&*self.log.read()?, &message) {
                        return Err(StoreError::InvalidArgument(
                            "cannot import: the server holds a message with its id that the \
                             store cannot read (removed by the stream's limits)"
                                .to_owned(),
                        ));
                    }
                }
                Published::TooLarge => {
                    return Err(StoreError::PayloadTooLarge {
                        size: body.len(),
                        limit: self.max_message,
                    });
                }
                Published::Overtaken => {
                    if Instant::now() > deadline {
                        return Err(overtaken_too_long("import"));
                    }
                    self.catch_up().await?;
                }
                Published::Failed { error, unknown } => {
                    // Resolve the outcome: stored, known not stored, or unknown.
                    let resolved = self.catch_up().await;
                    let replica = self.log.read()?;
                    if resolved.is_ok() && imported(&replica, &message) {
                        return Ok(());
                    }
                    let moved = resolved.is_ok() && replica.sequence() > expected_sequence;
                    return Err(error::message("import", unknown && !moved, error));
                }
            }
        }
    }
}

/// Whether the replica already holds `message` where it says.
fn imported(replica: &Replica, message: &Message) -> bool {
    match message {
        Message::Append(append) => append
            .appends
            .first()
            .and_then(|part| part.events.first())
            .and_then(|event| replica.find(event.id))
            .is_some_and(|found| found.position() == append.position),
        Message::Link(link) => replica.link_version(&link.stream, link.id) == Some(link.version),
    }
}
