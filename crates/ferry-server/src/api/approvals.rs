//! Approve and run: a project may require a developer's approval before a run of a pull
//! request from a fork starts (`require_approval`, set on create or with
//! `PATCH /api/v1/projects/{name}`). Such a run waits with status `waiting` and plans no job;
//! `POST /api/v1/runs/{id}/approve` lets it start as any run (still without secrets). A
//! waiting run that is cancelled ends `cancelled` with nothing run; one still waiting when the
//! server restarts still waits.

use axum::Json;
use axum::extract::State;
use ferry_proto::runs::RunView;
use serde::Deserialize;
use tracing::info;
use utoipa::ToSchema;

use crate::AppState;
use crate::api::projects::{ProjectView, project_by_name};
use crate::api::runs::run_view;
use crate::api::{ApiError, Body, ErrorBody, Path};
use crate::auth::Caller;
use crate::pipeline::advance;

/// The project settings `PATCH /api/v1/projects/{name}` changes; those left out stay.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProjectSettings {
    /// Runs of pull requests from forks wait for a developer's approval before they start.
    require_approval: Option<bool>,
}

/// `PATCH /api/v1/projects/{name} {require_approval?}`.
#[utoipa::path(
    patch,
    path = "/api/v1/projects/{name}",
    operation_id = "update_project",
    tag = "projects",
    params(("name" = ferry_proto::names::Name, Path, description = "The project's name")),
    request_body = ProjectSettings,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The project as it is now", body = ProjectView),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No such project", body = ErrorBody),
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn update_project(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(settings): Body<ProjectSettings>,
) -> Result<Json<ProjectView>, ApiError> {
    let mut project = project_by_name(&state, &name).await?;
    if let Some(require) = settings.require_approval {
        project = state.store.projects().set_require_approval(project.id, require).await?;
        info!(project = %project.name, require_approval = require, "project {}: runs of forks' pull requests {} approval", project.name, if require { "wait for" } else { "need no" });
    }
    Ok(Json(project.into()))
}

/// `POST /api/v1/runs/{id}/approve`: a run of a pull request from a fork, waiting for
/// approval, starts. The pull request's author cannot approve it (when the token's name is
/// the forge account that sent the pull request).
#[utoipa::path(
    post,
    path = "/api/v1/runs/{id}/approve",
    operation_id = "approve_run",
    tag = "runs",
    params(("id" = ferry_proto::names::Id, Path, description = "The run's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The run, approved and queued", body = RunView),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 403, description = "The token's role is below developer, or it is the pull request's author's", body = ErrorBody),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "The run is not waiting for approval", body = ErrorBody),
    ),
)]
pub(crate) async fn approve(
    Caller(token): Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<RunView>, ApiError> {
    let run = state.store.runs().get(id).await?;
    if run.trigger_actor.eq_ignore_ascii_case(&token.name) {
        return Err(ApiError::forbidden(format!(
            "{} opened the pull request, so another developer must approve its run",
            run.trigger_actor
        )));
    }
    state.store.runs().approve(id, &token.name).await?;
    info!(run.id = id, approver = %token.name, "run {id} approved by {}", token.name);
    advance(&state, id).await?;
    let run = state.store.runs().get(id).await?;
    let project = state.store.projects().get(run.project_id).await?;
    Ok(Json(run_view(run, &project.name)))
}
