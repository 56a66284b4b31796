//! Helper of the key-value tests: writing a raw value into one of a test stream's buckets (what
//! another program, or damage, would leave there).

#![allow(dead_code)] // each test file uses some of them

use livenstore_nats::testing::TestStream;

/// Writes `value` under the raw `key` of the bucket `what` (`checkpoints`, `snapshots`,
/// `parked`) of `test`'s stream; the bucket must exist (a store used it).
pub fn put_raw(test: &TestStream, what: &str, key: &str, value: Vec<u8>) {
    let url = test.url().to_owned();
    let bucket = test.config().bucket_name(what);
    let key = key.to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let client = async_nats::connect(url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let store = js.get_key_value(bucket).await.unwrap();
        store.put(key, value.into()).await.unwrap();
    });
}
