//! `analysis.queries` on the server, which holds the metrics store: while a deployment is in
//! progress, every query is evaluated at the server clock's `now` once its interval has passed
//! (the first one interval after the server first saw the deployment in progress, by the same
//! clock), judged by `ferry_deploy::queries`, and the measurement kept on the deployment
//! (`measurements`). Each measurement bumps the
//! desired state of the agents carrying the deployment: its order's `verdict` holds the
//! tallies a canary step's pause waits for, and, once a query failed, the reason their
//! rollout rolls back with.

use ferry_deploy::queries::{self, Placeholders};
use ferry_promql::{QueryError, QueryOptions, QueryValue};
use ferry_proto::agent::AnalysisQuery;
use ferry_proto::deployments::{Measurement, MeasurementPhase, QueryAnalysis};
use ferry_store::{Deployment, DeploymentStatus};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::{bump_hosts, from_json, target_of, to_json};
use crate::AppState;
use crate::api::ApiError;

/// How often due queries are looked for.
const TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// Measures due queries once a second until the server shuts down.
pub(crate) fn spawn(state: AppState) {
    tokio::spawn(async move {
        let mut shutting_down = state.pipeline.shutting_down.subscribe();
        loop {
            measure_due(&state).await;
            tokio::select! {
                () = tokio::time::sleep(TICK) => {}
                _ = shutting_down.wait_for(|stopping| *stopping) => break,
            }
        }
    });
}

/// Measures the due queries of every deployment in progress.
async fn measure_due(state: &AppState) {
    let deployments = match state.store.deployments().with_status(DeploymentStatus::InProgress).await {
        Ok(deployments) => deployments,
        Err(error) => {
            warn!(%error, "listing the deployments in progress to measure their queries: {error}");
            return;
        }
    };
    for deployment in deployments {
        if let Err(error) = measure(state, &deployment).await {
            warn!(
                deployment.id = deployment.id,
                "measuring the queries of deployment {}: {}",
                deployment.id,
                error.message()
            );
        }
    }
}

/// A deployment's `measurements` column.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    /// When the server first saw the deployment in progress (its clock): the first measurement
    /// of each query is one interval later.
    since: i64,
    queries: Vec<QueryAnalysis>,
}

fn stored(deployment: &Deployment) -> Option<Stored> {
    deployment.measurements.as_deref().map(|text| from_json("measurements", text))
}

/// The queries of a deployment with their measurements so far, in the file's order; empty
/// when it has none (or is a workflow job's).
pub(crate) fn analyses_of(deployment: &Deployment) -> Vec<(AnalysisQuery, QueryAnalysis)> {
    let Ok(target) = target_of(deployment) else { return Vec::new() };
    let declared = target.analysis.map(|analysis| analysis.queries).unwrap_or_default();
    let mut kept = stored(deployment).map(|stored| stored.queries).unwrap_or_default();
    declared
        .into_iter()
        .map(|query| {
            let analysis = match kept.iter().position(|analysis| analysis.name == query.name) {
                Some(idx) => kept.remove(idx),
                None => queries::new_analysis(&query),
            };
            (query, analysis)
        })
        .collect()
}

async fn measure(state: &AppState, deployment: &Deployment) -> Result<(), ApiError> {
    let (Some(release), None) = (deployment.release, deployment.job_id) else { return Ok(()) };
    let mut analyses = analyses_of(deployment);
    // Once a query failed the analysis, the agents roll back: nothing more to measure.
    if analyses.is_empty() || analyses.iter().any(|(_, analysis)| analysis.reason.is_some()) {
        return Ok(());
    }
    let now = state.pipeline.clock.now_ms();
    let Some(since) = stored(deployment).map(|stored| stored.since) else {
        let _guard = state.deploy.lock.lock().await;
        if state.store.deployments().get(deployment.id).await?.status == DeploymentStatus::InProgress {
            let first = Stored { since: now, queries: Vec::new() };
            state.store.deployments().record_measurements(deployment.id, &to_json(&first)).await?;
        }
        return Ok(());
    };
    let due: Vec<usize> = analyses
        .iter()
        .enumerate()
        .filter(|(_, (query, analysis))| queries::next_due(query, analysis, since).is_some_and(|at| at <= now))
        .map(|(idx, _)| idx)
        .collect();
    if due.is_empty() {
        return Ok(());
    }
    let project = state.store.projects().get(deployment.project_id).await?;
    let stable = state
        .store
        .deployments()
        .last_succeeded(deployment.project_id, &deployment.service, &deployment.environment)
        .await?
        .and_then(|served| served.release);
    let values = Placeholders {
        project: &project.name,
        service: &deployment.service,
        environment: &deployment.environment,
        release,
        stable,
    };
    let db = match crate::prometheus::store(state).await {
        Ok(db) => db,
        Err(error) => {
            warn!(%error, "the queries of deployment {} cannot be measured: {error}", deployment.id);
            return Ok(());
        }
    };
    for idx in due {
        let (query, analysis) = &mut analyses[idx];
        let measurement = match queries::substitute(&query.query, &values) {
            Ok(text) => {
                let db = db.clone();
                let result = tokio::task::spawn_blocking(move || {
                    ferry_promql::instant_query(db.as_ref(), &text, now, &QueryOptions::default())
                })
                .await;
                let result =
                    result.unwrap_or_else(|error| Err(QueryError::Internal(format!("the query stopped: {error}"))));
                judged(query, now, result)
            }
            Err(error) => inconclusive(now, error.to_string()),
        };
        queries::record(query, analysis, measurement);
    }
    let _guard = state.deploy.lock.lock().await;
    let current = state.store.deployments().get(deployment.id).await?;
    if current.status != DeploymentStatus::InProgress {
        return Ok(());
    }
    let kept = Stored { since, queries: analyses.iter().map(|(_, analysis)| analysis.clone()).collect() };
    state.store.deployments().record_measurements(deployment.id, &to_json(&kept)).await?;
    if let Some(reason) = analyses.iter().find_map(|(_, analysis)| analysis.reason.as_deref()) {
        info!(deployment.id = deployment.id, "deployment {}: {reason}; its agents roll it back", deployment.id);
    }
    bump_hosts(state, deployment.id).await?;
    state.deploy.notify();
    Ok(())
}

/// A query's result judged by its conditions: a scalar's value, or each sample's of a vector.
fn judged(query: &AnalysisQuery, now: i64, result: Result<QueryValue, QueryError>) -> Measurement {
    let values: Vec<f64> = match result {
        Ok(QueryValue::Scalar { v, .. }) => vec![v],
        Ok(QueryValue::Vector(samples)) => samples.iter().map(|sample| sample.v).collect(),
        Ok(other) => {
            return inconclusive(
                now,
                format!("the query gave a {}; it must give a scalar or an instant vector", other.result_type()),
            );
        }
        Err(error) => return inconclusive(now, format!("the query failed: {error}")),
    };
    let condition = |text: &Option<String>| text.as_deref().map(queries::parse_condition).transpose();
    match (condition(&query.success), condition(&query.failure)) {
        (Ok(success), Ok(failure)) => {
            let judged = queries::judge(success.as_ref(), failure.as_ref(), &values);
            Measurement { at: now, value: judged.value, phase: judged.phase, message: judged.message }
        }
        (Err(error), _) | (_, Err(error)) => inconclusive(now, format!("a condition does not parse: {error}")),
    }
}

fn inconclusive(now: i64, message: String) -> Measurement {
    Measurement { at: now, value: None, phase: MeasurementPhase::Inconclusive, message }
}
