//! [`EventStore`] for the pointers a store is shared through (`&S`, `Box<S>`, `Arc<S>`): every
//! call goes to the store pointed to, so two [`Repository`](crate::Repository)s, a
//! [`PublishingStore`](crate::PublishingStore) and a subscription can share one store.

use std::sync::Arc;

use super::{
    AppendResult, EventStore, ExpectedVersion, Snapshot, SnapshotStore, StoreError, StreamInfo,
};
use crate::{EventId, NewEvent, RecordedEvent, Timestamp};

macro_rules! forward_event_store {
    ($($pointer:ty),*) => {$(
        /// Forwards every call to the store pointed to.
        impl<S: EventStore + ?Sized> EventStore for $pointer {
            fn append(
                &self,
                stream: &str,
                expected: ExpectedVersion,
                events: Vec<NewEvent>,
            ) -> Result<AppendResult, StoreError> {
                (**self).append(stream, expected, events)
            }

            fn append_one(
                &self,
                stream: &str,
                expected: ExpectedVersion,
                event: NewEvent,
            ) -> Result<AppendResult, StoreError> {
                (**self).append_one(stream, expected, event)
            }

            fn read(&self, id: EventId) -> Result<RecordedEvent, StoreError> {
                (**self).read(id)
            }

            fn read_stream(
                &self,
                stream: &str,
                from_version: u64,
                max_count: usize,
            ) -> Result<Vec<RecordedEvent>, StoreError> {
                (**self).read_stream(stream, from_version, max_count)
            }

            fn read_all(
                &self,
                from_position: u64,
                max_count: usize,
            ) -> Result<Vec<RecordedEvent>, StoreError> {
                (**self).read_all(from_position, max_count)
            }

            fn read_by_type(
                &self,
                event_type: &str,
                from_position: u64,
                max_count: usize,
            ) -> Result<Vec<RecordedEvent>, StoreError> {
                (**self).read_by_type(event_type, from_position, max_count)
            }

            fn read_time_range(
                &self,
                from: Timestamp,
                to: Timestamp,
            ) -> Result<Vec<RecordedEvent>, StoreError> {
                (**self).read_time_range(from, to)
            }

            fn stream_info(&self, stream: &str) -> Result<Option<StreamInfo>, StoreError> {
                (**self).stream_info(stream)
            }

            fn streams(&self) -> Result<Vec<StreamInfo>, StoreError> {
                (**self).streams()
            }

            fn link_to_stream(&self, id: EventId, stream: &str) -> Result<u64, StoreError> {
                (**self).link_to_stream(id, stream)
            }

            fn read_correlated(
                &self,
                correlation_id: &str,
            ) -> Result<Vec<RecordedEvent>, StoreError> {
                (**self).read_correlated(correlation_id)
            }

            fn last_position(&self) -> Result<u64, StoreError> {
                (**self).last_position()
            }

            fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
                (**self).stream_version(stream)
            }

            fn blocks(&self) -> bool {
                (**self).blocks()
            }

            fn has_gaps(&self, stream: &str) -> Result<bool, StoreError> {
                (**self).has_gaps(stream)
            }

            fn snapshots(&self) -> Option<&dyn SnapshotStore> {
                (**self).snapshots()
            }

            fn snapshot_and_tail(
                &self,
                aggregate_type: &str,
                aggregate_id: &str,
                stream: &str,
                max_count: usize,
            ) -> Result<Option<(Snapshot, Vec<RecordedEvent>)>, StoreError> {
                (**self).snapshot_and_tail(aggregate_type, aggregate_id, stream, max_count)
            }
        }
    )*};
}

forward_event_store!(&S, Box<S>, Arc<S>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InMemoryStore, Repository};

    #[test]
    fn two_repositories_share_one_store_through_an_arc() {
        let store = Arc::new(InMemoryStore::new());
        let first = Repository::new(Arc::clone(&store));
        let second = Repository::new(&*store);
        let boxed: Box<dyn EventStore> = Box::new(Arc::clone(&store));
        let event = NewEvent::from_json("Tick", "{}").unwrap();
        first
            .store()
            .append("s-1", ExpectedVersion::NoStream, vec![event])
            .unwrap();
        assert_eq!(second.store().stream_version("s-1").unwrap(), 1);
        assert_eq!(boxed.last_position().unwrap(), 1);
        assert!(boxed.snapshots().is_some(), "snapshots are forwarded");
    }
}
