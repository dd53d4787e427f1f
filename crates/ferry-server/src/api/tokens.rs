//! `/api/v1/tokens`: admins create (the plaintext is answered once), list and revoke tokens;
//! and how a scope is written on the wire (`projects`: names, or `null` for all projects).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_proto::names::Id;
use ferry_store::{ApiToken, NewApiToken, Project, ProjectScope, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::{ApiError, Body, ErrorBody, Path, check_text};
use crate::auth;
use crate::{AppState, now_ms};

/// A token to create.
#[derive(Deserialize, ToSchema)]
pub(crate) struct NewTokenBody {
    /// Who or what the token is for.
    #[schema(value_type = ferry_proto::names::Text)]
    name: String,
    role: RoleName,
    /// The projects it may see and act on, by name; left out or `null`: every project.
    #[serde(default)]
    #[schema(min_items = 1)]
    projects: Option<Vec<String>>,
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
    /// The projects it may see and act on, by name; `null`: every project.
    projects: Option<Vec<String>>,
    /// The token's public part, `ferry_<prefix>_…`, to tell tokens apart.
    prefix: String,
    /// Milliseconds since the Unix epoch.
    created_at: i64,
    /// Milliseconds since the Unix epoch; `null` while the token works.
    revoked_at: Option<i64>,
}

impl TokenView {
    fn new(token: ApiToken, projects: &[Project]) -> TokenView {
        TokenView {
            id: token.id,
            name: token.name,
            role: token.role.as_str(),
            projects: scope_names(&token.scope, projects),
            prefix: token.prefix,
            created_at: token.created_at,
            revoked_at: token.revoked_at,
        }
    }
}

/// The scope `names` asks for (`None`: all projects), or 400 for an empty list or naming the
/// projects that do not exist.
pub(crate) async fn scope_of(state: &AppState, names: Option<&[String]>) -> Result<ProjectScope, ApiError> {
    let Some(names) = names else { return Ok(ProjectScope::All) };
    if names.is_empty() {
        return Err(ApiError::bad_request(
            "`projects` is empty, which would reach nothing: name at least one project, or leave it out for all",
        ));
    }
    let projects = state.store.projects().list().await?;
    let mut ids = Vec::with_capacity(names.len());
    let mut unknown = Vec::new();
    for name in names {
        match projects.iter().find(|project| project.name == *name) {
            Some(project) => ids.push(project.id),
            None => unknown.push(format!("{name:?}")),
        }
    }
    if !unknown.is_empty() {
        // Well formed, but naming nothing: what the store holds refuses it.
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "no project {} (`projects` names existing projects; leave it out for all projects)",
                unknown.join(", ")
            ),
        ));
    }
    Ok(ProjectScope::Projects(ids))
}

/// How a scope is shown: the names of its projects, or `None` for all projects.
pub(crate) fn scope_names(scope: &ProjectScope, projects: &[Project]) -> Option<Vec<String>> {
    match scope {
        ProjectScope::All => None,
        ProjectScope::Projects(ids) => Some(
            projects.iter().filter(|project| ids.contains(&project.id)).map(|project| project.name.clone()).collect(),
        ),
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

/// `POST /api/v1/tokens {name, role, projects?}`.
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
        (status = 422, description = "`projects` names a project that does not exist", body = ErrorBody),
        crate::api::Refusals,
        crate::api::BelowAdmin,
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Body(body): Body<NewTokenBody>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let role = match body.role {
        RoleName::Viewer => Role::Viewer,
        RoleName::Developer => Role::Developer,
        RoleName::Admin => Role::Admin,
    };
    check_text("a token's name", &body.name)?;
    let scope = scope_of(&state, body.projects.as_deref()).await?;
    let new_token = auth::generate();
    let new = NewApiToken { prefix: &new_token.prefix, hash: &new_token.hash, name: &body.name, role, scope: &scope };
    let token = state.store.tokens().create(&new, now_ms()).await?;
    let projects = state.store.projects().list().await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { view: TokenView::new(token, &projects), token: new_token.plaintext })))
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
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Vec<TokenView>>, ApiError> {
    let tokens = state.store.tokens().list().await?;
    let projects = state.store.projects().list().await?;
    Ok(Json(tokens.into_iter().map(|token| TokenView::new(token, &projects)).collect()))
}

/// `DELETE /api/v1/tokens/{id}`: revokes; the token and its web UI sessions stop working at once.
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
pub(crate) async fn revoke(State(state): State<AppState>, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    state.store.tokens().revoke(id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How long a login link works, unused.
pub(crate) const LOGIN_LINK_TTL_MS: i64 = 10 * 60 * 1000;

/// `POST /api/v1/login-links`: a one-time web UI login for the caller's token, so a command
/// line tool (`ferry up`) can print a link instead of a token. The ticket is kept like a
/// session id (its SHA-256), so it survives a restart of the server and is never stored in
/// plain text.
#[utoipa::path(
    post,
    path = "/api/v1/login-links",
    operation_id = "create_login_link",
    tag = "tokens",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The link, which works once within 10 minutes", body = ferry_proto::access::LoginLink),
        crate::api::Refusals,
    ),
)]
pub(crate) async fn login_link(
    State(state): State<AppState>,
    auth::Caller(token): auth::Caller,
) -> Result<(StatusCode, Json<ferry_proto::access::LoginLink>), ApiError> {
    let (ticket, expires_at) = auth::start_login_ticket(&state, &token, LOGIN_LINK_TTL_MS).await?;
    let base = state.pipeline.public_url.clone().unwrap_or_else(|| state.pipeline.server_url.clone());
    Ok((
        StatusCode::CREATED,
        Json(ferry_proto::access::LoginLink {
            url: format!("{}/login/link/{ticket}", base.trim_end_matches('/')),
            expires_at,
        }),
    ))
}
