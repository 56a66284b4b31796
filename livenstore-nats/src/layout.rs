//! The JetStream stream a store lives in: created with the store's settings, or checked.
//!
//! Invariant: the store writes nothing to a stream it did not find compatible. Compatible means
//! the store's subjects exactly, file storage, limits retention (an interest or work-queue
//! stream would delete events once read), no per-subject message limit (it would delete a
//! stream's older appends), not sealed, not a mirror. Replicas and retention limits of an
//! existing stream are the operator's and are left as they are.

use async_nats::jetstream::stream::{self, DiscardPolicy, RetentionPolicy, StorageType};
use async_nats::jetstream::Context;
use livenstore::StoreError;

use crate::config::JetStreamConfig;
use crate::error;

/// The subjects the store's stream must take: `<prefix>.>`.
pub(crate) fn subjects(config: &JetStreamConfig) -> Vec<String> {
    vec![format!("{}.>", config.subject_prefix())]
}

/// The stream configuration the store creates.
pub(crate) fn stream_config(config: &JetStreamConfig) -> stream::Config {
    let limit = |value: Option<u64>| value.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX));
    stream::Config {
        name: config.stream.clone(),
        subjects: subjects(config),
        storage: StorageType::File,
        retention: RetentionPolicy::Limits,
        discard: DiscardPolicy::Old,
        num_replicas: config.replicas,
        max_age: config.max_age.unwrap_or_default(),
        max_bytes: limit(config.max_bytes),
        max_messages: limit(config.max_messages),
        max_messages_per_subject: -1,
        // The server refuses a window longer than the stream's max_age.
        duplicate_window: match config.max_age {
            Some(age) if age < config.duplicate_window => age,
            _ => config.duplicate_window,
        },
        allow_direct: true,
        description: Some("livenstore event log".to_owned()),
        ..Default::default()
    }
}

/// Finds the store's stream or creates it, and checks it is one the store can use.
///
/// # Errors
///
/// [`StoreError::InvalidArgument`] naming every incompatible setting of an existing stream;
/// [`StoreError::Backend`] when the server refuses or does not answer (JetStream disabled, for
/// one).
pub(crate) async fn ensure_stream(
    js: &Context,
    config: &JetStreamConfig,
) -> Result<stream::Stream, StoreError> {
    let stream = js
        .get_or_create_stream(stream_config(config))
        .await
        .map_err(|e| error::backend("open the JetStream stream", false, e))?;
    check(config, &stream.cached_info().config)?;
    Ok(stream)
}

/// Every reason `found` cannot hold this store's events, as one error.
pub(crate) fn check(config: &JetStreamConfig, found: &stream::Config) -> Result<(), StoreError> {
    let mut problems = Vec::new();
    let wanted = subjects(config);
    if found.subjects != wanted {
        problems.push(format!(
            "its subjects are {:?}, not {:?}",
            found.subjects, wanted
        ));
    }
    if found.storage != StorageType::File {
        problems.push("it keeps messages in memory, not in files".to_owned());
    }
    if found.retention != RetentionPolicy::Limits {
        problems.push(format!(
            "its retention is {:?}, which deletes messages once consumed; events need limits \
             retention",
            found.retention
        ));
    }
    if found.max_messages_per_subject > 0 {
        problems.push(format!(
            "it keeps only {} messages per subject",
            found.max_messages_per_subject
        ));
    }
    if found.sealed {
        problems.push("it is sealed".to_owned());
    }
    if found.mirror.is_some() {
        problems.push("it is a mirror".to_owned());
    }
    if found.no_ack {
        problems.push("it does not acknowledge publishes".to_owned());
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(StoreError::InvalidArgument(format!(
        "the JetStream stream {} exists with settings livenstore cannot use, so nothing was \
         written: {}",
        config.stream,
        problems.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_created_config_passes_its_own_check() {
        let config = JetStreamConfig::new().stream("T").unwrap();
        assert!(check(&config, &stream_config(&config)).is_ok());
    }

    #[test]
    fn every_incompatible_setting_is_named() {
        let config = JetStreamConfig::new().stream("T").unwrap();
        let mut found = stream_config(&config);
        found.subjects = vec!["orders.>".into()];
        found.storage = StorageType::Memory;
        found.retention = RetentionPolicy::WorkQueue;
        found.max_messages_per_subject = 1;
        let message = check(&config, &found).unwrap_err().to_string();
        for part in ["subjects", "memory", "retention", "per subject"] {
            assert!(message.contains(part), "{part} missing from {message}");
        }
    }
}
