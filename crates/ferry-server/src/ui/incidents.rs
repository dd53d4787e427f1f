//! Alerts and incidents in the UI: `/ui/alerts` (the alerts firing and silenced, as alert
//! routing holds them, the rules' pending ones, and the active silences; alerts belong to no
//! project, so it needs a session for all projects), `/ui/projects/{name}/incidents` (the
//! project's incidents, open first) and `/ui/incidents/{id}` (one incident with its timeline
//! and the Ack and Resolve buttons for developers). Read through the same functions as the
//! API (`crate::incidents::detail`).

use axum::extract::{Path, State};
use ferry_alerting::silence::SilenceState;
use ferry_proto::dora::{IncidentView, TimelineKind};
use maud::{Markup, html};

use super::projects::time;
use super::{Session, layout};
use crate::AppState;
use crate::api::ApiError;
use crate::api::projects::project_by_name;
use crate::dora::incident_view;

/// How many incidents the project's list shows.
const INCIDENTS: i64 = 200;

/// Labels as `{name="value", …}`, without `alertname` (shown apart).
fn labels_text<'a>(labels: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let pairs: Vec<String> =
        labels.filter(|(name, _)| *name != "alertname").map(|(name, value)| format!("{name}={value:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// One alert's row.
fn alert_row(name: &str, labels: &str, summary: &str, since: Markup, extra: Markup) -> Markup {
    html! {
        tr.alert {
            td.alertname { (name) }
            td.mono { (labels) }
            td { (summary) }
            td { (since) }
            td { (extra) }
        }
    }
}

fn alert_table(id: &str, title: &str, empty: &str, rows: Vec<Markup>) -> Markup {
    html! {
        section.panel #(id) {
            h2 { (title) " " span.muted.count { (rows.len()) } }
            @if rows.is_empty() { p.muted { (empty) } }
            @else {
                table.list {
                    thead { tr { th { "Alert" } th { "Labels" } th { "Summary" } th { "Since" } th {} } }
                    tbody { @for row in rows { (row) } }
                }
            }
        }
    }
}

/// `GET /ui/alerts`.
pub(super) async fn alerts(session: Session, State(state): State<AppState>) -> Result<Markup, ApiError> {
    let all_projects = matches!(session.0.scope, ferry_store::ProjectScope::All);
    if !all_projects {
        let body = html! {
            div.title-row { h1 { "Alerts" } }
            p.muted #alerts-refused { "Alerts belong to no project: log in with a token for all projects to see them." }
        };
        return Ok(layout::page("Alerts", Some(&session), &[("Alerts", "")], body));
    }
    let (routed, now) = state.alertmanager.alerts().await;
    let (silences, _) = state.alertmanager.silences().await;
    let mut firing = Vec::new();
    let mut silenced = Vec::new();
    for status in &routed {
        let alert = &status.alert;
        let name = alert.labels.get("alertname").map_or("", String::as_str);
        let labels = labels_text(alert.labels.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let summary = alert.annotations.get("summary").map_or("", String::as_str);
        match status.state {
            "active" => firing.push(alert_row(name, &labels, summary, time(alert.starts_at, now), html! {})),
            "suppressed" if !status.silenced_by.is_empty() => {
                let by = html! { span.muted { "silenced by " (status.silenced_by.join(", ")) } };
                silenced.push(alert_row(name, &labels, summary, time(alert.starts_at, now), by));
            }
            _ => {}
        }
    }
    let pending: Vec<Markup> = crate::rules::active_alerts(&state.rules)
        .into_iter()
        .filter(|alert| alert.state == ferry_rules::AlertState::Pending)
        .map(|alert| {
            let name = alert.labels.get("alertname").unwrap_or_default().to_owned();
            let labels = labels_text(alert.labels.iter());
            let summary =
                alert.annotations.iter().find(|(n, _)| n == "summary").map(|(_, v)| v.clone()).unwrap_or_default();
            alert_row(&name, &labels, &summary, time(alert.active_at_ms, now), html! {})
        })
        .collect();
    let active_silences: Vec<_> =
        silences.iter().filter(|silence| silence.state(now) == SilenceState::Active).collect();
    let body = html! {
        div.title-row { h1 { "Alerts" } }
        (alert_table("firing", "Firing", "No alert is firing.", firing))
        (alert_table("pending", "Pending", "No alert is pending.", pending))
        (alert_table("silenced", "Silenced", "No alert is silenced.", silenced))
        section.panel #silences {
            h2 { "Active silences" }
            @if active_silences.is_empty() { p.muted { "No silence is active." } }
            @else {
                table.list {
                    thead { tr { th { "Matchers" } th { "Comment" } th { "By" } th { "Ends" } } }
                    tbody {
                        @for silence in active_silences {
                            tr data-silence-id=(silence.id) {
                                td.mono { (silence.matchers.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")) }
                                td { (silence.comment) }
                                td { (silence.created_by) }
                                td { (time(silence.ends_at, now)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page("Alerts", Some(&session), &[("Alerts", "")], body))
}

/// An incident's state as a badge: open, acknowledged or resolved.
fn state_badge(incident: &IncidentView) -> Markup {
    match (incident.resolved_at, &incident.acked_by) {
        (Some(_), _) => html! { span.badge.state-success data-state="resolved" { "resolved" } },
        (None, Some(_)) => html! { span.badge.state-running data-state="acked" { "acknowledged" } },
        (None, None) => html! { span.badge.state-failure data-state="open" { "open" } },
    }
}

fn buttons(session: &Session, incident: &IncidentView) -> Markup {
    let write_title = (!session.can_write()).then_some("this needs the developer role");
    html! {
        @if incident.resolved_at.is_none() {
            @if incident.acked_at.is_none() {
                button data-action="ack-incident" data-incident-id=(incident.id)
                    disabled[!session.can_write()] title=[write_title] { "Ack" }
            }
            " "
            button data-action="resolve-incident" data-incident-id=(incident.id)
                disabled[!session.can_write()] title=[write_title] { "Resolve" }
        }
    }
}

/// `GET /ui/projects/{name}/incidents`.
pub(super) async fn list(
    session: Session,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Markup, ApiError> {
    let project = project_by_name(&state, &name).await?;
    if !session.sees(project.id) {
        return Err(ApiError::not_found("project", &name));
    }
    let now = state.pipeline.clock.now_ms();
    let mut incidents: Vec<IncidentView> = state
        .store
        .incidents()
        .list(project.id, false, INCIDENTS)
        .await?
        .into_iter()
        .map(|incident| incident_view(&project.name, incident))
        .collect();
    // Open ones first, each part newest first (the store's order).
    incidents.sort_by_key(|incident| incident.resolved_at.is_some());
    let href = format!("/ui/projects/{}", project.name);
    let body = html! {
        div.title-row { h1 { (project.name) " · Incidents" } }
        @if incidents.is_empty() { p.muted #no-incidents { "No incident yet." } }
        @else {
            table.list #incidents {
                thead { tr { th { "#" } th { "Unit" } th { "Title" } th { "State" } th { "Started" } th { "Cause" } th {} } }
                tbody {
                    @for incident in &incidents {
                        tr data-incident-id=(incident.id) {
                            td { a href=(format!("/ui/incidents/{}", incident.id)) { "#" (incident.id) } }
                            td { (incident.service) " · " (incident.environment) }
                            td { a href=(format!("/ui/incidents/{}", incident.id)) { (incident.title) } }
                            td { (state_badge(incident)) }
                            td { (time(incident.started_at, now)) }
                            td.mono { @if let Some(deployment) = incident.caused_by_deployment { "deployment #" (deployment) } }
                            td { (buttons(&session, incident)) }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        &format!("{} · Incidents", project.name),
        Some(&session),
        &[(&project.name, &href), ("Incidents", "")],
        body,
    ))
}

/// `GET /ui/incidents/{id}`.
pub(super) async fn page(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Markup, ApiError> {
    let incident = match state.store.dora().incident(id).await {
        Ok(incident) if session.sees(incident.project_id) => incident,
        Ok(_) | Err(ferry_store::StoreError::NotFound { .. }) => return Err(ApiError::not_found("incident", id)),
        Err(error) => return Err(error.into()),
    };
    let now = state.pipeline.clock.now_ms();
    let detail = crate::incidents::detail(&state, incident, now).await?;
    let incident = &detail.incident;
    let project_href = format!("/ui/projects/{}", incident.project);
    let incidents_href = format!("/ui/projects/{}/incidents", incident.project);
    let body = html! {
        div.title-row #incident-header data-incident-id=(incident.id) {
            h1 { "Incident #" (incident.id) ": " (incident.title) }
            (state_badge(incident))
            (buttons(&session, incident))
        }
        dl.meta #incident-facts {
            dt { "Unit" } dd { (incident.service) " in " (incident.environment) }
            dt { "Started" } dd { (time(incident.started_at, now)) }
            @if let Some(at) = incident.resolved_at {
                dt { "Resolved" } dd { (time(at, now)) @if let Some(by) = &incident.resolved_by { " by " (by) } }
            }
            @if let (Some(at), Some(by)) = (incident.acked_at, &incident.acked_by) {
                dt { "Acknowledged" } dd #acked { (time(at, now)) " by " (by) }
            }
            @if let Some(deployment) = incident.caused_by_deployment {
                dt { "Caused by" }
                dd #cause { a href=(format!("/ui/projects/{}/environments", incident.project)) { "deployment #" (deployment) } }
            }
            dt { "Opened by" } dd { (incident.opened_by) }
            @if let Some(owner) = &incident.owner { dt { "Owner" } dd #owner { (owner) } }
        }
        section.panel {
            h2 { "Timeline" }
            ol.timeline #timeline {
                @for entry in &detail.timeline {
                    @let kind = serde_json::to_value(entry.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                    li data-kind=(kind) data-deployment=[entry.deployment] {
                        (time(entry.at, now)) " "
                        span.what { (entry.text) }
                        @if entry.kind == TimelineKind::AlertFiring {
                            @if let Some(labels) = &entry.labels {
                                " " span.mono.muted { (labels_text(labels.iter().map(|(n, v)| (n.as_str(), v.as_str())))) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        &format!("Incident #{}", incident.id),
        Some(&session),
        &[(&incident.project, &project_href), ("Incidents", &incidents_href), (&format!("#{}", incident.id), "")],
        body,
    ))
}
