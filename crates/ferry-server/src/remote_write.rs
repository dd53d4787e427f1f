//! `POST /prometheus/api/v1/write`: Prometheus' remote-write receiver (protocol 1.0), so an
//! existing Prometheus server or agent sends what it scrapes to Ferry's store:
//!
//! ```yaml
//! remote_write:
//!   - url: http://ferry:8080/prometheus/api/v1/write
//!     authorization: { credentials: ferry_… }   # an admin token
//! ```
//!
//! Samples are stored (and synced to the store's log) before the answer, 204, so an answered
//! batch survives a `kill -9`. A sample older than its series' newest is not stored and is
//! counted in the log, as Prometheus' receiver drops it; a body that is not a remote-write
//! request is 400, which tells the sender not to retry it.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;
use crate::api::{ApiError, ErrorBody};

/// The largest body taken: a sender's batch is a few hundred kilobytes compressed.
pub(crate) const MAX_BODY: usize = 32 * 1024 * 1024;

/// `POST /prometheus/api/v1/write`.
#[utoipa::path(
    post,
    path = "/prometheus/api/v1/write",
    operation_id = "prometheus_remote_write",
    tag = "metrics",
    security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/x-protobuf", description = "A snappy-compressed (block format) protobuf `WriteRequest`, as Prometheus' remote write 1.0 sends it"),
    responses(
        (status = 204, description = "Every sample was stored, or counted as out of order"),
        (status = 400, description = "The body is not a snappy-compressed WriteRequest, or a series' labels are not valid; the message says which", body = ErrorBody),
        (status = 413, description = "The body is over 32 MiB"),
        crate::api::Refusals,
        crate::api::BelowAdmin,
    ),
)]
pub(crate) async fn write(State(state): State<AppState>, body: Bytes) -> Result<StatusCode, ApiError> {
    let decoded =
        ferry_promql::remote_write::decode(&body).map_err(|error| ApiError::bad_request(error.to_string()))?;
    if decoded.histograms_skipped > 0 {
        tracing::warn!(
            histograms = decoded.histograms_skipped,
            "remote write: native histogram samples are not stored"
        );
    }
    if decoded.samples.is_empty() {
        return Ok(StatusCode::NO_CONTENT);
    }
    let db = crate::prometheus::store(&state)
        .await
        .map_err(|error| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))?;
    let report = tokio::task::spawn_blocking(move || db.append(&decoded.samples))
        .await
        .map_err(|error| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("storing the samples stopped: {error}"))
        })?
        .map_err(|error| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))?;
    if report.out_of_order > 0 {
        tracing::warn!(
            out_of_order = report.out_of_order,
            "remote write: samples older than their series' newest were dropped"
        );
    }
    Ok(StatusCode::NO_CONTENT)
}
