//! `POST /hooks/{forge}/{project}`: a forge's webhook becomes a queued run.
//!
//! The project is looked up first (404), the size checked before reading (413), then
//! `ferry_hooks::receive` verifies and parses the body; any refusal answers with
//! `HookError::status` and stores nothing. An event that triggers workflows records one
//! queued run with the event, ref, commit and changed paths; matching it against the
//! workflows' `on:` filters (which needs the repository's files) is the next step and not
//! done here yet.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_hooks::{Forge, HookError, HookEvent, MAX_BODY};
use ferry_store::NewRun;
use serde::Serialize;
use serde_json::json;
use tracing::{info, warn};
use utoipa::ToSchema;

use crate::api::{ApiError, ErrorBody, Path};
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

/// The run a webhook queued.
#[derive(Serialize, ToSchema)]
pub(crate) struct QueuedRun {
    /// The run's id.
    run: i64,
    /// The run's number in its project.
    number: i64,
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
        (status = 202, description = "A run was queued", body = QueuedRun),
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
    let trigger_info = json!({
        "forge": forge.slug(),
        "changed_paths": trigger.changed_paths,
        "sender": sender(&event),
    });
    let run = state
        .store
        .runs()
        .create(
            &NewRun {
                project_id: project.id,
                workflow_file: "",
                event: &trigger.event,
                git_ref: &trigger.git_ref,
                sha: sha(&event),
                trigger_actor: "webhook",
                trigger_info: &trigger_info.to_string(),
            },
            now_ms(),
        )
        .await?;
    info!(run.id = run.id, project = %project.name, event = %trigger.event, "webhook queued run {} of {}", run.number, project.name);
    Ok((StatusCode::ACCEPTED, Json(QueuedRun { run: run.id, number: run.number })).into_response())
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
