//! Parked events on PostgreSQL: a consumer parks a poison event in the schema's table and goes
//! on; a replay asked from another connection re-delivers it once the handler is fixed (the
//! shared scenario of `livenstore::testing::scenarios`).

use livenstore::testing::scenarios;
use livenstore_postgres::testing::TestSchema;

#[test]
fn a_poison_event_is_parked_in_the_schema_and_replayed_on_request() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    scenarios::a_poison_event_is_parked_and_replayed_on_request(
        || test.connect(),
        |store| store.checkpoints(),
        |store| store.parked(),
    );
}
