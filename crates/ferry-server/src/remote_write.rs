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
//!
//! Agents push what they scrape in the same body to `POST /api/v1/agent/metrics`, with their
//! agent token, limited to the series of the projects they run and their own.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_promql::Labels;
use ferry_promql::remote_write::Decoded;

use crate::AppState;
use crate::api::{ApiError, ErrorBody};
use crate::auth::AgentCaller;

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
    let decoded = decode(&body)?;
    store(&state, decoded.samples).await
}

/// `POST /api/v1/agent/metrics`: what an agent scraped, in the same body. An agent writes
/// only series of the projects whose services it runs (a series whose `project` label names
/// another is dropped, and the drop logged) and its own (a series without `project` gets
/// `job` `ferry-agent` and `instance` the agent's name, whatever it said).
#[utoipa::path(
    post,
    path = "/api/v1/agent/metrics",
    operation_id = "agent_metrics",
    tag = "agents",
    security(("agent" = [])),
    request_body(content = Vec<u8>, content_type = "application/x-protobuf", description = "A snappy-compressed (block format) protobuf `WriteRequest`, as Prometheus' remote write 1.0 sends it"),
    responses(
        (status = 204, description = "Every sample of the agent's series was stored, or counted as out of order"),
        (status = 400, description = "The body is not a snappy-compressed WriteRequest, or a series' labels are not valid; the message says which", body = ErrorBody),
        (status = 413, description = "The body is over 32 MiB"),
        crate::api::AgentRefusals,
    ),
)]
pub(crate) async fn agent_write(
    AgentCaller(agent): AgentCaller,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let decoded = decode(&body)?;
    let mut projects = BTreeSet::new();
    for deployment in state.store.deployments().placed_on(agent.id).await? {
        projects.insert(state.store.projects().get(deployment.project_id).await?.name);
    }
    let (samples, n_foreign) = agents_own(decoded.samples, &projects, &agent.name);
    if n_foreign > 0 {
        tracing::warn!(
            agent = %agent.name,
            samples = n_foreign,
            "agent {} sent {n_foreign} samples of projects it runs nothing of; they were dropped",
            agent.name
        );
    }
    store(&state, samples).await
}

/// The samples of a body an agent may write: those of `projects`, and its own, labelled
/// `job="ferry-agent"` and `instance=<agent>`; and how many were not.
fn agents_own(
    samples: Vec<(Labels, i64, f64)>,
    projects: &BTreeSet<String>,
    agent: &str,
) -> (Vec<(Labels, i64, f64)>, usize) {
    let n_samples = samples.len();
    let own: Vec<_> = samples
        .into_iter()
        .filter_map(|(mut labels, t, value)| {
            match labels.get("project") {
                Some(project) if !projects.contains(project) => return None,
                Some(_) => {}
                None => {
                    labels.set("job", "ferry-agent".to_owned());
                    labels.set("instance", agent.to_owned());
                }
            }
            Some((labels, t, value))
        })
        .collect();
    let n_foreign = n_samples - own.len();
    (own, n_foreign)
}

/// Reads a body, saying what is wrong with one that is not a remote-write request.
fn decode(body: &[u8]) -> Result<Decoded, ApiError> {
    let decoded = ferry_promql::remote_write::decode(body).map_err(|error| ApiError::bad_request(error.to_string()))?;
    if decoded.histograms_skipped > 0 {
        tracing::warn!(
            histograms = decoded.histograms_skipped,
            "remote write: native histogram samples are not stored"
        );
    }
    Ok(decoded)
}

/// Stores (and forwards) the samples; 204 once they are synced.
async fn store(state: &AppState, samples: Vec<(Labels, i64, f64)>) -> Result<StatusCode, ApiError> {
    if samples.is_empty() {
        return Ok(StatusCode::NO_CONTENT);
    }
    let report = crate::prometheus::append(state, samples)
        .await
        .map_err(|error| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))?;
    if report.out_of_order > 0 {
        tracing::warn!(
            out_of_order = report.out_of_order,
            "remote write: samples older than their series' newest were dropped"
        );
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_writes_the_series_of_its_projects_and_its_own_under_its_name() {
        let projects = BTreeSet::from(["shop".to_owned()]);
        let sample = |pairs: &[(&str, &str)]| (Labels::new(pairs.iter().copied()), 1, 1.0);
        let samples = vec![
            sample(&[("__name__", "up"), ("project", "shop"), ("job", "web"), ("instance", "edge-1:9001")]),
            sample(&[("__name__", "up"), ("project", "bank"), ("job", "web")]),
            sample(&[("__name__", "ferry_agent_metrics_queued_samples"), ("job", "ferry"), ("instance", "server")]),
        ];
        let (own, n_foreign) = agents_own(samples, &projects, "edge-1");
        let own: Vec<String> = own.iter().map(|(labels, _, _)| labels.to_string()).collect();
        assert_eq!(
            own,
            [
                "up{instance=\"edge-1:9001\", job=\"web\", project=\"shop\"}",
                "ferry_agent_metrics_queued_samples{instance=\"edge-1\", job=\"ferry-agent\"}",
            ]
        );
        assert_eq!(n_foreign, 1);
    }
}
