//! `POST /hooks/{forge}/{project}`: a forge's webhook becomes a queued run.
//!
//! Webhooks come from anyone who can reach the server, so what can be refused before the
//! body is read is: the forge and project are looked up (404), the project must have a
//! webhook secret (403), the signature header must be there and well formed (401; GitLab's
//! token is checked whole) and the length within [`MAX_BODY`] (413). The body is then read
//! while its HMAC is computed ([`ferry_hooks::BodyCheck`]), within [`BODY_BUDGET`] bytes for
//! all webhooks being read at once: a request that finds no room within [`BODY_WAIT`] is
//! answered 503 with `Retry-After`. Nothing of a body is parsed before its signature matched.
//!
//! A delivery id (`X-GitHub-Delivery`, `X-Gitea-Delivery`, `X-Forgejo-Delivery`,
//! `X-Gitlab-Event-UUID`) seen in the last [`DELIVERY_MEMORY`] is answered 200 `repeat` and
//! starts nothing. A genuine event is planned like any trigger (`pipeline::start_runs`): one
//! run per workflow whose `on:` filters match the event, ref and changed paths at the commit;
//! a pull request from a fork makes runs that get no secrets and, when the project requires
//! it, wait for a developer's approval (`api/approvals.rs`). When the repository cannot be
//! read, the event is kept as a failed run that says why.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_LENGTH, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_hooks::{BodyCheck, Forge, HookError, HookEvent, MAX_BODY};
use ferry_store::{NewRun, Project, Run, Store, StoreError};
use http_body_util::BodyExt as _;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{info, warn};
use utoipa::ToSchema;

use crate::api::{ApiError, ErrorBody, Path};
use crate::pipeline::{PlanError, Trigger, start_runs};
use crate::secret_box::{SecretBox, is_sealed_webhook_secret};
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

/// How many bytes of webhook bodies the server holds at once, all requests together: two
/// bodies of the largest size. Forges send a few kilobytes; this bounds what bodies sent to
/// fill the server's memory can take.
pub(crate) const BODY_BUDGET: usize = 2 * MAX_BODY;

/// How long a webhook waits for room in [`BODY_BUDGET`] before it is answered 503. Forges do
/// not retry on their own, so a short wait beats a refusal when bodies are only briefly many.
pub(crate) const BODY_WAIT: Duration = Duration::from_secs(10);

/// How long a delivery id is remembered (GitHub's redeliveries keep the id).
pub(crate) const DELIVERY_MEMORY: Duration = Duration::from_secs(24 * 60 * 60);

/// The room webhook bodies share: one permit per byte.
pub(crate) fn body_budget() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(BODY_BUDGET))
}

/// The answer to a ping, to an event that triggers no workflow, or to a repeated delivery.
#[derive(Serialize, ToSchema)]
pub(crate) struct Pong {
    /// `pong`; `repeat` for a delivery id the project received in the last day (nothing was
    /// started again).
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
        (status = 200, description = "A ping, an event that triggers no workflow, or a delivery received before (`repeat`)", body = Pong),
        (status = 202, description = "Runs were queued, one per workflow the event triggers", body = QueuedRuns),
        (status = 400, description = "No event header, an unknown event, or a payload that does not parse", body = ErrorBody),
        (status = 401, description = "The signature or token is missing or does not match", body = ErrorBody),
        (status = 403, description = "The project has no webhook secret", body = ErrorBody),
        (status = 404, description = "No such forge or project", body = ErrorBody),
        (status = 413, description = "The payload is over the size limit", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
        (status = 503, description = "Too many webhook bodies are being read; `Retry-After` says when to send again", body = ErrorBody),
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
    let refused = |error: HookError| -> ApiError {
        warn!(project = %project.name, %forge, %error, "refused a webhook for {}: {error}", project.name);
        error.into()
    };
    let secret = state.secret_box.open_webhook_secret(project.id, &project.webhook_secret).ok_or_else(|| {
        warn!(project = %project.name, "the webhook secret of {} does not open under secret.key", project.name);
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the project's webhook secret cannot be read; see the server's log",
        )
    })?;
    if secret.is_empty() {
        return Err(refused(HookError::NoSecret));
    }
    let content_length = headers.get(CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.parse::<usize>().ok());
    if let Some(len) = content_length {
        ferry_hooks::check_size(len).map_err(refused)?;
    }
    let hook_headers = HookHeaders(&headers);
    let check = BodyCheck::start(forge, &hook_headers, &secret).map_err(refused)?;
    let (body, _room) = match read_body(&state, body, content_length, check).await {
        Ok(read) => read,
        Err(ReadError::Hook(error)) => return Err(refused(error)),
        Err(ReadError::Unreadable) => return Err(ApiError::bad_request("the body could not be read to its end")),
        Err(ReadError::Full) => {
            warn!(project = %project.name, %forge, "webhook for {} answered 503: too many webhook bodies at once", project.name);
            let error = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is reading too many webhook bodies at once; send this one again shortly",
            );
            let retry_after = BODY_WAIT.as_secs().to_string();
            return Ok(([(RETRY_AFTER, retry_after)], error).into_response());
        }
    };
    let event = ferry_hooks::event_name(forge, &hook_headers)
        .and_then(|event| ferry_hooks::parse(forge, event, &body))
        .map_err(refused)?;
    let delivery = ferry_hooks::delivery_id(forge, &hook_headers).map_err(refused)?;
    if let Some(delivery) = delivery
        && !state.store.deliveries().record(project.id, delivery, now_ms()).await?
    {
        info!(project = %project.name, %forge, delivery, "webhook delivery {delivery} for {} was received before; nothing started", project.name);
        return Ok(Json(Pong { status: "repeat" }).into_response());
    }
    let res = handle(&state, forge, &project, &event, &body).await;
    if res.is_err()
        && let Some(delivery) = delivery
    {
        // Nothing was recorded for it: the forge's redelivery must be taken.
        state.store.deliveries().forget(project.id, delivery).await?;
    }
    res
}

/// Why a body was not read.
enum ReadError {
    /// Too large, or its signature does not match.
    Hook(HookError),
    /// The client stopped sending it.
    Unreadable,
    /// No room within [`BODY_BUDGET`] came within [`BODY_WAIT`].
    Full,
}

impl From<HookError> for ReadError {
    fn from(error: HookError) -> ReadError {
        ReadError::Hook(error)
    }
}

/// Reads a webhook's body within [`BODY_BUDGET`], checking its signature as it comes; returns
/// it with the room it takes, to be let go of once it is no longer needed.
async fn read_body(
    state: &AppState,
    body: Body,
    content_length: Option<usize>,
    mut check: BodyCheck,
) -> Result<(Vec<u8>, OwnedSemaphorePermit), ReadError> {
    let deadline = tokio::time::Instant::now() + BODY_WAIT;
    let room = |bytes: usize| {
        let budget = state.hook_bodies.clone();
        async move {
            let bytes = u32::try_from(bytes).expect("bytes of one body are within MAX_BODY, under u32::MAX");
            tokio::time::timeout_at(deadline, budget.acquire_many_owned(bytes)).await
        }
    };
    // With a length, the room is taken at once; without, piece by piece as the body comes.
    let mut permit = match room(content_length.unwrap_or(0)).await {
        Ok(Ok(permit)) => permit,
        _ => return Err(ReadError::Full),
    };
    let mut buffer = Vec::with_capacity(content_length.unwrap_or(0));
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ReadError::Unreadable)?;
        let Ok(piece) = frame.into_data() else { continue };
        check.update(&piece)?;
        let held = permit.num_permits();
        let needed = buffer.len() + piece.len();
        if needed > held {
            match room(needed - held).await {
                Ok(Ok(more)) => permit.merge(more),
                _ => return Err(ReadError::Full),
            }
        }
        buffer.extend_from_slice(&piece);
    }
    check.finish()?;
    Ok((buffer, permit))
}

/// Records the forge a verified webhook came from and its web address, when they are news,
/// so runs no webhook starts (dispatch, poll, schedule) get that forge's API addresses.
async fn remember_forge(state: &AppState, project: &Project, forge: Forge, payload: &Value) -> Result<(), ApiError> {
    let slug = forge.slug();
    let forge_url = ferry_engine::forge_web_url(slug, payload);
    let forge_url = forge_url.as_deref().unwrap_or(if project.forge == slug { &project.forge_url } else { "" });
    if (project.forge.as_str(), project.forge_url.as_str()) != (slug, forge_url) {
        state.store.projects().set_forge(project.id, slug, forge_url).await?;
    }
    Ok(())
}

/// Starts the runs a verified event causes.
async fn handle(
    state: &AppState,
    forge: Forge,
    project: &Project,
    event: &HookEvent,
    body: &[u8],
) -> Result<Response, ApiError> {
    let payload: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    remember_forge(state, project, forge, &payload).await?;
    let Some(trigger) = event.trigger() else {
        return Ok(Json(Pong { status: "pong" }).into_response());
    };
    let sha = sha(event);
    if sha.bytes().all(|byte| byte == b'0') && !sha.is_empty() {
        // A deleted branch or tag: nothing to check out, nothing to run.
        return Ok(Json(Pong { status: "pong" }).into_response());
    }
    let mut info = Map::new();
    info.insert("forge".to_owned(), json!(forge.slug()));
    info.insert("sender".to_owned(), json!(sender(event)));
    let mut from_fork = false;
    if let HookEvent::PullRequest(pull) = event {
        // The pull request's own ref (`refs/pull/<number>/merge`) scopes the run's cache
        // entries; the run's ref is its base branch.
        info.insert("pull_request".to_owned(), json!(pull.number));
        from_fork = pull.from_fork();
    }
    let plan = Trigger {
        event: trigger.event.clone(),
        git_ref: trigger.git_ref.clone(),
        sha: (!sha.is_empty()).then(|| sha.to_owned()),
        changed_paths: trigger.changed_paths.clone(),
        activity: trigger.activity.clone(),
        payload,
        actor: sender(event).unwrap_or("webhook").to_owned(),
        info,
        from_fork,
        ..Trigger::default()
    };
    let runs = match start_runs(state, project, plan).await {
        Ok(runs) => runs,
        Err(PlanError::Store(error)) => return Err(error.into()),
        // The event is genuine: keep it as a failed run that says why nothing ran.
        Err(error) => vec![failed_run(state, project, &trigger, sha, &error.to_string()).await?],
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

/// Seals the webhook secrets that projects' rows keep in plain text (written before secrets
/// were sealed), at start; `receive` still reads such a row if one comes in between.
///
/// # Errors
/// The store failed.
pub(crate) async fn seal_webhook_secrets(store: &Store, secret_box: &SecretBox) -> Result<(), StoreError> {
    for project in store.projects().list().await? {
        if is_sealed_webhook_secret(&project.webhook_secret) {
            continue;
        }
        let sealed = secret_box.seal_webhook_secret(project.id, &project.webhook_secret);
        store.projects().set_webhook_secret(project.id, &sealed).await?;
        info!(project = %project.name, "sealed the webhook secret of {}, kept in plain text until now", project.name);
    }
    Ok(())
}

/// Seals `project`'s webhook secret, which the project's row was just written with (the
/// project id binds the seal, so it is done once the row has one); returns the project as
/// stored.
///
/// # Errors
/// The store failed.
pub(crate) async fn seal_webhook_secret(state: &AppState, project: Project) -> Result<Project, StoreError> {
    if is_sealed_webhook_secret(&project.webhook_secret) {
        return Ok(project);
    }
    let sealed = state.secret_box.seal_webhook_secret(project.id, &project.webhook_secret);
    state.store.projects().set_webhook_secret(project.id, &sealed).await?;
    Ok(Project { webhook_secret: sealed, ..project })
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
