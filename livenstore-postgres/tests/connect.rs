//! Connecting: schema creation and upgrade, and the errors of bad URLs and unreachable servers.

use std::time::Duration;

use livenstore::StoreError;
use livenstore_postgres::testing::TestSchema;
use livenstore_postgres::{schema, PostgresConfig, PostgresStore};

#[test]
fn connect_creates_the_schema_once() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let first = test.connect();
    assert_eq!(first.schema(), test.schema());
    assert_eq!(
        first.notification_channel(),
        format!("livenstore_{}", test.schema())
    );
    // Connecting again (and from several threads at once) applies nothing twice.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| drop(test.connect()));
        }
    });
    let versions = test.applied_migrations();
    let expected: Vec<i32> = schema::MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(versions, expected);
}

#[test]
fn a_newer_schema_is_refused() {
    let Some(test) = TestSchema::new() else {
        return;
    };
    let store = test.connect();
    let mut client = store.pool().get().unwrap();
    client
        .execute(
            &format!(
                "INSERT INTO \"{}\".livenstore_migrations (version, name) VALUES ($1, 'future')",
                test.schema()
            ),
            &[&(schema::current_version() + 1)],
        )
        .unwrap();
    let err = PostgresStore::connect_with(test.url(), test.config()).unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidArgument(m) if m.contains("newer")),
        "{err}"
    );
}

#[test]
fn unreachable_server_names_host_and_port() {
    // Nothing listens on port 1 of the loopback address: the connection is refused at once.
    let config = PostgresConfig::new().connect_timeout(Duration::from_secs(2));
    let err =
        PostgresStore::connect_with("postgresql://postgres@127.0.0.1:1/test", config).unwrap_err();
    assert!(matches!(err, StoreError::Connection { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("127.0.0.1:1"), "{message}");
}

#[test]
fn malformed_url_and_bad_schema_are_invalid_arguments() {
    let err = PostgresStore::connect("postgresql://[::1").unwrap_err();
    assert!(matches!(err, StoreError::InvalidArgument(_)), "{err:?}");
    let err = PostgresStore::connect_with(
        "postgresql://postgres@127.0.0.1:1/test",
        PostgresConfig::new().schema("Robert'); DROP TABLE students;--"),
    )
    .unwrap_err();
    assert!(matches!(err, StoreError::InvalidArgument(_)), "{err:?}");
}
