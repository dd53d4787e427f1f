//! `/api/v1/projects`: create, list and read projects. The webhook secret is never answered,
//! only whether there is one; a repository URL with a credential in it is refused, and one
//! stored before that is answered without it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_proto::names::{Name, Text};
use ferry_store::{NewProject, Project};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::{ApiError, Body, ErrorBody, Path, check_name, check_text};
use crate::auth::Caller;
use crate::{AppState, now_ms};

/// A project to create.
#[derive(Deserialize, ToSchema)]
pub(crate) struct NewProjectBody {
    /// 1 to 100 letters, digits, `.`, `_` or `-`; unique.
    #[schema(value_type = Name)]
    name: String,
    /// A repository git can clone, without a credential in it (`https://user:token@…` is
    /// refused): a private repository's token is the project secret `FERRY_REPO_TOKEN`.
    #[schema(value_type = Text)]
    repo: String,
    /// The default branch; `main` when left out.
    #[schema(value_type = Option<Text>)]
    branch: Option<String>,
    /// The secret forges sign webhooks with; without one, webhooks are refused.
    webhook_secret: Option<String>,
    /// Runs of pull requests from forks wait for a developer's approval
    /// (`POST /api/v1/runs/{id}/approve`); `false` when left out.
    require_approval: Option<bool>,
}

/// A project as the API shows it.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProjectView {
    id: i64,
    name: String,
    repo: String,
    branch: String,
    /// Whether webhooks can be verified; the secret itself is never answered.
    has_webhook_secret: bool,
    /// Milliseconds since the Unix epoch.
    created_at: i64,
    /// Whether runs of pull requests from forks wait for a developer's approval.
    require_approval: bool,
}

impl From<Project> for ProjectView {
    fn from(project: Project) -> ProjectView {
        ProjectView {
            id: project.id,
            has_webhook_secret: !project.webhook_secret.is_empty(),
            name: project.name,
            repo: crate::repo_url::redacted(&project.repo).into_owned(),
            branch: project.branch,
            created_at: project.created_at,
            require_approval: project.require_approval,
        }
    }
}

/// `POST /api/v1/projects {name, repo, branch?, webhook_secret?}`; the branch defaults to `main`.
#[utoipa::path(
    post,
    path = "/api/v1/projects",
    operation_id = "create_project",
    tag = "projects",
    request_body = NewProjectBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The project was created", body = ProjectView),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 409, description = "A project with this name exists", body = ErrorBody),
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Body(body): Body<NewProjectBody>,
) -> Result<(StatusCode, Json<ProjectView>), ApiError> {
    check_name("project", &body.name)?;
    check_text("a project's `repo`", &body.repo)?;
    if let Some(branch) = &body.branch {
        check_text("a project's `branch`", branch)?;
    }
    if crate::repo_url::has_credential(&body.repo) {
        return Err(ApiError::bad_request(format!(
            "`repo` carries a credential ({}); give the URL without it and store the token as the project's \
             secret {} once the project exists (`ferry secret set {} {}`): the server hands it to git for this \
             repository only and never shows it",
            crate::repo_url::redacted(&body.repo),
            crate::repo_url::TOKEN_SECRET,
            body.name,
            crate::repo_url::TOKEN_SECRET,
        )));
    }
    let new_project = NewProject {
        name: &body.name,
        repo: &body.repo,
        branch: body.branch.as_deref().unwrap_or("main"),
        webhook_secret: body.webhook_secret.as_deref().unwrap_or(""),
    };
    let project = state.store.projects().create(&new_project, now_ms()).await?;
    let mut project = crate::hooks::seal_webhook_secret(&state, project).await?;
    if body.require_approval == Some(true) {
        project = state.store.projects().set_require_approval(project.id, true).await?;
    }
    Ok((StatusCode::CREATED, Json(project.into())))
}

/// `GET /api/v1/projects`, by name: the projects the token reaches.
#[utoipa::path(
    get,
    path = "/api/v1/projects",
    operation_id = "list_projects",
    tag = "projects",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every project, by name", body = Vec<ProjectView>),
        crate::api::Refusals,
    ),
)]
pub(crate) async fn list(
    Caller(token): Caller,
    State(state): State<AppState>,
) -> Result<Json<Vec<ProjectView>>, ApiError> {
    let projects = state.store.projects().list().await?;
    let visible = projects.into_iter().filter(|project| token.scope.allows(project.id));
    Ok(Json(visible.map(ProjectView::from).collect()))
}

/// `GET /api/v1/projects/{name}`.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}",
    operation_id = "get_project",
    tag = "projects",
    params(
        ("name" = Name, Path, description = "The project's name"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The project", body = ProjectView),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 404, description = "No such project", body = ErrorBody),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ProjectView>, ApiError> {
    Ok(Json(project_by_name(&state, &name).await?.into()))
}

/// The project called `name`, or 404.
pub(crate) async fn project_by_name(state: &AppState, name: &str) -> Result<Project, ApiError> {
    state.store.projects().by_name(name).await?.ok_or_else(|| ApiError::not_found("project", name))
}
