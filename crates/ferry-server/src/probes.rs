//! Probes for supervisors and load balancers: `/healthz` (the process answers) and `/readyz`
//! (the database answers too).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use tracing::warn;
use utoipa::ToSchema;

use crate::AppState;

/// A probe's answer.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProbeStatus {
    /// `ok` (`/healthz`), `ready` or `unavailable` (`/readyz`).
    status: &'static str,
    /// Why the server is not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
}

/// `GET /healthz`: 200 while the process serves requests.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "probes",
    responses((status = 200, description = "The process serves requests", body = ProbeStatus)),
)]
pub(crate) async fn healthz() -> Json<ProbeStatus> {
    Json(ProbeStatus { status: "ok", error: None })
}

/// `GET /readyz`: 200 when the database answers, 503 otherwise.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "probes",
    responses(
        (status = 200, description = "The database answers", body = ProbeStatus),
        (status = 503, description = "The database does not answer", body = ProbeStatus),
    ),
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<ProbeStatus>) {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(ProbeStatus { status: "ready", error: None })),
        Err(error) => {
            warn!(%error, "readiness check failed: {error}");
            let status = ProbeStatus { status: "unavailable", error: Some("the database does not answer") };
            (StatusCode::SERVICE_UNAVAILABLE, Json(status))
        }
    }
}
