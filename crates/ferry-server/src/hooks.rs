//! `POST /hooks/{forge}/{project}`: a forge's webhook becomes a queued run.
//!
//! The project is looked up first (404), the size checked before reading (413), then
//! `ferry_hooks::receive` verifies and parses the body; any refusal answers with
//! `HookError::status` and stores nothing. A genuine event is planned like any trigger
//! (`pipeline::start_runs`): one run per workflow whose `on:` filters match the event, ref
//! and changed paths at the commit. When the repository cannot be read, the event is kept
//! as a failed run that says why.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_hooks::{Forge, HookError, HookEvent, MAX_BODY};
use ferry_store::{NewRun, Project, Run};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tracing::warn;
use utoipa::ToSchema;

use crate::api::{ApiError, ErrorBody, Path};
use crate::pipeline::{PlanError, Trigger, start_runs};
use crate::{AppState, now_ms};

/// The request's headers as `ferry_hooks` reads them.
struct HookHeaders<'a>(&'a HeaderMap);

impl ferry_hooks::Headers for HookHeaders<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|value| value.to_str().ok())
    }
}

impl From<HookError> for ApiError {
    fn from(error: HookError) -> ApiError {
        let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
        ApiError::new(status, error.to_string())
    }
}

/// The answer to a ping, or to an event that triggers no workflow.
#[derive(Serialize, ToSchema)]
pub(crate) struct Pong {
    /// Always `pong`.
    status: &'static str,
}

/// A run a webhook queued.
#[derive(Serialize, ToSchema)]
pub(crate) struct QueuedRun {
    /// The run's id.
    run: i64,
    /// The run's number in its project.
    number: i64,
    /// The workflow file it runs ("" when the repository could not be read).
    workflow: String,
}

/// The runs a webhook queued: one per workflow it triggers.
#[derive(Serialize, ToSchema)]
pub(crate) struct QueuedRuns {
    runs: Vec<QueuedRun>,
}

/// `POST /hooks/{forge}/{project}`: 202 `{run, number}` when a run was recorded, 200 for a
/// ping.
#[utoipa::path(
    post,
    path = "/hooks/{forge}/{project}",
    operation_id = "receive_hook",
    tag = "hooks",
    params(
        ("forge" = String, Path, description = "The forge that sends the webhook: `github`, `gitlab`, `gitea` or `forgejo`"),
        ("project" = String, Path, description = "The project's name"),
    ),
    request_body(content = Object, content_type = "application/json",
        description = "The forge's event payload, signed or carrying a token as that forge does with the project's webhook secret; at most 25 MiB"),
    responses(
        (status = 200, description = "A ping, or an event that triggers no workflow", body = Pong),
        (status = 202, description = "Runs were queued, one per workflow the event triggers", body = QueuedRuns),
        (status = 400, description = "No event header, an unknown event, or a payload that does not parse", body = ErrorBody),
        (status = 401, description = "The signature or token is missing or does not match", body = ErrorBody),
        (status = 403, description = "The project has no webhook secret", body = ErrorBody),
        (status = 404, description = "No such forge or project", body = ErrorBody),
        (status = 413, description = "The payload is over the size limit", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    ),
)]
pub(crate) async fn receive(
    State(state): State<AppState>,
    Path((forge, project)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let forge = Forge::from_slug(&forge).ok_or_else(|| ApiError::not_found("forge", &forge))?;
    let project = crate::api::projects::project_by_name(&state, &project).await?;
    let content_length = headers.get(CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.parse::<usize>().ok());
    if let Some(len) = content_length {
        ferry_hooks::check_size(len)?;
    }
    // Past the length check, reading fails when a body without a length runs over the limit
    // (or the client went away, when nobody reads the answer).
    let body = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| HookError::TooLarge { limit: MAX_BODY })?;
    let event = ferry_hooks::receive(forge, &HookHeaders(&headers), &body, project.webhook_secret.as_bytes())
        .inspect_err(
            |error| warn!(project = %project.name, %forge, %error, "refused a webhook for {}: {error}", project.name),
        )?;
    let Some(trigger) = event.trigger() else {
        return Ok(Json(Pong { status: "pong" }).into_response());
    };
    let sha = sha(&event);
    if sha.bytes().all(|byte| byte == b'0') && !sha.is_empty() {
        // A deleted branch or tag: nothing to check out, nothing to run.
        return Ok(Json(Pong { status: "pong" }).into_response());
    }
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut info = Map::new();
    info.insert("forge".to_owned(), json!(forge.slug()));
    info.insert("sender".to_owned(), json!(sender(&event)));
    if let HookEvent::PullRequest(pull) = &event {
        // The pull request's own ref (`refs/pull/<number>/merge`) scopes the run's cache
        // entries; the run's ref is its base branch.
        info.insert("pull_request".to_owned(), json!(pull.number));
    }
    let plan = Trigger {
        event: trigger.event.clone(),
        git_ref: trigger.git_ref.clone(),
        sha: (!sha.is_empty()).then(|| sha.to_owned()),
        changed_paths: trigger.changed_paths.clone(),
        payload,
        actor: sender(&event).unwrap_or("webhook").to_owned(),
        info,
        ..Trigger::default()
    };
    let runs = match start_runs(&state, &project, plan).await {
        Ok(runs) => runs,
        Err(PlanError::Store(error)) => return Err(error.into()),
        // The event is genuine: keep it as a failed run that says why nothing ran.
        Err(error) => vec![failed_run(&state, &project, &trigger, sha, &error.to_string()).await?],
    };
    if runs.is_empty() {
        return Ok(Json(Pong { status: "pong" }).into_response());
    }
    let queued = runs
        .iter()
        .map(|run| QueuedRun { run: run.id, number: run.number, workflow: run.workflow_file.clone() })
        .collect();
    Ok((StatusCode::ACCEPTED, Json(QueuedRuns { runs: queued })).into_response())
}

/// Records a run that could not be planned, failed with the reason.
async fn failed_run(
    state: &AppState,
    project: &Project,
    trigger: &ferry_hooks::Trigger,
    sha: &str,
    error: &str,
) -> Result<Run, ApiError> {
    let new_run = NewRun {
        project_id: project.id,
        workflow_file: "",
        workflow_name: "",
        event: &trigger.event,
        git_ref: &trigger.git_ref,
        sha,
        trigger_actor: "webhook",
        trigger_info: "{}",
        workflow_src: "",
        title: "",
        author: "",
        rerun_of: None,
    };
    let run = state.store.runs().create(&new_run, now_ms()).await?;
    warn!(run.id = run.id, project = %project.name, %error, "webhook run {} of {} failed: {error}", run.number, project.name);
    Ok(state.store.runs().fail(run.id, error, now_ms()).await?)
}

/// The commit the event is about, when the payload names one.
fn sha(event: &HookEvent) -> &str {
    match event {
        HookEvent::Push(push) => &push.after,
        HookEvent::Tag(change) | HookEvent::Branch(change) => change.sha.as_deref().unwrap_or_default(),
        HookEvent::PullRequest(pull) => &pull.head_sha,
        HookEvent::Ping | HookEvent::WorkflowDispatch(_) | HookEvent::Other { .. } => "",
    }
}

/// The forge account that caused the event, when the payload names one.
fn sender(event: &HookEvent) -> Option<&str> {
    match event {
        HookEvent::Push(push) => push.sender.as_deref().or(push.pusher.as_deref()),
        HookEvent::Tag(change) | HookEvent::Branch(change) => change.sender.as_deref(),
        HookEvent::PullRequest(pull) => pull.sender.as_deref(),
        HookEvent::WorkflowDispatch(dispatch) => dispatch.sender.as_deref(),
        HookEvent::Ping | HookEvent::Other { .. } => None,
    }
}
