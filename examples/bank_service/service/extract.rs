//! The service's extractors: each turns a bad request into an [`ApiError`] with a JSON body,
//! never axum's plain-text rejections.

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use livenstore::CommandContext;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;

/// The header a caller names its conversation with; echoed on every command's response.
pub const CORRELATION_HEADER: &str = "x-correlation-id";

/// The longest correlation id taken from a caller; a longer one starts a new conversation.
const MAX_CORRELATION_LEN: usize = 128;

/// The longest account id.
pub const MAX_ID_LEN: usize = 64;

/// A JSON object body read as `T`; any rejection is a 400 [`ApiError`] (413 for a body over
/// the limit). Only an object: serde would also take an array of the fields in order.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<Value>::from_request(req, state).await?;
        if !value.is_object() {
            return Err(ApiError::bad_request(
                "invalid_body",
                "the body must be a JSON object",
            ));
        }
        let value = T::deserialize(value)
            .map_err(|err| ApiError::bad_request("invalid_body", err.to_string()))?;
        Ok(ApiJson(value))
    }
}

/// Whether `id` may name an account: 1 to [`MAX_ID_LEN`] ASCII letters, digits, `_` or `-`.
pub fn check_id(id: &str) -> Result<(), ApiError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_id",
            format!(
                "an account id is 1 to {MAX_ID_LEN} ASCII letters, digits, `_` or `-`: `{}`",
                id.chars().take(MAX_ID_LEN + 1).collect::<String>()
            ),
        ))
    }
}

/// The `{id}` of the route, checked by [`check_id`].
#[derive(Debug, Clone)]
pub struct AccountId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for AccountId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state).await?;
        check_id(&id)?;
        Ok(AccountId(id))
    }
}

/// The command's [`CommandContext`]: the caller's `X-Correlation-Id` when it sent a usable one
/// (visible ASCII, at most 128 bytes), else a new conversation.
#[derive(Debug, Clone)]
pub struct Correlation(pub CommandContext);

impl<S: Send + Sync> FromRequestParts<S> for Correlation {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let given = parts
            .headers
            .get(CORRELATION_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|id| !id.is_empty() && id.len() <= MAX_CORRELATION_LEN);
        Ok(Correlation(match given {
            Some(id) => CommandContext::new().with_correlation_id(id),
            None => CommandContext::new(),
        }))
    }
}
