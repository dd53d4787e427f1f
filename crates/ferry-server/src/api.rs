//! The `/api/v1` handlers, and the error and JSON body types they share.
//!
//! Every error answers with a status and `{"error": "..."}`; store failures are logged and
//! answered with 500 without their details.

pub(crate) mod approvals;
pub(crate) mod artifacts;
pub(crate) mod cache;
pub(crate) mod projects;
pub(crate) mod runner;
pub(crate) mod runners;
pub(crate) mod runs;
pub(crate) mod secrets;
pub(crate) mod tokens;

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use ferry_store::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::error;
use utoipa::ToSchema;

/// An error answer: a status and a message for the client.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into() }
    }
    pub(crate) fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, message)
    }
    pub(crate) fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }
    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    pub(crate) fn not_found(entity: &str, id: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, format!("{entity} {id} not found"))
    }
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }
    pub(crate) fn message(&self) -> &str {
        &self.message
    }
}

impl From<StoreError> for ApiError {
    fn from(store_error: StoreError) -> ApiError {
        match store_error {
            StoreError::NotFound { .. } => ApiError::new(StatusCode::NOT_FOUND, store_error.to_string()),
            StoreError::Conflict(_) => ApiError::new(StatusCode::CONFLICT, store_error.to_string()),
            StoreError::Db(_) | StoreError::Migrate(_) | StoreError::UnsupportedUrl(_) => {
                error!(error = %store_error, "store failed: {store_error}");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the database failed; see the server's log")
            }
        }
    }
}

/// Every error's body.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// What went wrong, for a person to read.
    error: String,
}

/// The refusals every `/api/v1` route that reads the store documents; shared so that each
/// handler's `#[utoipa::path]` lists only what is its own. (The variants are never built: they
/// only describe responses.)
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "a description of responses for the OpenAPI document")]
pub(crate) enum Refusals {
    #[response(status = 401, description = "No token, or an unknown or revoked one")]
    Unauthorized(ErrorBody),
    #[response(status = 500, description = "The database failed")]
    DatabaseFailed(ErrorBody),
}

/// The refusal of a route that needs the developer role.
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "a description of responses for the OpenAPI document")]
pub(crate) enum BelowDeveloper {
    #[response(status = 403, description = "The token's role is below developer")]
    Forbidden(ErrorBody),
}

/// The refusal of a route that needs the admin role.
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "a description of responses for the OpenAPI document")]
pub(crate) enum BelowAdmin {
    #[response(status = 403, description = "The token's role is below admin")]
    Forbidden(ErrorBody),
}

/// The refusals of a route that takes a JSON body ([`Body`]).
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "a description of responses for the OpenAPI document")]
pub(crate) enum BodyRefusals {
    #[response(status = 413, description = "The body is over 2 MiB")]
    TooLarge(ErrorBody),
    #[response(status = 415, description = "The body is not `application/json`")]
    NotJson(ErrorBody),
    #[response(status = 422, description = "The body is JSON of the wrong shape")]
    WrongShape(ErrorBody),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: self.message })).into_response()
    }
}

/// A JSON request body whose refusals (not JSON, wrong shape, wrong content type) answer with
/// [`ApiError`] like everything else.
pub(crate) struct Body<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(ApiError::new(rejection.status(), rejection.body_text())),
        }
    }
}

/// Path parameters whose refusals (an id that is not a number) answer with [`ApiError`].
pub(crate) struct Path<T>(pub(crate) T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(ApiError::new(rejection.status(), rejection.body_text())),
        }
    }
}

/// Checks a name that appears in URLs (projects): letters, digits, `.`, `_`, `-`.
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), ApiError> {
    let valid = !name.is_empty()
        && name.len() <= 100
        && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("{what} name {name:?} must be 1 to 100 letters, digits, `.`, `_` or `-`")))
    }
}

/// Checks a secret or variable name as GitHub does: letters, digits and `_`, not starting with
/// a digit.
pub(crate) fn check_key(what: &str, key: &str) -> Result<(), ApiError> {
    let valid = key.bytes().next().is_some_and(|first| !first.is_ascii_digit())
        && key.len() <= 200
        && key.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_');
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{what} name {key:?} must be letters, digits and `_`, not starting with a digit"
        )))
    }
}
