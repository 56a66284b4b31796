//! A database written by livenstore-postgres 0.1 (schema version 2, before event versions;
//! checked in as `tests/fixtures/schema-0.1.sql`, a `pg_dump --inserts` of it) is upgraded in
//! place when a store connects: the `event_version` column is added, every stored event reads as
//! version 1, and nothing else changes.

use livenstore_postgres::schema;
use livenstore_postgres::testing::TestSchema;

const FIXTURE: &str = include_str!("fixtures/schema-0.1.sql");
/// The schema the dump was taken of.
const DUMPED_SCHEMA: &str = "livenstore_fixture_0_1";

/// Loads the dump into `test`'s schema: its psql meta-commands (`\restrict`) dropped, the
/// schema's name replaced.
fn load_fixture(test: &TestSchema) {
    let sql: String = FIXTURE
        .lines()
        .filter(|line| !line.starts_with('\\'))
        .map(|line| line.replace(DUMPED_SCHEMA, &format!("\"{}\"", test.schema())))
        .collect::<Vec<_>>()
        .join("\n");
    let mut client = test
        .url()
        .parse::<postgres::Config>()
        .unwrap()
        .connect(postgres::NoTls)
        .unwrap();
    client.batch_execute(&sql).unwrap();
}

#[test]
fn a_0_1_database_is_upgraded_in_place_and_reads_unchanged() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    load_fixture(&test);
    let store = test.connect();
    let mut client = store.pool().get().unwrap();
    let expected: Vec<i32> = schema::MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(test.applied_migrations(), expected);
    livenstore::testing::check_written_by_0_1(&store);
    let stored: Vec<i32> = client
        .query(
            &format!(
                "SELECT event_version FROM \"{}\".events ORDER BY position",
                test.schema()
            ),
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(stored, [1, 1, 1, 1, 1, 2]);
    // Connecting again applies nothing more.
    drop(test.connect());
    assert_eq!(test.applied_migrations(), expected);
}
