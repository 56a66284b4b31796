//! `read_stream` merges a stream's own events and its links in version order, page by page.

use livenstore::{EventStore, ExpectedVersion, NewEvent};
use livenstore_postgres::testing::TestSchema;

fn tick(n: u32) -> NewEvent {
    NewEvent::from_json("Tick", format!(r#"{{"n":{n}}}"#)).unwrap()
}

#[test]
fn own_events_and_links_page_in_version_order() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let store = test.connect();
    // mix-1: own, link, own, link, link, own (versions 1 to 6).
    for step in 0..6u32 {
        if matches!(step, 1 | 3 | 4) {
            let source = format!("src-{step}");
            store
                .append(&source, ExpectedVersion::NoStream, vec![tick(step)])
                .unwrap();
            let id = store.read_stream(&source, 1, 1).unwrap()[0].id();
            assert_eq!(
                store.link_to_stream(id, "mix-1").unwrap(),
                u64::from(step) + 1
            );
        } else {
            store
                .append(
                    "mix-1",
                    ExpectedVersion::Exact(u64::from(step)),
                    vec![tick(step)],
                )
                .unwrap();
        }
    }
    let page = |from: u64, max: usize| -> Vec<(u64, bool, u32)> {
        store
            .read_stream("mix-1", from, max)
            .unwrap()
            .iter()
            .map(|e| {
                let version = e.link().map_or(e.version(), |l| l.version);
                let n = e.payload().to_value().unwrap()["n"].as_u64().unwrap() as u32;
                (version, e.link().is_some(), n)
            })
            .collect()
    };
    let all = page(1, usize::MAX);
    assert_eq!(
        all,
        [
            (1, false, 0),
            (2, true, 1),
            (3, false, 2),
            (4, true, 3),
            (5, true, 4),
            (6, false, 5)
        ]
    );
    assert_eq!(page(1, 2), all[..2]);
    assert_eq!(page(2, 3), all[1..4]);
    assert_eq!(page(4, 2), all[3..5]);
    assert_eq!(page(6, 10), all[5..]);
    assert!(page(7, 10).is_empty());
    let linked = &store.read_stream("mix-1", 4, 1).unwrap()[0];
    let link = linked.link().unwrap();
    assert_eq!((link.stream.as_str(), linked.stream()), ("mix-1", "src-3"));
    assert_eq!(store.stream_info("mix-1").unwrap().unwrap().event_count, 6);
}

#[test]
fn types_no_event_can_have_read_as_empty() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let store = test.connect();
    store
        .append("t-1", ExpectedVersion::Any, vec![tick(1)])
        .unwrap();
    for bad in ["", "nul\0byte", "line\nbreak"] {
        assert!(
            store.read_by_type(bad, 1, usize::MAX).unwrap().is_empty(),
            "{bad:?}"
        );
    }
    assert_eq!(store.read_by_type("Tick", 0, usize::MAX).unwrap().len(), 1);
}
