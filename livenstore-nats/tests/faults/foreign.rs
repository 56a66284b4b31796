//! Foreign messages in the store's subjects are damage at their sequence.

use super::support::*;

fn foreign_message(subject_suffix: &str, body: &'static [u8]) {
    let Some(test) = TestStream::new() else {
        return;
    };
    let store = three_appends(&test);
    let subject = format!("livenstore.{}.{subject_suffix}", test.name());
    let url = test.url().to_owned();
    let sequence = block_on(async move {
        let js = jetstream::new(async_nats::connect(&url).await.unwrap());
        js.publish(subject, body.into())
            .await
            .unwrap()
            .await
            .unwrap()
            .sequence
    });
    assert_eq!(sequence, 4, "the foreign message follows the three appends");

    // The open store's follower finds it without being asked...
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match store.read_all(1, usize::MAX) {
            Err(_) => break,
            Ok(events) if Instant::now() < deadline => {
                assert_eq!(events.len(), 3);
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(_) => panic!("the open store serves reads past a damaged message"),
        }
    }
    // ...and every call reports it from then on.
    assert_corrupted_at(store.read_all(1, 10), sequence, "read_all");
    assert_corrupted_at(store.read_stream("s", 1, 10), sequence, "read_stream");
    assert_corrupted_at(store.stream_version("s"), sequence, "stream_version");
    assert_corrupted_at(store.last_position(), sequence, "last_position");
    assert_corrupted_at(store.sync(), sequence, "sync");
    assert_corrupted_at(
        store.append("s", ExpectedVersion::Any, vec![event("E", "{}".into())]),
        sequence,
        "append",
    );

    // A new store refuses to open on it.
    assert_corrupted_at(
        JetStreamStore::connect_with(test.url(), test.config()),
        sequence,
        "connect",
    );
}

#[test]
fn garbage_in_the_append_subject_is_corruption_at_its_sequence() {
    foreign_message("append", br#"{"hello": "world""#);
}

#[test]
fn a_foreign_json_document_in_the_append_subject_is_corruption() {
    foreign_message("append", br#"{"orderId": 17, "total": 12.5}"#);
}

#[test]
fn a_message_in_a_subject_the_store_does_not_write_is_corruption() {
    foreign_message("orders", br#"{"position":4}"#);
}

#[test]
fn a_replayed_message_of_the_store_itself_is_corruption() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let store = three_appends(&test);
    let name = test.name().to_owned();
    let url = test.url().to_owned();
    // Well-formed, but its position, version and event id are all taken.
    let sequence = block_on(async move {
        let js = jetstream::new(async_nats::connect(&url).await.unwrap());
        let first = js
            .get_stream(&name)
            .await
            .unwrap()
            .get_raw_message(1)
            .await
            .unwrap();
        js.publish(first.subject, first.payload)
            .await
            .unwrap()
            .await
            .unwrap()
            .sequence
    });
    assert_corrupted_at(store.sync(), sequence, "sync");
    assert_corrupted_at(
        JetStreamStore::connect_with(test.url(), test.config()),
        sequence,
        "connect",
    );
}

#[test]
fn an_open_store_reports_damage_on_its_next_append() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let store = test.connect();
    store
        .append(
            "s",
            ExpectedVersion::NoStream,
            vec![event("E", "{}".into())],
        )
        .unwrap();
    let subject = format!("livenstore.{}.append", test.name());
    let url = test.url().to_owned();
    let sequence = block_on(async move {
        let js = jetstream::new(async_nats::connect(&url).await.unwrap());
        js.publish(subject, "not json".into())
            .await
            .unwrap()
            .await
            .unwrap()
            .sequence
    });
    // No wait: the append is checked against the whole log, which holds the damage.
    assert_corrupted_at(
        store.append(
            "s",
            ExpectedVersion::Exact(1),
            vec![event("E", "{}".into())],
        ),
        sequence,
        "append",
    );
}
