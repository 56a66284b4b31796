//! The bodies of the store's JetStream messages: one message per append group or link.
//!
//! An append message (subject `<prefix>.append`) holds one or more appends, each to one stream,
//! numbered from the message's first position on, in order:
//!
//! ```text
//! {"position":12,"recorded_at":"2026-12-07T09:00:00.000000000Z","appends":[
//!   {"stream":"account-1","version":3,"events":[
//!     {"id":"01JD...","type":"Deposited","event_version":1,"metadata":{"correlation_id":"c-1"},"payload":{"amount":5}}]}]}
//! ```
//!
//! (`event_version` is left out when 1 and `metadata` when empty.) A link message (subject
//! `<prefix>.link`) is `{"link":{"id":"01JD...","stream":"audit","version":2,"linked_at":"..."}}`.
//!
//! Invariants: the encoder writes what the decoder reads back unchanged (round-trip test); the
//! payload is written as the JSON text it is, never re-serialized; the decoder checks the JSON
//! of every payload (serde's raw-value parse) and refuses anything else with an error.

use std::sync::Arc;

use livenstore::{EventId, Metadata, Payload, Timestamp};
use serde::Deserialize;

/// One decoded (or about to be encoded) message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Message {
    /// Events of one or more appends.
    Append(AppendMessage),
    /// An existing event linked into another stream.
    Link(LinkMessage),
}

/// The events of one append group, at positions `position..`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AppendMessage {
    pub(crate) position: u64,
    pub(crate) recorded_at: Timestamp,
    pub(crate) appends: Vec<AppendPart>,
}

/// One append: events of `stream` at versions `version..`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AppendPart {
    pub(crate) stream: Arc<str>,
    pub(crate) version: u64,
    pub(crate) events: Vec<EventPart>,
}

/// One event of an append.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EventPart {
    pub(crate) id: EventId,
    pub(crate) event_type: Arc<str>,
    pub(crate) event_version: u32,
    pub(crate) metadata: Metadata,
    pub(crate) payload: Payload,
}

/// A link of event `id` into `stream` at `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinkMessage {
    pub(crate) id: EventId,
    pub(crate) stream: Arc<str>,
    pub(crate) version: u64,
    pub(crate) linked_at: Timestamp,
}

impl AppendMessage {
    /// The number of events in the message.
    pub(crate) fn event_count(&self) -> u64 {
        self.appends.iter().map(|a| a.events.len() as u64).sum()
    }
}

/// Encodes an append message (the payloads as they are).
pub(crate) fn encode_append(message: &AppendMessage) -> Vec<u8> {
    let parts: Vec<Vec<u8>> = message.appends.iter().map(encode_part).collect();
    encode_append_parts(message.position, message.recorded_at, &parts)
}

/// The most bytes [`encode_append_parts`] adds to its parts: the frame and the commas.
pub(crate) const fn append_frame_bytes(parts: usize) -> usize {
    96 + parts
}

/// Encodes an append message from its parts, each encoded by [`encode_part`].
pub(crate) fn encode_append_parts(
    position: u64,
    recorded_at: Timestamp,
    parts: &[Vec<u8>],
) -> Vec<u8> {
    let size: usize = parts.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(size + append_frame_bytes(parts.len()));
    out.extend_from_slice(b"{\"position\":");
    text(&mut out, position);
    out.extend_from_slice(b",\"recorded_at\":\"");
    text(&mut out, recorded_at);
    out.extend_from_slice(b"\",\"appends\":[");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(part);
    }
    out.extend_from_slice(b"]}");
    out
}

/// Encodes one append of a message: `{"stream":...,"version":...,"events":[...]}`.
pub(crate) fn encode_part(append: &AppendPart) -> Vec<u8> {
    let size: usize = append
        .events
        .iter()
        .map(|e| e.payload.len() + e.event_type.len() + 64)
        .sum();
    let mut out = Vec::with_capacity(size + append.stream.len() + 48);
    out.extend_from_slice(b"{\"stream\":");
    json_string(&mut out, &append.stream);
    out.extend_from_slice(b",\"version\":");
    text(&mut out, append.version);
    out.extend_from_slice(b",\"events\":[");
    for (j, event) in append.events.iter().enumerate() {
        if j > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"id\":\"");
        text(&mut out, event.id);
        out.extend_from_slice(b"\",\"type\":");
        json_string(&mut out, &event.event_type);
        if event.event_version != 1 {
            out.extend_from_slice(b",\"event_version\":");
            text(&mut out, event.event_version);
        }
        if !event.metadata.is_empty() {
            out.extend_from_slice(b",\"metadata\":");
            // A map of strings always serializes into a vector.
            let _ = serde_json::to_writer(&mut out, &event.metadata);
        }
        out.extend_from_slice(b",\"payload\":");
        out.extend_from_slice(event.payload.as_bytes());
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    out
}

/// Encodes a link message.
pub(crate) fn encode_link(link: &LinkMessage) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + link.stream.len());
    out.extend_from_slice(b"{\"link\":{\"id\":\"");
    text(&mut out, link.id);
    out.extend_from_slice(b"\",\"stream\":");
    json_string(&mut out, &link.stream);
    out.extend_from_slice(b",\"version\":");
    text(&mut out, link.version);
    out.extend_from_slice(b",\"linked_at\":\"");
    text(&mut out, link.linked_at);
    out.extend_from_slice(b"\"}}");
    out
}

/// Writes `value`'s `Display` text (numbers, ids, times: never needing JSON escapes) straight
/// into `out`, without a `String` per value.
fn text(out: &mut Vec<u8>, value: impl std::fmt::Display) {
    use std::io::Write;
    // Writing into a vector cannot fail.
    let _ = write!(out, "{value}");
}

fn json_string(out: &mut Vec<u8>, text: &str) {
    // A string always serializes into a vector.
    let _ = serde_json::to_writer(out, text);
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppendWire<'a> {
    position: u64,
    recorded_at: Timestamp,
    #[serde(borrow)]
    appends: Vec<AppendPartWire<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppendPartWire<'a> {
    #[serde(borrow)]
    stream: std::borrow::Cow<'a, str>,
    version: u64,
    #[serde(borrow)]
    events: Vec<EventWire<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventWire<'a> {
    id: EventId,
    #[serde(rename = "type", borrow)]
    event_type: std::borrow::Cow<'a, str>,
    #[serde(default = "one")]
    event_version: u32,
    #[serde(default)]
    metadata: Metadata,
    payload: Payload,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkWire<'a> {
    #[serde(borrow)]
    link: LinkBodyWire<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkBodyWire<'a> {
    id: EventId,
    #[serde(borrow)]
    stream: std::borrow::Cow<'a, str>,
    version: u64,
    linked_at: Timestamp,
}

/// What a message's subject says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `<prefix>.append`.
    Append,
    /// `<prefix>.link`.
    Link,
}

/// Decodes the body of a message of `kind`; `intern` gives the shared text of a stream name or
/// event type (so a million events of one type hold one copy of its name).
///
/// # Errors
///
/// A description of what is wrong, for a [`StoreError::Corrupted`](livenstore::StoreError).
pub(crate) fn decode(
    kind: Kind,
    body: &[u8],
    mut intern: impl FnMut(&str) -> Arc<str>,
) -> Result<Message, String> {
    match kind {
        Kind::Append => {
            let wire: AppendWire<'_> =
                serde_json::from_slice(body).map_err(|e| format!("not an append message: {e}"))?;
            let appends = wire
                .appends
                .into_iter()
                .map(|part| AppendPart {
                    stream: intern(&part.stream),
                    version: part.version,
                    events: part
                        .events
                        .into_iter()
                        .map(|e| EventPart {
                            id: e.id,
                            event_type: intern(&e.event_type),
                            event_version: e.event_version,
                            metadata: e.metadata,
                            payload: e.payload,
                        })
                        .collect(),
                })
                .collect();
            Ok(Message::Append(AppendMessage {
                position: wire.position,
                recorded_at: wire.recorded_at,
                appends,
            }))
        }
        Kind::Link => {
            let wire: LinkWire<'_> =
                serde_json::from_slice(body).map_err(|e| format!("not a link message: {e}"))?;
            Ok(Message::Link(LinkMessage {
                id: wire.link.id,
                stream: intern(&wire.link.stream),
                version: wire.link.version,
                linked_at: wire.link.linked_at,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AppendMessage {
        AppendMessage {
            position: 12,
            recorded_at: Timestamp::from_unix_nanos(1_700_000_000_123_456_789),
            appends: vec![
                AppendPart {
                    stream: "account \"1\"".into(),
                    version: 3,
                    events: vec![
                        EventPart {
                            id: EventId::new(),
                            event_type: "Deposited".into(),
                            event_version: 1,
                            metadata: Metadata::new(),
                            payload: Payload::from_json(r#"{"amount":5}"#).unwrap(),
                        },
                        EventPart {
                            id: EventId::new(),
                            event_type: "Withdrawn".into(),
                            event_version: 3,
                            metadata: Metadata::new().with_correlation_id("c-1"),
                            payload: Payload::from_json("[1, 2]").unwrap(),
                        },
                    ],
                },
                AppendPart {
                    stream: "b".into(),
                    version: 1,
                    events: vec![EventPart {
                        id: EventId::new(),
                        event_type: "Opened".into(),
                        event_version: 1,
                        metadata: Metadata::new(),
                        payload: Payload::from_json("null").unwrap(),
                    }],
                },
            ],
        }
    }

    #[test]
    fn append_messages_round_trip() {
        let message = sample();
        let body = encode_append(&message);
        let decoded = decode(Kind::Append, &body, |s: &str| Arc::from(s)).unwrap();
        assert_eq!(decoded, Message::Append(message));
        let text = String::from_utf8(body).unwrap();
        assert!(
            text.contains(r#""payload":[1, 2]"#),
            "payload kept as given: {text}"
        );
    }

    #[test]
    fn link_messages_round_trip() {
        let link = LinkMessage {
            id: EventId::new(),
            stream: "audit".into(),
            version: 2,
            linked_at: Timestamp::from_unix_nanos(5),
        };
        let decoded = decode(Kind::Link, &encode_link(&link), |s: &str| Arc::from(s)).unwrap();
        assert_eq!(decoded, Message::Link(link));
    }

    #[test]
    fn damaged_bodies_are_refused() {
        let body = encode_append(&sample());
        for cut in [0, 1, body.len() / 2, body.len() - 1] {
            assert!(decode(Kind::Append, &body[..cut], |s: &str| Arc::from(s)).is_err());
        }
        assert!(decode(Kind::Append, br#"{"position":1}"#, |s: &str| Arc::from(s)).is_err());
        assert!(decode(Kind::Link, &body, |s: &str| Arc::from(s)).is_err());
        let bad_payload = String::from_utf8(body).unwrap().replace("[1, 2]", "[1, 2");
        assert!(decode(Kind::Append, bad_payload.as_bytes(), |s: &str| Arc::from(s)).is_err());
    }
}
