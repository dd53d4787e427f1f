//! `/api/v1/tokens`: admins create (the plaintext is answered once), list and revoke tokens.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_proto::names::Id;
use ferry_store::{ApiToken, NewApiToken, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::{ApiError, Body, ErrorBody, Path, check_text};
use crate::auth::{self, Admin};
use crate::{AppState, now_ms};

/// A token to create.
#[derive(Deserialize, ToSchema)]
pub(crate) struct NewTokenBody {
    /// Who or what the token is for.
    #[schema(value_type = ferry_proto::names::Text)]
    name: String,
    role: RoleName,
}

/// A token's role: `viewer` (reads), `developer` (projects, secrets, variables, runs) or
/// `admin` (tokens, runners).
#[derive(Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RoleName {
    Viewer,
    Developer,
    Admin,
}

/// A token as the API shows it: never its secret or hash.
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenView {
    id: i64,
    name: String,
    #[schema(value_type = RoleName)]
    role: &'static str,
    /// The token's public part, `ferry_<prefix>_…`, to tell tokens apart.
    prefix: String,
    /// Milliseconds since the Unix epoch.
    created_at: i64,
    /// Milliseconds since the Unix epoch; `null` while the token works.
    revoked_at: Option<i64>,
}

impl From<ApiToken> for TokenView {
    fn from(token: ApiToken) -> TokenView {
        TokenView {
            id: token.id,
            name: token.name,
            role: token.role.as_str(),
            prefix: token.prefix,
            created_at: token.created_at,
            revoked_at: token.revoked_at,
        }
    }
}

/// A new token, with its plaintext: the only time it is shown.
#[derive(Serialize, ToSchema)]
pub(crate) struct CreatedToken {
    #[serde(flatten)]
    view: TokenView,
    /// The token, `ferry_<prefix>_<secret>`, for `Authorization: Bearer <token>`.
    token: String,
}

/// `POST /api/v1/tokens {name, role}`.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    operation_id = "create_token",
    tag = "tokens",
    request_body = NewTokenBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The token was created; its plaintext is answered this once", body = CreatedToken),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowAdmin,
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn create(
    _: Admin,
    State(state): State<AppState>,
    Body(body): Body<NewTokenBody>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let role = match body.role {
        RoleName::Viewer => Role::Viewer,
        RoleName::Developer => Role::Developer,
        RoleName::Admin => Role::Admin,
    };
    check_text("a token's name", &body.name)?;
    let new_token = auth::generate();
    let token = state
        .store
        .tokens()
        .create(&NewApiToken { prefix: &new_token.prefix, hash: &new_token.hash, name: &body.name, role }, now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { view: token.into(), token: new_token.plaintext })))
}

/// `GET /api/v1/tokens`: every token, revoked ones included, without secrets.
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    operation_id = "list_tokens",
    tag = "tokens",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every token, revoked ones included", body = Vec<TokenView>),
        crate::api::Refusals,
        crate::api::BelowAdmin,
    ),
)]
pub(crate) async fn list(_: Admin, State(state): State<AppState>) -> Result<Json<Vec<TokenView>>, ApiError> {
    let tokens = state.store.tokens().list().await?;
    Ok(Json(tokens.into_iter().map(TokenView::from).collect()))
}

/// `DELETE /api/v1/tokens/{id}`: revokes; the token stops working at once.
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    operation_id = "revoke_token",
    tag = "tokens",
    params(
        ("id" = Id, Path, description = "The token's id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The token was revoked (or already was)"),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowAdmin,
        (status = 404, description = "No such token", body = ErrorBody),
    ),
)]
pub(crate) async fn revoke(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    state.store.tokens().revoke(id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}
