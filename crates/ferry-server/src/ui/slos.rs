//! `/ui/projects/{name}/slos`: each SLO of the project's deploy.yml in each environment of
//! its service, with its objective, the error budget left now, the burn rate of the last
//! hour, and a budget burn chart: the budget left over the SLO's window at each point of the
//! window before now (a range query), drawn as SVG. Read through the same functions as the
//! API (`crate::slos`).

use axum::extract::{Path, State};
use ferry_promql::RangeSeries;
use ferry_proto::slos::{SloStatus, SloView};
use maud::{Markup, html};

use super::{Session, format, layout};
use crate::AppState;
use crate::api::ApiError;
use crate::api::projects::project_by_name;

/// The drawing's size in SVG units.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 160.0;
const LEFT: f64 = 52.0;
const BOTTOM: f64 = 20.0;

/// A ratio as a percent with one decimal, or a dash.
fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |value| format!("{:.1} %", value * 100.0))
}

fn status_badge(status: SloStatus) -> Markup {
    let class = match status {
        SloStatus::Ok => "state-success",
        SloStatus::Exhausted => "state-failure",
        SloStatus::NoData => "state-cancelled",
    };
    html! { span class=(format!("badge {class}")) data-status=(status.as_str()) { (status.as_str()) } }
}

/// The budget left over time, from 1 (untouched) down to what the worst point reached
/// (below 0 when overspent), with the zero line drawn.
fn burn_chart(id: &str, series: &[RangeSeries], start: i64, end: i64) -> Markup {
    let points: Vec<(i64, f64)> =
        series.iter().flat_map(|one| one.points.iter().copied()).filter(|(_, v)| v.is_finite()).collect();
    let low = points.iter().map(|(_, v)| *v).fold(0.0_f64, f64::min);
    let high = points.iter().map(|(_, v)| *v).fold(1.0_f64, f64::max);
    let span = (end - start).max(1) as f64;
    let x = |t: i64| LEFT + (t - start) as f64 / span * (WIDTH - LEFT - 10.0);
    let y = |v: f64| 8.0 + (high - v) / (high - low) * (HEIGHT - BOTTOM - 16.0);
    let line: Vec<String> = points.iter().map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v))).collect();
    html! {
        svg.chart.burn id=(id) viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img"
            aria-label="error budget left over the window" data-points=(points.len()) {
            line.axis x1=(LEFT) y1=(HEIGHT - BOTTOM) x2=(WIDTH - 10.0) y2=(HEIGHT - BOTTOM) {}
            line.axis x1=(LEFT) y1="8" x2=(LEFT) y2=(HEIGHT - BOTTOM) {}
            line.zero stroke="#cf222e" stroke-dasharray="4 3" x1=(LEFT) y1=(y(0.0)) x2=(WIDTH - 10.0) y2=(y(0.0)) {}
            text x=(LEFT - 6.0) y=(y(high) + 4.0) text-anchor="end" { (format!("{:.0} %", high * 100.0)) }
            text x=(LEFT - 6.0) y=(y(0.0) + 4.0) text-anchor="end" { "0 %" }
            @if low < 0.0 {
                text x=(LEFT - 6.0) y=(y(low) + 4.0) text-anchor="end" { (format!("{:.0} %", low * 100.0)) }
            }
            text x=(LEFT) y=(HEIGHT - 4.0) { (format::utc(start)) }
            text x=(WIDTH - 10.0) y=(HEIGHT - 4.0) text-anchor="end" { (format::utc(end)) }
            @if line.is_empty() {
                text x=(WIDTH / 2.0) y=(HEIGHT / 2.0) text-anchor="middle" { "no data over the window" }
            } @else {
                polyline stroke="#2f6fde" points=(line.join(" ")) {}
            }
        }
    }
}

fn slo_panel(view: &SloView, chart: Markup) -> Markup {
    let id = format!("slo-{}-{}-{}", view.service, view.environment, view.slo);
    html! {
        section.panel.slo id=(id) data-service=(view.service) data-environment=(view.environment) data-slo=(view.slo) {
            h2 { (view.service) " · " (view.environment) " · " (view.slo) " " (status_badge(view.status)) }
            p {
                "Objective " strong { (view.objective) " %" } " over " (view.window)
                " · budget left " strong.budget-left { (percent(view.budget_remaining)) }
                " · errors " (percent(view.error_ratio))
                " · burn rate (1h) " (view.burn_rate_1h.map_or_else(|| "–".to_owned(), |rate| format!("{rate:.1}×")))
            }
            (chart)
        }
    }
}

/// `GET /ui/projects/{name}/slos`.
pub(super) async fn page(
    session: Session,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Markup, ApiError> {
    let project = project_by_name(&state, &name).await?;
    if !session.sees(project.id) {
        return Err(ApiError::not_found("project", &name));
    }
    let href = format!("/ui/projects/{}", project.name);
    let body = match crate::slos::project_spec(&state, &project).await {
        Err(error) => html! { p.muted #slos-empty { (error.to_string()) } },
        Ok(spec) => {
            let units = spec.as_ref().map(crate::slos::units).unwrap_or_default();
            let views = crate::slos::judge_all(&state, &project.name, units.clone()).await;
            let mut panels = Vec::new();
            for ((service, environment, slo), view) in units.iter().zip(&views) {
                let id = format!("burn-{service}-{environment}-{}", slo.name);
                let chart = match crate::slos::burn(&state, &project.name, service, environment, slo).await {
                    Some((series, start, end)) => burn_chart(&id, &series, start, end),
                    None => html! { p.muted { "The metrics store cannot draw this chart now." } },
                };
                panels.push(slo_panel(view, chart));
            }
            html! {
                @if panels.is_empty() {
                    p.muted #slos-empty {
                        "No SLO yet: add " code { "slos:" } " to a service in " code { ".ferry/deploy.yml" }
                        " (docs/deploy.md)."
                    }
                }
                @for panel in panels { (panel) }
            }
        }
    };
    let body = html! {
        div.title-row { h1 { (project.name) " · SLOs" } }
        (body)
    };
    Ok(layout::page(&format!("{} · SLOs", project.name), Some(&session), &[(&project.name, &href), ("SLOs", "")], body))
}
