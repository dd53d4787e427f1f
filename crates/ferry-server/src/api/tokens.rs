//! `/api/v1/tokens`: admins create (the plaintext is answered once), list and revoke tokens.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_store::{ApiToken, NewApiToken, Role};
use serde::{Deserialize, Serialize};

use crate::api::{ApiError, Body, Path};
use crate::auth::{self, Admin};
use crate::{AppState, now_ms};

#[derive(Deserialize)]
pub(crate) struct NewTokenBody {
    name: String,
    role: String,
}

/// A token as the API shows it: never its secret or hash.
#[derive(Serialize)]
pub(crate) struct TokenView {
    id: i64,
    name: String,
    role: &'static str,
    prefix: String,
    created_at: i64,
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
#[derive(Serialize)]
pub(crate) struct CreatedToken {
    #[serde(flatten)]
    view: TokenView,
    token: String,
}

/// `POST /api/v1/tokens {name, role}`.
pub(crate) async fn create(
    _: Admin,
    State(state): State<AppState>,
    Body(body): Body<NewTokenBody>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let role = match body.role.as_str() {
        "viewer" => Role::Viewer,
        "developer" => Role::Developer,
        "admin" => Role::Admin,
        other => return Err(ApiError::bad_request(format!("role {other:?} is not viewer, developer or admin"))),
    };
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_request("a token needs a name"));
    }
    let new_token = auth::generate();
    let token = state
        .store
        .tokens()
        .create(&NewApiToken { prefix: &new_token.prefix, hash: &new_token.hash, name: &body.name, role }, now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { view: token.into(), token: new_token.plaintext })))
}

/// `GET /api/v1/tokens`: every token, revoked ones included, without secrets.
pub(crate) async fn list(_: Admin, State(state): State<AppState>) -> Result<Json<Vec<TokenView>>, ApiError> {
    let tokens = state.store.tokens().list().await?;
    Ok(Json(tokens.into_iter().map(TokenView::from).collect()))
}

/// `DELETE /api/v1/tokens/{id}`: revokes; the token stops working at once.
pub(crate) async fn revoke(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    state.store.tokens().revoke(id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}
