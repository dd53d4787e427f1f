//! A project's secrets (write-only: encrypted at rest, names listed, values never answered)
//! and variables (plain), each the project's own or, with `?environment=ENV`, one
//! environment's (its services and the jobs that target it get them on top of the project's).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_proto::names::{Key, Name};
use ferry_store::Variable;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::projects::project_by_name;
use crate::api::{ApiError, Body, ErrorBody, Path, Query, check_key, check_name};
use crate::releases::secret_binding;
use crate::{AppState, now_ms};

/// Whose secrets or variables a route reads or writes.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Scope {
    /// An environment's (a name of the project's `.ferry/deploy.yml`); without it, the
    /// project's own.
    #[param(value_type = Option<ferry_proto::names::Name>)]
    environment: Option<String>,
}

impl Scope {
    /// The environment, `""` for the project's own (no `environment`), checked.
    fn environment(&self) -> Result<&str, ApiError> {
        match self.environment.as_deref() {
            None => Ok(""),
            Some(environment) => {
                check_name("environment", environment)?;
                Ok(environment)
            }
        }
    }
}

/// A secret's or variable's value.
#[derive(Deserialize, ToSchema)]
pub(crate) struct ValueBody {
    value: String,
}

/// A secret as the API shows it: its name.
#[derive(Serialize, ToSchema)]
pub(crate) struct SecretView {
    name: String,
    /// Milliseconds since the Unix epoch.
    updated_at: i64,
}

/// A variable as the API shows it.
#[derive(Serialize, ToSchema)]
pub(crate) struct VariableView {
    name: String,
    value: String,
    /// Milliseconds since the Unix epoch.
    updated_at: i64,
}

impl From<Variable> for VariableView {
    fn from(variable: Variable) -> VariableView {
        VariableView { name: variable.name, value: variable.value, updated_at: variable.updated_at }
    }
}

/// `PUT /api/v1/projects/{name}/secrets/{key} {value}`: creates or replaces a secret.
#[utoipa::path(
    put,
    path = "/api/v1/projects/{name}/secrets/{key}",
    operation_id = "put_secret",
    tag = "secrets",
    params(
        ("name" = Name, Path, description = "The project's name"),
        ("key" = Key, Path, description = "The secret's name"),
        Scope,
    ),
    request_body = ValueBody,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The secret was set"),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No such project", body = ErrorBody),
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn put_secret(
    State(state): State<AppState>,
    Path((name, key)): Path<(String, String)>,
    Query(scope): Query<Scope>,
    Body(body): Body<ValueBody>,
) -> Result<StatusCode, ApiError> {
    check_key("secret", &key)?;
    let environment = scope.environment()?;
    let project = project_by_name(&state, &name).await?;
    let sealed = state.secret_box.seal(project.id, &secret_binding(environment, &key), body.value.as_bytes());
    state.store.secrets().set_in(project.id, environment, &key, &sealed.ciphertext, &sealed.nonce, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/projects/{name}/secrets`: names only.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}/secrets",
    operation_id = "list_secrets",
    tag = "secrets",
    params(
        ("name" = Name, Path, description = "The project's name"),
        Scope,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The project's secrets, without their values", body = Vec<SecretView>),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 404, description = "No such project", body = ErrorBody),
    ),
)]
pub(crate) async fn list_secrets(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(scope): Query<Scope>,
) -> Result<Json<Vec<SecretView>>, ApiError> {
    let environment = scope.environment()?;
    let project = project_by_name(&state, &name).await?;
    let secrets = state.store.secrets().list_in(project.id, environment).await?;
    Ok(Json(
        secrets.into_iter().map(|secret| SecretView { name: secret.name, updated_at: secret.updated_at }).collect(),
    ))
}

/// `DELETE /api/v1/projects/{name}/secrets/{key}`.
#[utoipa::path(
    delete,
    path = "/api/v1/projects/{name}/secrets/{key}",
    operation_id = "delete_secret",
    tag = "secrets",
    params(
        ("name" = Name, Path, description = "The project's name"),
        ("key" = Key, Path, description = "The secret's name"),
        Scope,
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The secret was deleted"),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No such project, or no such secret in it", body = ErrorBody),
    ),
)]
pub(crate) async fn delete_secret(
    State(state): State<AppState>,
    Path((name, key)): Path<(String, String)>,
    Query(scope): Query<Scope>,
) -> Result<StatusCode, ApiError> {
    let environment = scope.environment()?;
    let project = project_by_name(&state, &name).await?;
    state.store.secrets().delete_in(project.id, environment, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/projects/{name}/vars/{key} {value}`: creates or replaces a variable.
#[utoipa::path(
    put,
    path = "/api/v1/projects/{name}/vars/{key}",
    operation_id = "put_variable",
    tag = "variables",
    params(
        ("name" = Name, Path, description = "The project's name"),
        ("key" = Key, Path, description = "The variable's name"),
        Scope,
    ),
    request_body = ValueBody,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The variable was set"),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No such project", body = ErrorBody),
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn put_var(
    State(state): State<AppState>,
    Path((name, key)): Path<(String, String)>,
    Query(scope): Query<Scope>,
    Body(body): Body<ValueBody>,
) -> Result<StatusCode, ApiError> {
    check_key("variable", &key)?;
    let environment = scope.environment()?;
    let project = project_by_name(&state, &name).await?;
    state.store.variables().set_in(project.id, environment, &key, &body.value, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/projects/{name}/vars`.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}/vars",
    operation_id = "list_variables",
    tag = "variables",
    params(
        ("name" = Name, Path, description = "The project's name"),
        Scope,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The project's variables", body = Vec<VariableView>),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 404, description = "No such project", body = ErrorBody),
    ),
)]
pub(crate) async fn list_vars(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(scope): Query<Scope>,
) -> Result<Json<Vec<VariableView>>, ApiError> {
    let environment = scope.environment()?;
    let project = project_by_name(&state, &name).await?;
    let variables = state.store.variables().list_in(project.id, environment).await?;
    Ok(Json(variables.into_iter().map(VariableView::from).collect()))
}

/// `GET /api/v1/projects/{name}/vars/{key}`.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}/vars/{key}",
    operation_id = "get_variable",
    tag = "variables",
    params(
        ("name" = Name, Path, description = "The project's name"),
        ("key" = Key, Path, description = "The variable's name"),
        Scope,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The variable", body = VariableView),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 404, description = "No such project, or no such variable in it", body = ErrorBody),
    ),
)]
pub(crate) async fn get_var(
    State(state): State<AppState>,
    Path((name, key)): Path<(String, String)>,
    Query(scope): Query<Scope>,
) -> Result<Json<VariableView>, ApiError> {
    let environment = scope.environment()?;
    let project = project_by_name(&state, &name).await?;
    let variable = state
        .store
        .variables()
        .get_in(project.id, environment, &key)
        .await?
        .ok_or_else(|| ApiError::not_found("variable", &key))?;
    Ok(Json(variable.into()))
}

/// `DELETE /api/v1/projects/{name}/vars/{key}`.
#[utoipa::path(
    delete,
    path = "/api/v1/projects/{name}/vars/{key}",
    operation_id = "delete_variable",
    tag = "variables",
    params(
        ("name" = Name, Path, description = "The project's name"),
        ("key" = Key, Path, description = "The variable's name"),
        Scope,
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The variable was deleted"),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No such project, or no such variable in it", body = ErrorBody),
    ),
)]
pub(crate) async fn delete_var(
    State(state): State<AppState>,
    Path((name, key)): Path<(String, String)>,
    Query(scope): Query<Scope>,
) -> Result<StatusCode, ApiError> {
    let environment = scope.environment()?;
    let project = project_by_name(&state, &name).await?;
    state.store.variables().delete_in(project.id, environment, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}
