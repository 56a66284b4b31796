//! `GET /events/live`: the accounts' events as server-sent events, from a catch-up
//! subscription ([`subscribe_stream`]): the stored history first, then each event as it is
//! appended, woken by the backend's subscription manager (no polling).
//!
//! Each event is one SSE message: `id:` its global position, `event:` its type
//! (`account.deposited`), `data:` the recorded event as JSON (as `GET /accounts/{id}/events`
//! gives it). A client that reconnects with `Last-Event-ID: N` resumes after position N (the
//! browser's `EventSource` does it by itself); without it the feed starts at the beginning.
//! A comment line every 15 s keeps idle connections open through proxies.
//!
//! A slow client slows only its own subscription: the stream holds at most [`BUFFER`]
//! deliveries, then the subscription waits, and catches up from the store later.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use livenstore::nonblocking::{subscribe_stream, DeliveryStream};
use livenstore::pubsub::{CatchUpOptions, Delivery, StartFrom};
use livenstore::{Aggregate, EventFilter};
use tokio_stream::{Stream, StreamExt};

use super::account::BankAccount;
use super::error::ApiError;
use super::state::AppState;

/// Deliveries waiting for a client, per connection.
pub const BUFFER: usize = 64;

/// The handler of `GET /events/live`: 400 `invalid_last_event_id` when `Last-Event-ID` is not a
/// position.
pub async fn live_events(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let from = match headers.get("last-event-id") {
        None => StartFrom::Beginning,
        Some(value) => match value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            Some(position) => StartFrom::After(position),
            None => {
                return Err(ApiError::bad_request(
                    "invalid_last_event_id",
                    "Last-Event-ID must be the position of an event (a whole number)",
                ))
            }
        },
    };
    let store = Arc::clone(&state.backend.store);
    let manager = Arc::clone(&state.backend.manager);
    // Subscribing may read the store (its last position): the blocking pool's work.
    let deliveries = tokio::task::spawn_blocking(move || {
        subscribe_stream(
            store,
            Some(&*manager),
            from,
            EventFilter::category(BankAccount::AGGREGATE_TYPE),
            CatchUpOptions::new().name("sse"),
            BUFFER,
        )
    })
    .await
    .map_err(|_| ApiError::store(&livenstore::StoreError::Closed))?
    .map_err(|err| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "subscription",
            err.to_string(),
        )
    })?;
    let events = LiveFeed(Some(deliveries)).map(|delivery| Ok(message(&delivery)));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// One delivery as an SSE message.
fn message(delivery: &Delivery) -> Event {
    let event = delivery.event();
    let mut message = Event::default().id(event.position().to_string());
    // axum refuses a line break in the `event:` field (a type name from another writer might
    // hold one); such a message goes out unnamed, its type still in the data.
    if !event.event_type().contains(['\n', '\r']) {
        message = message.event(event.event_type());
    }
    match message.json_data(event) {
        Ok(message) => message,
        // Only a payload serde_json cannot write again; say so rather than end the feed.
        Err(err) => Event::default()
            .id(event.position().to_string())
            .event("error")
            .data(format!(
                "event at position {} cannot be sent: {err}",
                event.position()
            )),
    }
}

/// A [`DeliveryStream`] that unsubscribes on the blocking pool when the client goes away:
/// dropping the stream joins the subscription's thread, which must not hold up a runtime
/// worker.
struct LiveFeed(Option<DeliveryStream>);

impl Stream for LiveFeed {
    type Item = Delivery;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        match self.0.as_mut() {
            Some(deliveries) => Pin::new(deliveries).poll_next(cx),
            None => Poll::Ready(None),
        }
    }
}

impl Drop for LiveFeed {
    fn drop(&mut self) {
        if let Some(deliveries) = self.0.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => drop(runtime.spawn_blocking(move || drop(deliveries))),
                Err(_) => drop(deliveries),
            }
        }
    }
}
