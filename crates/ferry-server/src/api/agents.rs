//! Agents and their protocol (see `ferry_proto::agent`): admins register agents (a token
//! `ferrya_…` shown once), list and revoke them; an agent says hello, long-polls for its
//! desired state, reports what runs (also its heartbeat), ships its replicas' output, and
//! fetches the files of the releases in its desired state.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use ferry_proto::agent::{
    AgentHello, AgentRegistration, AgentReport, AgentView, AgentWelcome, DesiredState, LogStream, MAX_DESIRED_WAIT_MS,
    RegisteredAgent, ServiceLogBatch,
};
use ferry_proto::artifacts::Bytes as BlobBytes;
use ferry_proto::names::Digest;
use ferry_store::{Agent, AgentHelloRecord, NewAgent, NewServiceLogLine, UnitRef};
use serde::Deserialize;
use tracing::info;
use utoipa::IntoParams;

use crate::api::artifacts::{channel_body, check_digest, send_file};
use crate::api::{ApiError, Body, ErrorBody, Path, Query, check_name};
use crate::auth::{AgentCaller, generate_agent_token};
use crate::{AppState, deployments, now_ms};

/// The most lines of output kept per service and environment; older ones are dropped.
pub(crate) const SERVICE_LOG_CAP: i64 = 20_000;

fn agent_view(agent: Agent) -> AgentView {
    AgentView {
        id: agent.id,
        name: agent.name,
        labels: agent.labels,
        hostname: agent.hostname,
        created_at: agent.created_at,
        last_seen_at: agent.last_seen_at,
        revoked_at: agent.revoked_at,
    }
}

/// `POST /api/v1/agents`: registers an agent and makes its token.
#[utoipa::path(
    post,
    path = "/api/v1/agents",
    operation_id = "register_agent",
    tag = "agents",
    request_body = AgentRegistration,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The agent and its token (shown once)", body = RegisteredAgent),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowAdmin,
        (status = 409, description = "An agent of that name exists", body = ErrorBody),
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn register(
    State(state): State<AppState>,
    Body(body): Body<AgentRegistration>,
) -> Result<(StatusCode, Json<RegisteredAgent>), ApiError> {
    check_name("agent", &body.name)?;
    let token = generate_agent_token();
    let new = NewAgent { name: &body.name, labels: &body.labels, token_prefix: &token.prefix, token_hash: &token.hash };
    let agent = state.store.agents().register(&new, now_ms()).await?;
    info!(agent = %agent.name, "agent {} registered", agent.name);
    Ok((StatusCode::CREATED, Json(RegisteredAgent { id: agent.id, name: agent.name, token: token.plaintext })))
}

/// The token of agent `name`, the server's own local agent whose token the server keeps in
/// its data directory: `existing` when it is still that agent's working token (so an agent
/// that outlived the server goes on with it), else a new one (registering the agent when it
/// is not yet).
pub(crate) async fn register_local(
    state: &AppState,
    name: &str,
    existing: Option<&str>,
) -> Result<String, ferry_store::StoreError> {
    if let Some(existing) = existing
        && let Ok(Some(agent)) = crate::auth::verify_agent(&state.store, existing).await
        && agent.name == name
    {
        return Ok(existing.to_owned());
    }
    let token = generate_agent_token();
    let new = NewAgent { name, labels: &[], token_prefix: &token.prefix, token_hash: &token.hash };
    state.store.agents().register_or_replace(&new, now_ms()).await?;
    Ok(token.plaintext)
}

/// `GET /api/v1/agents`: every agent, revoked ones included, by name.
#[utoipa::path(
    get,
    path = "/api/v1/agents",
    operation_id = "list_agents",
    tag = "agents",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every agent, revoked ones included, by name", body = Vec<AgentView>),
        crate::api::Refusals,
        crate::api::BelowAdmin,
    ),
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Vec<AgentView>>, ApiError> {
    Ok(Json(state.store.agents().list().await?.into_iter().map(agent_view).collect()))
}

/// `DELETE /api/v1/agents/{id}`: revokes the agent's token, which stops working at once. What
/// it runs goes on running on its host; deployments on it wait for it.
#[utoipa::path(
    delete,
    path = "/api/v1/agents/{id}",
    operation_id = "revoke_agent",
    tag = "agents",
    params(("id" = ferry_proto::names::Id, Path, description = "The agent's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The agent, revoked (or already revoked)", body = AgentView),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowAdmin,
        (status = 404, description = "No such agent", body = ErrorBody),
    ),
)]
pub(crate) async fn revoke(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Json<AgentView>, ApiError> {
    let agent = state.store.agents().revoke(id, now_ms()).await?;
    info!(agent = %agent.name, "the token of agent {} was revoked", agent.name);
    Ok(Json(agent_view(agent)))
}

/// `POST /api/v1/agent/hello`: an agent starts (or finds the server again).
#[utoipa::path(
    post,
    path = "/api/v1/agent/hello",
    operation_id = "agent_hello",
    tag = "agents",
    request_body = AgentHello,
    security(("agent" = [])),
    responses(
        (status = 200, description = "Who the server knows it as", body = AgentWelcome),
        crate::api::Invalid,
        crate::api::AgentRefusals,
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn hello(
    AgentCaller(agent): AgentCaller,
    State(state): State<AppState>,
    Body(body): Body<AgentHello>,
) -> Result<Json<AgentWelcome>, ApiError> {
    let record = AgentHelloRecord {
        hostname: &body.hostname,
        version: &body.version,
        docker: body.docker,
        labels: body.labels.as_deref(),
    };
    let agent = state.store.agents().hello(agent.id, &record, now_ms()).await?;
    info!(agent = %agent.name, host = %body.hostname, "agent {} says hello from {}", agent.name, body.hostname);
    Ok(Json(AgentWelcome { id: agent.id, name: agent.name }))
}

/// The query of `GET /api/v1/agent/desired`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DesiredQuery {
    /// The generation the agent has (0: none).
    #[serde(default)]
    after: i64,
    /// How long to wait for a newer one, at most 30000 ms.
    #[serde(default)]
    wait_ms: u64,
}

/// `GET /api/v1/agent/desired?after=G&wait_ms=N`: the agent's desired state once its
/// generation is newer than `after`, waiting up to `wait_ms` for it.
#[utoipa::path(
    get,
    path = "/api/v1/agent/desired",
    operation_id = "agent_desired_state",
    tag = "agents",
    params(DesiredQuery),
    security(("agent" = [])),
    responses(
        (status = 200, description = "The desired state, newer than `after`", body = DesiredState),
        (status = 204, description = "Nothing newer came within `wait_ms`"),
        crate::api::Invalid,
        crate::api::AgentRefusals,
    ),
)]
pub(crate) async fn desired(
    AgentCaller(agent): AgentCaller,
    State(state): State<AppState>,
    Query(query): Query<DesiredQuery>,
) -> Result<Response, ApiError> {
    if query.wait_ms > MAX_DESIRED_WAIT_MS {
        return Err(ApiError::bad_request(format!(
            "wait_ms {} is over {MAX_DESIRED_WAIT_MS}, the longest a desired-state poll waits",
            query.wait_ms
        )));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_millis(query.wait_ms);
    let mut changed = state.deploy.desired_changed.subscribe();
    let mut shutting_down = state.pipeline.shutting_down.subscribe();
    loop {
        changed.borrow_and_update();
        let agent = state.store.agents().get(agent.id).await?;
        if agent.generation > query.after {
            return Ok(Json(deployments::desired_state(&state, &agent).await?).into_response());
        }
        tokio::select! {
            res = changed.changed() => if res.is_err() { break },
            () = tokio::time::sleep_until(deadline) => break,
            _ = shutting_down.wait_for(|stopping| *stopping) => break,
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/agent/report`: what the agent runs (its heartbeat), its events, and the
/// progress of the deployments it carries out.
#[utoipa::path(
    post,
    path = "/api/v1/agent/report",
    operation_id = "agent_report",
    tag = "agents",
    request_body = AgentReport,
    security(("agent" = [])),
    responses(
        (status = 204, description = "Recorded"),
        crate::api::Invalid,
        crate::api::AgentRefusals,
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn report(
    AgentCaller(agent): AgentCaller,
    State(state): State<AppState>,
    Body(body): Body<AgentReport>,
) -> Result<StatusCode, ApiError> {
    deployments::apply_report(&state, &agent, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/agent/logs`: lines the replicas wrote, kept per service and environment up
/// to [`SERVICE_LOG_CAP`] lines. Lines of projects the server does not know are dropped.
#[utoipa::path(
    post,
    path = "/api/v1/agent/logs",
    operation_id = "agent_logs",
    tag = "agents",
    request_body = ServiceLogBatch,
    security(("agent" = [])),
    responses(
        (status = 204, description = "Stored"),
        crate::api::Invalid,
        crate::api::AgentRefusals,
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn logs(
    AgentCaller(_agent): AgentCaller,
    State(state): State<AppState>,
    Body(body): Body<ServiceLogBatch>,
) -> Result<StatusCode, ApiError> {
    let mut project_ids = std::collections::BTreeMap::new();
    for line in &body.lines {
        if !project_ids.contains_key(&line.key.project) {
            let id = state.store.projects().by_name(&line.key.project).await?.map(|project| project.id);
            project_ids.insert(line.key.project.clone(), id);
        }
    }
    let lines: Vec<NewServiceLogLine<'_>> = body
        .lines
        .iter()
        .filter_map(|line| {
            let project_id = project_ids.get(&line.key.project).copied().flatten()?;
            Some(NewServiceLogLine {
                unit: UnitRef { project_id, service: &line.key.service, environment: &line.key.environment },
                replica: &line.replica,
                release: line.release,
                stream: match line.stream {
                    LogStream::Stdout => "stdout",
                    LogStream::Stderr => "stderr",
                },
                at: line.at,
                text: &line.text,
            })
        })
        .collect();
    if !lines.is_empty() {
        state.store.service_logs().append(&lines, SERVICE_LOG_CAP).await?;
        state.deploy.logs_changed.send_modify(|generation| *generation = generation.wrapping_add(1));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/agent/blobs/{sha256}`: a file of a release in the agent's desired state.
#[utoipa::path(
    get,
    path = "/api/v1/agent/blobs/{sha256}",
    operation_id = "agent_get_blob",
    tag = "agents",
    params(("sha256" = Digest, Path, description = "The blob's SHA-256")),
    security(("agent" = [])),
    responses(
        (status = 200, description = "The bytes", content_type = "application/octet-stream", body = BlobBytes),
        crate::api::Invalid,
        crate::api::AgentRefusals,
        (status = 404, description = "No such blob, or none of a release this agent should run", body = ErrorBody),
    ),
)]
pub(crate) async fn blob(
    AgentCaller(agent): AgentCaller,
    State(state): State<AppState>,
    Path(digest): Path<String>,
) -> Result<Response, ApiError> {
    check_digest(&digest)?;
    let desired = deployments::desired_state(&state, &agent).await?;
    let named = desired.units.iter().any(|unit| {
        let releases = unit.release.iter().chain(unit.deployment.iter().map(|order| &order.release));
        releases.into_iter().any(|release| release.files.iter().any(|file| file.sha256 == digest))
    });
    // A blob the agent may not read is answered as one the server lacks.
    let size = match state.blobs.size(&digest).await {
        Some(size) if named => size,
        _ => return Err(ApiError::not_found("blob", &digest)),
    };
    let path = state.blobs.path(&digest);
    let (tx, body) = channel_body();
    tokio::spawn(async move { send_file(&tx, &path).await });
    Ok(([(CONTENT_TYPE, "application/octet-stream".to_owned()), (CONTENT_LENGTH, size.to_string())], body)
        .into_response())
}
