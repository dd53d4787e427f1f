//! `/api/v1` routes of deployments: starting one (`ferry deploy`), listing and reading them,
//! approving or cancelling one waiting at its gates, rolling back, the status of a project's
//! environments, what converging one would change (`ferry plan`) and a service's output.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_proto::agent::{AGENT_GONE_MS, AgentEventKind, LogStream, ReplicaState, UnitStatus};
use ferry_proto::deployments::{
    ApprovalRequest, DeploymentRequest, DeploymentView, EnvironmentStatus, PlanChange, PlanView, ReplicaHealth,
    RollbackRequest, ServiceEventView, ServiceLogEntry, ServiceLogPage, ServiceStatus, StatusView,
};
use ferry_proto::names::{Id, Name};
use ferry_store::{DeploymentStatus, Project, UnitRef};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::projects::project_by_name;
use crate::api::{ApiError, Body, ErrorBody, Path, Query, check_name};
use crate::auth::Caller;
use crate::deployments::target::{Target, resolve};
use crate::deployments::{self, Trigger};
use crate::{AppState, now_ms};

/// `POST /api/v1/projects/{name}/deployments`: deploys a release of a service to an
/// environment (default: the newest release); it starts, queues behind the one in progress,
/// waits at its gates, or is refused with the rule that refused it.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{name}/deployments",
    operation_id = "create_deployment",
    tag = "deployments",
    params(("name" = Name, Path, description = "The project's name")),
    request_body = DeploymentRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The deployment (its outcome says where it is)", body = DeploymentView),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 422, description = "No such release, or it cannot go there (its deploy.yml lacks the service or environment, or its files are missing)", body = ErrorBody),
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn create(
    Caller(token): Caller,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<DeploymentRequest>,
) -> Result<(StatusCode, Json<DeploymentView>), ApiError> {
    check_name("service", &body.service)?;
    check_name("environment", &body.environment)?;
    let project = project_by_name(&state, &name).await?;
    let resolved = resolve(&state, &project, &body.service, &body.environment, body.release).await?;
    let trigger = Trigger { by: token.name.clone(), rollback_of: None, is_rollback: false };
    let deployment = deployments::submit(&state, &project, &resolved, &trigger).await?;
    Ok((StatusCode::CREATED, Json(deployments::view(&state, &project.name, deployment).await?)))
}

/// The query of `GET /api/v1/projects/{name}/deployments`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeploymentFilter {
    /// Only this service's.
    service: Option<String>,
    /// Only those to this environment.
    environment: Option<String>,
    /// At most this many (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// `GET /api/v1/projects/{name}/deployments`: newest first.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}/deployments",
    operation_id = "list_deployments",
    tag = "deployments",
    params(("name" = Name, Path, description = "The project's name"), DeploymentFilter),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The project's deployments, newest first", body = Vec<DeploymentView>),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 404, description = "No such project", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(filter): Query<DeploymentFilter>,
) -> Result<Json<Vec<DeploymentView>>, ApiError> {
    let project = project_by_name(&state, &name).await?;
    let limit = filter.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request(format!("limit {limit} must be 1 to 500")));
    }
    let list = state
        .store
        .deployments()
        .list(project.id, filter.service.as_deref(), filter.environment.as_deref(), limit)
        .await?;
    let mut views = Vec::with_capacity(list.len());
    for deployment in list {
        views.push(deployments::view(&state, &project.name, deployment).await?);
    }
    Ok(Json(views))
}

async fn view_of(state: &AppState, id: i64) -> Result<DeploymentView, ApiError> {
    let deployment = state.store.deployments().get(id).await?;
    let project = state.store.projects().get(deployment.project_id).await?;
    deployments::view(state, &project.name, deployment).await
}

/// `GET /api/v1/deployments/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/deployments/{id}",
    operation_id = "get_deployment",
    tag = "deployments",
    params(("id" = Id, Path, description = "The deployment's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The deployment", body = DeploymentView),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 404, description = "No such deployment", body = ErrorBody),
    ),
)]
pub(crate) async fn get(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Json<DeploymentView>, ApiError> {
    Ok(Json(view_of(&state, id).await?))
}

/// `POST /api/v1/deployments/{id}/approve`: approves a deployment waiting for approvals, as
/// the token's name; the release's author may not.
#[utoipa::path(
    post,
    path = "/api/v1/deployments/{id}/approve",
    operation_id = "approve_deployment",
    tag = "deployments",
    params(("id" = Id, Path, description = "The deployment's id")),
    request_body = ApprovalRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The deployment after the approval", body = DeploymentView),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No such deployment", body = ErrorBody),
        (status = 409, description = "It is not waiting for approvals", body = ErrorBody),
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn approve(
    Caller(token): Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Body(body): Body<ApprovalRequest>,
) -> Result<Json<DeploymentView>, ApiError> {
    deployments::approve(&state, id, &token.name, body.comment.as_deref()).await?;
    Ok(Json(view_of(&state, id).await?))
}

/// `POST /api/v1/deployments/{id}/cancel`: cancels a deployment, at once when it has not
/// started, else through its agent, which puts back the release that served before.
#[utoipa::path(
    post,
    path = "/api/v1/deployments/{id}/cancel",
    operation_id = "cancel_deployment",
    tag = "deployments",
    params(("id" = Id, Path, description = "The deployment's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The deployment: cancelled, or still in progress while its agent stops it", body = DeploymentView),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No such deployment", body = ErrorBody),
        (status = 409, description = "It is over", body = ErrorBody),
    ),
)]
pub(crate) async fn cancel(
    Caller(token): Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<DeploymentView>, ApiError> {
    deployments::cancel(&state, id, &token.name).await?;
    Ok(Json(view_of(&state, id).await?))
}

/// `POST /api/v1/projects/{name}/rollback`: deploys the release that succeeded before the
/// current one (or `to`), as a rollback.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{name}/rollback",
    operation_id = "rollback",
    tag = "deployments",
    params(("name" = Name, Path, description = "The project's name")),
    request_body = RollbackRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The rollback deployment", body = DeploymentView),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "Nothing succeeded there before to roll back to", body = ErrorBody),
        (status = 422, description = "No such release, or it cannot go there (its deploy.yml lacks the service or environment, or its files are missing)", body = ErrorBody),
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn rollback(
    Caller(token): Caller,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<RollbackRequest>,
) -> Result<(StatusCode, Json<DeploymentView>), ApiError> {
    check_name("service", &body.service)?;
    check_name("environment", &body.environment)?;
    let project = project_by_name(&state, &name).await?;
    let (release, rollback_of) =
        deployments::rollback_release(&state, &project, &body.service, &body.environment, body.to).await?;
    let resolved = resolve(&state, &project, &body.service, &body.environment, Some(release)).await?;
    let trigger = Trigger { by: format!("rollback by {}", token.name), rollback_of, is_rollback: true };
    let deployment = deployments::submit(&state, &project, &resolved, &trigger).await?;
    Ok((StatusCode::CREATED, Json(deployments::view(&state, &project.name, deployment).await?)))
}

/// The query of `status` and `plan`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EnvironmentFilter {
    /// Only this environment.
    #[param(value_type = Option<ferry_proto::names::Name>)]
    environment: Option<String>,
}

/// The query of `plan`: the environment is required.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PlanQuery {
    /// The environment to plan.
    #[param(value_type = ferry_proto::names::Name)]
    environment: String,
}

/// Every service and environment of a project that has a deployment, with the last that
/// succeeded and the newest pending one.
struct UnitState {
    serving: Option<ferry_store::Deployment>,
    pending: Option<ferry_store::Deployment>,
}

async fn unit_states(
    state: &AppState,
    project: &Project,
    environment: Option<&str>,
) -> Result<BTreeMap<(String, String), UnitState>, ApiError> {
    let mut units: BTreeMap<(String, String), UnitState> = BTreeMap::new();
    for deployment in state.store.deployments().list(project.id, None, environment, 10_000).await? {
        // Workflow jobs' deployments run nothing that stays: they are in the history only.
        if deployment.job_id.is_some() {
            continue;
        }
        let entry = units
            .entry((deployment.environment.clone(), deployment.service.clone()))
            .or_insert(UnitState { serving: None, pending: None });
        if deployment.status == DeploymentStatus::Succeeded && entry.serving.is_none() {
            entry.serving = Some(deployment);
        } else if !deployment.status.is_over() && entry.pending.is_none() {
            entry.pending = Some(deployment);
        }
    }
    Ok(units)
}

/// `GET /api/v1/projects/{name}/status`: each environment's services, the release that
/// serves, and each replica's health as its agent last reported it.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}/status",
    operation_id = "project_status",
    tag = "deployments",
    params(("name" = Name, Path, description = "The project's name"), EnvironmentFilter),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The project's environments", body = StatusView),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 404, description = "No such project", body = ErrorBody),
    ),
)]
pub(crate) async fn status(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(filter): Query<EnvironmentFilter>,
) -> Result<Json<StatusView>, ApiError> {
    if let Some(environment) = &filter.environment {
        check_name("environment", environment)?;
    }
    let project = project_by_name(&state, &name).await?;
    let agents = state.store.agents().list().await?;
    let mut environments: Vec<EnvironmentStatus> = Vec::new();
    let now = now_ms();
    for ((environment, service), unit) in unit_states(&state, &project, filter.environment.as_deref()).await? {
        let Some(newest) = unit.pending.as_ref().or(unit.serving.as_ref()) else { continue };
        let agent = agents.iter().find(|agent| Some(agent.id) == newest.agent_id);
        let target: Option<Target> = serde_json::from_str(&newest.target).ok();
        let port = target.as_ref().map_or(0, |target| target.unit.port);
        let bind = target.as_ref().map_or("127.0.0.1".to_owned(), |target| target.unit.bind.clone());
        let host = match (bind.as_str(), agent.and_then(|agent| agent.hostname.as_deref())) {
            ("0.0.0.0" | "::", Some(hostname)) => hostname.to_owned(),
            _ => bind,
        };
        let reported: Vec<UnitStatus> =
            agent.map(|agent| serde_json::from_str(&agent.report).unwrap_or_default()).unwrap_or_default();
        let replicas = reported
            .iter()
            .find(|unit| {
                unit.key.project == project.name && unit.key.service == service && unit.key.environment == environment
            })
            .map(|unit| {
                unit.replicas
                    .iter()
                    .map(|replica| ReplicaHealth {
                        release: replica.release,
                        healthy: replica.state == ReplicaState::Healthy,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let unit_ref = UnitRef { project_id: project.id, service: &service, environment: &environment };
        let events = state
            .store
            .service_events()
            .latest(unit_ref, 5)
            .await?
            .into_iter()
            .filter_map(|event| {
                let kind: AgentEventKind = serde_json::from_value(serde_json::Value::String(event.kind)).ok()?;
                Some(ServiceEventView { at: event.at, kind, message: event.message })
            })
            .collect();
        let pending = match unit.pending {
            Some(pending) => Some(deployments::view(&state, &project.name, pending).await?),
            None => None,
        };
        let service_status = ServiceStatus {
            name: service,
            url: format!("http://{host}:{port}"),
            release: unit.serving.and_then(|deployment| deployment.release),
            replicas,
            agent: agent.map(|agent| agent.name.clone()),
            agent_gone: agent.is_none_or(|agent| agent.last_seen_at.is_none_or(|seen| now - seen > AGENT_GONE_MS)),
            pending,
            events,
        };
        match environments.iter_mut().find(|status| status.name == environment) {
            Some(status) => status.services.push(service_status),
            None => environments.push(EnvironmentStatus { name: environment, services: vec![service_status] }),
        }
    }
    Ok(Json(StatusView { environments }))
}

/// `GET /api/v1/projects/{name}/plan?environment=`: what converging the environment would
/// change: the release each service should serve against what its agent reports, and the
/// replicas to start or stop.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}/plan",
    operation_id = "project_plan",
    tag = "deployments",
    params(("name" = Name, Path, description = "The project's name"), PlanQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What converging would change", body = PlanView),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 404, description = "No such project", body = ErrorBody),
    ),
)]
pub(crate) async fn plan(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<PlanQuery>,
) -> Result<Json<PlanView>, ApiError> {
    let environment = query.environment;
    check_name("environment", &environment)?;
    let project = project_by_name(&state, &name).await?;
    // What should run once the newest deployment of each service is through (`desired`),
    // what the agents are told now (`current`) and what they report: `ferry_deploy::plan`.
    let agents = state.store.agents().list().await?;
    let in_environment =
        |key: &ferry_proto::agent::UnitKey| key.project == project.name && key.environment == environment;
    let (env, secret_keys) = crate::releases::environment_env(&state, project.id, &environment).await?;
    let mut desired = Vec::new();
    let mut agent_ids = Vec::new();
    for (_, unit) in unit_states(&state, &project, Some(&environment)).await? {
        let Some(wanted) = unit.pending.as_ref().or(unit.serving.as_ref()) else { continue };
        if let Ok(mut target) = serde_json::from_str::<Target>(&wanted.target) {
            // As the agent is sent it: with the environment's variables and secrets.
            if let Some(release) = &mut target.unit.release {
                release.env.extend(env.iter().map(|(name, value)| (name.clone(), value.clone())));
                release.secret_keys.extend(secret_keys.iter().cloned());
            }
            desired.push(target.unit);
        }
        agent_ids.extend(wanted.agent_id.into_iter().chain(unit.serving.as_ref().and_then(|serving| serving.agent_id)));
    }
    agent_ids.sort_unstable();
    agent_ids.dedup();
    let mut current = Vec::new();
    let mut reported = Vec::new();
    for agent in agents.iter().filter(|agent| agent_ids.contains(&agent.id)) {
        let state_now = deployments::desired_state(&state, agent).await?;
        current.extend(state_now.units.into_iter().filter(|unit| in_environment(&unit.key)));
        let units: Vec<UnitStatus> = serde_json::from_str(&agent.report).unwrap_or_default();
        reported.extend(units.into_iter().filter(|unit| in_environment(&unit.key)));
    }
    let changes = ferry_deploy::plan(&desired, &current, &reported)
        .into_iter()
        .map(|change| PlanChange { service: change.key.service.clone(), change: change.to_string() })
        .collect();
    Ok(Json(PlanView { environment, changes }))
}

/// The query of a service's output.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogQuery {
    /// Only lines after this one (`next` of the previous page); default: from the first kept.
    after: Option<i64>,
    /// At most this many lines (default 1000, at most 5000).
    #[param(minimum = 1, maximum = 5000)]
    limit: Option<i64>,
}

/// `GET /api/v1/projects/{name}/services/{service}/{environment}/logs`: the output of the
/// service's replicas in the environment, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}/services/{service}/{environment}/logs",
    operation_id = "service_logs",
    tag = "deployments",
    params(
        ("name" = Name, Path, description = "The project's name"),
        ("service" = Name, Path, description = "The service"),
        ("environment" = Name, Path, description = "The environment"),
        LogQuery,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Lines after `after`", body = ServiceLogPage),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 404, description = "No such project", body = ErrorBody),
    ),
)]
pub(crate) async fn logs(
    State(state): State<AppState>,
    Path((name, service, environment)): Path<(String, String, String)>,
    Query(query): Query<LogQuery>,
) -> Result<Json<ServiceLogPage>, ApiError> {
    check_name("service", &service)?;
    check_name("environment", &environment)?;
    let project = project_by_name(&state, &name).await?;
    let limit = query.limit.unwrap_or(1000);
    if !(1..=5000).contains(&limit) {
        return Err(ApiError::bad_request(format!("limit {limit} must be 1 to 5000")));
    }
    let after = query.after.unwrap_or(0);
    let unit = UnitRef { project_id: project.id, service: &service, environment: &environment };
    let lines = state.store.service_logs().after(unit, after, limit).await?;
    let next = lines.last().map_or(after, |line| line.id);
    let lines = lines
        .into_iter()
        .map(|line| ServiceLogEntry {
            replica: line.replica,
            release: line.release,
            stream: if line.stream == "stderr" { LogStream::Stderr } else { LogStream::Stdout },
            at: line.at,
            text: line.text,
        })
        .collect();
    Ok(Json(ServiceLogPage { lines, next }))
}
