//! `GET /api/v1/projects/{name}/slos` (viewers): the error budget of every SLO of the
//! project's deploy.yml (at the head of its default branch) in every environment its service
//! is deployed to, judged now (`crate::slos`, `docs/monitoring.md`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_proto::names::Name;
use ferry_proto::slos::SloView;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::api::projects::project_by_name;
use crate::api::{ApiError, ErrorBody, Path, Query, check_name};

/// Which SLOs `GET /api/v1/projects/{name}/slos` lists.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SloFilter {
    /// Only this service's.
    #[param(value_type = Option<ferry_proto::names::Name>)]
    service: Option<String>,
    /// Only in this environment.
    #[param(value_type = Option<ferry_proto::names::Name>)]
    environment: Option<String>,
}

/// `GET /api/v1/projects/{name}/slos?service=&environment=`.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}/slos",
    operation_id = "list_slos",
    tag = "slos",
    params(("name" = Name, Path, description = "The project's name"), SloFilter),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Each SLO in each environment of its service, in deploy.yml's order, with its error budget now", body = [SloView]),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 422, description = "The project's deploy.yml cannot be read from its default branch, or has errors", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(filter): Query<SloFilter>,
) -> Result<Json<Vec<SloView>>, ApiError> {
    for (what, value) in [("service", &filter.service), ("environment", &filter.environment)] {
        if let Some(value) = value {
            check_name(what, value)?;
        }
    }
    let project = project_by_name(&state, &name).await?;
    let spec = crate::slos::project_spec(&state, &project)
        .await
        .map_err(|error| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string()))?;
    let units = spec.as_ref().map(crate::slos::units).unwrap_or_default();
    let wanted = |(service, environment, _): &(String, String, ferry_deploy::Slo)| {
        filter.service.as_ref().is_none_or(|want| want == service)
            && filter.environment.as_ref().is_none_or(|want| want == environment)
    };
    let units = units.into_iter().filter(wanted).collect();
    Ok(Json(crate::slos::judge_all(&state, &project.name, units).await))
}
