//! `/ui/runs/{id}`: the run's header and buttons, its job graph, and one job's steps whose
//! logs `log.js` streams in live.
//!
//! `app.js` polls `GET /api/v1/runs/{id}` while the run is not completed: it updates the steps
//! itself and, when a job or the run changes state (the [`signature`] changes), swaps
//! `#run-header`, `#graph` and `#job-header` for a fresh copy of this page's.

use axum::extract::{Path, Query, State};
use ferry_model::Status;
use ferry_proto::artifacts::ArtifactView;
use ferry_proto::runs::{JobView, RunDetail};
use maud::{Markup, html};
use serde::Deserialize;

use super::graph::{self, Node};
use super::projects::{badge, time};
use super::{Session, format, layout};
use crate::api::ApiError;
use crate::api::artifacts::artifacts_of;
use crate::api::runs::run_detail;
use crate::{AppState, now_ms};

/// Which job's steps to show.
#[derive(Deserialize)]
pub(super) struct RunPageQuery {
    job: Option<i64>,
}

/// `GET /ui/runs/{id}`.
pub(super) async fn page(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<RunPageQuery>,
) -> Result<Markup, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("run", &id))?;
    if !session.sees(state.store.runs().get(id).await?.project_id) {
        return Err(ApiError::not_found("run", id));
    }
    let detail = run_detail(&state, id).await?;
    let artifacts = artifacts_of(&state, id).await?;
    let now = now_ms();
    let selected = selected_job(&detail, query.job);
    let run = &detail.run;
    let title = format!("{} #{}", run.workflow_name, run.number);
    let project_href = format!("/ui/projects/{}", run.project);
    let run_href = format!("/ui/runs/{}", run.id);
    let body = html! {
        (header(&detail, &session, now))
        section.panel {
            h2 { "Jobs" }
            div.graph-scroll { (graph::render(&nodes(&detail, selected.map(|job| job.id), now))) }
        }
        @if !artifacts.is_empty() {
            (artifacts_section(run.id, &artifacts))
        }
        @if let Some(job) = selected {
            section.panel #job data-run-id=(run.id) data-job-id=(job.id) {
                (job_header(job, now))
                div.log-tools {
                    input #log-search type="search" placeholder="Search this job's log" autocomplete="off";
                    span #log-search-count .muted {}
                }
                div #steps {
                    @for step in &job.steps {
                        @let state = format::state(step.status, step.conclusion);
                        details.step open data-step-idx=(step.step_idx) data-state=(state) {
                            summary {
                                span.dot {}
                                span.step-name { (step.name) }
                                span.dur { (format::elapsed(step.started_at, step.finished_at, now).map(format::duration).unwrap_or_default()) }
                            }
                            div.lines {}
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        &title,
        Some(&session),
        &[(&run.project, &project_href), (&format!("#{}", run.number), &run_href)],
        body,
    ))
}

/// The run's artifacts, each a link to its `.tar` (the session cookie authenticates the GET).
fn artifacts_section(run_id: i64, artifacts: &[ArtifactView]) -> Markup {
    html! {
        section.panel #artifacts {
            h2 { "Artifacts" }
            table.list {
                @for artifact in artifacts {
                    tr {
                        td { a href=(format!("/api/v1/runs/{run_id}/artifacts/{}", format::path_segment(&artifact.name))) download { (artifact.name) } }
                        td.mono { (format::bytes(artifact.size)) }
                        td.muted { @if let Some(job) = &artifact.job { "from " (job) } }
                    }
                }
            }
        }
    }
}

/// The job asked for, else the first running one, else the first that failed, else the first.
fn selected_job(detail: &RunDetail, asked: Option<i64>) -> Option<&JobView> {
    let jobs = &detail.jobs;
    let asked = asked.and_then(|id| jobs.iter().find(|job| job.id == id));
    asked
        .or_else(|| jobs.iter().find(|job| job.status == Status::InProgress))
        .or_else(|| jobs.iter().find(|job| job.conclusion.is_some_and(|conclusion| !conclusion.is_successful())))
        .or_else(|| jobs.first())
}

fn header(detail: &RunDetail, session: &Session, now: i64) -> Markup {
    let run = &detail.run;
    let state = format::state(run.status, run.conclusion);
    let elapsed = format::elapsed(run.started_at, run.finished_at, now);
    let write_title = (!session.can_write()).then_some("this needs the developer role");
    html! {
        section #run-header .panel data-run-id=(run.id) data-status=(run.status) data-signature=(signature(detail)) {
            div.title-row {
                span #run-status data-state=(state) { (badge(state)) }
                h1 { (run.workflow_name) " " span.muted { "#" (run.number) } }
                div.actions {
                    @if run.status == Status::Completed {
                        button data-action="rerun" data-failed-only="false" disabled[!session.can_write()] title=[write_title] { "Re-run all jobs" }
                        button data-action="rerun" data-failed-only="true" disabled[!session.can_write() || run.conclusion.is_some_and(|c| c.is_successful())] title=[write_title] { "Re-run failed jobs" }
                    } @else {
                        @if run.status == Status::Waiting {
                            button data-action="approve" disabled[!session.can_write()] title=[write_title] { "Approve and run" }
                        }
                        button.danger data-action="cancel" disabled[!session.can_write()] title=[write_title] { "Cancel run" }
                    }
                }
            }
            p.commit { (run.title) }
            dl.meta {
                div { dt { "Commit" } dd.mono title=(run.sha) { (format::short_sha(&run.sha)) } }
                div { dt { "Author" } dd { (run.author) } }
                div { dt { "Ref" } dd.mono { (format::short_ref(&run.git_ref)) } }
                div { dt { "Workflow" } dd.mono { (run.workflow_file) } }
                div { dt { "Event" } dd { (run.event) " by " (run.actor) } }
                div { dt { "Created" } dd { (time(run.created_at, now)) } }
                div {
                    dt { "Duration" }
                    dd.mono {
                        span data-since=[run.finished_at.is_none().then_some(run.started_at).flatten()] {
                            (elapsed.map(format::duration).unwrap_or_else(|| "–".to_owned()))
                        }
                    }
                }
                @if let Some(rerun_of) = run.rerun_of {
                    div { dt { "Re-run of" } dd { a href=(format!("/ui/runs/{rerun_of}")) { "run " (rerun_of) } } }
                }
            }
            @if let Some(error) = &run.error {
                pre.run-error { (error) }
            }
        }
    }
}

fn job_header(job: &JobView, now: i64) -> Markup {
    let state = format::state(job.status, job.conclusion);
    let elapsed = format::elapsed(job.started_at, job.finished_at, now);
    html! {
        div #job-header .title-row {
            (badge(state))
            h2 { (job.name) }
            span.muted {
                @if let Some(runner) = &job.runner { "on " (runner) " · " } @else { "runs on " (job.runs_on.join(", ")) " · " }
                span.mono data-since=[job.finished_at.is_none().then_some(job.started_at).flatten()] {
                    (elapsed.map(format::duration).unwrap_or_else(|| "not started".to_owned()))
                }
            }
            @if let Some(reason) = &job.reason {
                // A job waiting at its environment's gates says what for; it has not failed.
                @if job.status == Status::Waiting { span.muted { (reason) } } @else { span.error { (reason) } }
            }
        }
    }
}

/// The graph's boxes: the job instances, then the workflow jobs without one.
fn nodes(detail: &RunDetail, selected: Option<i64>, now: i64) -> Vec<Node> {
    let instances = detail.jobs.iter().map(|job| Node {
        key: job.key.clone(),
        needs: job.needs.clone(),
        name: job.name.clone(),
        state: format::state(job.status, job.conclusion),
        detail: format::job_detail(job.status, job.conclusion, job.started_at, job.finished_at, now),
        running_since: job.finished_at.is_none().then_some(job.started_at).flatten(),
        href: Some(format!("/ui/runs/{}?job={}", detail.run.id, job.id)),
        selected: selected == Some(job.id),
    });
    let planned = detail.planned.iter().map(|job| Node {
        key: job.key.clone(),
        needs: job.needs.clone(),
        name: job.name.clone(),
        state: if job.state == "skipped" { "skipped" } else { "waiting" },
        detail: job.state.clone(),
        running_since: None,
        href: None,
        selected: false,
    });
    instances.chain(planned).collect()
}

/// What `app.js` compares to notice a change of state, written as it writes it from the
/// API's JSON: the run's status and conclusion, each job's, each planned job's state.
fn signature(detail: &RunDetail) -> String {
    let conclusion = |conclusion: Option<ferry_model::Conclusion>| conclusion.map(|c| c.as_str()).unwrap_or("");
    let mut parts = vec![format!("{}:{}", detail.run.status, conclusion(detail.run.conclusion))];
    parts.extend(detail.jobs.iter().map(|job| format!("{}:{}:{}", job.id, job.status, conclusion(job.conclusion))));
    parts.extend(detail.planned.iter().map(|job| format!("{}:{}", job.key, job.state)));
    parts.join(",")
}
