//! [`EventStore`] for [`PostgresStore`]: each call checks its arguments and delegates to the
//! module that does the work (`append` through the group commit, `read`, `link`).
//!
//! Invariant: every argument rule of the trait is checked here or in the module before any
//! round trip, so a refused call costs no connection.

use livenstore::store::validate_append;
use livenstore::{
    AppendResult, EventId, EventStore, ExpectedVersion, NewEvent, RecordedEvent, StoreError,
    StreamInfo, Timestamp,
};

use crate::plan::AppendRequest;
use crate::store::PostgresStore;
use crate::{append, error, link, read};

impl PostgresStore {
    fn submit(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        validate_append(stream, &events, self.inner.config.max_payload_value())?;
        let request = AppendRequest {
            stream: stream.to_owned(),
            expected,
            events,
        };
        let inner = &*self.inner;
        inner.group.submit(
            request,
            |group| append::run_group(inner, group),
            || Err(error::abandoned()),
        )
    }
}

impl EventStore for PostgresStore {
    fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        self.submit(stream, expected, events)
    }

    fn read(&self, id: EventId) -> Result<RecordedEvent, StoreError> {
        read::read(&self.inner, id)
    }

    fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        read::read_stream(&self.inner, stream, from_version, max_count)
    }

    fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        read::read_all(&self.inner, from_position, max_count)
    }

    fn read_by_type(
        &self,
        event_type: &str,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        read::read_by_type(&self.inner, event_type, from_position, max_count)
    }

    fn read_time_range(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        read::read_time_range(&self.inner, from, to)
    }

    fn stream_info(&self, stream: &str) -> Result<Option<StreamInfo>, StoreError> {
        read::stream_info(&self.inner, stream)
    }

    fn streams(&self) -> Result<Vec<StreamInfo>, StoreError> {
        read::streams(&self.inner)
    }

    fn link_to_stream(&self, id: EventId, stream: &str) -> Result<u64, StoreError> {
        link::link(&self.inner, id, stream)
    }

    fn last_position(&self) -> Result<u64, StoreError> {
        read::last_position(&self.inner)
    }
}
