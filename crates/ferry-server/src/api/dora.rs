//! DORA through the API: a unit's or a project's keys over a window (viewers), incidents
//! (viewers list them and read one with its timeline, developers open, acknowledge and
//! resolve them), and the deployments and incidents teams send from outside (developers). See
//! `ferry_proto::dora`, `crate::dora` and `docs/dora.md`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_proto::dora::{DoraEvents, DoraEventsRecorded, DoraReport, IncidentDetail, IncidentRequest, IncidentView};
use ferry_proto::names::{Id, Name};
use ferry_store::{NewIncident, UnitRef};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::projects::project_by_name;
use crate::api::{ApiError, Body, ErrorBody, Path, Query};
use crate::auth::Caller;
use crate::dora::{PRODUCTION, incident_view, record_events, report};
use crate::{AppState, now_ms};

/// Which unit (or the whole project) and window `GET /api/v1/projects/{name}/dora` reports on.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DoraQuery {
    /// The service; without it (or empty), every service of the project in the environment,
    /// added up.
    service: Option<String>,
    /// The environment; default `production`.
    environment: Option<String>,
    /// The window's length: a number and `d`, `w`, `h` or `m`; default `30d`.
    window: Option<String>,
    /// The window's end (RFC 3339); default now.
    until: Option<String>,
}

fn unprocessable(message: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message.to_string())
}

/// `GET /api/v1/projects/{name}/dora?service=S&environment=E&window=30d&until=T`, each optional.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}/dora",
    operation_id = "get_dora",
    tag = "dora",
    params(("name" = Name, Path, description = "The project's name"), DoraQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The five keys of the service (or of every service of the project) in the environment over the window", body = DoraReport),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 422, description = "The window or the time is not one Ferry reads", body = ErrorBody),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<DoraQuery>,
) -> Result<Json<DoraReport>, ApiError> {
    let project = project_by_name(&state, &name).await?;
    let length = ferry_dora::parse_window(query.window.as_deref().unwrap_or("30d")).map_err(unprocessable)?;
    let until = match &query.until {
        Some(text) => ferry_dora::parse_rfc3339(text).map_err(unprocessable)?.saturating_mul(1000),
        None => now_ms(),
    };
    let environment = query.environment.as_deref().unwrap_or(PRODUCTION);
    let service = query.service.as_deref().filter(|service| !service.is_empty());
    Ok(Json(report(&state, &project, service, environment, length, until).await?))
}

/// Which incidents `GET /api/v1/projects/{name}/incidents` lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct IncidentsQuery {
    /// `true`: only the open ones.
    open: Option<bool>,
}

/// `GET /api/v1/projects/{name}/incidents`: newest first.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}/incidents",
    operation_id = "list_incidents",
    tag = "dora",
    params(("name" = Name, Path, description = "The project's name"), IncidentsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The project's incidents, newest first (at most 500)", body = [IncidentView]),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 404, description = "No such project", body = ErrorBody),
    ),
)]
pub(crate) async fn list_incidents(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<IncidentsQuery>,
) -> Result<Json<Vec<IncidentView>>, ApiError> {
    let project = project_by_name(&state, &name).await?;
    let incidents = state.store.incidents().list(project.id, query.open.unwrap_or(false), 500).await?;
    Ok(Json(incidents.into_iter().map(|incident| incident_view(&project.name, incident)).collect()))
}

/// `POST /api/v1/projects/{name}/incidents` (`ferry incident open`).
#[utoipa::path(
    post,
    path = "/api/v1/projects/{name}/incidents",
    operation_id = "open_incident",
    tag = "dora",
    params(("name" = Name, Path, description = "The project's name")),
    request_body = IncidentRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Opened", body = IncidentView),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 422, description = "A name that is not one, or a deployment of another project or unit", body = ErrorBody),
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn open_incident(
    Caller(token): Caller,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(request): Body<IncidentRequest>,
) -> Result<(StatusCode, Json<IncidentView>), ApiError> {
    let project = project_by_name(&state, &name).await?;
    let environment = request.environment.as_deref().unwrap_or(PRODUCTION);
    for value in [request.service.as_str(), environment] {
        if !ferry_proto::names::is_name(value) {
            return Err(unprocessable(format!("{value:?} is not a name (1 to 100 of A-Z a-z 0-9 . _ -)")));
        }
    }
    if let Some(id) = request.caused_by {
        let deployment = match state.store.deployments().get(id).await {
            Ok(deployment) => Some(deployment),
            Err(ferry_store::StoreError::NotFound { .. }) => None,
            Err(error) => return Err(error.into()),
        };
        let same_unit = deployment.is_some_and(|deployment| {
            deployment.project_id == project.id
                && deployment.service == request.service
                && deployment.environment == environment
        });
        if !same_unit {
            return Err(unprocessable(format!(
                "deployment {id} is not a deployment of {} to {environment} in {}; `ferry deployments {}` lists them",
                request.service, project.name, project.name
            )));
        }
    }
    let title = request.title.clone().unwrap_or_else(|| format!("{} degraded in {environment}", request.service));
    let incident = state
        .store
        .dora()
        .open_incident(&NewIncident {
            unit: UnitRef { project_id: project.id, service: &request.service, environment },
            title: &title,
            started_at: request.started_at.unwrap_or_else(now_ms),
            resolved_at: None,
            caused_by_deployment: request.caused_by,
            caused_by_commit: None,
            opened_by: &token.name,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(incident_view(&project.name, incident))))
}

/// `POST /api/v1/incidents/{id}/resolve` (`ferry incident resolve ID`): service is restored
/// now; an incident resolved already keeps its time.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/resolve",
    operation_id = "resolve_incident",
    tag = "dora",
    params(("id" = Id, Path, description = "The incident's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Resolved", body = IncidentView),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No such incident", body = ErrorBody),
    ),
)]
pub(crate) async fn resolve_incident(
    Caller(token): Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<IncidentView>, ApiError> {
    let incident = state.store.incidents().resolve(id, &token.name, state.pipeline.clock.now_ms()).await?;
    let project = state.store.projects().get(incident.project_id).await?;
    Ok(Json(incident_view(&project.name, incident)))
}

/// `POST /api/v1/incidents/{id}/ack` (`ferry incident ack ID`): someone is on it; an
/// incident acknowledged already keeps who and when. Its owner is told.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/ack",
    operation_id = "ack_incident",
    tag = "dora",
    params(("id" = Id, Path, description = "The incident's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Acknowledged", body = IncidentView),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No such incident", body = ErrorBody),
    ),
)]
pub(crate) async fn ack_incident(
    Caller(token): Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<IncidentView>, ApiError> {
    let incident = state.store.incidents().ack(id, &token.name, state.pipeline.clock.now_ms()).await?;
    let project = state.store.projects().get(incident.project_id).await?;
    Ok(Json(incident_view(&project.name, incident)))
}

/// `GET /api/v1/incidents/{id}` (`ferry incident show ID`): the incident and its timeline.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}",
    operation_id = "get_incident",
    tag = "dora",
    params(("id" = Id, Path, description = "The incident's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The incident with its timeline of alerts, deployments and actions", body = IncidentDetail),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 404, description = "No such incident", body = ErrorBody),
    ),
)]
pub(crate) async fn get_incident(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<IncidentDetail>, ApiError> {
    let incident = state.store.dora().incident(id).await?;
    Ok(Json(crate::incidents::detail(&state, incident, state.pipeline.clock.now_ms()).await?))
}

/// `POST /api/v1/projects/{name}/dora/events`: deployments and incidents from outside
/// (`ferry dora import` sends its CSV files' rows here).
#[utoipa::path(
    post,
    path = "/api/v1/projects/{name}/dora/events",
    operation_id = "record_dora_events",
    tag = "dora",
    params(("name" = Name, Path, description = "The project's name")),
    request_body = DoraEvents,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Recorded", body = DoraEventsRecorded),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 422, description = "A name that is not one, or a commit the project's repository lacks (nothing is recorded)", body = ErrorBody),
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn record(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(events): Body<DoraEvents>,
) -> Result<(StatusCode, Json<DoraEventsRecorded>), ApiError> {
    let project = project_by_name(&state, &name).await?;
    let recorded = record_events(&state, &project, events, "api").await?;
    Ok((StatusCode::CREATED, Json(recorded)))
}
