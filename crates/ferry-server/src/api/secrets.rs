//! A project's secrets (write-only: encrypted at rest, names listed, values never answered)
//! and variables (plain).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_store::Variable;
use serde::{Deserialize, Serialize};

use crate::api::projects::project_by_name;
use crate::api::{ApiError, Body, Path, check_key};
use crate::auth::{Developer, Viewer};
use crate::{AppState, now_ms};

#[derive(Deserialize)]
pub(crate) struct ValueBody {
    value: String,
}

/// A secret as the API shows it: its name.
#[derive(Serialize)]
pub(crate) struct SecretView {
    name: String,
    updated_at: i64,
}

/// A variable as the API shows it.
#[derive(Serialize)]
pub(crate) struct VariableView {
    name: String,
    value: String,
    updated_at: i64,
}

impl From<Variable> for VariableView {
    fn from(variable: Variable) -> VariableView {
        VariableView { name: variable.name, value: variable.value, updated_at: variable.updated_at }
    }
}

/// `PUT /api/v1/projects/{name}/secrets/{key} {value}`: creates or replaces a secret.
pub(crate) async fn put_secret(
    _: Developer,
    State(state): State<AppState>,
    Path((name, key)): Path<(String, String)>,
    Body(body): Body<ValueBody>,
) -> Result<StatusCode, ApiError> {
    check_key("secret", &key)?;
    let project = project_by_name(&state, &name).await?;
    let sealed = state.secret_box.seal(project.id, &key, body.value.as_bytes());
    state.store.secrets().set(project.id, &key, &sealed.ciphertext, &sealed.nonce, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/projects/{name}/secrets`: names only.
pub(crate) async fn list_secrets(
    _: Viewer,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<SecretView>>, ApiError> {
    let project = project_by_name(&state, &name).await?;
    let secrets = state.store.secrets().list(project.id).await?;
    Ok(Json(
        secrets.into_iter().map(|secret| SecretView { name: secret.name, updated_at: secret.updated_at }).collect(),
    ))
}

/// `DELETE /api/v1/projects/{name}/secrets/{key}`.
pub(crate) async fn delete_secret(
    _: Developer,
    State(state): State<AppState>,
    Path((name, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let project = project_by_name(&state, &name).await?;
    state.store.secrets().delete(project.id, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/projects/{name}/vars/{key} {value}`: creates or replaces a variable.
pub(crate) async fn put_var(
    _: Developer,
    State(state): State<AppState>,
    Path((name, key)): Path<(String, String)>,
    Body(body): Body<ValueBody>,
) -> Result<StatusCode, ApiError> {
    check_key("variable", &key)?;
    let project = project_by_name(&state, &name).await?;
    state.store.variables().set(project.id, &key, &body.value, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/projects/{name}/vars`.
pub(crate) async fn list_vars(
    _: Viewer,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<VariableView>>, ApiError> {
    let project = project_by_name(&state, &name).await?;
    let variables = state.store.variables().list(project.id).await?;
    Ok(Json(variables.into_iter().map(VariableView::from).collect()))
}

/// `GET /api/v1/projects/{name}/vars/{key}`.
pub(crate) async fn get_var(
    _: Viewer,
    State(state): State<AppState>,
    Path((name, key)): Path<(String, String)>,
) -> Result<Json<VariableView>, ApiError> {
    let project = project_by_name(&state, &name).await?;
    let variable =
        state.store.variables().get(project.id, &key).await?.ok_or_else(|| ApiError::not_found("variable", &key))?;
    Ok(Json(variable.into()))
}

/// `DELETE /api/v1/projects/{name}/vars/{key}`.
pub(crate) async fn delete_var(
    _: Developer,
    State(state): State<AppState>,
    Path((name, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let project = project_by_name(&state, &name).await?;
    state.store.variables().delete(project.id, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}
