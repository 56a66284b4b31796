//! [`ApiError`]: every failure the API reports, as a status and a JSON body
//! `{"error": "<message>", "kind": "<kind>"}`.
//!
//! Which status:
//! - **400** the request is malformed: a body that is not JSON, lacks a field, has a field of
//!   the wrong type or an unknown one, or has no `Content-Type: application/json`; an account
//!   id that is not 1 to 64 letters, digits, `_` or `-`.
//! - **404** no such account (`unknown_account`), or no such route (`no_route`); 405 for a
//!   route that exists with another method (`method_not_allowed`).
//! - **409** the account's current state refuses the command; the same request could succeed
//!   in another state: `already_open`, `account_not_open`, `insufficient_funds`,
//!   `non_zero_balance`; and `conflict` when other writers kept winning the account's version
//!   after every retry of the repository.
//! - **422** the request is well-formed JSON but can never succeed as written, whatever the
//!   account's state: `invalid_amount` (0), `invalid_owner` (empty).
//! - **413** a body over the size limit; **500** the store failed (`store`), never bad input.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use livenstore::{RepositoryError, StoreError};
use serde::{Deserialize, Serialize};

use super::account::AccountError;

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub error: String,
    /// What went wrong, for a program (see the module documentation).
    pub kind: String,
}

/// A failed request: its status and body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The response's status.
    pub status: StatusCode,
    /// The response's body.
    pub body: ErrorBody,
}

impl ApiError {
    /// An error of `status` and `kind` saying `message`.
    pub fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                error: message.into(),
                kind: kind.to_owned(),
            },
        }
    }

    /// 400 `kind`.
    pub fn bad_request(kind: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, kind, message)
    }

    /// 404 `unknown_account`.
    pub fn unknown_account(id: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_account",
            format!("no account `{id}`"),
        )
    }

    /// 500 `store`: the store failed (or the runtime is shutting down).
    pub fn store(err: &StoreError) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "store", err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

impl From<AccountError> for ApiError {
    fn from(err: AccountError) -> Self {
        let (status, kind) = match err {
            AccountError::AlreadyOpen => (StatusCode::CONFLICT, "already_open"),
            AccountError::NotOpen => (StatusCode::CONFLICT, "account_not_open"),
            AccountError::InsufficientFunds { .. } => (StatusCode::CONFLICT, "insufficient_funds"),
            AccountError::NonZeroBalance(_) => (StatusCode::CONFLICT, "non_zero_balance"),
            AccountError::ZeroAmount => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount"),
        };
        ApiError::new(status, kind, err.to_string())
    }
}

impl From<RepositoryError<AccountError>> for ApiError {
    fn from(err: RepositoryError<AccountError>) -> Self {
        match err {
            RepositoryError::Handler(err) => err.into(),
            err if err.is_conflict() => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{err} (other writers kept saving first; try again)"),
            ),
            RepositoryError::NotFound { stream } => ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_account",
                format!("no account (stream `{stream}` does not exist)"),
            ),
            RepositoryError::Store(err) => ApiError::store(&err),
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store",
                other.to_string(),
            ),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let kind = match &rejection {
            JsonRejection::JsonSyntaxError(_) => "malformed_json",
            JsonRejection::JsonDataError(_) => "invalid_body",
            JsonRejection::MissingJsonContentType(_) => "missing_content_type",
            JsonRejection::BytesRejection(_) => "unreadable_body",
            _ => "invalid_body",
        };
        // A body over the limit keeps its 413; every other rejection is the client's bad
        // request (axum says 422 for a wrong field and 415 for a missing content type).
        let status = match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, kind, rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::bad_request("invalid_id", rejection.body_text())
    }
}
