//! The `/api/v1` handlers, and the error and JSON body types they share.
//!
//! Every error answers with a status and `{"error": "..."}`; store failures are logged and
//! answered with 500 without their details.

pub(crate) mod agents;
pub(crate) mod alertmanager;
pub(crate) mod approvals;
pub(crate) mod artifacts;
pub(crate) mod cache;
pub(crate) mod deployments;
pub(crate) mod dora;
pub(crate) mod projects;
pub(crate) mod releases;
pub(crate) mod runner;
pub(crate) mod runners;
pub(crate) mod runs;
pub(crate) mod secrets;
pub(crate) mod slos;
pub(crate) mod tokens;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_proto::names;
use ferry_store::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
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

// The responses routes share, for their `#[utoipa::path(responses(…))]`; a route lists its
// own 2xx, 404, 409 and 422 and takes the rest from here. `tests/it/openapi.rs` checks that
// each route documents what its kind of route answers:
// - every `/api/v1` route with an API token: [`Refusals`], and [`BelowDeveloper`] or
//   [`BelowAdmin`] when it needs more than a viewer;
// - every runner protocol route: [`RunnerRefusals`], and [`JobRefusals`] about a job;
// - a route with a path parameter, a query or a body: [`Invalid`];
// - a route with a JSON body ([`Body`]): [`BodyRefusals`].
// (The variants are never built: they only describe responses.)

/// The refusals of every `/api/v1` route that takes an API token.
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "a description of responses for the OpenAPI document")]
pub(crate) enum Refusals {
    #[response(status = 401, description = "No token, or an unknown or revoked one")]
    Unauthorized(ErrorBody),
    #[response(status = 500, description = "The database failed")]
    DatabaseFailed(ErrorBody),
}

/// The refusals of every runner protocol route, which takes a runner token.
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "a description of responses for the OpenAPI document")]
pub(crate) enum RunnerRefusals {
    #[response(status = 401, description = "No runner token, or an unknown one")]
    Unauthorized(ErrorBody),
    #[response(status = 500, description = "The database failed")]
    DatabaseFailed(ErrorBody),
}

/// The refusals of every agent protocol route, which takes an agent token.
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "a description of responses for the OpenAPI document")]
pub(crate) enum AgentRefusals {
    #[response(status = 401, description = "No agent token, or an unknown or revoked one")]
    Unauthorized(ErrorBody),
    #[response(status = 500, description = "The database failed")]
    DatabaseFailed(ErrorBody),
}

/// The refusals of every legacy cache service route (`/_apis/artifactcache/…`), which takes a
/// job's runtime token; refusals are `{"message": …}`.
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "a description of responses for the OpenAPI document")]
pub(crate) enum RuntimeRefusals {
    #[response(status = 400, description = "A key, version or body that is not one the toolkit sends")]
    Invalid(ferry_proto::runtime::LegacyError),
    #[response(status = 401, description = "No runtime token, or not one of a job in progress")]
    Unauthorized(ferry_proto::runtime::LegacyError),
    #[response(status = 500, description = "The database or the blob store failed")]
    Failed(ferry_proto::runtime::LegacyError),
}

/// The refusals of every results service route (twirp), which takes a job's runtime token;
/// refusals are twirp errors.
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "a description of responses for the OpenAPI document")]
pub(crate) enum TwirpRefusals {
    #[response(
        status = 400,
        description = "`malformed` or `invalid_argument`: a body, key or version that is not one the toolkit sends"
    )]
    Invalid(ferry_proto::runtime::TwirpError),
    #[response(status = 401, description = "`unauthenticated`: no runtime token, or not one of a job in progress")]
    Unauthorized(ferry_proto::runtime::TwirpError),
    #[response(
        status = 429,
        description = "`resource_exhausted`: past the entry's limit or the service's upload budget"
    )]
    Exhausted(ferry_proto::runtime::TwirpError),
    #[response(status = 500, description = "`internal`: the database or the blob store failed")]
    Failed(ferry_proto::runtime::TwirpError),
}

/// The refusals of a runner protocol route about a job (`…/jobs/{id}/…`).
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "a description of responses for the OpenAPI document")]
pub(crate) enum JobRefusals {
    #[response(status = 404, description = "No such job")]
    NotFound(ErrorBody),
    #[response(status = 409, description = "The job is not in progress on this runner: drop it")]
    NotHeld(ErrorBody),
}

/// The refusal of a request this document does not allow.
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "a description of responses for the OpenAPI document")]
pub(crate) enum Invalid {
    #[response(
        status = 400,
        description = "The request is not one this document allows (a path parameter, query or body outside its schema, or a body that is not a JSON object); the message says what is wrong"
    )]
    BadRequest(ErrorBody),
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

/// The refusals of a route that takes a JSON body ([`Body`]), besides [`Invalid`].
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "a description of responses for the OpenAPI document")]
pub(crate) enum BodyRefusals {
    #[response(status = 413, description = "The body is over 2 MiB")]
    TooLarge(ErrorBody),
    #[response(status = 415, description = "The body is not `application/json`")]
    NotJson(ErrorBody),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: self.message })).into_response()
    }
}

/// A JSON request body, which must be an object (every body of the API is: serde would also
/// read a struct from an array), whose refusals answer with [`ApiError`] like everything else:
/// 415 for another content type, 413 over the body limit, 400 for a body that is not a JSON
/// object of `T`'s shape.
pub(crate) struct Body<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the body must be JSON: send it with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))?;
        if bytes.trim_ascii_start().first() != Some(&b'{') {
            return Err(ApiError::bad_request("the body must be a JSON object, `{…}`"));
        }
        let mut value: Value = serde_json::from_slice(&bytes)
            .map_err(|error| ApiError::bad_request(format!("the body is not JSON: {error}")))?;
        whole_floats_as_integers(&mut value);
        match T::deserialize(value) {
            Ok(body) => Ok(Body(body)),
            Err(error) => Err(ApiError::bad_request(format!("the body is not of the documented shape: {error}"))),
        }
    }
}

/// Turns numbers written with a zero fraction (`7.0`, `1e2`) into integers, as the document's
/// JSON Schema dialect (2020-12) counts them integers; serde would refuse them for an integer.
/// Only floats up to 2^53 are converted: beyond it a float no longer spells one integer (an
/// integer literal past `i64::MIN` parses as a float that rounds to it), so it stays a float
/// that an integer field refuses.
fn whole_floats_as_integers(value: &mut Value) {
    match value {
        Value::Number(number) => {
            if let Some(float) = number.as_f64().filter(|float| number.is_f64() && float.fract() == 0.0)
                && float.abs() <= 2f64.powi(53)
            {
                *number = (float as i64).into();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_floats_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(whole_floats_as_integers),
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

/// Whether the request says its body is JSON: `application/json` or `application/…+json`.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Query parameters whose refusals (a number that is not one) answer with [`ApiError`].
pub(crate) struct Query<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
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

/// Checks the name of a project or runner ([`ferry_proto::names::Name`]).
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), ApiError> {
    if names::is_name(name) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("{what} name {name:?} must be 1 to 100 letters, digits, `.`, `_` or `-`")))
    }
}

/// Checks a secret or variable name ([`ferry_proto::names::Key`]).
pub(crate) fn check_key(what: &str, key: &str) -> Result<(), ApiError> {
    if names::is_key(key) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{what} name {key:?} must be letters, digits and `_`, not starting with a digit, at most 200"
        )))
    }
}

/// Checks free text that must say something ([`ferry_proto::names::Text`]); `what` names it
/// for the message (`a token's name`).
pub(crate) fn check_text(what: &str, text: &str) -> Result<(), ApiError> {
    if names::is_text(text) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("{what} must not be empty or only spaces")))
    }
}
