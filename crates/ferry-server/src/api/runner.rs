//! The runner protocol (see `ferry_proto::runner`): registering, claiming jobs by label with a
//! long poll, numbered event batches, heartbeats and completion. A runner holds a job by its
//! lease; any call about a job it no longer holds (failed as lost, completed, another
//! runner's) answers 409, and the runner must drop the job. Leases and job completions are
//! timed by the server's clock (`PipelineState::clock`), the one the supervisor checks leases
//! against, so a test moves a fake clock past a lease instead of waiting for it.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_model::Conclusion;
use ferry_proto::names::Id;
use ferry_proto::runner::{
    ClaimRequest, EVENT_BATCH_TYPE, EventBatch, EventBatchHead, JobAssignment, JobCompletion, JobControl,
    MAX_CLAIM_WAIT_MS, RegisteredRunner, RunnerRegistration, StepEvent,
};
use ferry_proto::runtime::RuntimeAccess;
use ferry_store::{Job, NewRunner, ProjectScope, Status, StoreError};
use serde_json::{Map, Value};
use tracing::{info, warn};

use crate::api::{ApiError, Body, ErrorBody, Path, check_name};
use crate::auth::{RunnerCaller, generate_runner_token};
use crate::log_feed::LiveChunk;
use crate::pipeline::{advance, advance_finished};
use crate::{AppState, now_ms};

/// `POST /api/v1/runners`: registers a runner (again, under the same name, after a restart),
/// for every project or those `projects` names.
#[utoipa::path(
    post,
    path = "/api/v1/runners",
    operation_id = "register_runner",
    tag = "runners",
    request_body = RunnerRegistration,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The runner and its token (shown once)", body = RegisteredRunner),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowAdmin,
        (status = 422, description = "`projects` names a project that does not exist", body = ErrorBody),
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn register(
    State(state): State<AppState>,
    Body(body): Body<RunnerRegistration>,
) -> Result<(StatusCode, Json<RegisteredRunner>), ApiError> {
    check_name("runner", &body.name)?;
    let scope = crate::api::tokens::scope_of(&state, body.projects.as_deref()).await?;
    let (runner, token) = register_runner(&state, &body.name, &body.labels, &scope).await?;
    Ok((StatusCode::CREATED, Json(RegisteredRunner { id: runner.id, name: runner.name, token })))
}

/// Registers runner `name` (again) and returns it with its new token; jobs it held before
/// are failed as lost.
async fn register_runner(
    state: &AppState,
    name: &str,
    labels: &[String],
    scope: &ProjectScope,
) -> Result<(ferry_store::Runner, String), StoreError> {
    let token = generate_runner_token();
    let new_runner = NewRunner { name, labels, token_prefix: &token.prefix, token_hash: &token.hash, scope };
    let runner = state.store.runners().register_or_replace(&new_runner, now_ms()).await?;
    // Whatever the runner held before it registered again, it no longer runs.
    for job in state.store.jobs().in_progress_on(runner.id).await? {
        lose(state, &job, "runner lost: it restarted while running the job").await?;
    }
    info!(runner = %runner.name, labels = ?runner.labels, "runner {} registered", runner.name);
    Ok((runner, token.plaintext))
}

/// [`register_runner`] for a runner inside the server's process: its id and token.
pub(crate) async fn register_local(
    state: &AppState,
    name: &str,
    labels: &[String],
) -> Result<(i64, String), StoreError> {
    register_runner(state, name, labels, &ProjectScope::All).await.map(|(runner, token)| (runner.id, token))
}

/// Fails a job its runner lost and moves its run on.
pub(crate) async fn lose(state: &AppState, job: &Job, reason: &str) -> Result<(), StoreError> {
    match state
        .store
        .jobs()
        .finish(job.id, Conclusion::Failure, "{}", Some(reason), state.pipeline.clock.now_ms())
        .await
    {
        Ok(_) => warn!(job.id = job.id, run.id = job.run_id, "job {} of run {}: {reason}", job.name, job.run_id),
        Err(StoreError::Conflict(_)) => return Ok(()),
        Err(error) => return Err(error),
    }
    advance(state, job.run_id).await?;
    state.pipeline.logs_changed.send_modify(|generation| *generation += 1);
    Ok(())
}

/// `POST /api/v1/runner/claim`: the oldest queued job this runner's labels satisfy, waiting
/// up to `wait_ms` for one.
#[utoipa::path(
    post,
    path = "/api/v1/runner/claim",
    operation_id = "claim_job",
    tag = "runners",
    request_body = ClaimRequest,
    security(("runner" = [])),
    responses(
        (status = 200, description = "A job to run, now leased to this runner", body = JobAssignment),
        (status = 204, description = "No job came within `wait_ms`"),
        crate::api::Invalid,
        crate::api::RunnerRefusals,
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn claim(
    RunnerCaller(runner): RunnerCaller,
    State(state): State<AppState>,
    Body(body): Body<ClaimRequest>,
) -> Result<Response, ApiError> {
    if body.wait_ms > MAX_CLAIM_WAIT_MS {
        return Err(ApiError::bad_request(format!(
            "wait_ms {} is over {MAX_CLAIM_WAIT_MS}, the longest a claim waits",
            body.wait_ms
        )));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_millis(body.wait_ms);
    // A capability the runner claims with satisfies the label a job needing it carries.
    let mut labels = runner.labels.clone();
    labels.extend(body.capabilities.iter().map(|capability| capability.required_label().to_owned()));
    // Once a claim, not on every wake: each wake is on the way from a trigger to a step.
    state.store.runners().heartbeat(runner.id, now_ms()).await?;
    loop {
        // Listen before looking, so a job enqueued in between still wakes this claim.
        let queued = state.pipeline.jobs_queued.notified();
        tokio::pin!(queued);
        queued.as_mut().enable();
        let now = state.pipeline.clock.now_ms();
        if let Some(job) = state.store.jobs().claim(runner.id, &labels, now, state.pipeline.lease_ms).await? {
            info!(job.id = job.id, run.id = job.run_id, runner = %runner.name, "runner {} took job {} of run {}", runner.name, job.name, job.run_id);
            return Ok(Json(assignment(&state, &job).await?).into_response());
        }
        if tokio::time::timeout_at(deadline, queued).await.is_err() {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
    }
}

/// Everything the runner needs for `job`, with the project's secrets decrypted (none for a
/// run of a pull request from a fork, whose code anyone may have written, as on GitHub), the
/// environment's variables and secrets for a job with `environment:`, and
/// the repository's URL without user info, its credential beside it.
async fn assignment(state: &AppState, job: &Job) -> Result<JobAssignment, ApiError> {
    let run = state.store.runs().get(job.run_id).await?;
    let project = state.store.projects().get(run.project_id).await?;
    let mut secrets = Map::new();
    let project_secrets = if run.from_fork { Vec::new() } else { state.store.secrets().list(project.id).await? };
    for secret in project_secrets {
        match state.secret_box.open(project.id, &secret.name, &secret.ciphertext, &secret.nonce) {
            Some(value) => {
                secrets.insert(secret.name, Value::String(String::from_utf8_lossy(&value).into_owned()));
            }
            None => {
                warn!(project = %project.name, secret = %secret.name, "secret {} of {} does not decrypt under secret.key; left out", secret.name, project.name)
            }
        }
    }
    let mut contexts = match serde_json::from_str::<Value>(&job.contexts) {
        Ok(Value::Object(contexts)) => contexts,
        _ => Map::new(),
    };
    crate::pipeline::add_event_payload(&mut contexts, &run);
    // The runner (not the job's steps) fetches with the credential, so a fork's run gets it
    // too: its code cannot be checked out without it.
    let (repo, repo_credential) = match crate::pipeline::runner_repo(state, &project).await {
        Ok(found) => found,
        Err(error) => {
            warn!(project = %project.name, %error, "job {} of {} gets no repository credential: {error}", job.name, project.name);
            (crate::repo_url::split_credential(&project.repo).0, None)
        }
    };
    // `GITHUB_TOKEN` is the project's forge token (none for a fork's run: it has no secrets).
    let forge_token = secrets.get(crate::repo_url::TOKEN_SECRET).and_then(Value::as_str).map(github_token);
    // A job with `environment:` gets the environment's variables and secrets on top (none
    // for a fork's run).
    let environment = crate::deployments::jobs::claimed(state, &run, job).await?;
    // A job of a called workflow runs from that workflow's text, with the secrets its caller
    // passes.
    let (job_key, workflow_file, workflow_src) =
        match crate::pipeline::called_job(&run, &job.job_key, &contexts, &secrets) {
            Some(called) => {
                secrets = called.secrets;
                (called.own_id, called.file, called.src)
            }
            None => (job.job_key.clone(), run.workflow_file, run.workflow_src),
        };
    if let Some(environment) = environment {
        secrets.extend(environment.secrets.into_iter().map(|(name, value)| (name, Value::String(value))));
        if let Some(vars) = contexts.get_mut("vars").and_then(Value::as_object_mut) {
            vars.extend(environment.variables.into_iter().map(|(name, value)| (name, Value::String(value))));
        }
    }
    if let Some(token) = forge_token.filter(|token| !token.is_empty()) {
        secrets.insert("GITHUB_TOKEN".to_owned(), Value::String(token.clone()));
        if let Some(github) = contexts.get_mut("github").and_then(Value::as_object_mut) {
            github.insert("token".to_owned(), Value::String(token));
        }
    }
    let runtime = job.started_at.map(|started_at| RuntimeAccess {
        url: state.pipeline.server_url.clone(),
        token: crate::runtime::token::issue(
            &state.secret_box.runtime_key(),
            crate::runtime::token::TokenClaim { job_id: job.id, started_at },
        ),
    });
    Ok(JobAssignment {
        job_id: job.id,
        run_id: run.id,
        job_key,
        name: job.name.clone(),
        workflow_file,
        workflow_src,
        contexts,
        secrets,
        repo,
        repo_credential,
        sha: run.sha,
        lease_ms: state.pipeline.lease_ms,
        runtime,
    })
}

/// The `GITHUB_TOKEN` a forge credential gives (`FERRY_REPO_TOKEN`: `TOKEN` or
/// `USER:PASSWORD`, whose password is the access token).
fn github_token(credential: &str) -> String {
    let credential = credential.trim();
    credential.split_once(':').map_or(credential, |(_, password)| password).to_owned()
}

/// 409 for a job this runner does not hold.
fn not_held(id: i64) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, format!("job {id} is not in progress on this runner; stop working on it"))
}

/// `POST /api/v1/runner/jobs/{id}/events`: applies a numbered batch of step events once and
/// renews the lease. The body is the batch's head as a line of JSON, then the log text of its
/// `lines` events as it was written (`ferry_proto::runner::EventBatch`).
#[utoipa::path(
    post,
    path = "/api/v1/runner/jobs/{id}/events",
    operation_id = "report_job_events",
    tag = "runners",
    params(("id" = Id, Path, description = "The job's id")),
    request_body(
        content = EventBatchHead,
        content_type = "application/vnd.ferry.event-batch",
        description = "An EventBatchHead as one line of JSON, then `\\n`, then the text of each `lines` event (its `bytes` bytes: UTF-8, lines each ending in `\\n`) in the head's order",
    ),
    security(("runner" = [])),
    responses(
        (status = 200, description = "Applied (or a repeat, ignored); whether to cancel", body = JobControl),
        crate::api::Invalid,
        crate::api::RunnerRefusals,
        crate::api::JobRefusals,
        (status = 413, description = "The body is over 2 MiB", body = ErrorBody),
        (status = 415, description = "The body is not `application/vnd.ferry.event-batch`", body = ErrorBody),
    ),
)]
pub(crate) async fn events(
    RunnerCaller(runner): RunnerCaller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    EncodedBatch(body): EncodedBatch,
) -> Result<Json<JobControl>, ApiError> {
    let batch = EventBatch::decode(&body).map_err(|error| ApiError::bad_request(error.to_string()))?;
    // Live viewers take the chunks' texts from the body, with no copy.
    record_batch(&state, runner.id, id, &batch, |_, text| body.slice_ref(text.as_bytes())).await.map(Json)
}

/// Applies `batch` of job `id`, held by runner `runner_id`, once, renews the lease (which says
/// whether to cancel), and hands the chunks it stored to live viewers, each with the text
/// `share` gives for its `lines` event (its index in the batch, and its text).
pub(crate) async fn record_batch<T: AsRef<str>>(
    state: &AppState,
    runner_id: i64,
    id: i64,
    batch: &EventBatch<T>,
    share: impl Fn(usize, &T) -> Bytes,
) -> Result<JobControl, ApiError> {
    let events: Vec<ferry_store::StepEvent<'_>> = batch
        .events
        .iter()
        .map(|event| match event {
            StepEvent::StepStarted { step_idx, name, at } => {
                ferry_store::StepEvent::Started { step_idx: *step_idx, name, at: *at }
            }
            StepEvent::Lines { step_idx, text } => {
                ferry_store::StepEvent::Lines { step_idx: *step_idx, text: text.as_ref() }
            }
            StepEvent::StepFinished { step_idx, outcome, conclusion, at } => ferry_store::StepEvent::Finished {
                step_idx: *step_idx,
                outcome: *outcome,
                conclusion: *conclusion,
                at: *at,
            },
        })
        .collect();
    // One transaction applies the batch and renews the lease, which says whether to cancel.
    let recorded = match state
        .store
        .jobs()
        .record_events(id, runner_id, batch.seq, &events, state.pipeline.clock.now_ms(), state.pipeline.lease_ms)
        .await
    {
        Ok(recorded) => recorded,
        Err(StoreError::NotFound { .. }) => return Err(not_held(id)),
        Err(error) => return Err(error.into()),
    };
    for chunk in recorded.chunks {
        if let Some(StepEvent::Lines { text, .. }) = batch.events.get(chunk.event_idx) {
            state.pipeline.log_feed.publish(LiveChunk {
                run_id: chunk.run_id,
                job_id: id,
                step_id: chunk.step_id,
                step_idx: chunk.step_idx,
                seq: chunk.seq,
                text: share(chunk.event_idx, text),
            });
        }
    }
    Ok(JobControl { cancel: recorded.lease.cancel_requested })
}

/// An event batch's body, [`EVENT_BATCH_TYPE`] and within the server's body limit.
pub(crate) struct EncodedBatch(Bytes);

impl<S: Send + Sync> FromRequest<S> for EncodedBatch {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
        if content_type != Some(EVENT_BATCH_TYPE) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "an event batch is sent with `Content-Type: {EVENT_BATCH_TYPE}`; this request has {}",
                    content_type.map_or_else(|| "none".to_owned(), |value| format!("`{value}`"))
                ),
            ));
        }
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(EncodedBatch(bytes)),
            Err(rejection) => Err(ApiError::new(rejection.status(), rejection.body_text())),
        }
    }
}

/// Renews the lease and says whether the job was cancelled.
async fn control(state: &AppState, id: i64, runner_id: i64) -> Result<JobControl, ApiError> {
    match state.store.jobs().heartbeat(id, runner_id, state.pipeline.clock.now_ms(), state.pipeline.lease_ms).await {
        Ok(lease) => Ok(JobControl { cancel: lease.cancel_requested }),
        Err(StoreError::NotFound { .. }) => Err(not_held(id)),
        Err(error) => Err(error.into()),
    }
}

/// `POST /api/v1/runner/jobs/{id}/heartbeat`: renews the lease.
#[utoipa::path(
    post,
    path = "/api/v1/runner/jobs/{id}/heartbeat",
    operation_id = "heartbeat_job",
    tag = "runners",
    params(("id" = Id, Path, description = "The job's id")),
    security(("runner" = [])),
    responses(
        (status = 200, description = "The lease was renewed; whether to cancel", body = JobControl),
        crate::api::Invalid,
        crate::api::RunnerRefusals,
        crate::api::JobRefusals,
    ),
)]
pub(crate) async fn heartbeat(
    RunnerCaller(runner): RunnerCaller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<JobControl>, ApiError> {
    state.store.runners().heartbeat(runner.id, now_ms()).await?;
    control(&state, id, runner.id).await.map(Json)
}

/// `POST /api/v1/runner/jobs/{id}/complete`: the job's conclusion and outputs; its run moves on.
#[utoipa::path(
    post,
    path = "/api/v1/runner/jobs/{id}/complete",
    operation_id = "complete_job",
    tag = "runners",
    params(("id" = Id, Path, description = "The job's id")),
    request_body = JobCompletion,
    security(("runner" = [])),
    responses(
        (status = 204, description = "Recorded"),
        crate::api::Invalid,
        crate::api::RunnerRefusals,
        crate::api::JobRefusals,
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn complete(
    RunnerCaller(runner): RunnerCaller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Body(body): Body<JobCompletion>,
) -> Result<StatusCode, ApiError> {
    let job = state.store.jobs().get(id).await?;
    if job.status != Status::InProgress || job.runner_id != Some(runner.id) {
        return Err(not_held(id));
    }
    let outputs = Value::Object(body.outputs).to_string();
    if let Some(url) = &body.environment_url {
        crate::deployments::jobs::record_url(&state, id, url).await?;
    }
    match state
        .store
        .jobs()
        .finish(id, body.conclusion, &outputs, body.reason.as_deref(), state.pipeline.clock.now_ms())
        .await
    {
        Ok(finished) => advance_finished(&state, &finished).await?,
        Err(StoreError::Conflict(_)) => advance(&state, job.run_id).await?,
        Err(error) => return Err(error.into()),
    }
    state.pipeline.logs_changed.send_modify(|generation| *generation += 1);
    Ok(StatusCode::NO_CONTENT)
}
