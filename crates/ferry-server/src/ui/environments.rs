//! `/ui/projects/{name}/environments`: each environment's release per service, its replicas'
//! health, the deployment waiting at a gate with its Approve button (for developers), the
//! workflow jobs with `environment:` waiting at theirs, and the timeline of the project's
//! deployments (services' releases and jobs) with rollbacks marked. Read through the same
//! functions as the API (`api::deployments`).

use axum::extract::{Path, State};
use ferry_proto::deployments::{DeploymentState, DeploymentView};
use maud::{Markup, html};

use super::projects::time;
use super::{Session, layout};
use crate::api::ApiError;
use crate::api::projects::project_by_name;
use crate::deployments::gates::awaits_approval;
use crate::{AppState, deployments, now_ms};

/// How many deployments the timeline shows.
const TIMELINE: i64 = 50;

fn state_word(state: DeploymentState) -> String {
    serde_json::to_value(state).ok().and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_default()
}

/// What a deployment brings: `release 3`, or `job deploy`.
fn what(deployment: &DeploymentView) -> String {
    match deployment.release {
        Some(release) => format!("release {release}"),
        None => format!("job {}", deployment.service),
    }
}

/// `GET /ui/projects/{name}/environments`.
pub(super) async fn page(
    session: Session,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Markup, ApiError> {
    let project = project_by_name(&state, &name).await?;
    if !session.sees(project.id) {
        return Err(ApiError::not_found("project", &name));
    }
    let axum::Json(status) = crate::api::deployments::status(
        State(state.clone()),
        crate::api::Path(project.name.clone()),
        crate::api::Query(Default::default()),
    )
    .await?;
    let mut timeline: Vec<DeploymentView> = Vec::new();
    for deployment in state.store.deployments().list(project.id, None, None, TIMELINE).await? {
        timeline.push(deployments::view(&state, &project.name, deployment).await?);
    }
    let now = now_ms();
    let write_title = (!session.can_write()).then_some("approving needs the developer role");
    let body = html! {
        div.title-row { h1 { (project.name) " · environments" } }
        @if status.environments.is_empty() {
            p.muted #no-environments { "Nothing is deployed yet: " code { "ferry deploy " (project.name) " SERVICE --env ENV" } }
        }
        @for environment in &status.environments {
            section.panel .environment data-environment=(environment.name) {
                h2 { (environment.name) }
                table.list {
                    thead { tr { th { "Service" } th { "Release" } th { "Replicas" } th { "URL" } th { "Pending" } } }
                    tbody {
                        @for service in &environment.services {
                            tr {
                                td.strong { (service.name) }
                                td { @if let Some(release) = service.release { (release) } @else { span.muted { "none yet" } } }
                                td {
                                    (service.replicas.iter().filter(|replica| replica.healthy).count()) "/" (service.replicas.len()) " healthy"
                                    @if service.agent_gone { " " span.muted { "(agent not reporting)" } }
                                }
                                td.mono { (service.url) }
                                td {
                                    @if let Some(pending) = &service.pending {
                                        span data-state=(state_word(pending.outcome)) { "#" (pending.id) " " (what(pending)) " " (state_word(pending.outcome)) }
                                        @if let Some(reason) = &pending.reason { div.muted { (reason) } }
                                        @if pending.outcome == DeploymentState::Waiting && awaits_approval(&pending.gates) {
                                            button data-action="approve-deployment" data-deployment-id=(pending.id)
                                                disabled[!session.can_write()] title=[write_title] { "Approve" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @let waiting_jobs: Vec<&DeploymentView> = timeline.iter().filter(|deployment| deployment.job.is_some() && deployment.outcome == DeploymentState::Waiting).collect();
        @if !waiting_jobs.is_empty() {
            section.panel #waiting-jobs {
                h2 { "Jobs waiting at a gate" }
                table.list {
                    thead { tr { th { "#" } th { "Job" } th { "Environment" } th { "Commit" } th { "Waiting for" } th {} } }
                    tbody {
                        @for deployment in &waiting_jobs {
                            tr data-state="waiting" {
                                td { (deployment.id) }
                                td { (what(deployment)) }
                                td { (deployment.environment) }
                                td.mono { (deployment.commit.as_deref().map_or("", |sha| sha.get(..7).unwrap_or(sha))) }
                                td.muted { (deployment.reason.as_deref().unwrap_or("")) }
                                td {
                                    @if awaits_approval(&deployment.gates) {
                                        button data-action="approve-deployment" data-deployment-id=(deployment.id)
                                            disabled[!session.can_write()] title=[write_title] { "Approve" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Deployments" }
        table.list #deployments {
            thead { tr { th { "#" } th { "Service or job" } th { "Environment" } th { "Release" } th { "Outcome" } th { "By" } th { "Created" } } }
            tbody {
                @for deployment in &timeline {
                    tr .rollback[deployment.is_rollback] {
                        td { (deployment.id) }
                        td { (deployment.service) }
                        td { (deployment.environment) }
                        td {
                            @match (deployment.release, deployment.run) {
                                (Some(release), _) => (release),
                                (None, Some(run)) => a href=(format!("/ui/runs/{run}")) { "job of run " (run) },
                                (None, None) => span.muted { "job" },
                            }
                            @if deployment.is_rollback { " " span.muted { "↩ rollback" } }
                        }
                        td data-state=(state_word(deployment.outcome)) title=[deployment.reason.as_deref()] { (state_word(deployment.outcome)) }
                        td { (deployment.triggered_by) }
                        td { (time(deployment.created_at, now)) }
                    }
                }
            }
        }
    };
    let project_href = format!("/ui/projects/{}", project.name);
    let href = format!("{project_href}/environments");
    Ok(layout::page("Environments", Some(&session), &[(&project.name, &project_href), ("environments", &href)], body))
}
