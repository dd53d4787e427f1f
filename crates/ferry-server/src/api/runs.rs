//! Runs: listing a project's runs, a run with its job graph and steps, starting runs by
//! dispatch, cancelling and re-running them, and following their logs (Server-Sent Events, or
//! framed for programs).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_engine::{ExpansionRecord, JobPlan};
use ferry_model::Conclusion;
use ferry_proto::log_stream::{LOG_STREAM_TYPE, LogFrameHead};
use ferry_proto::names::{Id, Name};
use ferry_proto::runs::{
    JobView, LogEvent, PlannedJob, RerunRequest, RunDetail, RunView, StepView, TriggerRequest, TriggeredRuns,
};
use ferry_store::{Job, NewJob, NewRun, Project, Run, RunFilter, RunState, Status, StoreError};
use ferry_workflow::Dialect;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{broadcast, watch};
use tracing::info;
use utoipa::IntoParams;

use crate::api::{ApiError, Body, ErrorBody, Path, Query};
use crate::auth::Caller;
use crate::log_feed::LiveChunk;
use crate::pipeline::{PlanError, Trigger, advance, start_runs};
use crate::{AppState, now_ms};

impl From<PlanError> for ApiError {
    fn from(error: PlanError) -> ApiError {
        match error {
            PlanError::Store(error) => error.into(),
            // The request was well formed; the repository's workflows refuse it.
            PlanError::BadRequest(message) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message),
            PlanError::Mirror(error) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("reading the repository: {error}"))
            }
        }
    }
}

/// A run as the API shows it.
pub(crate) fn run_view(run: Run, project: &str) -> RunView {
    let workflow_name = if run.workflow_name.is_empty() {
        // A run recorded before runs kept their workflow's name.
        let (workflow, _) = ferry_workflow::parse_workflow(&run.workflow_src, Dialect::for_path(&run.workflow_file));
        workflow.and_then(|workflow| workflow.name.map(|name| name.value)).unwrap_or_else(|| run.workflow_file.clone())
    } else {
        run.workflow_name
    };
    RunView {
        id: run.id,
        project: project.to_owned(),
        number: run.number,
        workflow_name,
        workflow_file: run.workflow_file,
        event: run.event,
        git_ref: run.git_ref,
        sha: run.sha,
        title: run.title,
        author: run.author,
        actor: run.trigger_actor,
        status: run.status,
        conclusion: run.conclusion,
        created_at: run.created_at,
        started_at: run.started_at,
        finished_at: run.finished_at,
        // Errors stored before URLs were redacted may hold a repository's credential.
        error: run.error.map(|error| crate::repo_url::redact_text(&error).into_owned()),
        rerun_of: run.rerun_of,
    }
}

/// Paging and filters of run lists, as GitHub's run list has them.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunPage {
    /// Only runs numbered below this one: the next page starts below the last run of this one.
    pub(crate) before: Option<i64>,
    /// At most this many (default 50, at most 200).
    #[param(minimum = 1, maximum = 200)]
    pub(crate) limit: Option<i64>,
    /// Only runs in this state: `queued`, `in_progress` or `completed`, or completed with this
    /// conclusion: `success`, `failure`, `cancelled`, `skipped` or `neutral`.
    #[param(value_type = Option<ferry_proto::names::RunStateWord>)]
    pub(crate) status: Option<String>,
    /// Only runs of this branch (`main`), or of this full ref (`refs/tags/v1`).
    pub(crate) branch: Option<String>,
    /// Only runs of this workflow file: its path (`.github/workflows/ci.yml`) or its name
    /// (`ci.yml`).
    pub(crate) workflow: Option<String>,
    /// Only runs of this event (`push`, `pull_request`, `workflow_dispatch`, `schedule`).
    pub(crate) event: Option<String>,
}

/// How many runs a page has when the request does not say.
pub(crate) const RUNS_PER_PAGE: i64 = 50;
/// The most runs a page has.
const MAX_RUNS_PER_PAGE: i64 = 200;

/// `GET /api/v1/projects/{name}/runs`: newest first; a full page has a `Link` header to the
/// next.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}/runs",
    operation_id = "list_runs",
    tag = "runs",
    params(("name" = Name, Path, description = "The project's name"), RunPage),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The project's runs that match the filters, newest first", body = Vec<RunView>,
            headers(("Link" = String, description = "When the page is full: `<…/runs?before=N&…>; rel=\"next\"`, the next page with the same filters"))),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 404, description = "No such project", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(page): Query<RunPage>,
) -> Result<Response, ApiError> {
    let project = crate::api::projects::project_by_name(&state, &name).await?;
    let runs = runs_of(&state, &project, &page).await?;
    let limit = page_limit(&page)?;
    let mut headers = HeaderMap::new();
    if let Some(last) = runs.last()
        && i64::try_from(runs.len()).is_ok_and(|n_runs| n_runs == limit)
    {
        let mut next = format!("/api/v1/projects/{}/runs?before={}&limit={limit}", project.name, last.number);
        for (key, value) in
            [("status", &page.status), ("branch", &page.branch), ("workflow", &page.workflow), ("event", &page.event)]
        {
            if let Some(value) = value {
                next.push_str(&format!("&{key}={}", percent_encoding::utf8_percent_encode(value, QUERY_VALUE)));
            }
        }
        if let Ok(link) = header::HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            headers.insert(header::LINK, link);
        }
    }
    Ok((headers, Json(runs)).into_response())
}

/// What a query value escapes.
const QUERY_VALUE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

/// The page's size, or 400.
fn page_limit(page: &RunPage) -> Result<i64, ApiError> {
    match page.limit {
        None => Ok(RUNS_PER_PAGE),
        Some(limit) if (1..=MAX_RUNS_PER_PAGE).contains(&limit) => Ok(limit),
        Some(limit) => Err(ApiError::bad_request(format!(
            "`limit` must be from 1 to {MAX_RUNS_PER_PAGE}, not {limit}; page past the last run with `before`"
        ))),
    }
}

/// The run state `status` names, or 400 naming the ones there are.
fn run_state(status: &str) -> Result<RunState, ApiError> {
    let statuses = [Status::Queued, Status::InProgress, Status::Completed];
    let conclusions =
        [Conclusion::Success, Conclusion::Failure, Conclusion::Cancelled, Conclusion::Skipped, Conclusion::Neutral];
    if let Some(status) = statuses.into_iter().find(|known| known.as_str() == status) {
        return Ok(RunState::Status(status));
    }
    if let Some(conclusion) = conclusions.into_iter().find(|known| known.as_str() == status) {
        return Ok(RunState::Conclusion(conclusion));
    }
    let known: Vec<&str> = statuses
        .iter()
        .map(|status| status.as_str())
        .chain(conclusions.iter().map(|conclusion| conclusion.as_str()))
        .collect();
    Err(ApiError::bad_request(format!(
        "`status` {status:?} is not a run status or conclusion; use one of: {}",
        known.join(", ")
    )))
}

/// A page of a project's runs that match `page`'s filters, newest first.
pub(crate) async fn runs_of(state: &AppState, project: &Project, page: &RunPage) -> Result<Vec<RunView>, ApiError> {
    let limit = page_limit(page)?;
    let state_filter = page.status.as_deref().map(run_state).transpose()?;
    let git_ref = page
        .branch
        .as_deref()
        .map(|branch| if branch.starts_with("refs/") { branch.to_owned() } else { format!("refs/heads/{branch}") });
    let workflow_files: Vec<String> = match page.workflow.as_deref() {
        None => Vec::new(),
        Some(path) if path.contains('/') => vec![path.to_owned()],
        Some(name) => crate::pipeline::WORKFLOW_DIRS.iter().map(|dir| format!("{dir}/{name}")).collect(),
    };
    let filter = RunFilter {
        state: state_filter,
        git_ref: git_ref.as_deref(),
        workflow_files: &workflow_files,
        event: page.event.as_deref(),
    };
    let before = page.before.unwrap_or(i64::MAX);
    let runs = state.store.runs().list_filtered(project.id, &filter, before, limit).await?;
    Ok(runs.into_iter().map(|run| run_view(run, &project.name)).collect())
}

/// `GET /api/v1/runs/{id}`: the run, its job instances with their steps, and the workflow
/// jobs that have none (yet).
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}",
    operation_id = "get_run",
    tag = "runs",
    params(("id" = Id, Path, description = "The run's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The run and its job graph", body = RunDetail),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 404, description = "No such run", body = ErrorBody),
    ),
)]
pub(crate) async fn get(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Json<RunDetail>, ApiError> {
    Ok(Json(run_detail(&state, id).await?))
}

/// The run `id` with its job graph.
pub(crate) async fn run_detail(state: &AppState, id: i64) -> Result<RunDetail, ApiError> {
    let run = state.store.runs().get(id).await?;
    let project = state.store.projects().get(run.project_id).await?;
    let runners: HashMap<i64, String> =
        state.store.runners().list().await?.into_iter().map(|runner| (runner.id, runner.name)).collect();
    let (workflow, _) = ferry_workflow::parse_workflow(&run.workflow_src, Dialect::for_path(&run.workflow_file));
    let rows = state.store.jobs().list_for_run(id).await?;
    let deployments = state.store.deployments().of_run_jobs(id).await?;
    let mut jobs = Vec::new();
    for job in &rows {
        let steps = state.store.steps().list_for_job(job.id).await?;
        let deployment = deployments.iter().find(|deployment| deployment.job_id == Some(job.id));
        jobs.push(job_view(job, steps, &runners, deployment));
    }
    // A job of a matrix caller's call is decided per leg (`ci/test#1`).
    let decided: HashSet<String> = state
        .store
        .runs()
        .expansions(id)
        .await?
        .into_iter()
        .map(|(key, _)| ferry_engine::driver::job_of_expansion_key(&key).to_owned())
        .collect();
    // The jobs of the workflows it calls are shown as GitHub shows them (`build / test`).
    let flat = workflow.and_then(|workflow| crate::pipeline::flat_of(&run, std::sync::Arc::new(workflow)).ok());
    let planned = flat
        .iter()
        .flat_map(|flat| flat.jobs.iter().enumerate().map(move |(job_idx, job)| (flat, job_idx, job)))
        .filter(|(_, _, job)| job.role == ferry_engine::Role::Steps)
        .filter(|(_, _, job)| !rows.iter().any(|row| row.job_key == job.id))
        .map(|(flat, job_idx, job)| PlannedJob {
            key: job.id.clone(),
            name: flat.display_name(job_idx),
            needs: job.needs.iter().filter(|need| !need.ends_with("@call")).cloned().collect(),
            state: if decided.contains(&job.id) { "skipped" } else { "waiting" }.to_owned(),
        })
        .collect();
    Ok(RunDetail { run: run_view(run, &project.name), jobs, planned })
}

fn job_view(
    job: &Job,
    steps: Vec<ferry_store::Step>,
    runners: &HashMap<i64, String>,
    deployment: Option<&ferry_store::Deployment>,
) -> JobView {
    let reason = match job.status {
        ferry_store::Status::Waiting => job.waiting_for.clone(),
        _ => job.reason.clone(),
    };
    JobView {
        id: job.id,
        key: job.job_key.clone(),
        name: job.name.clone(),
        status: job.status,
        conclusion: job.conclusion,
        needs: serde_json::from_str(&job.needs).unwrap_or_default(),
        runs_on: job.runs_on.clone(),
        runner: job.runner_id.and_then(|id| runners.get(&id).cloned()),
        outputs: serde_json::from_str(&job.outputs).unwrap_or_default(),
        reason,
        environment: deployment.map(|deployment| deployment.environment.clone()),
        deployment: deployment.map(|deployment| deployment.id),
        queued_at: job.queued_at,
        started_at: job.started_at,
        finished_at: job.finished_at,
        steps: steps
            .into_iter()
            .map(|step| StepView {
                id: step.id,
                step_idx: step.step_idx,
                name: step.name,
                status: step.status,
                outcome: step.outcome,
                conclusion: step.conclusion,
                started_at: step.started_at,
                finished_at: step.finished_at,
            })
            .collect(),
    }
}

/// `POST /api/v1/projects/{name}/trigger`: runs the workflows a `workflow_dispatch` on the ref
/// triggers (or the one named), with inputs.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{name}/trigger",
    operation_id = "trigger_runs",
    tag = "runs",
    params(("name" = Name, Path, description = "The project's name")),
    request_body = TriggerRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The runs started (none when no workflow takes `workflow_dispatch`)", body = TriggeredRuns),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 422, description = "The repository cannot be read, has no such ref or workflow, or the inputs do not fit the workflow", body = ErrorBody),
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn trigger(
    Caller(token): Caller,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<TriggerRequest>,
) -> Result<(StatusCode, Json<TriggeredRuns>), ApiError> {
    let project = crate::api::projects::project_by_name(&state, &name).await?;
    let git_ref = body.git_ref.clone().unwrap_or_else(|| project.branch.clone());
    let inputs =
        body.inputs.iter().map(|(key, value)| (key.clone(), ferry_workflow::expr::to_display_string(value))).collect();
    let trigger = Trigger {
        event: "workflow_dispatch".to_owned(),
        git_ref,
        actor: token.name,
        inputs,
        workflow: body.workflow,
        ..Trigger::default()
    };
    let runs = start_runs(&state, &project, trigger).await?;
    Ok((
        StatusCode::CREATED,
        Json(TriggeredRuns { runs: runs.into_iter().map(|run| run_view(run, &project.name)).collect() }),
    ))
}

/// `POST /api/v1/runs/{id}/cancel`: queued jobs are cancelled at once, running ones when their
/// runner stops them; jobs with `if: always()` or `cancelled()` still run.
#[utoipa::path(
    post,
    path = "/api/v1/runs/{id}/cancel",
    operation_id = "cancel_run",
    tag = "runs",
    params(("id" = Id, Path, description = "The run's id")),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "The run is being cancelled (or had completed)", body = RunView),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No such run", body = ErrorBody),
    ),
)]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<RunView>), ApiError> {
    cancel_run(&state, id).await?;
    let run = state.store.runs().get(id).await?;
    let project = state.store.projects().get(run.project_id).await?;
    Ok((StatusCode::ACCEPTED, Json(run_view(run, &project.name))))
}

/// Stamps the run cancelled, cancels its jobs and moves it on.
pub(crate) async fn cancel_run(state: &AppState, id: i64) -> Result<(), StoreError> {
    let now = now_ms();
    let run = state.store.runs().request_cancel(id, now).await?;
    if run.status != Status::Completed {
        state.store.jobs().cancel_run(id, now).await?;
        info!(run.id = id, "run {id} cancelled");
        advance(state, id).await?;
        state.pipeline.logs_changed.send_modify(|generation| *generation += 1);
    }
    Ok(())
}

/// `POST /api/v1/runs/{id}/rerun`: a new run of the same workflow text, commit and event;
/// with `failed_only`, the jobs that succeeded keep their results and outputs.
#[utoipa::path(
    post,
    path = "/api/v1/runs/{id}/rerun",
    operation_id = "rerun_run",
    tag = "runs",
    params(("id" = Id, Path, description = "The run's id")),
    request_body = RerunRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new run", body = RunView),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "The run has not completed: only a completed run can be re-run", body = ErrorBody),
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn rerun(
    Caller(token): Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Body(body): Body<RerunRequest>,
) -> Result<(StatusCode, Json<RunView>), ApiError> {
    let run = rerun_run(&state, id, body.failed_only, &token.name).await?;
    let project = state.store.projects().get(run.project_id).await?;
    Ok((StatusCode::CREATED, Json(run_view(run, &project.name))))
}

/// Starts a run repeating run `id`.
pub(crate) async fn rerun_run(state: &AppState, id: i64, failed_only: bool, actor: &str) -> Result<Run, ApiError> {
    let old = state.store.runs().get(id).await?;
    if old.status != Status::Completed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("run {id} is still {}; cancel it or wait before re-running it", old.status.as_str()),
        ));
    }
    let now = now_ms();
    let run = state
        .store
        .runs()
        .create(
            &NewRun {
                project_id: old.project_id,
                workflow_file: &old.workflow_file,
                workflow_name: &old.workflow_name,
                event: &old.event,
                git_ref: &old.git_ref,
                sha: &old.sha,
                trigger_actor: actor,
                trigger_info: &old.trigger_info,
                workflow_src: &old.workflow_src,
                title: &old.title,
                author: &old.author,
                rerun_of: Some(old.id),
            },
            now,
        )
        .await?;
    if failed_only {
        let jobs = state.store.jobs().list_for_run(old.id).await?;
        for (key, expansion) in state.store.runs().expansions(old.id).await? {
            let job_key = ferry_engine::driver::job_of_expansion_key(&key);
            let record = serde_json::from_str::<ExpansionRecord>(&expansion);
            // A leg of a job decided per leg (`ci/test#1`) goes with its own instances only,
            // named in its record.
            let names: Option<Vec<&str>> = match &record {
                Ok(ExpansionRecord { leg: None, .. }) => None,
                Ok(ExpansionRecord { plan: JobPlan::Instances { instances }, .. }) => {
                    Some(instances.iter().map(|instance| instance.name.as_str()).collect())
                }
                _ => continue,
            };
            let rows: Vec<&Job> = jobs
                .iter()
                .filter(|job| job.job_key == job_key)
                .filter(|job| names.as_ref().is_none_or(|names| names.contains(&job.name.as_str())))
                .collect();
            if rows.is_empty() || rows.iter().any(|job| job.conclusion != Some(Conclusion::Success)) {
                continue;
            }
            state.store.runs().record_expansion(run.id, &key, &expansion, now).await?;
            for job in rows {
                let copy = NewJob {
                    run_id: run.id,
                    name: &job.name,
                    runs_on: &job.runs_on,
                    requires: &[],
                    needs: &job.needs,
                    matrix: &job.matrix,
                    job_key: &job.job_key,
                    instance_idx: job.instance_idx,
                    contexts: &job.contexts,
                };
                let copied = state.store.jobs().enqueue(&copy, now).await?;
                state.store.jobs().finish(copied.id, Conclusion::Success, &job.outputs, None, now).await?;
            }
        }
    }
    info!(run.id = run.id, rerun_of = old.id, "run {} re-runs run {}", run.id, old.id);
    advance(state, run.id).await?;
    Ok(state.store.runs().get(run.id).await?)
}

/// Which logs to stream.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogQuery {
    /// Only this job's log (a job id from `GET /api/v1/runs/{id}`).
    #[param(value_type = i64, required = false)]
    job: Option<i64>,
    /// Keep the stream open until the run completes, sending lines as they are written.
    #[serde(default)]
    follow: bool,
}

/// `GET /api/v1/runs/{id}/logs`: the run's log chunks, in order per step, none lost or
/// repeated between the stored part and the live part, then an end. As Server-Sent Events
/// (`chunk` events with a `LogChunkView` each, then one `end` event), or, to a request that
/// accepts `application/vnd.ferry.log-stream`, framed: a `LogFrameHead` line per chunk followed
/// by its text as written (see `ferry_proto::log_stream`), then an `end` head.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/logs",
    operation_id = "stream_logs",
    tag = "runs",
    params(("id" = Id, Path, description = "The run's id"), LogQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`text/event-stream`: `chunk` events with a LogChunkView each, then `end`; `application/vnd.ferry.log-stream` (when accepted): a LogFrameHead line per chunk and its text, then an `end` head",
            content(
                (LogEvent = "text/event-stream"),
                (LogFrameHead = "application/vnd.ferry.log-stream"),
            )),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 404, description = "No such run or job", body = ErrorBody),
    ),
)]
pub(crate) async fn logs(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(query): Query<LogQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.store.runs().get(id).await?;
    if let Some(job_id) = query.job {
        let job = state.store.jobs().get(job_id).await?;
        if job.run_id != id {
            return Err(ApiError::not_found("job", format!("{job_id} of run {id}")));
        }
    }
    let format = LogFormat::accepted_by(&headers);
    // Listening before the first read of the store: a chunk stored after the read is then
    // on the feed.
    let live = query.follow.then(|| state.pipeline.log_feed.subscribe());
    let changed = state.pipeline.logs_changed.subscribe();
    let shutting_down = state.pipeline.shutting_down.subscribe();
    let follower = Follower {
        state,
        run_id: id,
        job: query.job,
        format,
        cursors: HashMap::new(),
        pending: VecDeque::new(),
        live,
        changed,
        shutting_down,
        read_store: true,
        done: false,
    };
    // The events are written here rather than by axum's `Sse`, whose `Event::data` copies its
    // text and searches it for line ends: a chunk's JSON has none, and is a megabyte.
    let headers = [(header::CONTENT_TYPE, format.content_type()), (header::CACHE_CONTROL, "no-cache")];
    Ok((headers, event_stream(follower, KEEP_ALIVE, format.keep_alive())).into_response())
}

/// How a log stream is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LogFormat {
    /// Server-Sent Events, for browsers and curl.
    Sse,
    /// `application/vnd.ferry.log-stream`, for programs: texts as they are.
    Framed,
}

impl LogFormat {
    /// Framed when the request's `Accept` names the framed stream's type, else SSE.
    fn accepted_by(headers: &HeaderMap) -> LogFormat {
        let framed = headers.get_all(header::ACCEPT).iter().filter_map(|value| value.to_str().ok()).any(|accept| {
            accept.split(',').any(|media| media.split(';').next().map(str::trim) == Some(LOG_STREAM_TYPE))
        });
        if framed { LogFormat::Framed } else { LogFormat::Sse }
    }

    fn content_type(self) -> &'static str {
        match self {
            LogFormat::Sse => "text/event-stream",
            LogFormat::Framed => LOG_STREAM_TYPE,
        }
    }

    /// What a quiet stream carries every [`KEEP_ALIVE`]: an SSE comment, or an empty line.
    fn keep_alive(self) -> Bytes {
        Bytes::from_static(match self {
            LogFormat::Sse => b":\n\n",
            LogFormat::Framed => b"\n",
        })
    }

    fn end(self) -> Bytes {
        match self {
            LogFormat::Sse => Bytes::from_static(b"event: end\ndata: {}\n\n"),
            LogFormat::Framed => LogFrameHead::End.encode().into(),
        }
    }

    /// The last event of a stream cut short, saying why: an `error` event with
    /// `{"error": message}`, or an `error` frame head. Never an `end`: the log is not complete.
    fn error(self, message: &str) -> Bytes {
        // A frame's head is at most 4 KiB; the reason's start says enough.
        let message: String = message.chars().take(1000).collect();
        let message = message.as_str();
        match self {
            LogFormat::Sse => format!("event: error\ndata: {}\n\n", serde_json::json!({ "error": message })).into(),
            LogFormat::Framed => LogFrameHead::Error { message: message.to_owned() }.encode().into(),
        }
    }
}

/// A source of a stream's events, each a whole `event:`/`data:` block or frame, that keeps its
/// place when a wait for the next one is dropped.
pub(crate) trait EventSource {
    /// The next event, or `None` once the stream is over.
    fn next_event(&mut self) -> impl Future<Output = Option<Bytes>> + Send;
}

/// A response body of `source`'s events, with `keep_alive` (which keeps proxies from closing
/// the stream) whenever `every` passes without one.
pub(crate) fn event_stream<S: EventSource + Send + 'static>(
    source: S,
    every: Duration,
    keep_alive: Bytes,
) -> axum::body::Body {
    let stream = futures_util::stream::unfold(source, move |mut source| {
        let keep_alive = keep_alive.clone();
        async move {
            let frame = match tokio::time::timeout(every, source.next_event()).await {
                Ok(frame) => frame?,
                Err(_) => keep_alive,
            };
            Some((Ok::<_, std::convert::Infallible>(frame), source))
        }
    });
    axum::body::Body::from_stream(stream)
}

/// How long a followed log may be quiet before the stream carries a keep-alive.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How many chunks of one step a log follower reads from the store at a time.
const CHUNKS_PER_READ: i64 = 4;

/// How long a follower waits on the feed before it looks at the store anyway.
const RECHECK: Duration = Duration::from_secs(5);

/// Follows a run's log: reads the store step by step, after the last sequence number sent
/// for each step, until it has caught up, then takes chunks from the live feed as they are
/// stored, going back to the store whenever the feed skipped some (see `log_feed`).
struct Follower {
    state: AppState,
    run_id: i64,
    job: Option<i64>,
    format: LogFormat,
    /// The last chunk sent, by step id.
    cursors: HashMap<i64, i64>,
    /// Frames ready to send.
    pending: VecDeque<Bytes>,
    /// The live feed, while following (without it, the stream ends once the store is read).
    live: Option<broadcast::Receiver<Arc<LiveChunk>>>,
    /// Bumped when a job or run completes.
    changed: watch::Receiver<u64>,
    /// `true` once the server is shutting down.
    shutting_down: watch::Receiver<bool>,
    /// The store may hold chunks not sent yet: at the start, after a gap or lag in the feed,
    /// after a completion.
    read_store: bool,
    done: bool,
}

impl EventSource for Follower {
    fn next_event(&mut self) -> impl Future<Output = Option<Bytes>> + Send {
        self.next()
    }
}

impl Follower {
    /// The next frame to send, or `None` after the end. Dropped at any wait, it loses
    /// nothing: the cursors move only when the chunks they pass are queued.
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.done {
                return None;
            }
            if *self.shutting_down.borrow() {
                self.done = true;
                return Some(self.format.error("the server is shutting down; follow the log again once it is back"));
            }
            if self.read_store {
                // Marked before reading, so a completion after the read still wakes the wait.
                self.changed.mark_unchanged();
                // A run seen completed before the read has written everything the read finds.
                let completed = match self.state.store.runs().get(self.run_id).await {
                    Ok(run) => run.status == Status::Completed,
                    Err(error) => return Some(self.fail(&error)),
                };
                match self.read().await {
                    Ok(0) => {}
                    Ok(_) => continue,
                    Err(error) => return Some(self.fail(&error)),
                }
                if self.live.is_none() || completed {
                    self.done = true;
                    return Some(self.format.end());
                }
                self.read_store = false;
            }
            // Only a follower gets here: without the feed the stream ended above.
            let Some(live) = &mut self.live else { continue };
            tokio::select! {
                chunk = live.recv() => match chunk {
                    Ok(chunk) => self.take_live(&chunk),
                    // Behind the feed: what it dropped is in the store.
                    Err(_) => self.read_store = true,
                },
                _ = self.changed.changed() => self.read_store = true,
                _ = self.shutting_down.changed() => {}
                () = tokio::time::sleep(RECHECK) => self.read_store = true,
            }
        }
    }

    /// Ends the stream on a store error with an error event, so a viewer never takes a log
    /// cut short for a complete one.
    fn fail(&mut self, error: &StoreError) -> Bytes {
        tracing::warn!(run.id = self.run_id, %error, "following the log of run {} failed: {error}", self.run_id);
        self.done = true;
        self.format.error(&format!("reading the log from the server's database failed: {error}"))
    }

    /// Queues a chunk from the feed if it is the next of its step; a later one means the store
    /// has some in between.
    fn take_live(&mut self, chunk: &LiveChunk) {
        if chunk.run_id != self.run_id || self.job.is_some_and(|only| only != chunk.job_id) {
            return;
        }
        let sent = self.cursors.get(&chunk.step_id).copied().unwrap_or(0);
        if chunk.seq == sent + 1 {
            self.cursors.insert(chunk.step_id, chunk.seq);
            self.queue(chunk.job_id, chunk.step_idx, chunk.seq, chunk.text.clone());
        } else if chunk.seq > sent + 1 {
            self.read_store = true;
        }
    }

    /// Queues the chunks written since the last read; returns how many. Only steps whose
    /// last chunk is past what was sent are read.
    async fn read(&mut self) -> Result<usize, StoreError> {
        let mut n_new = 0;
        for step in self.state.store.logs().steps_of_run(self.run_id).await? {
            if self.job.is_some_and(|only| only != step.job_id) {
                continue;
            }
            let after = self.cursors.get(&step.step_id).copied().unwrap_or(0);
            if step.last_seq <= after {
                continue;
            }
            // A few chunks at a time (each up to a runner's batch, 1.75 MiB of text): a viewer
            // slower than the step gets the rest on the next read, and the server holds little
            // for it.
            for chunk in self.state.store.logs().after(step.step_id, after, CHUNKS_PER_READ).await? {
                self.cursors.insert(step.step_id, chunk.seq);
                self.queue(step.job_id, step.step_idx, chunk.seq, chunk.body.into());
                n_new += 1;
            }
        }
        if n_new > 0 {
            tracing::debug!(
                run.id = self.run_id,
                n_chunks = n_new,
                "a log viewer of run {} read {n_new} chunks from the store",
                self.run_id
            );
        }
        Ok(n_new)
    }

    fn queue(&mut self, job_id: i64, step_idx: i64, seq: i64, text: Bytes) {
        match self.format {
            LogFormat::Sse => self.pending.push_back(chunk_event(job_id, step_idx, seq, &text).into()),
            LogFormat::Framed => {
                self.pending.push_back(LogFrameHead::chunk(job_id, step_idx, seq, &text).encode().into());
                if !text.is_empty() {
                    self.pending.push_back(text);
                }
            }
        }
    }
}

/// The `chunk` event of a [`LogChunkView`], its JSON written straight from a chunk's text
/// (whole lines of UTF-8): a live viewer of a step that prints fast gets thousands of lines a
/// chunk, and most chunks need no escaping at all, so their lines are copied whole rather than
/// quoted byte by byte.
fn chunk_event(job_id: i64, step_idx: i64, seq: i64, text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 16 + 96);
    out.extend_from_slice(
        format!(r#"event: chunk{}data: {{"job_id":{job_id},"step_idx":{step_idx},"seq":{seq},"lines":["#, '\n')
            .as_bytes(),
    );
    let last = (!text.is_empty() && !text.ends_with(b"\n")).then_some(text.len());
    let plain = is_plain(text);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', text).chain(last) {
        if start > 0 {
            out.push(b',');
        }
        let line = &text[start..end];
        if plain {
            // No `"`, `\\` or control bytes (so no `\r` either): quoted as it is.
            out.push(b'"');
            out.extend_from_slice(line);
            out.push(b'"');
        } else {
            // A `\r` before a line end is part of it, as `str::lines` has it.
            let line = String::from_utf8_lossy(line);
            let line = if end < text.len() { line.strip_suffix('\r').unwrap_or(&line) } else { &line };
            out.extend_from_slice(Value::from(line).to_string().as_bytes());
        }
        start = end + 1;
    }
    out.extend_from_slice(b"]}\n\n");
    out
}

/// Whether `text` has no byte JSON must escape other than its line ends.
fn is_plain(text: &[u8]) -> bool {
    // A fold over blocks, not `any`: it looks at every byte without branching, which the
    // compiler turns into wide compares.
    text.chunks(64).all(|block| {
        block.iter().fold(0u8, |bad, &byte| {
            bad | u8::from(byte < 0x20 && byte != b'\n') | u8::from(byte == b'"') | u8::from(byte == b'\\')
        }) == 0
    })
}

#[cfg(test)]
mod tests;
