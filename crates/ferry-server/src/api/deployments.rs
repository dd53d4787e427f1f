//! `/api/v1` routes of deployments: starting one (`ferry deploy`), listing and reading them,
//! approving or cancelling one waiting at its gates, rolling back, the status of a project's
//! environments, what converging one would change (`ferry plan`) and a service's output.

use std::collections::BTreeMap;

use std::future::Future;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use ferry_proto::agent::{AGENT_GONE_MS, AgentEventKind, LogStream, ReplicaState, UnitStatus};
use ferry_proto::deployments::{
    ApprovalRequest, DeploymentRequest, DeploymentView, EnvironmentStatus, PlanChange, PlanView, ReplicaHealth,
    RollbackRequest, ServiceEventView, ServiceLogEntry, ServiceLogPage, ServiceStatus, StatusView,
};
use ferry_proto::names::{Id, Name};
use ferry_store::{DeploymentStatus, Project, UnitRef};
use serde::Deserialize;
use utoipa::IntoParams;

use tokio::sync::watch;

use crate::api::projects::project_by_name;
use crate::api::runs::{EventSource, KEEP_ALIVE, event_stream};
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

/// `GET /api/v1/deployments/{id}/events`: the deployment as Server-Sent Events, a
/// `deployment` event with its view at once and whenever it changes (a gate passed, a step
/// the agent reported, the outcome), then `end` once it is over. `ferry deploy --wait`
/// follows it instead of asking again and again.
#[utoipa::path(
    get,
    path = "/api/v1/deployments/{id}/events",
    operation_id = "deployment_events",
    tag = "deployments",
    params(("id" = Id, Path, description = "The deployment's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`text/event-stream`: `deployment` events with a DeploymentView each (at once, then on each change), then `end` once it is over",
            content((DeploymentView = "text/event-stream"))),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 404, description = "No such deployment", body = ErrorBody),
    ),
)]
pub(crate) async fn events(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Response, ApiError> {
    // Listening before the first read: a change after it wakes the follower.
    let changed = state.deploy.changed.subscribe();
    let shutting_down = state.pipeline.shutting_down.subscribe();
    state.store.deployments().get(id).await?;
    let follower = DeploymentFollower { state, id, changed, shutting_down, last: None, stale: true, done: false };
    let headers = [(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")];
    Ok((headers, event_stream(follower, KEEP_ALIVE, Bytes::from_static(b":\n\n"))).into_response())
}

/// How long a follower of a deployment waits for a change before it reads it anyway (its
/// reason may say for how long its agent has been away).
const RECHECK: Duration = Duration::from_secs(5);

/// Follows one deployment: its view whenever the store may hold a change, sent when it
/// differs from the last one sent.
struct DeploymentFollower {
    state: AppState,
    id: i64,
    changed: watch::Receiver<u64>,
    shutting_down: watch::Receiver<bool>,
    /// The JSON of the last view sent.
    last: Option<String>,
    /// The store may hold a change not read yet (kept across a dropped wait).
    stale: bool,
    done: bool,
}

impl EventSource for DeploymentFollower {
    fn next_event(&mut self) -> impl Future<Output = Option<Bytes>> + Send {
        self.next()
    }
}

impl DeploymentFollower {
    /// The next event, or `None` after `end` (or when the server shuts down).
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if self.done {
                return None;
            }
            if !self.stale {
                tokio::select! {
                    res = self.changed.changed() => if res.is_err() {
                        self.done = true;
                        return None;
                    },
                    () = tokio::time::sleep(RECHECK) => {}
                    _ = self.shutting_down.wait_for(|stopping| *stopping) => {
                        self.done = true;
                        return None;
                    }
                }
                self.stale = true;
            }
            self.changed.borrow_and_update();
            let view = match view_of(&self.state, self.id).await {
                Ok(view) => view,
                Err(error) => {
                    self.done = true;
                    let data = serde_json::json!({ "error": error.message() });
                    return Some(format!("event: error\ndata: {data}\n\n").into());
                }
            };
            self.stale = false;
            let Ok(text) = serde_json::to_string(&view) else { continue };
            if self.last.as_deref() == Some(text.as_str()) {
                continue;
            }
            // JSON has no raw line ends: one `data:` line holds it whole.
            let mut event = format!("event: deployment\ndata: {text}\n\n");
            if view.outcome.is_over() {
                event.push_str("event: end\ndata: {}\n\n");
                self.done = true;
            }
            self.last = Some(text);
            return Some(event.into());
        }
    }
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
        // Every agent it runs on, the first one's address in its URL.
        let host_ids: Vec<i64> =
            state.store.deployments().hosts(newest.id).await?.into_iter().map(|host| host.agent_id).collect();
        let on: Vec<&ferry_store::Agent> = agents
            .iter()
            .filter(|agent| host_ids.contains(&agent.id) || (host_ids.is_empty() && Some(agent.id) == newest.agent_id))
            .collect();
        let agent = on.first().copied();
        let target: Option<Target> = serde_json::from_str(&newest.target).ok();
        let port = target.as_ref().map_or(0, |target| target.unit.port);
        let bind = target.as_ref().map_or("127.0.0.1".to_owned(), |target| target.unit.bind.clone());
        let host = match (bind.as_str(), agent.and_then(|agent| agent.hostname.as_deref())) {
            ("0.0.0.0" | "::", Some(hostname)) => hostname.to_owned(),
            _ => bind,
        };
        let reported: Vec<UnitStatus> = on
            .iter()
            .flat_map(|agent| serde_json::from_str::<Vec<UnitStatus>>(&agent.report).unwrap_or_default())
            .collect();
        let replicas = reported
            .iter()
            .filter(|unit| {
                unit.key.project == project.name && unit.key.service == service && unit.key.environment == environment
            })
            .flat_map(|unit| {
                unit.replicas.iter().map(|replica| ReplicaHealth {
                    release: replica.release,
                    healthy: replica.state == ReplicaState::Healthy,
                })
            })
            .collect();
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
            agent: agent.map(|_| on.iter().map(|agent| agent.name.as_str()).collect::<Vec<_>>().join(", ")),
            agent_gone: on.is_empty()
                || on.iter().any(|agent| agent.last_seen_at.is_none_or(|seen| now - seen > AGENT_GONE_MS)),
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
    // Per agent: the units it should run (an environment on several hosts is on each).
    let mut desired: Vec<(Vec<i64>, ferry_proto::agent::Unit)> = Vec::new();
    let mut agent_ids = Vec::new();
    for (_, unit) in unit_states(&state, &project, Some(&environment)).await? {
        let Some(wanted) = unit.pending.as_ref().or(unit.serving.as_ref()) else { continue };
        let mut hosts: Vec<i64> =
            state.store.deployments().hosts(wanted.id).await?.into_iter().map(|host| host.agent_id).collect();
        if hosts.is_empty() {
            hosts.extend(wanted.agent_id);
        }
        agent_ids.extend(hosts.iter().copied());
        if let Some(serving) = &unit.serving {
            agent_ids.extend(state.store.deployments().hosts(serving.id).await?.into_iter().map(|host| host.agent_id));
            agent_ids.extend(serving.agent_id);
        }
        if let Ok(mut target) = serde_json::from_str::<Target>(&wanted.target) {
            // As the agent is sent it: with the environment's variables and secrets.
            if let Some(release) = &mut target.unit.release {
                release.env.extend(env.iter().map(|(name, value)| (name.clone(), value.clone())));
                release.secret_keys.extend(secret_keys.iter().cloned());
            }
            desired.push((hosts, target.unit));
        }
    }
    agent_ids.sort_unstable();
    agent_ids.dedup();
    let several = agent_ids.len() > 1;
    let mut changes = Vec::new();
    for agent in agents.iter().filter(|agent| agent_ids.contains(&agent.id)) {
        let wanted: Vec<ferry_proto::agent::Unit> =
            desired.iter().filter(|(hosts, _)| hosts.contains(&agent.id)).map(|(_, unit)| unit.clone()).collect();
        let state_now = deployments::desired_state(&state, agent).await?;
        let current: Vec<ferry_proto::agent::Unit> =
            state_now.units.into_iter().filter(|unit| in_environment(&unit.key)).collect();
        let units: Vec<UnitStatus> = serde_json::from_str(&agent.report).unwrap_or_default();
        let reported: Vec<UnitStatus> = units.into_iter().filter(|unit| in_environment(&unit.key)).collect();
        changes.extend(ferry_deploy::plan(&wanted, &current, &reported).into_iter().map(|change| PlanChange {
            service: change.key.service.clone(),
            change: if several { format!("on agent {}: {change}", agent.name) } else { change.to_string() },
        }));
    }
    Ok(Json(PlanView { environment, changes }))
}

/// The longest a read of a service's output waits for a line.
const MAX_LOG_WAIT_MS: u64 = 30_000;

/// The query of a service's output.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogQuery {
    /// Only lines after this one (`next` of the previous page); default: from the first kept.
    after: Option<i64>,
    /// At most this many lines (default 1000, at most 5000).
    #[param(minimum = 1, maximum = 5000)]
    limit: Option<i64>,
    /// When there is no line after `after` yet, wait up to this long (at most 30000 ms) for
    /// one (`ferry logs --follow`); default: answer at once.
    #[param(maximum = 30000)]
    wait_ms: Option<u64>,
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
    let wait_ms = query.wait_ms.unwrap_or(0);
    if wait_ms > MAX_LOG_WAIT_MS {
        return Err(ApiError::bad_request(format!("wait_ms {wait_ms} is over {MAX_LOG_WAIT_MS}")));
    }
    let unit = UnitRef { project_id: project.id, service: &service, environment: &environment };
    // Listening before each read: lines stored after it wake the wait.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms);
    let mut changed = state.deploy.logs_changed.subscribe();
    let mut shutting_down = state.pipeline.shutting_down.subscribe();
    let lines = loop {
        changed.borrow_and_update();
        let lines = state.store.service_logs().after(unit, after, limit).await?;
        if !lines.is_empty() {
            break lines;
        }
        tokio::select! {
            res = changed.changed() => if res.is_err() { break lines },
            () = tokio::time::sleep_until(deadline) => break lines,
            _ = shutting_down.wait_for(|stopping| *stopping) => break lines,
        }
    };
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
