//! `/ui/projects/{name}/dora`: the DORA keys of the project's services in one environment over
//! a window, added up, or of the one service picked (`?service=&environment=&window=&until=`;
//! production, or the first environment with deployments, by default), each with its tier, and
//! the project's incidents with a Resolve button for the open ones (developers). Read through
//! the same functions as the API (`crate::dora`).

use axum::extract::{Path, Query, State};
use ferry_proto::dora::{DoraReport, Tier};
use maud::{Markup, html};
use serde::Deserialize;

use super::projects::time;
use super::{Session, format, layout};
use crate::api::ApiError;
use crate::api::projects::project_by_name;
use crate::dora::{PRODUCTION, incident_view};
use crate::{AppState, now_ms};

/// How many incidents the page lists.
const INCIDENTS: i64 = 100;

/// The page's choice of unit and window.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Choice {
    /// Empty or absent: every service.
    service: Option<String>,
    environment: Option<String>,
    window: Option<String>,
    /// The window's end (RFC 3339); now by default.
    until: Option<String>,
}

fn tier(tier: Option<Tier>) -> Markup {
    match tier {
        Some(tier) => {
            html! { span class=(format!("badge tier-{}", tier.as_str())) data-tier=(tier.as_str()) { (tier.as_str()) } }
        }
        None => html! { span.muted data-tier="" { "no data" } },
    }
}

fn seconds(value: Option<i64>) -> String {
    value.map_or_else(|| "–".to_owned(), |s| format::duration(s.saturating_mul(1000)))
}

fn rate(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |rate| format!("{:.0} %", rate * 100.0))
}

/// One key's tile.
fn key(id: &str, name: &str, value: String, detail: String, grade: Markup) -> Markup {
    html! {
        div.panel .dora-key #(id) {
            h3 { (name) }
            div.dora-value { (value) }
            div.muted { (detail) }
            (grade)
        }
    }
}

fn keys(report: &DoraReport) -> Markup {
    let frequency = &report.deployment_frequency;
    let lead = &report.lead_time;
    let failures = &report.change_failure_rate;
    let recovery = &report.recovery_time;
    let rework = &report.rework_rate;
    html! {
        div.dora-keys {
            (key("deployment-frequency", "Deployment frequency", format!("{:.2} a day", frequency.per_day),
                format!("{} deployments, {:.1} deploy days a week", frequency.deployments, frequency.deploy_days_per_week), tier(Some(frequency.tier))))
            (key("lead-time", "Lead time for changes", seconds(lead.median_seconds),
                format!("median of {} commits; p90 {}", lead.commits, seconds(lead.p90_seconds)), tier(lead.tier)))
            (key("change-failure-rate", "Change failure rate", rate(failures.rate),
                format!("{} failed of {}", failures.failed, failures.total), tier(failures.tier)))
            (key("recovery-time", "Failed deployment recovery time", seconds(recovery.median_seconds),
                format!("median of {} failures; p90 {}", recovery.failures, seconds(recovery.p90_seconds)), tier(recovery.tier)))
            (key("rework-rate", "Rework rate", rate(rework.rate),
                format!("{} of {} deployments during an incident", rework.rework, rework.total), html! {}))
        }
    }
}

/// `GET /ui/projects/{name}/dora`.
pub(super) async fn page(
    session: Session,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(choice): Query<Choice>,
) -> Result<Markup, ApiError> {
    let project = project_by_name(&state, &name).await?;
    if !session.sees(project.id) {
        return Err(ApiError::not_found("project", &name));
    }
    let units = state.store.dora().units(project.id).await?;
    let service = choice.service.clone().filter(|service| !service.is_empty());
    let environment = choice
        .environment
        .clone()
        .filter(|environment| !environment.is_empty())
        .or_else(|| {
            let of_service = units.iter().filter(|(s, _)| service.as_ref().is_none_or(|service| s == service));
            of_service
                .clone()
                .find(|(_, e)| e == PRODUCTION)
                .or_else(|| of_service.clone().next())
                .map(|(_, e)| e.clone())
        })
        .unwrap_or_else(|| PRODUCTION.to_owned());
    let window = choice.window.clone().unwrap_or_else(|| "30d".to_owned());
    let now = now_ms();
    let until = match choice.until.as_deref().filter(|text| !text.is_empty()) {
        Some(text) => ferry_dora::parse_rfc3339(text)
            .map(|seconds| seconds.saturating_mul(1000))
            .map_err(|error| error.to_string()),
        None => Ok(now),
    };
    let report = match until {
        Err(error) => Err(error),
        Ok(_) if units.is_empty() => {
            Err("No deployment is recorded yet: deploy a service, or import history with `ferry dora import`."
                .to_owned())
        }
        Ok(until) => match ferry_dora::parse_window(&window) {
            Ok(length) => {
                Ok(crate::dora::report(&state, &project, service.as_deref(), &environment, length, until).await?)
            }
            Err(error) => Err(error.to_string()),
        },
    };
    let incidents = state.store.dora().incidents(project.id, INCIDENTS).await?;
    let write_title = (!session.can_write()).then_some("resolving needs the developer role");
    let href = format!("/ui/projects/{}", project.name);
    let body = html! {
        div.title-row { h1 { (project.name) " · DORA" } }
        form.dora-choice method="get" {
            label { "Service"
                select name="service" {
                    option value="" selected[service.is_none()] { "All services" }
                    @for unit in units.iter().map(|(s, _)| s).collect::<std::collections::BTreeSet<_>>() {
                        option value=(unit) selected[Some(unit) == service.as_ref()] { (unit) }
                    }
                }
            }
            label { "Environment" input name="environment" value=(environment); }
            label { "Window" input name="window" value=(window) placeholder="30d"; }
            label { "Until" input name="until" value=[choice.until.as_deref()] placeholder="now (RFC 3339)"; }
            button type="submit" { "Show" }
        }
        @match &report {
            Ok(report) => {
                p.muted #dora-window {
                    (service.as_deref().unwrap_or("All services")) " in " (environment) ", "
                    (report.window.from) " – " (report.window.to)
                }
                (keys(report))
            }
            Err(message) => { p.muted #dora-empty { (message) } }
        }
        section.panel #incidents {
            h2 { "Incidents" }
            @if incidents.is_empty() { p.muted { "No incident yet." } }
            @else {
                table.list {
                    thead { tr { th { "#" } th { "Unit" } th { "Title" } th { "Started" } th { "Resolved" } th { "Cause" } th {} } }
                    tbody {
                        @for incident in incidents.into_iter().map(|incident| incident_view(&project.name, incident)) {
                            tr data-incident-id=(incident.id) {
                                td { a href=(format!("/ui/incidents/{}", incident.id)) { (incident.id) } }
                                td { (incident.service) " · " (incident.environment) }
                                td { (incident.title) }
                                td { (time(incident.started_at, now)) }
                                td { @if let Some(at) = incident.resolved_at { (time(at, now)) } @else { span.badge.state-failure { "open" } } }
                                td.mono {
                                    @if let Some(deployment) = incident.caused_by_deployment { "deployment #" (deployment) }
                                    @else if let Some(commit) = &incident.caused_by_commit { (format::short_sha(commit)) }
                                }
                                td {
                                    @if incident.resolved_at.is_none() {
                                        button data-action="resolve-incident" data-incident-id=(incident.id)
                                            disabled[!session.can_write()] title=[write_title] { "Resolve" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&format!("{} · DORA", project.name), Some(&session), &[(&project.name, &href), ("DORA", "")], body))
}
