//! The backend conformance suite of livenstore, on a fresh schema per case (skipped when
//! `LIVENSTORE_POSTGRES_URL` is unset).

livenstore::conformance_tests!(skippable livenstore_postgres::testing::store);
