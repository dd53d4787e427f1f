//! Who may call what: tokens (how they look, how they are stored and checked), the web UI's
//! sessions, and [`guard`], the one check every route goes through with the [`Access`] its
//! row in `router.rs` gives it.
//!
//! A token is `ferry_<prefix>_<secret>`: 8 random bytes of public prefix (the lookup key) and
//! 32 random bytes of secret, both in hex. Only the prefix and the SHA-256 of the secret are
//! stored. The secret is random and long, so a fast hash is enough (nothing to brute-force),
//! and the hashes are compared in constant time. A token has a role and a scope: all
//! projects, or a list of them.
//!
//! The web UI's `ferry_session` cookie (set by `POST /login`) stands in for the header: it
//! holds a random session id (only its SHA-256 is stored) that acts with its token's role and
//! scope until it expires ([`ServerConfig::session_ttl`](crate::ServerConfig), counted from
//! the login), the person logs out or the token is revoked. A request it authenticates must
//! also send `X-Ferry-CSRF: 1` unless it only reads.
//!
//! The order of refusals: 401 without a valid token, 403 when its role is below the route's,
//! then, for a token scoped to projects, 404 for another project (or its runs), as if it did
//! not exist, and 403 on the routes that need a token for all projects (tokens, runners,
//! creating projects).

use std::path::{Path, PathBuf};

use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::Method;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferry_store::{Agent, ApiToken, NewApiToken, ProjectScope, Role, Runner, Store, StoreError};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tracing::info;

use crate::api::ApiError;
use crate::router::{Access, Reach};
use crate::{AppState, ServerError, data_dir, now_ms};

/// A token just made: the plaintext (shown once) and what is stored.
pub(crate) struct NewToken {
    pub(crate) plaintext: String,
    pub(crate) prefix: String,
    pub(crate) hash: String,
}

/// Makes a new random token.
pub(crate) fn generate() -> NewToken {
    let prefix = hex(&data_dir::random_bytes::<8>());
    let secret = hex(&data_dir::random_bytes::<32>());
    NewToken { plaintext: format!("ferry_{prefix}_{secret}"), hash: hash(&secret), prefix }
}

/// The hex SHA-256 of a token's secret part, as stored.
fn hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// A new runner token: `ferryr_<prefix>_<secret>`, stored as prefix + SHA-256 of the secret.
pub(crate) fn generate_runner_token() -> NewToken {
    let token = generate();
    NewToken { plaintext: token.plaintext.replacen("ferry_", "ferryr_", 1), ..token }
}

/// The runner whose token `plaintext` is, if any.
pub(crate) async fn verify_runner(store: &Store, plaintext: &str) -> Result<Option<Runner>, ApiError> {
    let Some((prefix, secret)) = plaintext.strip_prefix("ferryr_").and_then(|rest| rest.split_once('_')) else {
        return Ok(None);
    };
    let Some(runner) = store.runners().by_token_prefix(prefix).await? else { return Ok(None) };
    let matches: bool = hash(secret).as_bytes().ct_eq(runner.token_hash.as_bytes()).into();
    Ok(matches.then_some(runner))
}

/// A new agent token: `ferrya_<prefix>_<secret>`, stored as prefix + SHA-256 of the secret.
pub(crate) fn generate_agent_token() -> NewToken {
    let token = generate();
    NewToken { plaintext: token.plaintext.replacen("ferry_", "ferrya_", 1), ..token }
}

/// The unrevoked agent whose token `plaintext` is, if any (compared in constant time).
pub(crate) async fn verify_agent(store: &Store, plaintext: &str) -> Result<Option<Agent>, ApiError> {
    let Some((prefix, secret)) = plaintext.strip_prefix("ferrya_").and_then(|rest| rest.split_once('_')) else {
        return Ok(None);
    };
    let Some(agent) = store.agents().by_token_prefix(prefix).await? else { return Ok(None) };
    let matches: bool = hash(secret).as_bytes().ct_eq(agent.token_hash.as_bytes()).into();
    Ok(matches.then_some(agent))
}

/// The active token `plaintext` is, if any.
pub(crate) async fn verify(store: &Store, plaintext: &str) -> Result<Option<ApiToken>, ApiError> {
    let Some((prefix, secret)) = plaintext.strip_prefix("ferry_").and_then(|rest| rest.split_once('_')) else {
        return Ok(None);
    };
    let Some(token) = store.tokens().active_by_prefix(prefix).await? else { return Ok(None) };
    let matches: bool = hash(secret).as_bytes().ct_eq(token.hash.as_bytes()).into();
    Ok(matches.then_some(token))
}

/// On the first start (the database holds no token at all), creates an admin token and writes
/// it to `<data_dir>/admin.token` (owner-only); returns that path when it did.
pub(crate) async fn ensure_admin_token(store: &Store, data_dir: &Path) -> Result<Option<PathBuf>, ServerError> {
    if !store.tokens().list().await?.is_empty() {
        return Ok(None);
    }
    let path = data_dir.join("admin.token");
    // A file left from another database would name a token this one does not know.
    if let Err(error) = std::fs::remove_file(&path)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        return Err(ServerError::DataDir { action: "removing", path, source: error });
    }
    let token = generate();
    data_dir::write_private(&path, format!("{}\n", token.plaintext).as_bytes())?;
    store
        .tokens()
        .create(
            &NewApiToken {
                prefix: &token.prefix,
                hash: &token.hash,
                name: "admin",
                role: Role::Admin,
                scope: &ProjectScope::All,
            },
            now_ms(),
        )
        .await?;
    info!(path = %path.display(), "created the first admin token in {}", path.display());
    Ok(Some(path))
}

/// The bearer token of a request's `Authorization` header, if it has one.
fn bearer(parts: &Parts) -> Option<&str> {
    let header = parts.headers.get(AUTHORIZATION).and_then(|value| value.to_str().ok());
    let bearer =
        header.and_then(|value| value.split_once(' ')).filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"));
    bearer.map(|(_, plaintext)| plaintext.trim())
}

/// A request the session cookie authenticates may change something only with the header
/// `X-Ferry-CSRF: 1`, which the UI's scripts send: a form or page on another site can make
/// the browser send the cookie but not a custom header (that needs CORS, which the server
/// never answers). Reads (GET, HEAD) need no header.
fn check_csrf(parts: &Parts) -> Result<(), ApiError> {
    if parts.method == Method::GET || parts.method == Method::HEAD {
        return Ok(());
    }
    if parts.headers.get("x-ferry-csrf").is_some_and(|value| value.as_bytes() == b"1") {
        return Ok(());
    }
    Err(ApiError::forbidden(
        "a request authenticated by the `ferry_session` cookie must send the header `X-Ferry-CSRF: 1` \
         (or use `Authorization: Bearer <token>` instead of the cookie)",
    ))
}

/// The name of the web UI's session cookie.
pub(crate) const SESSION_COOKIE: &str = "ferry_session";

/// The session id in the request's `ferry_session` cookie, if any.
pub(crate) fn session_cookie(parts: &Parts) -> Option<&str> {
    parts.headers.get_all(axum::http::header::COOKIE).iter().filter_map(|value| value.to_str().ok()).find_map(
        |cookies| {
            cookies
                .split(';')
                .find_map(|cookie| cookie.trim().strip_prefix("ferry_session="))
                .filter(|id| !id.is_empty())
        },
    )
}

/// Starts a session for `token` (a person logged in with it); returns the session id for
/// the cookie. Only its hash is stored.
pub(crate) async fn start_session(state: &AppState, token: &ApiToken) -> Result<String, StoreError> {
    let id = hex(&data_dir::random_bytes::<32>());
    let now = now_ms();
    state.store.sessions().create(&hash(&id), token.id, now, now.saturating_add(state.session.ttl_ms)).await?;
    Ok(id)
}

/// A one-time login ticket for `token`, working for `ttl_ms`: a short session of its own,
/// which [`redeem_login_ticket`] ends as it starts the real one.
pub(crate) async fn start_login_ticket(
    state: &AppState,
    token: &ApiToken,
    ttl_ms: i64,
) -> Result<(String, i64), StoreError> {
    let ticket = hex(&data_dir::random_bytes::<32>());
    let now = now_ms();
    let expires_at = now.saturating_add(ttl_ms);
    state.store.sessions().create(&hash(&ticket), token.id, now, expires_at).await?;
    Ok((ticket, expires_at))
}

/// Exchanges a login ticket for a session id, once: `None` when the ticket is unknown, used,
/// expired or its token revoked.
pub(crate) async fn redeem_login_ticket(state: &AppState, ticket: &str) -> Result<Option<String>, StoreError> {
    let Some(token) = session_token(state, ticket).await? else { return Ok(None) };
    end_session(state, ticket).await?;
    start_session(state, &token).await.map(Some)
}

/// The token session `id` acts for, while the session lasts and the token works.
pub(crate) async fn session_token(state: &AppState, id: &str) -> Result<Option<ApiToken>, StoreError> {
    state.store.sessions().active(&hash(id), now_ms()).await
}

/// Ends session `id` (logging out).
pub(crate) async fn end_session(state: &AppState, id: &str) -> Result<(), StoreError> {
    state.store.sessions().delete(&hash(id)).await
}

/// The token a request acts with: its bearer token, else its session cookie's (401 when
/// neither is valid).
async fn authenticate(parts: &Parts, state: &AppState) -> Result<ApiToken, ApiError> {
    if let Some(plaintext) = bearer(parts) {
        return verify(&state.store, plaintext)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the token is not valid or was revoked"));
    }
    let Some(id) = session_cookie(parts) else {
        return Err(ApiError::unauthorized("an `Authorization: Bearer <token>` header is required"));
    };
    check_csrf(parts)?;
    session_token(state, id).await?.ok_or_else(|| {
        ApiError::unauthorized("the session ended (it expired, was logged out or its token revoked); log in again")
    })
}

/// What the route table's guard hands a route: the route's [`Access`] and the server's state.
#[derive(Clone)]
pub(crate) struct Guard {
    pub(crate) state: AppState,
    pub(crate) access: Access,
}

/// The middleware in front of every route of the table: lets the request through only when
/// the route's [`Access`] admits it, with the caller ([`Caller`], [`RunnerCaller`]) in the
/// request's extensions for the handler.
pub(crate) async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    match admit(&guard.state, guard.access, &mut parts).await {
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
        Err(error) => error.into_response(),
    }
}

async fn admit(state: &AppState, access: Access, parts: &mut Parts) -> Result<(), ApiError> {
    match access {
        // The runtime service's handlers check its token themselves, so that `ferry run`'s
        // copy of the service, which has no route table, checks it the same way; a signed
        // URL's ticket is checked by its handler.
        Access::Public | Access::Runtime | Access::Signed => Ok(()),
        Access::Runner => {
            let runner = match bearer(parts) {
                Some(plaintext) => verify_runner(&state.store, plaintext).await?,
                None => None,
            };
            let runner = runner.ok_or_else(|| {
                ApiError::unauthorized(
                    "this route needs a runner token (`ferryr_…`, from POST /api/v1/runners) that is not revoked",
                )
            })?;
            parts.extensions.insert(RunnerCaller(runner));
            Ok(())
        }
        Access::Agent => {
            let agent = match bearer(parts) {
                Some(plaintext) => verify_agent(&state.store, plaintext).await?,
                None => None,
            };
            let agent = agent.ok_or_else(|| {
                ApiError::unauthorized(
                    "this route needs an agent token (`ferrya_…`, from POST /api/v1/agents) that is not revoked",
                )
            })?;
            parts.extensions.insert(AgentCaller(agent));
            Ok(())
        }
        Access::Token(role, reach) => {
            let token = authenticate(parts, state).await?;
            if token.role < role {
                return Err(ApiError::forbidden(format!(
                    "this needs the {} role; the token has {}",
                    role.as_str(),
                    token.role.as_str()
                )));
            }
            check_reach(state, &token, reach, parts).await?;
            parts.extensions.insert(Caller(token));
            Ok(())
        }
    }
}

/// Whether `token`'s scope reaches what the route names.
async fn check_reach(state: &AppState, token: &ApiToken, reach: Reach, parts: &mut Parts) -> Result<(), ApiError> {
    let ProjectScope::Projects(_) = &token.scope else { return Ok(()) };
    match reach {
        Reach::Any => Ok(()),
        Reach::AllProjects => Err(ApiError::forbidden(
            "this needs a token for all projects; this one is limited to some (ask an admin for an unscoped token)",
        )),
        Reach::Project => {
            let name = path_param(parts, "name").await?;
            let project = state.store.projects().by_name(&name).await?;
            match project {
                Some(project) if token.scope.allows(project.id) => Ok(()),
                _ => Err(ApiError::not_found("project", &name)),
            }
        }
        Reach::Deployment => {
            let id = path_param(parts, "id").await?;
            let Ok(deployment_id) = id.parse::<i64>() else { return Err(ApiError::not_found("deployment", &id)) };
            match state.store.deployments().get(deployment_id).await {
                Ok(deployment) if token.scope.allows(deployment.project_id) => Ok(()),
                Ok(_) | Err(StoreError::NotFound { .. }) => Err(ApiError::not_found("deployment", &id)),
                Err(error) => Err(error.into()),
            }
        }
        Reach::Incident => {
            let id = path_param(parts, "id").await?;
            let Ok(incident_id) = id.parse::<i64>() else { return Err(ApiError::not_found("incident", &id)) };
            match state.store.dora().incident(incident_id).await {
                Ok(incident) if token.scope.allows(incident.project_id) => Ok(()),
                Ok(_) | Err(StoreError::NotFound { .. }) => Err(ApiError::not_found("incident", &id)),
                Err(error) => Err(error.into()),
            }
        }
        Reach::Run => {
            let id = path_param(parts, "id").await?;
            let Ok(run_id) = id.parse::<i64>() else { return Err(ApiError::not_found("run", &id)) };
            match state.store.runs().get(run_id).await {
                Ok(run) if token.scope.allows(run.project_id) => Ok(()),
                Ok(_) | Err(StoreError::NotFound { .. }) => Err(ApiError::not_found("run", &id)),
                Err(error) => Err(error.into()),
            }
        }
    }
}

/// The path parameter `name` of the matched route.
async fn path_param(parts: &mut Parts, name: &str) -> Result<String, ApiError> {
    let params = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))?;
    params
        .iter()
        .find_map(|(key, value)| (key == name).then(|| value.to_owned()))
        .ok_or_else(|| ApiError::bad_request(format!("the route has no `{{{name}}}`")))
}

/// The token a request of the route table was admitted with (what [`guard`] checked): its
/// name is recorded as who started a run, and its scope limits lists.
#[derive(Clone)]
pub(crate) struct Caller(pub(crate) ApiToken);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("an `Authorization: Bearer <token>` header is required"))
    }
}

/// A registered runner, by its runner token (`ferryr_…`), as [`guard`] admitted it.
#[derive(Clone)]
pub(crate) struct RunnerCaller(pub(crate) Runner);

impl<S: Send + Sync> FromRequestParts<S> for RunnerCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<RunnerCaller>().cloned().ok_or_else(|| {
            ApiError::unauthorized("this route needs a runner token (`ferryr_…`, from POST /api/v1/runners)")
        })
    }
}

/// A registered agent, by its agent token (`ferrya_…`), as [`guard`] admitted it.
#[derive(Clone)]
pub(crate) struct AgentCaller(pub(crate) Agent);

impl<S: Send + Sync> FromRequestParts<S> for AgentCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<AgentCaller>().cloned().ok_or_else(|| {
            ApiError::unauthorized("this route needs an agent token (`ferrya_…`, from POST /api/v1/agents)")
        })
    }
}

#[cfg(test)]
mod tests;
