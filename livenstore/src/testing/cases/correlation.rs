//! Cases of [`EventStore::read_correlated`]: the events of one conversation, in position order,
//! whatever streams and appends they came in; unknown ids; refused ids.
//!
//! The cases run on one store value; a backend whose store can be reopened checks that the
//! lookup survives it in its own tests (the JSON store's and PostgreSQL's do).

use super::support::{append_ok, ok};
use crate::backend::MAX_CORRELATION_ID_BYTES;
use crate::testing::fixtures::event;
use crate::{EventStore, ExpectedVersion, Metadata, NewEvent, RecordedEvent, StoreError};

/// An event of `event_type` numbered `n`, in conversation `correlation_id`.
fn said(event_type: &'static str, n: u64, correlation_id: &str) -> NewEvent {
    event(event_type, &format!(r#"{{"n":{n}}}"#))
        .with_metadata(Metadata::new().with_correlation_id(correlation_id))
}

fn positions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(RecordedEvent::position).collect()
}

fn lookup<S: EventStore + ?Sized>(store: &S, correlation_id: &str) -> Vec<RecordedEvent> {
    ok(store.read_correlated(correlation_id), "read_correlated")
}

/// Two conversations interleaved over several streams, in batches and single appends, beside
/// events without metadata and with other metadata: a lookup returns exactly one
/// conversation's events, each once (links are not repeated), in position order, with their
/// metadata; an unknown id reads as empty; later appends are found too.
pub fn read_correlated_returns_one_conversation_in_position_order<S: EventStore + ?Sized>(
    store: &S,
) {
    let (a, b) = ("conversation-a", "conversation-b");
    append_ok(
        store,
        "order-1",
        ExpectedVersion::NoStream,
        vec![said("OrderPlaced", 1, a), said("OrderPlaced", 2, b)],
    );
    append_ok(
        store,
        "stock-1",
        ExpectedVersion::NoStream,
        vec![event("Counted", r#"{"n":3}"#)],
    );
    let first = append_ok(
        store,
        "stock-1",
        ExpectedVersion::Any,
        vec![said("StockReserved", 4, b)],
    );
    let other = Metadata::new().with("user", "ada").with_causation_id("x");
    append_ok(
        store,
        "payment-1",
        ExpectedVersion::NoStream,
        vec![
            event("PaymentTaken", r#"{"n":5}"#).with_metadata(other),
            said("PaymentTaken", 6, a),
            said("PaymentTaken", 7, a),
        ],
    );
    // A link adds no event to the conversation.
    let reserved = ok(store.read_all(first.first_position, 1), "read_all")[0].id();
    ok(store.link_to_stream(reserved, "audit"), "link_to_stream");
    append_ok(
        store,
        "order-1",
        ExpectedVersion::Any,
        vec![said("OrderShipped", 8, b)],
    );

    let found_a = lookup(store, a);
    assert_eq!(positions(&found_a), [1, 6, 7], "conversation a");
    assert!(found_a
        .iter()
        .all(|e| e.metadata().correlation_id() == Some(a)));
    assert!(found_a.iter().all(|e| e.link().is_none()));
    assert_eq!(found_a[1].stream(), "payment-1");
    assert_eq!(found_a[1].payload().as_str(), r#"{"n":6}"#);
    let found_b = lookup(store, b);
    assert_eq!(
        positions(&found_b),
        [2, 4, 8],
        "conversation b, the link not repeated"
    );
    assert_eq!(
        found_b[1].stream(),
        "stock-1",
        "read as appended, not through the link"
    );
    assert_eq!(
        found_b
            .iter()
            .map(RecordedEvent::event_type)
            .collect::<Vec<_>>(),
        ["OrderPlaced", "StockReserved", "OrderShipped"]
    );

    assert!(lookup(store, "conversation-c").is_empty(), "unknown id");
    assert!(
        lookup(store, "conversation").is_empty(),
        "a prefix is not a match"
    );
    assert!(
        lookup(store, "Conversation-a").is_empty(),
        "ids are compared exactly"
    );

    append_ok(
        store,
        "stock-2",
        ExpectedVersion::NoStream,
        vec![said("StockReserved", 9, a)],
    );
    assert_eq!(
        positions(&lookup(store, a)),
        [1, 6, 7, 9],
        "a later append is found"
    );
}

/// Ids are compared as text, whatever characters they hold (quotes, backslashes, non-ASCII,
/// spaces, JSON-looking text), and the longest id a lookup accepts is found.
pub fn read_correlated_matches_ids_exactly<S: EventStore + ?Sized>(store: &S) {
    let longest = "c".repeat(MAX_CORRELATION_ID_BYTES);
    let ids = [
        r#"quote"d \ back\slash"#,
        r#"quote"d, another id up to its quote"#,
        "naïve café 🚚",
        "  spaced  ",
        r#"{"correlation_id":"x"}"#,
        "tab\tand\nnewline",
        longest.as_str(),
    ];
    for (n, id) in ids.iter().enumerate() {
        append_ok(
            store,
            "odd-1",
            ExpectedVersion::Any,
            vec![said("Said", n as u64, id)],
        );
    }
    for (n, id) in ids.iter().enumerate() {
        let found = lookup(store, id);
        assert_eq!(positions(&found), [n as u64 + 1], "id {id:?}");
        assert_eq!(found[0].metadata().correlation_id(), Some(*id));
    }
    assert!(lookup(store, "spaced").is_empty());
    assert!(lookup(store, "x").is_empty());
}

/// An empty id and one longer than
/// [`MAX_CORRELATION_ID_BYTES`](crate::backend::MAX_CORRELATION_ID_BYTES) are
/// [`StoreError::InvalidArgument`], on an empty store and on a filled one alike.
pub fn read_correlated_refuses_empty_and_oversized_ids<S: EventStore + ?Sized>(store: &S) {
    let too_long = "c".repeat(MAX_CORRELATION_ID_BYTES + 1);
    let refused = |store: &S, what: &str| {
        for id in ["", too_long.as_str()] {
            match store.read_correlated(id) {
                Err(StoreError::InvalidArgument(_)) => {}
                other => panic!("{what}: id of {} bytes gave {other:?}", id.len()),
            }
        }
    };
    refused(store, "empty store");
    // An event may carry such an id (appends do not limit metadata); no lookup finds it.
    append_ok(
        store,
        "odd-1",
        ExpectedVersion::Any,
        vec![said("Said", 1, &too_long), said("Said", 2, "")],
    );
    refused(store, "filled store");
    assert!(lookup(store, &too_long[1..]).is_empty());
}
