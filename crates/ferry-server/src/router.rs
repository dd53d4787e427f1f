//! Every route, the one place to see what the server answers and who may call it.
//!
//! | route | who |
//! |---|---|
//! | `GET /healthz`, `GET /readyz`, `GET /metrics` | anyone |
//! | `POST /hooks/{forge}/{project}` | the forge (signed with the project's webhook secret) |
//! | `GET /api/v1/projects`, `GET /api/v1/projects/{name}`, `GET …/secrets`, `GET …/vars`, `GET …/vars/{key}` | viewer |
//! | `POST /api/v1/projects`, `PUT`/`DELETE …/secrets/{key}`, `PUT`/`DELETE …/vars/{key}` | developer |
//! | `GET`/`POST /api/v1/tokens`, `DELETE /api/v1/tokens/{id}` | admin |

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post, put};

use crate::api::{ApiError, projects, secrets, tokens};
use crate::{AppState, hooks, metrics, probes};

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/metrics", get(metrics::get))
        .route("/hooks/{forge}/{project}", post(hooks::receive))
        .route("/api/v1/tokens", get(tokens::list).post(tokens::create))
        .route("/api/v1/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/api/v1/projects", get(projects::list).post(projects::create))
        .route("/api/v1/projects/{name}", get(projects::get))
        .route("/api/v1/projects/{name}/secrets", get(secrets::list_secrets))
        .route("/api/v1/projects/{name}/secrets/{key}", put(secrets::put_secret).delete(secrets::delete_secret))
        .route("/api/v1/projects/{name}/vars", get(secrets::list_vars))
        .route(
            "/api/v1/projects/{name}/vars/{key}",
            put(secrets::put_var).get(secrets::get_var).delete(secrets::delete_var),
        )
        .fallback(async || ApiError::new(StatusCode::NOT_FOUND, "no such route"))
        .method_not_allowed_fallback(async || {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "this route does not take that method")
        })
        .with_state(state)
}
