//! Every route, the one place to see what the server answers and who may call it.
//!
//! | route | who |
//! |---|---|
//! | `GET /healthz`, `GET /readyz`, `GET /metrics` | anyone |
//! | `POST /hooks/{forge}/{project}` | the forge (signed with the project's webhook secret) |
//! | `GET /api/v1/openapi.json` | viewer |
//! | `GET /api/v1/projects`, `GET /api/v1/projects/{name}`, `GET …/secrets`, `GET …/vars`, `GET …/vars/{key}` | viewer |
//! | `POST /api/v1/projects`, `PATCH /api/v1/projects/{name}`, `PUT`/`DELETE …/secrets/{key}`, `PUT`/`DELETE …/vars/{key}` | developer |
//! | `GET`/`POST /api/v1/tokens`, `DELETE /api/v1/tokens/{id}`, `POST /api/v1/runners` | admin |
//! | `GET …/runs`, `GET /api/v1/runs/{id}`, `GET /api/v1/runs/{id}/logs`, `GET /api/v1/runs/{id}/artifacts[/{name}]` | viewer |
//! | `POST …/trigger`, `POST /api/v1/runs/{id}/cancel`, `POST /api/v1/runs/{id}/rerun`, `POST /api/v1/runs/{id}/approve` | developer |
//! | `POST /api/v1/runner/claim`, `POST /api/v1/runner/jobs/{id}/{events,heartbeat,complete}`, `GET`/`POST …/jobs/{id}/artifacts`, `POST …/jobs/{id}/cache[/lookup]`, `PUT`/`GET /api/v1/runner/blobs/{sha256}`, `POST /api/v1/runner/blobs/missing` | a runner (its `ferryr_…` token) |
//!
//! The web UI's pages (`/`, `/login`, `/ui/…`) are merged from `ui::router`; see `ui.rs`.
//!
//! [`routes`] is a table, so the router and the check that the OpenAPI document describes
//! every route (and nothing else) read the same list.

use axum::Router;
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::api::{ApiError, approvals, artifacts, cache, projects, runner, runs, secrets, tokens};
use crate::{AppState, hooks, metrics, openapi, probes};

/// One row of the route table: a method, a path and the handler that answers it.
pub(crate) struct Route {
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    endpoint: MethodRouter<AppState>,
}

fn route<H: Handler<T, AppState>, T: 'static>(method: Method, path: &'static str, handler: H) -> Route {
    let filter = MethodFilter::try_from(method.clone()).expect("the table only uses standard methods");
    Route { method, path, endpoint: on(filter, handler) }
}

/// Every route the server answers; the rest answer 404 or 405.
pub(crate) fn routes() -> Vec<Route> {
    vec![
        route(Method::GET, "/healthz", probes::healthz),
        route(Method::GET, "/readyz", probes::readyz),
        route(Method::GET, "/metrics", metrics::get),
        route(Method::POST, "/hooks/{forge}/{project}", hooks::receive),
        route(Method::GET, "/api/v1/openapi.json", openapi::get),
        route(Method::GET, "/api/v1/tokens", tokens::list),
        route(Method::POST, "/api/v1/tokens", tokens::create),
        route(Method::DELETE, "/api/v1/tokens/{id}", tokens::revoke),
        route(Method::GET, "/api/v1/projects", projects::list),
        route(Method::POST, "/api/v1/projects", projects::create),
        route(Method::GET, "/api/v1/projects/{name}", projects::get),
        route(Method::PATCH, "/api/v1/projects/{name}", approvals::update_project),
        route(Method::GET, "/api/v1/projects/{name}/secrets", secrets::list_secrets),
        route(Method::PUT, "/api/v1/projects/{name}/secrets/{key}", secrets::put_secret),
        route(Method::DELETE, "/api/v1/projects/{name}/secrets/{key}", secrets::delete_secret),
        route(Method::GET, "/api/v1/projects/{name}/runs", runs::list),
        route(Method::POST, "/api/v1/projects/{name}/trigger", runs::trigger),
        route(Method::GET, "/api/v1/runs/{id}", runs::get),
        route(Method::POST, "/api/v1/runs/{id}/cancel", runs::cancel),
        route(Method::POST, "/api/v1/runs/{id}/rerun", runs::rerun),
        route(Method::POST, "/api/v1/runs/{id}/approve", approvals::approve),
        route(Method::GET, "/api/v1/runs/{id}/logs", runs::logs),
        route(Method::POST, "/api/v1/runners", runner::register),
        route(Method::POST, "/api/v1/runner/claim", runner::claim),
        route(Method::POST, "/api/v1/runner/jobs/{id}/events", runner::events),
        route(Method::POST, "/api/v1/runner/jobs/{id}/heartbeat", runner::heartbeat),
        route(Method::POST, "/api/v1/runner/jobs/{id}/complete", runner::complete),
        route(Method::GET, "/api/v1/runs/{id}/artifacts", artifacts::list),
        route(Method::GET, "/api/v1/runs/{id}/artifacts/{name}", artifacts::download),
        route(Method::POST, "/api/v1/runner/blobs/missing", artifacts::missing_blobs),
        route(Method::PUT, "/api/v1/runner/blobs/{sha256}", artifacts::put_blob),
        route(Method::GET, "/api/v1/runner/blobs/{sha256}", artifacts::get_blob),
        route(Method::POST, "/api/v1/runner/jobs/{id}/artifacts", artifacts::create),
        route(Method::GET, "/api/v1/runner/jobs/{id}/artifacts", artifacts::list_for_job),
        route(Method::POST, "/api/v1/runner/jobs/{id}/cache/lookup", cache::lookup),
        route(Method::POST, "/api/v1/runner/jobs/{id}/cache", cache::save),
        route(Method::GET, "/api/v1/projects/{name}/vars", secrets::list_vars),
        route(Method::GET, "/api/v1/projects/{name}/vars/{key}", secrets::get_var),
        route(Method::PUT, "/api/v1/projects/{name}/vars/{key}", secrets::put_var),
        route(Method::DELETE, "/api/v1/projects/{name}/vars/{key}", secrets::delete_var),
    ]
}

pub(crate) fn router(state: AppState) -> Router {
    // Routing a path twice merges the methods, so each row can stand alone.
    let router = routes().into_iter().fold(Router::new(), |router, route| router.route(route.path, route.endpoint));
    router
        // The web UI's pages are not API routes, so they stay out of the table above.
        .merge(crate::ui::router())
        .fallback(async || ApiError::new(StatusCode::NOT_FOUND, "no such route"))
        .method_not_allowed_fallback(async || {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "this route does not take that method")
        })
        .with_state(state)
}
