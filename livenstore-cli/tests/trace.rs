//! `trace EVENT_ID` on a directory and on PostgreSQL, through the real binary: the causal tree
//! of a conversation spread over several streams, from any of its events, as indented lines and
//! as JSON lines; an event without a correlation id; unknown and malformed ids. The PostgreSQL
//! tests skip (one printed line) when `LIVENSTORE_POSTGRES_URL` is unset, and fail when it is
//! set but the server cannot be reached.

mod common;

use common::{fast, run, run_raw, Run, R};
use livenstore::{EventId, EventStore, ExpectedVersion, JsonStore, Metadata, NewEvent};
use livenstore_postgres::testing::TestSchema;

/// Nothing listens on port 1 of the loopback address: connecting is refused at once.
const UNREACHABLE: &str = "postgresql://postgres@127.0.0.1:1/test";

/// The events [`fill`] wrote, by name.
struct Ids {
    placed: EventId,
    reserved: EventId,
    charged: EventId,
    mailed: EventId,
    shipped: EventId,
    lonely: EventId,
    lonely_effect: EventId,
}

fn said(kind: &str, metadata: Metadata) -> NewEvent {
    NewEvent::from_json(kind.to_owned(), "{}")
        .expect("valid json")
        .with_metadata(metadata)
}

fn in_order(cause: Option<EventId>) -> Metadata {
    let metadata = Metadata::new().with_correlation_id("order-42");
    match cause {
        Some(cause) => metadata.with_causation_id(cause.to_string()),
        None => metadata.with_causation_id("command-place-order"),
    }
}

/// Appends `event` to `stream` and returns its id.
fn put(store: &dyn EventStore, stream: &str, event: NewEvent) -> EventId {
    let result = store
        .append(stream, ExpectedVersion::Any, vec![event])
        .expect("append");
    store.read_all(result.first_position, 1).expect("read")[0].id()
}

/// One conversation (`order-42`) over four streams, interleaved with another conversation and
/// with events without metadata; and an event without a correlation id with one effect.
///
/// ```text
/// 1  order-1   OrderPlaced       (root)
/// 3  stock-1   StockReserved     <- 1
/// 4  payment-1 PaymentCharged    <- 1
/// 6  mail-1    MailSent          <- 4
/// 7  order-1   OrderShipped      <- 3
/// ```
fn fill(store: &dyn EventStore) -> Ids {
    let placed = put(store, "order-1", said("OrderPlaced", in_order(None)));
    let other = Metadata::new().with_correlation_id("order-43");
    put(store, "order-2", said("OrderPlaced", other));
    let reserved = put(
        store,
        "stock-1",
        said("StockReserved", in_order(Some(placed))),
    );
    let charged = put(
        store,
        "payment-1",
        said("PaymentCharged", in_order(Some(placed))),
    );
    put(store, "noise-1", said("Tick", Metadata::new()));
    let mailed = put(store, "mail-1", said("MailSent", in_order(Some(charged))));
    let shipped = put(
        store,
        "order-1",
        said("OrderShipped", in_order(Some(reserved))),
    );
    let lonely = put(store, "admin-1", said("Reindexed", Metadata::new()));
    let effect = Metadata::new().with_causation_id(lonely.to_string());
    let lonely_effect = put(store, "admin-1", said("Reindexed", effect));
    Ids {
        placed,
        reserved,
        charged,
        mailed,
        shipped,
        lonely,
        lonely_effect,
    }
}

/// The lines `trace` prints for the `order-42` tree, the event `asked` marked.
fn expected_tree(ids: &Ids, asked: EventId) -> Vec<String> {
    let rows = [
        (0, 1, "order-1@1", "OrderPlaced", ids.placed),
        (1, 3, "stock-1@1", "StockReserved", ids.reserved),
        (2, 7, "order-1@2", "OrderShipped", ids.shipped),
        (1, 4, "payment-1@1", "PaymentCharged", ids.charged),
        (2, 6, "mail-1@1", "MailSent", ids.mailed),
    ];
    rows.iter()
        .map(|&(depth, position, at, kind, id)| {
            let marker = if id == asked { "  <- asked" } else { "" };
            format!(
                "{}{position}  {at}  {kind}  {id}{marker}",
                "  ".repeat(depth)
            )
        })
        .collect()
}

/// Checks every form of `trace` on a store filled by [`fill`], through `trace_cmd` (which puts
/// the store's arguments in front).
fn check_trace(ids: &Ids, trace_cmd: &dyn Fn(&[&str]) -> Run) {
    for asked in [ids.placed, ids.mailed, ids.shipped] {
        let out = trace_cmd(&["trace", &asked.to_string()]).ok();
        let lines: Vec<String> = out.stdout.lines().map(str::to_owned).collect();
        assert_eq!(lines, expected_tree(ids, asked), "asked {asked}");
    }

    let lines = trace_cmd(&["trace", &ids.mailed.to_string(), "--json"])
        .ok()
        .json_lines();
    let summary: Vec<(u64, u64, Option<String>, bool)> = lines
        .iter()
        .map(|l| {
            (
                l["position"].as_u64().unwrap_or(0),
                l["depth"].as_u64().unwrap_or(99),
                l["parent"].as_str().map(str::to_owned),
                l["asked"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    let id = |id: EventId| Some(id.to_string());
    assert_eq!(
        summary,
        [
            (1, 0, None, false),
            (3, 1, id(ids.placed), false),
            (7, 2, id(ids.reserved), false),
            (4, 1, id(ids.placed), false),
            (6, 2, id(ids.charged), true),
        ]
    );
    assert!(lines[0]["parent"].is_null());
    assert_eq!(lines[4]["stream"], "mail-1");
    assert_eq!(lines[4]["metadata"]["correlation_id"], "order-42");
    assert_eq!(lines[4]["event_type"], "MailSent");

    // Without a correlation id: the event and its direct effects.
    let out = trace_cmd(&["trace", &ids.lonely.to_string()]).ok();
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        [
            format!("8  admin-1@1  Reindexed  {}  <- asked", ids.lonely),
            format!("  9  admin-1@2  Reindexed  {}", ids.lonely_effect),
        ]
    );

    trace_cmd(&["trace", "01JD0000000000000000000000"]).fails(1, &["no event with id"]);
    let bad = trace_cmd(&["trace", "not-an-id"]);
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
}

#[test]
fn trace_prints_the_causal_tree_of_a_directory_store() -> R {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("store");
    let ids = {
        let store = JsonStore::open_with(&dir, fast())?;
        fill(&store)
    };
    check_trace(&ids, &|args| run(&dir, args));
    run(
        &tmp.path().join("none"),
        &["trace", &ids.placed.to_string()],
    )
    .fails(1, &["no store at"]);
    Ok(())
}

#[test]
fn trace_prints_the_causal_tree_of_a_postgres_store() -> R {
    let Some(test) = TestSchema::new() else {
        return Ok(());
    };
    let ids = fill(&test.connect());
    check_trace(&ids, &|args| {
        let mut all = vec!["--postgres", test.url(), "--schema", test.schema()];
        all.extend_from_slice(args);
        run_raw(&all)
    });
    Ok(())
}

#[test]
fn trace_on_an_unreachable_server_is_one_line() {
    run_raw(&[
        "--postgres",
        UNREACHABLE,
        "trace",
        "01JD0000000000000000000000",
    ])
    .fails(1, &["cannot connect to 127.0.0.1:1"]);
}
