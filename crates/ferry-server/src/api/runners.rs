//! `/api/v1/runners` for admins: list the registered runners (labels, projects, when last
//! seen, the jobs they run) and revoke a runner's token. (Registering is `api/runner.rs`,
//! with the rest of the runner protocol.)

use axum::Json;
use axum::extract::State;
use ferry_proto::runner::{RunnerJob, RunnerView};
use ferry_store::{Project, Runner};
use tracing::info;

use crate::api::tokens::scope_names;
use crate::api::{ApiError, ErrorBody, Path};
use crate::{AppState, now_ms};

/// A runner as the API shows it, with the jobs it runs now.
async fn runner_view(state: &AppState, runner: Runner, projects: &[Project]) -> Result<RunnerView, ApiError> {
    let busy = state.store.jobs().in_progress_on(runner.id).await?;
    Ok(RunnerView {
        id: runner.id,
        projects: scope_names(&runner.scope, projects),
        name: runner.name,
        labels: runner.labels,
        created_at: runner.created_at,
        last_seen_at: runner.last_heartbeat_at,
        revoked_at: runner.revoked_at,
        busy: busy.into_iter().map(|job| RunnerJob { job_id: job.id, run_id: job.run_id, name: job.name }).collect(),
    })
}

/// `GET /api/v1/runners`: every runner, revoked ones included, by name.
#[utoipa::path(
    get,
    path = "/api/v1/runners",
    operation_id = "list_runners",
    tag = "runners",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every runner, revoked ones included, by name", body = Vec<RunnerView>),
        crate::api::Refusals,
        crate::api::BelowAdmin,
    ),
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Vec<RunnerView>>, ApiError> {
    let projects = state.store.projects().list().await?;
    let mut views = Vec::new();
    for runner in state.store.runners().list().await? {
        views.push(runner_view(&state, runner, &projects).await?);
    }
    Ok(Json(views))
}

/// `DELETE /api/v1/runners/{id}`: revokes the runner's token, which stops working at once;
/// the jobs it was running fail at once as "runner lost", and their runs move on. The runner
/// stays listed; registering it again (with an admin token) gives it a new token.
#[utoipa::path(
    delete,
    path = "/api/v1/runners/{id}",
    operation_id = "revoke_runner",
    tag = "runners",
    params(("id" = ferry_proto::names::Id, Path, description = "The runner's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The runner, revoked (or already revoked)", body = RunnerView),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowAdmin,
        (status = 404, description = "No such runner", body = ErrorBody),
    ),
)]
pub(crate) async fn revoke(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Json<RunnerView>, ApiError> {
    let runner = state.store.runners().revoke(id, now_ms()).await?;
    info!(runner = %runner.name, "the token of runner {} was revoked", runner.name);
    for job in state.store.jobs().in_progress_on(runner.id).await? {
        crate::api::runner::lose(&state, &job, "runner lost: its token was revoked").await?;
    }
    let projects = state.store.projects().list().await?;
    Ok(Json(runner_view(&state, runner, &projects).await?))
}
