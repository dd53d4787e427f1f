//! `/ui/projects/{name}/releases/{service}/{number}`: a release (its commits, its files, the
//! run that built it, its deploy spec), and the project page's list of recent releases.

use axum::extract::{Path, State};
use ferry_proto::releases::ReleaseView;
use maud::{Markup, html};

use super::projects::time;
use super::{Session, format, layout};
use crate::api::ApiError;
use crate::api::projects::project_by_name;
use crate::releases::release_view;
use crate::{AppState, now_ms};

/// How many releases the project page lists.
const RECENT: usize = 10;

/// `GET /ui/projects/{name}/releases/{service}/{number}`.
pub(super) async fn page(
    session: Session,
    State(state): State<AppState>,
    Path((name, service, number)): Path<(String, String, i64)>,
) -> Result<Markup, ApiError> {
    let project = project_by_name(&state, &name).await?;
    if !session.sees(project.id) {
        return Err(ApiError::not_found("project", &name));
    }
    let release = release_view(&project.name, state.store.releases().get(project.id, &service, number).await?);
    let now = now_ms();
    let title = format!("{} release {}", release.service, release.number);
    let body = html! {
        div.title-row {
            h1 #release-title { (release.service) " · release " (release.number) }
            span.muted {
                "made " (time(release.created_at, now))
                @if let Some(author) = &release.author { " by " (author) }
            }
        }
        dl.facts #release-facts {
            dt { "Commit" } dd.mono title=(release.commit) { (format::short_sha(&release.commit)) }
            dt { "Run" }
            dd {
                @if let Some(run_id) = release.run_id {
                    a #release-run href=(format!("/ui/runs/{run_id}")) { "run " (run_id) }
                } @else {
                    span.muted { "made from files" }
                }
            }
            dt { "Size" } dd { (release.size) " bytes in " (release.files.len()) " file(s)" }
        }
        h2 { "Commits" }
        table.list #release-commits {
            thead { tr { th { "Commit" } th { "Message" } th { "Author" } th { "Date" } } }
            tbody {
                @for commit in &release.commits {
                    tr {
                        td.mono title=(commit.sha) { (format::short_sha(&commit.sha)) }
                        td { (commit.message) }
                        td { (commit.author) }
                        td { (time(commit.at, now)) }
                    }
                }
            }
        }
        h2 { "Files" }
        table.list #release-files {
            thead { tr { th { "Path" } th { "Size" } th { "SHA-256" } } }
            tbody {
                @for file in &release.files {
                    tr { td.mono { (file.path) } td { (file.size) } td.mono.muted { (file.sha256) } }
                }
            }
        }
        details.panel {
            summary { ".ferry/deploy.yml" }
            pre.mono #release-spec { (release.deploy_spec) }
        }
    };
    let project_href = format!("/ui/projects/{}", project.name);
    let href = format!("{project_href}/releases/{}/{}", release.service, release.number);
    Ok(layout::page(&title, Some(&session), &[(&project.name, &project_href), (&title, &href)], body))
}

/// The project page's `#releases`: its newest releases.
pub(super) async fn recent(state: &AppState, project: &ferry_store::Project) -> Result<Markup, ApiError> {
    let releases: Vec<ReleaseView> = state
        .store
        .releases()
        .list(project.id, None)
        .await?
        .into_iter()
        .take(RECENT)
        .map(|release| release_view(&project.name, release))
        .collect();
    let now = now_ms();
    Ok(html! {
        @if !releases.is_empty() {
            section #releases {
                h2 { "Releases" }
                table.list {
                    thead { tr { th { "Release" } th { "Commit" } th { "Run" } th { "Author" } th { "Created" } } }
                    tbody {
                        @for release in &releases {
                            tr {
                                td {
                                    a.strong href=(format!("/ui/projects/{}/releases/{}/{}", project.name, release.service, release.number)) {
                                        (release.service) " " (release.number)
                                    }
                                }
                                td.mono { (format::short_sha(&release.commit)) }
                                td { @if let Some(run_id) = release.run_id { a href=(format!("/ui/runs/{run_id}")) { (run_id) } } }
                                td { (release.author.as_deref().unwrap_or("")) }
                                td { (time(release.created_at, now)) }
                            }
                        }
                    }
                }
            }
        }
    })
}
