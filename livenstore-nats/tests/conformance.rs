//! The backend conformance suite of livenstore, on a fresh JetStream stream per case (skipped
//! when `LIVENSTORE_NATS_URL` is unset).

livenstore::conformance_tests!(skippable livenstore_nats::testing::store);
