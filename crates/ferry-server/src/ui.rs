//! The web UI: server-rendered pages (maud) for projects, their runs and a run's job graph
//! and logs, plus a little of our own JavaScript for the live parts (log streaming over SSE,
//! refreshes, the buttons), all served by this binary.
//!
//! | route | what |
//! |---|---|
//! | `GET /login`, `POST /login` | the token form; a valid token starts a session, whose id becomes the `ferry_session` cookie |
//! | `GET /login/link/{ticket}` | a one-time login link (`POST /api/v1/login-links`) starts a session |
//! | `POST /logout` | ends the session and clears the cookie |
//! | `GET /` | projects, each with its latest run |
//! | `GET /ui/projects/{name}` | a project's runs and the "Run workflow" form |
//! | `GET /ui/projects/{name}/environments` | each environment's services (release, replica health, the deployment waiting at a gate with its Approve button) and the deployments timeline |
//! | `GET /ui/projects/{name}/dora` (`?service=&environment=&window=`) | a unit's DORA keys with their tiers, and the project's incidents with Resolve buttons |
//! | `GET /ui/projects/{name}/incidents` | a project's incidents, open first, with Ack and Resolve buttons |
//! | `GET /ui/incidents/{id}` | an incident: its facts, timeline (alerts, deployments, actions) and Ack/Resolve buttons |
//! | `GET /ui/alerts` | alerts firing, pending (the rules') and silenced, and the active silences (tokens for all projects) |
//! | `GET /ui/projects/{name}/slos` | each SLO in each environment: objective, budget left, burn rate, and the budget burn chart over its window |
//! | `GET /ui/projects/{name}/releases/{service}/{number}` | a release: commits, files, the run that built it, its deploy spec |
//! | `GET /ui/metrics` (`?query=&range=1h`) | the metrics explorer: a PromQL range query ending now, graphed as SVG with its legend (tokens for all projects) |
//! | `GET /ui/runs/{id}` (`?job={job_id}`) | a run: header, buttons, job graph, the chosen job's steps and live log |
//! | `GET /ui/assets/{file}` | the stylesheet and scripts, cached for a year under a content-hashed URL |
//!
//! Pages read what the API answers through the same functions (`api::runs::run_detail`, …);
//! the scripts call the JSON API with the session cookie and `X-Ferry-CSRF: 1`, which
//! `auth.rs` requires of every cookie-authenticated request that is not a read. A page
//! without a valid session redirects to `/login`. A session sees what its token's scope
//! reaches: other projects and their runs answer 404, as in the API. These routes are not in
//! `router::routes()`, the API's table that the OpenAPI document describes.

mod assets;
mod dora;
mod environments;
mod format;
mod graph;
mod incidents;
mod layout;
mod metrics;
mod projects;
mod releases;
mod run;
mod slos;

use axum::Router;
use axum::extract::{Form, FromRequestParts, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST, ORIGIN, REFERRER_POLICY, SET_COOKIE,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferry_store::{ApiToken, Role};
use maud::{Markup, html};
use serde::Deserialize;

use crate::api::ApiError;
use crate::{AppState, auth};

/// The UI's routes, merged into the server's router beside the API's table.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(projects::index))
        .route("/login", get(login_form).post(login))
        .route("/login/link/{ticket}", get(login_link))
        .route("/logout", post(logout))
        .route("/ui/projects/{name}", get(projects::project))
        .route("/ui/projects/{name}/releases/{service}/{number}", get(releases::page))
        .route("/ui/projects/{name}/environments", get(environments::page))
        .route("/ui/projects/{name}/dora", get(dora::page))
        .route("/ui/projects/{name}/incidents", get(incidents::list))
        .route("/ui/incidents/{id}", get(incidents::page))
        .route("/ui/alerts", get(incidents::alerts))
        .route("/ui/projects/{name}/slos", get(slos::page))
        .route("/ui/runs/{id}", get(run::page))
        .route("/ui/metrics", get(metrics::page))
        .route("/ui/assets/{file}", get(assets::get))
        .layer(axum::middleware::map_response(html_errors))
        .layer(axum::middleware::map_response(security_headers))
}

/// A person logged in through `/login`: the token their `ferry_session` cookie's session
/// acts for. Without a session that lasts, pages redirect to `/login`.
pub(crate) struct Session(pub(crate) ApiToken);

impl Session {
    /// Whether the buttons that start or stop runs work for this session.
    fn can_write(&self) -> bool {
        self.0.role >= Role::Developer
    }

    /// Whether the session's token reaches project `project_id`.
    pub(crate) fn sees(&self, project_id: i64) -> bool {
        self.0.scope.allows(project_id)
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(id) = auth::session_cookie(parts) else {
            return Err(Redirect::to("/login").into_response());
        };
        match auth::session_token(state, id).await {
            Ok(Some(token)) => Ok(Session(token)),
            // An expired or ended session: forget it, so the login form does not loop.
            Ok(None) => Err(([(SET_COOKIE, clear_cookie(state))], Redirect::to("/login")).into_response()),
            Err(error) => Err(ApiError::from(error).into_response()),
        }
    }
}

/// The `Set-Cookie` value of a session: `Secure` when the public URL is https, and kept by
/// the browser no longer than the session lasts (`max_age` seconds).
fn session_cookie(state: &AppState, value: &str, max_age: i64) -> String {
    let secure = if state.session.secure { "; Secure" } else { "" };
    format!("{}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}", auth::SESSION_COOKIE)
}

fn clear_cookie(state: &AppState) -> String {
    session_cookie(state, "", 0)
}

/// `GET /login`: the form, or the projects when already logged in.
async fn login_form(session: Result<Session, Response>) -> Response {
    match session {
        Ok(_) => Redirect::to("/").into_response(),
        Err(_) => login_page(None).into_response(),
    }
}

fn login_page(error: Option<&str>) -> Markup {
    let body = html! {
        form.login method="post" action="/login" {
            h1 { "Log in to Ferry" }
            p.muted { "Paste an API token (" code { "ferry_…" } "). The first admin token is in the data directory's " code { "admin.token" } "." }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            label for="token" { "Token" }
            input #token type="password" name="token" autocomplete="off" autofocus required;
            button.primary type="submit" { "Log in" }
        }
    };
    layout::page("Log in", None, &[], body)
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    token: String,
}

/// `POST /login`: a valid token starts a session, whose id becomes the session cookie;
/// anything else gets the form again with 401.
async fn login(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<LoginForm>) -> Response {
    if !same_origin(&headers) {
        return (StatusCode::FORBIDDEN, "this form only accepts posts from its own pages").into_response();
    }
    match auth::verify(&state.store, form.token.trim()).await {
        Ok(Some(token)) => {
            let id = match auth::start_session(&state, &token).await {
                Ok(id) => id,
                Err(error) => return ApiError::from(error).into_response(),
            };
            // The id is hex, so it is safe in a header.
            let cookie = session_cookie(&state, &id, state.session.ttl_ms / 1000);
            ([(SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        Ok(None) => {
            (StatusCode::UNAUTHORIZED, login_page(Some("That token is not valid or was revoked."))).into_response()
        }
        Err(error) => error.into_response(),
    }
}

/// `GET /login/link/{ticket}`: a one-time link (`POST /api/v1/login-links`) starts a session
/// and stops working; a used or expired one gets the form with 401.
async fn login_link(
    State(state): State<AppState>,
    axum::extract::Path(ticket): axum::extract::Path<String>,
) -> Response {
    // A ticket is 64 hex digits; anything else is not looked up.
    let well_formed = ticket.len() == 64 && ticket.bytes().all(|byte| byte.is_ascii_hexdigit());
    let redeemed = if well_formed { auth::redeem_login_ticket(&state, &ticket).await } else { Ok(None) };
    match redeemed {
        Ok(Some(id)) => {
            let cookie = session_cookie(&state, &id, state.session.ttl_ms / 1000);
            ([(SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        Ok(None) => (
            StatusCode::UNAUTHORIZED,
            login_page(Some("That login link was used already or has expired; log in with a token.")),
        )
            .into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// `POST /logout`: ends the session (its id no longer works, even if a copy of the cookie
/// was kept) and clears the cookie.
async fn logout(State(state): State<AppState>, parts: Parts) -> Response {
    if !same_origin(&parts.headers) {
        return (StatusCode::FORBIDDEN, "this form only accepts posts from its own pages").into_response();
    }
    if let Some(id) = auth::session_cookie(&parts)
        && let Err(error) = auth::end_session(&state, id).await
    {
        return ApiError::from(error).into_response();
    }
    ([(SET_COOKIE, clear_cookie(&state))], Redirect::to("/login")).into_response()
}

/// Whether a form was posted from this site: the login and logout forms refuse others (whose
/// `Origin` names another host), so no site can log a visitor in with its own token or out.
/// The session cookie is `SameSite=Strict`, so the pages need no such check.
fn same_origin(headers: &HeaderMap) -> bool {
    let (Some(origin), Some(host)) = (headers.get(ORIGIN), headers.get(HOST)) else { return true };
    let origin_host = origin.to_str().ok().and_then(|origin| origin.split_once("://")).map(|(_, host)| host);
    origin_host == host.to_str().ok()
}

/// Renders the JSON errors handlers answer with (`ApiError`) as a page.
async fn html_errors(res: Response) -> Response {
    let is_json =
        res.headers().get(CONTENT_TYPE).is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if !is_json || !(res.status().is_client_error() || res.status().is_server_error()) {
        return res;
    }
    let status = res.status();
    let body = axum::body::to_bytes(res.into_body(), 64 * 1024).await.unwrap_or_default();
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|body| body["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| status.to_string());
    let body = html! {
        h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
        p.error { (message) }
        p { a href="/" { "Back to the projects" } }
    };
    (status, layout::page("Error", None, &[], body)).into_response()
}

/// What every UI answer carries: scripts and styles from this origin only (no inline
/// script, so injected markup cannot run), no framing, no sniffing.
async fn security_headers(mut res: Response) -> Response {
    let headers = res.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
             base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

#[cfg(test)]
mod tests;
