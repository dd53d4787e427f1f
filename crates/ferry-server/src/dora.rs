//! DORA on the server: what happens when a deployment finishes (it joins the ledger with the
//! commits it brought, read from the project's repository; a production deployment rolled back
//! or failed after reaching users opens an incident unless an alert opened one for it
//! already (`crate::incidents`), and the next success resolves it), the events teams send
//! from outside, and the report of a unit, or of a project's services in an environment, over
//! a window (`ferry_dora` computes it from the store's slices of history).

use ferry_dora::{Outcome, Window};
use ferry_proto::dora::{DoraEvents, DoraEventsRecorded, DoraReport, IncidentView};
use ferry_store::{
    BroughtCommit, Deployment, DeploymentStatus, Incident, NewIncident, NewLedgerDeployment, Project, UnitRef,
};
use tracing::{info, warn};

use crate::AppState;
use crate::api::ApiError;
use crate::pipeline::Mirror;

/// The most commits one deployment is counted as bringing (a first deployment brings only
/// its own commit).
const MAX_COMMITS: usize = 10_000;

/// The environment whose failures open incidents by themselves.
pub(crate) const PRODUCTION: &str = "production";

/// The commits a deployment of `sha` brought after the unit's previous deployment of
/// `previous`: reachable from `sha` and not from `previous`; only `sha` itself for the first
/// one (history before Ferry knew the unit is not counted) or when the history cannot be read.
async fn brought(mirror: &Mirror, previous: Option<&str>, sha: &str) -> Vec<BroughtCommit> {
    let listed = match previous {
        Some(previous) => mirror.commit_times(Some(previous), sha, MAX_COMMITS).await,
        None => mirror.commit_times(None, sha, 1).await,
    };
    let listed = listed.or_else(|error| {
        warn!(%error, commit = sha, "listing the commits a deployment brought: {error}");
        Ok::<_, ()>(Vec::new())
    });
    listed
        .unwrap_or_default()
        .into_iter()
        .map(|(sha, at)| BroughtCommit { sha, committed_at: at.saturating_mul(1000) })
        .collect()
}

/// Records a finished Ferry deployment for DORA (the ledger, with the commits it brought)
/// and opens or resolves the unit's automatic incidents. Failures are logged: the
/// deployment's own outcome is recorded already and must not be undone by this.
pub(crate) async fn deployment_finished(state: &AppState, deployment: &Deployment) {
    if let Err(error) = record_finished(state, deployment).await {
        warn!(
            deployment.id = deployment.id,
            error = error.message(),
            "recording deployment {} for DORA",
            deployment.id
        );
    }
}

async fn record_finished(state: &AppState, deployment: &Deployment) -> Result<(), ApiError> {
    let outcome = match deployment.status {
        DeploymentStatus::Succeeded => Outcome::Succeeded,
        DeploymentStatus::Failed => Outcome::Failed,
        DeploymentStatus::RolledBack => Outcome::RolledBack,
        _ => return Ok(()),
    };
    let (Some(started_at), Some(finished_at)) = (deployment.started_at, deployment.finished_at) else {
        // Refused at a gate or never started: it reached no one.
        return Ok(());
    };
    let unit = UnitRef {
        project_id: deployment.project_id,
        service: &deployment.service,
        environment: &deployment.environment,
    };
    let project = state.store.projects().get(deployment.project_id).await?;
    // A service's deployment ships its release's commit, a workflow job's its run's.
    let Some(commit_sha) = deployment.commit_sha.as_deref() else { return Ok(()) };
    let previous = state.store.dora().previous_commit(unit, finished_at).await?;
    let mirror = Mirror::for_project(state, &project).await.map_err(|error| {
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            format!("reading {}'s repository: {error}", project.name),
        )
    })?;
    let commits = brought(&mirror, previous.as_deref(), commit_sha).await;
    let new = NewLedgerDeployment {
        unit,
        deployment_id: Some(deployment.id),
        source: "ferry",
        commit_sha,
        outcome,
        started_at: Some(started_at),
        finished_at,
    };
    state.store.dora().record_deployment(&new, &commits).await?;
    match outcome {
        Outcome::Succeeded => {
            let resolved = state.store.dora().resolve_auto_incidents(unit, finished_at).await?;
            if resolved > 0 {
                info!(deployment.id = deployment.id, "deployment {} resolved {resolved} incident(s)", deployment.id);
            }
        }
        Outcome::Failed | Outcome::RolledBack if deployment.environment == PRODUCTION => {
            // An alert of the unit may have opened the incident of this deployment already
            // (`crate::incidents`): one failure is one incident.
            if let Some(incident) = state.store.incidents().of_deployment(deployment.id).await? {
                info!(
                    incident.id = incident.id,
                    deployment.id = deployment.id,
                    "deployment {} ended {} within incident {}",
                    deployment.id,
                    outcome.as_str(),
                    incident.id
                );
                return Ok(());
            }
            // A rollback restored the previous release at its finish; a failure stays open
            // until a deployment of the unit succeeds.
            // A service's deployment names its release; a workflow job's, its job.
            let what = match deployment.release {
                Some(release) => format!("deployment {} of {} release {release}", deployment.id, deployment.service),
                None => format!("deployment {} by job {}", deployment.id, deployment.service),
            };
            let (title, resolved_at) = if outcome == Outcome::RolledBack {
                (format!("{what} rolled back"), Some(finished_at))
            } else {
                (format!("{what} failed"), None)
            };
            let incident = state
                .store
                .dora()
                .open_incident(&NewIncident {
                    unit,
                    title: &title,
                    started_at,
                    resolved_at,
                    caused_by_deployment: Some(deployment.id),
                    caused_by_commit: None,
                    opened_by: "auto",
                })
                .await?;
            info!(incident.id = incident.id, deployment.id = deployment.id, "opened incident {}: {title}", incident.id);
        }
        Outcome::Failed | Outcome::RolledBack => {}
    }
    Ok(())
}

/// Records deployments and incidents sent from outside (`source`: `api` or `import`):
/// deployments in the order they finished, each with the commits it brought, then incidents.
///
/// # Errors
/// 422 naming the first deployment whose commit the project's repository lacks (nothing is
/// recorded then).
pub(crate) async fn record_events(
    state: &AppState,
    project: &Project,
    mut events: DoraEvents,
    source: &str,
) -> Result<DoraEventsRecorded, ApiError> {
    let mirror = Mirror::for_project(state, project).await.map_err(|error| {
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            format!("reading {}'s repository: {error}", project.name),
        )
    })?;
    if !events.deployments.is_empty()
        && let Err(error) = mirror.sync().await
    {
        warn!(%error, project = %project.name, "syncing the repository before recording deployments: {error}");
    }
    for (idx, event) in events.deployments.iter().enumerate() {
        for name in [&event.service, &event.environment] {
            if !ferry_proto::names::is_name(name) {
                return Err(unprocessable(format!("deployments[{idx}]: {name:?} is not a name ({})", NAME_RULE)));
            }
        }
    }
    let mut resolved = Vec::with_capacity(events.deployments.len());
    for (idx, event) in events.deployments.iter().enumerate() {
        let sha = mirror.resolve(&event.commit).await.map_err(|error| {
            unprocessable(format!(
                "deployments[{idx}] ({} to {} at {}): commit {:?} is not in {}'s repository ({error})",
                event.service,
                event.environment,
                ferry_dora::rfc3339(event.finished_at.div_euclid(1000)),
                event.commit,
                project.name
            ))
        })?;
        resolved.push(sha);
    }
    let mut order: Vec<usize> = (0..events.deployments.len()).collect();
    order.sort_by_key(|&idx| events.deployments[idx].finished_at);
    for idx in order {
        let event = &events.deployments[idx];
        let unit = UnitRef { project_id: project.id, service: &event.service, environment: &event.environment };
        let previous = state.store.dora().previous_commit(unit, event.finished_at).await?;
        let commits = brought(&mirror, previous.as_deref(), &resolved[idx]).await;
        let new = NewLedgerDeployment {
            unit,
            deployment_id: None,
            source,
            commit_sha: &resolved[idx],
            outcome: event.outcome,
            started_at: None,
            finished_at: event.finished_at,
        };
        state.store.dora().record_deployment(&new, &commits).await?;
    }
    events.incidents.sort_by_key(|incident| incident.started_at);
    for (idx, incident) in events.incidents.iter().enumerate() {
        for name in [&incident.service, &incident.environment] {
            if !ferry_proto::names::is_name(name) {
                return Err(unprocessable(format!("incidents[{idx}]: {name:?} is not a name ({})", NAME_RULE)));
            }
        }
        let unit = UnitRef { project_id: project.id, service: &incident.service, environment: &incident.environment };
        let title = incident
            .title
            .clone()
            .unwrap_or_else(|| format!("incident of {} in {}", incident.service, incident.environment));
        state
            .store
            .dora()
            .open_incident(&NewIncident {
                unit,
                title: &title,
                started_at: incident.started_at,
                resolved_at: incident.resolved_at,
                caused_by_deployment: None,
                caused_by_commit: incident.caused_by_commit.as_deref(),
                opened_by: source,
            })
            .await?;
    }
    Ok(DoraEventsRecorded { deployments: events.deployments.len() as u64, incidents: events.incidents.len() as u64 })
}

/// What a service's or environment's name may hold.
const NAME_RULE: &str = "1 to 100 of A-Z a-z 0-9 . _ -";

fn unprocessable(message: String) -> ApiError {
    ApiError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, message)
}

/// The keys of `service` in `environment` (of every service of the project there when
/// `None`, added up as `ferry_dora::project_report` does) over the window of `length` seconds
/// that ends at `until_ms` (milliseconds).
///
/// # Errors
/// When the store fails.
pub(crate) async fn report(
    state: &AppState,
    project: &Project,
    service: Option<&str>,
    environment: &str,
    length: i64,
    until_ms: i64,
) -> Result<DoraReport, ApiError> {
    let window = Window::ending(until_ms.div_euclid(1000), length);
    let services = match service {
        Some(service) => vec![service.to_owned()],
        None => state.store.dora().services(project.id).await?,
    };
    let mut histories = Vec::with_capacity(services.len());
    for service in &services {
        let unit = UnitRef { project_id: project.id, service, environment };
        histories.push(state.store.dora().history(unit, window.from * 1000, window.to * 1000).await?.history);
    }
    Ok(ferry_dora::project_report(&histories, window))
}

/// An incident as the API shows it.
pub(crate) fn incident_view(project: &str, incident: Incident) -> IncidentView {
    IncidentView {
        id: incident.id,
        project: project.to_owned(),
        service: incident.service,
        environment: incident.environment,
        title: incident.title,
        started_at: incident.started_at,
        resolved_at: incident.resolved_at,
        caused_by_deployment: incident.caused_by_deployment,
        caused_by_commit: incident.caused_by_commit,
        opened_by: incident.opened_by,
        acked_at: incident.acked_at,
        acked_by: incident.acked_by,
        resolved_by: incident.resolved_by,
        owner: incident.owner,
    }
}
