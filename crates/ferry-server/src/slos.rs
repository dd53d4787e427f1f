//! Service level objectives on the server: the error budget of each SLO of a project's
//! deploy.yml in each environment its service is deployed to, judged by PromQL over the
//! metrics store at a time of the server's clock (the SLI's error ratio over the SLO's window
//! and over the last hour), the budget's burn over its window for the UI's chart, and the
//! loop that judges again, every [`REJUDGE_MS`], the deployments an `error-budget:` gate
//! holds. The SLOs' recording and alerting rules are evaluated with the others (`rules.rs`).

use std::sync::Arc;

use ferry_deploy::{DeploySpec, Slo};
use ferry_promql::{QueryOptions, QueryValue, RangeSeries};
use ferry_proto::slos::SloView;
use ferry_store::Project;
use ferry_tsdb::Tsdb;
use tracing::warn;

use crate::AppState;
use crate::pipeline::Mirror;
use crate::releases::DEPLOY_FILE;

/// How often the deployments an error budget holds are judged again, by the server's clock.
const REJUDGE_MS: i64 = 30_000;

/// Why a project's SLOs cannot be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpecError {
    #[error("reading {DEPLOY_FILE} of branch {branch}: {error}")]
    Mirror { branch: String, error: crate::pipeline::MirrorError },
    #[error("{DEPLOY_FILE} of branch {branch}: {error}")]
    Invalid { branch: String, error: ferry_deploy::InvalidDeployFile },
}

/// The deploy.yml at the head of the project's default branch; `None` when it has none.
///
/// # Errors
/// When the repository cannot be read or the file has errors.
pub(crate) async fn project_spec(state: &AppState, project: &Project) -> Result<Option<DeploySpec>, SpecError> {
    let branch = project.branch.clone();
    let mirror_error = |error| SpecError::Mirror { branch: branch.clone(), error };
    let mirror = Mirror::for_project(state, project).await.map_err(mirror_error)?;
    let head = mirror.resolve(&format!("refs/heads/{}", project.branch)).await.map_err(mirror_error)?;
    let Some(text) = mirror.read_file(&head, DEPLOY_FILE).await.map_err(mirror_error)? else { return Ok(None) };
    ferry_deploy::compile_valid(&text).map(Some).map_err(|error| SpecError::Invalid { branch: branch.clone(), error })
}

/// The value of a query whose answer is one sample, at `t`; `None` without a sample or
/// when the query fails (logged).
fn scalar_at(tsdb: &Tsdb, query: &str, t: i64) -> Option<f64> {
    match ferry_promql::instant_query(tsdb, query, t, &QueryOptions::default()) {
        Ok(QueryValue::Vector(samples)) => samples.first().map(|sample| sample.v),
        Ok(QueryValue::Scalar { v, .. }) => Some(v),
        Ok(_) => None,
        Err(error) => {
            warn!(%error, "the SLO query {query} failed: {error}");
            None
        }
    }
}

/// An SLO's budget at `now`: the error ratio over its window (`NaN`, no event, is no data).
pub(crate) fn judged_at(tsdb: &Tsdb, project: &str, service: &str, environment: &str, slo: &Slo, now: i64) -> SloView {
    let window = slo.window();
    let finite = |ratio: Option<f64>| ratio.filter(|ratio| ratio.is_finite());
    let error_ratio = finite(scalar_at(tsdb, &slo.error_ratio_query(project, service, environment, &window), now));
    let ratio_1h = finite(scalar_at(tsdb, &slo.error_ratio_query(project, service, environment, "1h"), now));
    SloView {
        service: service.to_owned(),
        environment: environment.to_owned(),
        slo: slo.name.clone(),
        objective: slo.objective,
        window,
        error_ratio,
        budget_remaining: error_ratio.map(|ratio| ferry_deploy::slo::budget_remaining(slo.objective, ratio)),
        burn_rate_1h: ratio_1h.map(|ratio| ratio / slo.budget()),
        status: ferry_deploy::slo::status(error_ratio, slo.objective),
    }
}

/// The budgets of `slos` of a service in an environment at the server's clock's now; each
/// without data when the metrics store cannot be opened (logged).
pub(crate) async fn judge(
    state: &AppState,
    project: &str,
    service: &str,
    environment: &str,
    slos: &[Slo],
) -> Vec<SloView> {
    let units: Vec<(String, String, Slo)> =
        slos.iter().map(|slo| (service.to_owned(), environment.to_owned(), slo.clone())).collect();
    judge_all(state, project, units).await
}

/// [`judge`] for several services and environments at once.
pub(crate) async fn judge_all(state: &AppState, project: &str, units: Vec<(String, String, Slo)>) -> Vec<SloView> {
    let now = state.pipeline.clock.now_ms();
    let tsdb = match crate::prometheus::store(state).await {
        Ok(tsdb) => Some(tsdb),
        Err(error) => {
            warn!(%error, "SLOs cannot be judged: {error}");
            None
        }
    };
    let project = project.to_owned();
    let judged = tokio::task::spawn_blocking(move || {
        units
            .iter()
            .map(|(service, environment, slo)| match &tsdb {
                Some(tsdb) => judged_at(tsdb, &project, service, environment, slo, now),
                None => no_data(service, environment, slo),
            })
            .collect::<Vec<_>>()
    })
    .await;
    judged.unwrap_or_else(|error| {
        warn!(%error, "judging SLOs failed: {error}");
        Vec::new()
    })
}

fn no_data(service: &str, environment: &str, slo: &Slo) -> SloView {
    SloView {
        service: service.to_owned(),
        environment: environment.to_owned(),
        slo: slo.name.clone(),
        objective: slo.objective,
        window: slo.window(),
        error_ratio: None,
        budget_remaining: None,
        burn_rate_1h: None,
        status: ferry_proto::slos::SloStatus::NoData,
    }
}

/// Every SLO of `spec` with each environment its service is deployed to, in the file's order.
pub(crate) fn units(spec: &DeploySpec) -> Vec<(String, String, Slo)> {
    spec.services
        .iter()
        .flat_map(|service| {
            service.slos.iter().flat_map(move |slo| {
                service.deploy.iter().map(move |deploy| (service.name.clone(), deploy.environment.clone(), slo.clone()))
            })
        })
        .collect()
}

/// How many points a budget chart has across its window.
const CHART_POINTS: i64 = 120;

/// The budget left at each of [`CHART_POINTS`] times over the SLO's window ending at `now`
/// (each point counts the window ending there), for the UI's burn chart.
pub(crate) async fn burn(
    state: &AppState,
    project: &str,
    service: &str,
    environment: &str,
    slo: &Slo,
) -> Option<(Vec<RangeSeries>, i64, i64)> {
    let now = state.pipeline.clock.now_ms();
    let tsdb: Arc<Tsdb> = crate::prometheus::store(state).await.ok()?;
    let window_ms = i64::try_from(slo.window_ms).ok()?;
    let start = now - window_ms;
    let step = (window_ms / CHART_POINTS).max(1_000);
    let ratio = slo.error_ratio_query(project, service, environment, &slo.window());
    let query = format!("1 - ({ratio}) / ((100 - {}) / 100)", slo.objective);
    let res = tokio::task::spawn_blocking(move || {
        ferry_promql::range_query(tsdb.as_ref(), &query, start, now, step, &QueryOptions::default())
    })
    .await
    .ok()?;
    match res {
        Ok(QueryValue::Matrix(series)) => Some((series, start, now)),
        Ok(_) => None,
        Err(error) => {
            warn!(%error, "the burn chart's query failed: {error}");
            None
        }
    }
}

/// Judges the deployments an error budget holds again every [`REJUDGE_MS`] of the server's
/// clock, until the server shuts down.
pub(crate) fn spawn(state: AppState) {
    tokio::spawn(async move {
        let mut shutting_down = state.pipeline.shutting_down.subscribe();
        let mut last: Option<i64> = None;
        loop {
            let now = state.pipeline.clock.now_ms();
            if last.is_none_or(|at| now - at >= REJUDGE_MS) {
                last = Some(now);
                if let Err(error) = crate::deployments::rejudge_error_budgets(&state).await {
                    warn!(
                        error = error.message(),
                        "judging the deployments error budgets hold failed: {}",
                        error.message()
                    );
                }
            }
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                _ = shutting_down.wait_for(|stopping| *stopping) => break,
            }
        }
    });
}
