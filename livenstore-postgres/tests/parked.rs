//! Parked events on PostgreSQL: a consumer parks a poison event in the schema's table and goes
//! on; a replay asked from another connection re-delivers it once the handler is fixed (the
//! shared scenario of `livenstore::testing::scenarios`).

use std::sync::Arc;

use livenstore::testing::scenarios;
use livenstore_postgres::testing::TestSchema;

#[test]
fn a_poison_event_is_parked_in_the_schema_and_replayed_on_request() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let store = Arc::new(test.connect());
    scenarios::a_poison_event_is_parked_and_replayed_on_request(
        Arc::clone(&store),
        Arc::new(store.checkpoints()),
        Arc::new(store.parked()),
        // Another connection (the CLI).
        &test.connect().parked(),
    );
}
