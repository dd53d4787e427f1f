//! `/` (every project the session sees, with its latest run) and `/ui/projects/{name}` (its
//! runs, newest first, a page at a time — `?before=N` for older ones —, and the "Run workflow"
//! form, its recent releases).

use axum::extract::{Path, Query, State};
use ferry_model::Status;
use ferry_proto::runs::RunView;
use maud::{Markup, html};

use super::{Session, format, layout};
use crate::api::ApiError;
use crate::api::projects::project_by_name;
use crate::api::runs::{RUNS_PER_PAGE, RunPage, runs_of};
use crate::{AppState, now_ms};

/// `GET /`.
pub(super) async fn index(session: Session, State(state): State<AppState>) -> Result<Markup, ApiError> {
    let mut rows = Vec::new();
    for project in state.store.projects().list().await?.into_iter().filter(|project| session.sees(project.id)) {
        let latest = runs_of(&state, &project, &RunPage { limit: Some(1), ..RunPage::default() }).await?.pop();
        rows.push((project, latest));
    }
    let now = now_ms();
    let body = html! {
        h1 { "Projects" }
        @if rows.is_empty() {
            p.muted { "No projects yet: create one with " code { "POST /api/v1/projects" } "." }
        } @else {
            table.list #projects {
                thead { tr { th { "Project" } th { "Repository" } th { "Branch" } th { "Latest run" } } }
                tbody {
                    @for (project, latest) in &rows {
                        tr {
                            td { a.strong href=(format!("/ui/projects/{}", project.name)) { (project.name) } }
                            td.mono { (crate::repo_url::redacted(&project.repo)) }
                            td.mono { (project.branch) }
                            td {
                                @if let Some(run) = latest {
                                    (badge(format::state(run.status, run.conclusion)))
                                    " "
                                    a href=(format!("/ui/runs/{}", run.id)) { "#" (run.number) " " (run.workflow_name) }
                                    " "
                                    span.muted { (time(run.created_at, now)) }
                                } @else {
                                    span.muted { "no runs yet" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page("Projects", Some(&session), &[], body))
}

/// Which page of runs `/ui/projects/{name}` shows.
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct ProjectQuery {
    /// Runs numbered below this one; the newest when left out.
    before: Option<i64>,
}

/// `GET /ui/projects/{name}`.
pub(super) async fn project(
    session: Session,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<ProjectQuery>,
) -> Result<Markup, ApiError> {
    let project = project_by_name(&state, &name).await?;
    if !session.sees(project.id) {
        return Err(ApiError::not_found("project", &name));
    }
    let runs = runs_of(&state, &project, &RunPage { before: query.before, ..RunPage::default() }).await?;
    let older = runs.last().filter(|_| i64::try_from(runs.len()).is_ok_and(|n_runs| n_runs == RUNS_PER_PAGE));
    let mut workflow_files: Vec<&str> = runs.iter().map(|run| run.workflow_file.as_str()).collect();
    workflow_files.sort_unstable();
    workflow_files.dedup();
    let href = format!("/ui/projects/{}", project.name);
    let releases = super::releases::recent(&state, &project).await?;
    let body = html! {
        div.title-row {
            h1 { (project.name) }
            span.muted.mono { (crate::repo_url::redacted(&project.repo)) " · " (project.branch) }
            a #environments-link href=(format!("/ui/projects/{}/environments", project.name)) { "Environments" }
            a #dora-link href=(format!("/ui/projects/{}/dora", project.name)) { "DORA" }
            a #incidents-link href=(format!("/ui/projects/{}/incidents", project.name)) { "Incidents" }
            a #slos-link href=(format!("/ui/projects/{}/slos", project.name)) { "SLOs" }
        }
        details.panel #trigger-panel {
            summary { "Run workflow" }
            form #trigger data-project=(project.name) {
                label { "Workflow file"
                    input #trigger-workflow name="workflow" list="workflow-files" placeholder="ci.yml (empty: every workflow on workflow_dispatch)";
                }
                datalist #workflow-files { @for file in &workflow_files { option value=(file) {} } }
                label { "Ref"
                    input #trigger-ref name="ref" placeholder=(project.branch);
                }
                label { "Inputs (one " code { "key=value" } " a line)"
                    textarea #trigger-inputs name="inputs" rows="3" placeholder="level=debug" {}
                }
                button.primary type="submit" disabled[!session.can_write()]
                    title=[(!session.can_write()).then_some("starting runs needs the developer role")] { "Run workflow" }
            }
        }
        (releases)
        (runs_list(&runs, &project.name, query.before, now_ms()))
        nav.pages {
            @if query.before.is_some() {
                a #newer-runs href=(href) { "Newest runs" }
            }
            @if let Some(last) = older {
                " " a #older-runs href=(format!("{href}?before={}", last.number)) { "Older runs" }
            }
        }
    };
    Ok(layout::page(&project.name, Some(&session), &[(&project.name, &href)], body))
}

/// `#runs`, which `app.js` swaps for a fresh copy when the API's list changes.
fn runs_list(runs: &[RunView], project: &str, before: Option<i64>, now: i64) -> Markup {
    let active = runs.iter().any(|run| run.status != Status::Completed);
    html! {
        section #runs data-project=(project) data-before=[before] data-active=(active) data-signature=(signature(runs)) {
            @if runs.is_empty() {
                p.muted { "No runs yet." }
            } @else {
                table.list.runs {
                    thead { tr { th { "Status" } th { "Run" } th { "Commit" } th { "Trigger" } th { "Duration" } th { "Created" } } }
                    tbody {
                        @for run in runs {
                            @let state = format::state(run.status, run.conclusion);
                            @let elapsed = format::elapsed(run.started_at, run.finished_at, now);
                            tr data-run-id=(run.id) data-state=(state) {
                                td { (badge(state)) }
                                td {
                                    a.strong href=(format!("/ui/runs/{}", run.id)) { "#" (run.number) " " (run.workflow_name) }
                                    div.muted.small { (run.title) }
                                }
                                td {
                                    span.mono title=(run.sha) { (format::short_sha(&run.sha)) }
                                    " " span.muted { (run.author) }
                                    div.muted.small.mono { (format::short_ref(&run.git_ref)) }
                                }
                                td { (run.event) div.muted.small { (run.actor) } }
                                td.mono {
                                    span data-since=[run.finished_at.is_none().then_some(run.started_at).flatten()] {
                                        (elapsed.map(format::duration).unwrap_or_else(|| "–".to_owned()))
                                    }
                                }
                                td { (time(run.created_at, now)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What `app.js` compares to notice a change: each run's id, status and conclusion, written
/// as it writes them from the API's JSON.
fn signature(runs: &[RunView]) -> String {
    let parts: Vec<String> = runs
        .iter()
        .map(|run| format!("{}:{}:{}", run.id, run.status, run.conclusion.map(|c| c.as_str()).unwrap_or("")))
        .collect();
    parts.join(",")
}

/// A status badge.
pub(super) fn badge(state: &str) -> Markup {
    html! { span class=(format!("badge state-{state}")) data-state=(state) { (state.replace('_', " ")) } }
}

/// A time, relative, with the absolute one on hover.
pub(super) fn time(at: i64, now: i64) -> Markup {
    html! { time title=(format::utc(at)) { (format::relative(at, now)) } }
}
