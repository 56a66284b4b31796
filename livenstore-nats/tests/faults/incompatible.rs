//! A stream made by someone else with settings the store cannot use.

use super::support::*;

fn refused_stream(change: impl FnOnce(&mut jetstream::stream::Config, &str), problem: &str) {
    let Some(test) = TestStream::new() else {
        return;
    };
    let name = test.name().to_owned();
    let url = test.url().to_owned();
    let mut config = jetstream::stream::Config {
        name: name.clone(),
        subjects: vec![format!("livenstore.{name}.>")],
        ..Default::default()
    };
    change(&mut config, &name);
    let wanted = config.clone();
    block_on(async {
        let js = jetstream::new(async_nats::connect(&url).await.unwrap());
        js.create_stream(config).await.expect("create the stream");
    });

    match JetStreamStore::connect_with(&url, test.config()) {
        Err(StoreError::InvalidArgument(message)) => {
            assert!(message.contains(&name), "names the stream: {message}");
            assert!(message.contains(problem), "names {problem:?}: {message}");
        }
        other => panic!("expected InvalidArgument naming {problem:?}, got {other:?}"),
    }
    let (messages, found) = block_on(async {
        let js = jetstream::new(async_nats::connect(&url).await.unwrap());
        let mut stream = js.get_stream(&name).await.unwrap();
        let info = stream.info().await.unwrap();
        (info.state.messages, info.config.clone())
    });
    assert_eq!(messages, 0, "nothing was written to the stream");
    assert_eq!(
        found.subjects, wanted.subjects,
        "the stream was not changed"
    );
    assert_eq!(found.storage, wanted.storage, "the stream was not changed");
    assert_eq!(
        found.retention, wanted.retention,
        "the stream was not changed"
    );
}

#[test]
fn a_memory_stream_is_refused() {
    refused_stream(
        |c, _| c.storage = jetstream::stream::StorageType::Memory,
        "memory",
    );
}

#[test]
fn a_work_queue_stream_is_refused() {
    refused_stream(
        |c, _| c.retention = jetstream::stream::RetentionPolicy::WorkQueue,
        "retention",
    );
}

#[test]
fn a_stream_with_other_subjects_is_refused() {
    refused_stream(
        |c, name| c.subjects = vec![format!("orders.{name}.>")],
        "subjects",
    );
}

#[test]
fn a_stream_keeping_one_message_per_subject_is_refused() {
    refused_stream(|c, _| c.max_messages_per_subject = 1, "per subject");
}
