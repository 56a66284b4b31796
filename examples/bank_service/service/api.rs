//! The routes and their handlers. Commands go through
//! [`AsyncRepository::transact_with`](livenstore::nonblocking::AsyncRepository::transact_with):
//! the whole load, rule check and save run in one call on tokio's blocking pool, retried when
//! another writer saved first, and every event is stamped with the request's
//! [`CommandContext`].
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /accounts` | `{"owner":"ada","overdraft_limit":50}`, optional `"id"` | 201, the account (`Location` names it) |
//! | `POST /accounts/{id}/deposit` | `{"amount":N}` | 200, the account |
//! | `POST /accounts/{id}/withdraw` | `{"amount":N}` | 200, the account |
//! | `POST /accounts/{id}/close` | none | 200, the account |
//! | `GET /accounts/{id}` | | 200, the account |
//! | `GET /accounts/{id}/events` | | 200, its recorded events, oldest first |
//! | `GET /events/live` | | server-sent events, see [`live`] |
//!
//! The account is [`AccountView`]: `id`, `owner`, `balance`, `overdraft_limit`, `version`,
//! `open`. Failures are [`ApiError`]s (statuses in [`error`](super::error)).

use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use livenstore::{
    stream_name, AggregateRoot, CommandContext, EventId, RecordedEvent, RepositoryError,
};
use serde::Deserialize;

use super::account::{
    AccountClosed, AccountError, AccountOpened, AccountView, BankAccount, MoneyDeposited,
    MoneyWithdrawn,
};
use super::error::ApiError;
use super::extract::{check_id, AccountId, ApiJson, Correlation, CORRELATION_HEADER};
use super::live;
use super::state::AppState;

/// The longest owner name, in characters.
const MAX_OWNER_LEN: usize = 200;

/// Events read per call by `GET /accounts/{id}/events`.
const PAGE: usize = 1_000;

/// The service's routes over `state`; anything else is 404 `no_route` (405
/// `method_not_allowed` for a known path), with a JSON body.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/accounts", post(open_account))
        .route("/accounts/{id}", get(get_account))
        .route("/accounts/{id}/deposit", post(deposit))
        .route("/accounts/{id}/withdraw", post(withdraw))
        .route("/accounts/{id}/close", post(close_account))
        .route("/accounts/{id}/events", get(account_events))
        .route("/events/live", get(live::live_events))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// The body of `POST /accounts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAccount {
    /// The account's id; a new one when absent.
    pub id: Option<String>,
    /// Who holds the account (not empty).
    pub owner: String,
    /// How far below zero the balance may go (0 when absent).
    #[serde(default)]
    pub overdraft_limit: u64,
}

/// The body of a deposit or a withdrawal.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Amount {
    /// How much (positive).
    pub amount: u64,
}

/// `view` with `status`, the request's correlation id in [`CORRELATION_HEADER`].
fn answer(context: &CommandContext, status: StatusCode, view: AccountView) -> Response {
    let mut response = (status, axum::Json(view)).into_response();
    if let Ok(value) = HeaderValue::from_str(context.correlation_id()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(CORRELATION_HEADER), value);
    }
    response
}

/// Runs `command` on the existing account `id` and answers with its new state; 404 when the
/// account has no events.
async fn command<F>(
    state: &AppState,
    context: CommandContext,
    id: String,
    mut command: F,
) -> Result<Response, ApiError>
where
    F: FnMut(&mut AggregateRoot<BankAccount>) -> Result<(), AccountError> + Send + 'static,
{
    let view = state
        .repo
        .transact_with::<BankAccount, _, _>(&context, &id, move |account| {
            if account.version() == 0 {
                return Ok(None); // nothing applied, so nothing is saved
            }
            command(account)?;
            Ok(Some(AccountView::of(account)))
        })
        .await?;
    match view {
        Some(view) => Ok(answer(&context, StatusCode::OK, view)),
        None => Err(ApiError::unknown_account(&id)),
    }
}

/// `POST /accounts`: opens an account (201); 409 `already_open` when the id is taken by an
/// open account, 422 `invalid_owner` for an empty or over-long owner.
async fn open_account(
    State(state): State<AppState>,
    Correlation(context): Correlation,
    ApiJson(body): ApiJson<OpenAccount>,
) -> Result<Response, ApiError> {
    let id = match body.id {
        Some(id) => {
            check_id(&id)?;
            id
        }
        None => EventId::new().to_string().to_ascii_lowercase(),
    };
    let owner = body.owner.trim().to_owned();
    if owner.is_empty() || owner.chars().count() > MAX_OWNER_LEN {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_owner",
            format!("the owner is 1 to {MAX_OWNER_LEN} characters"),
        ));
    }
    let opened = AccountOpened {
        owner,
        overdraft_limit: body.overdraft_limit,
    };
    let view = state
        .repo
        .transact_with::<BankAccount, _, _>(&context, &id, move |account| {
            account.apply(opened.clone())?;
            Ok(AccountView::of(account))
        })
        .await?;
    let mut response = answer(&context, StatusCode::CREATED, view);
    if let Ok(location) = HeaderValue::from_str(&format!("/accounts/{id}")) {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

/// `POST /accounts/{id}/deposit`.
async fn deposit(
    State(state): State<AppState>,
    AccountId(id): AccountId,
    Correlation(context): Correlation,
    ApiJson(Amount { amount }): ApiJson<Amount>,
) -> Result<Response, ApiError> {
    command(&state, context, id, move |account| {
        account.apply(MoneyDeposited { amount })
    })
    .await
}

/// `POST /accounts/{id}/withdraw`.
async fn withdraw(
    State(state): State<AppState>,
    AccountId(id): AccountId,
    Correlation(context): Correlation,
    ApiJson(Amount { amount }): ApiJson<Amount>,
) -> Result<Response, ApiError> {
    command(&state, context, id, move |account| {
        account.apply(MoneyWithdrawn { amount })
    })
    .await
}

/// `POST /accounts/{id}/close` (any body is ignored).
async fn close_account(
    State(state): State<AppState>,
    AccountId(id): AccountId,
    Correlation(context): Correlation,
) -> Result<Response, ApiError> {
    command(&state, context, id, |account| account.apply(AccountClosed)).await
}

/// `GET /accounts/{id}`.
async fn get_account(
    State(state): State<AppState>,
    AccountId(id): AccountId,
) -> Result<axum::Json<AccountView>, ApiError> {
    let account = match state.repo.load::<BankAccount>(&id).await {
        Err(RepositoryError::NotFound { .. }) => return Err(ApiError::unknown_account(&id)),
        loaded => loaded?,
    };
    Ok(axum::Json(AccountView::of(&account)))
}

/// `GET /accounts/{id}/events`: every recorded event of the account, oldest first, as the
/// store serializes them (id, type, version, position, time, metadata, payload).
async fn account_events(
    State(state): State<AppState>,
    AccountId(id): AccountId,
) -> Result<Response, ApiError> {
    let stream = stream_name::<BankAccount>(&id);
    let mut events = Vec::new();
    loop {
        let from = events.last().map_or(1, |e: &RecordedEvent| e.version() + 1);
        let page = state
            .store
            .read_stream(&stream, from, PAGE)
            .await
            .map_err(|err| ApiError::store(&err))?;
        let done = page.len() < PAGE;
        events.extend(page);
        if done {
            break;
        }
    }
    if events.is_empty() {
        return Err(ApiError::unknown_account(&id));
    }
    Ok(axum::Json(events).into_response())
}

/// Any other path: 404 `no_route`.
async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        format!("no route for {method} {}", uri.path()),
    )
}

/// A known path with another method: 405 `method_not_allowed`.
async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not take {method}", uri.path()),
    )
}
