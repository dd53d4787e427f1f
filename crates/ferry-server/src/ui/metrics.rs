//! `/ui/metrics`: the metrics explorer. A PromQL expression and a range (`?query=&range=1h`)
//! give a graph of the range query ending now, drawn here as SVG (no script), with a legend
//! of the series' labels, or Prometheus' error for the expression. Metrics belong to no
//! project, so the page needs a session whose token reaches all projects, as the API does.
//! With `[metrics] query_backend` the backend answers the query, as it answers the API.

use axum::extract::{Query, State};
use ferry_promql::{QueryOptions, QueryValue, RangeSeries};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Session, format, layout};
use crate::api::ApiError;
use crate::{AppState, now_ms};

/// The ranges offered, and how many points a graph has at most across.
const RANGES: &[&str] = &["5m", "15m", "1h", "6h", "24h", "7d"];
const POINTS: i64 = 240;
/// Series drawn at most; the legend says how many more there were.
const MAX_SERIES: usize = 20;
const COLOURS: &[&str] = &["#2f6fde", "#cf222e", "#1f883d", "#bf8700", "#8250df", "#0a7d8c", "#d4612b", "#6e7781"];
/// The drawing's size in SVG units.
const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 280.0;
const LEFT: f64 = 70.0;
const BOTTOM: f64 = 22.0;

#[derive(Debug, Default, Deserialize)]
pub(super) struct Choice {
    query: Option<String>,
    range: Option<String>,
}

/// Milliseconds of a range such as `15m` or `7d`.
fn range_ms(text: &str) -> Option<i64> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let number: i64 = number.parse().ok().filter(|n| *n > 0)?;
    let unit = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    number.checked_mul(unit)
}

/// The series as SVG polylines over `[start, end]`, scaled to the values' range.
fn chart(series: &[RangeSeries], start: i64, end: i64) -> Markup {
    let values = series.iter().flat_map(|s| s.points.iter().map(|(_, v)| *v)).filter(|v| v.is_finite());
    let (mut low, mut high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !low.is_finite() {
        (low, high) = (0.0, 1.0);
    }
    if (high - low).abs() < f64::EPSILON {
        (low, high) = (low - 1.0, high + 1.0);
    }
    let span = (end - start).max(1) as f64;
    let x = |t: i64| LEFT + (t - start) as f64 / span * (WIDTH - LEFT - 10.0);
    let y = |v: f64| 8.0 + (high - v) / (high - low) * (HEIGHT - BOTTOM - 16.0);
    html! {
        svg.chart #chart viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label="graph of the query" {
            line.axis x1=(LEFT) y1=(HEIGHT - BOTTOM) x2=(WIDTH - 10.0) y2=(HEIGHT - BOTTOM) {}
            line.axis x1=(LEFT) y1="8" x2=(LEFT) y2=(HEIGHT - BOTTOM) {}
            text x=(LEFT - 6.0) y=(y(high) + 4.0) text-anchor="end" { (format_value(high)) }
            text x=(LEFT - 6.0) y=(y(low) + 4.0) text-anchor="end" { (format_value(low)) }
            text x=(LEFT) y=(HEIGHT - 6.0) { (format::utc(start)) }
            text x=(WIDTH - 10.0) y=(HEIGHT - 6.0) text-anchor="end" { (format::utc(end)) }
            @for (index, one) in series.iter().enumerate() {
                polyline stroke=(COLOURS[index % COLOURS.len()]) data-series=(one.labels.to_string())
                    points=(polyline(one, &x, &y)) {}
            }
        }
    }
}

/// A series' points as `x,y` pairs; a gap (a missing step or a value that is not finite)
/// starts a new run, drawn as a move by repeating nothing across it.
fn polyline(series: &RangeSeries, x: &dyn Fn(i64) -> f64, y: &dyn Fn(f64) -> f64) -> String {
    series
        .points
        .iter()
        .filter(|(_, v)| v.is_finite())
        .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn format_value(value: f64) -> String {
    if value.abs() >= 1e6 || (value != 0.0 && value.abs() < 1e-3) {
        format!("{value:.3e}")
    } else {
        format!("{value:.3}")
    }
}

/// `GET /ui/metrics`.
pub(super) async fn page(
    session: Session,
    State(state): State<AppState>,
    Query(choice): Query<Choice>,
) -> Result<Markup, ApiError> {
    let query = choice.query.unwrap_or_default();
    let range = choice.range.filter(|range| range_ms(range).is_some()).unwrap_or_else(|| "1h".to_owned());
    let all_projects = matches!(session.0.scope, ferry_store::ProjectScope::All);
    let end = now_ms();
    let length = range_ms(&range).unwrap_or(3_600_000);
    let start = end - length;
    let step = (length / POINTS).max(1_000);
    let result = if !all_projects {
        Some(Err("Metrics belong to no project: log in with a token for all projects to query them.".to_owned()))
    } else if query.trim().is_empty() {
        None
    } else if let Some(backend) = &state.query_backend {
        Some(backend.range_query(&query, start, end, step).await.map_err(|error| error.to_string()))
    } else {
        let db = crate::prometheus::store(&state)
            .await
            .map_err(|error| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))?;
        let text = query.clone();
        let value = tokio::task::spawn_blocking(move || {
            ferry_promql::range_query(db.as_ref(), &text, start, end, step, &QueryOptions::default())
        })
        .await
        .map_err(|error| {
            ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, format!("the query stopped: {error}"))
        })?;
        Some(match value {
            Ok(QueryValue::Matrix(series)) => Ok(series),
            Ok(_) => Err("a range query gives a matrix; this expression does not".to_owned()),
            Err(error) => Err(format!("{}: {error}", error.error_type())),
        })
    };
    let body = html! {
        div.title-row { h1 { "Metrics" } }
        form.metrics-query method="get" action="/ui/metrics" {
            label { "PromQL"
                textarea #metrics-expr name="query" rows="2" placeholder="rate(http_requests_total[5m])" { (query) }
            }
            label { "Range"
                select name="range" {
                    @for option in RANGES { option value=(option) selected[*option == range] { (option) } }
                }
            }
            button #metrics-run type="submit" { "Graph" }
        }
        @match &result {
            None => { p.muted { "Type an expression to graph it over the range, ending now." } }
            Some(Err(message)) => { p.error #metrics-error { (message) } }
            Some(Ok(series)) if series.is_empty() => { p.muted #metrics-empty { "No data in this range." } }
            Some(Ok(series)) => {
                (chart(&series[..series.len().min(MAX_SERIES)], start, end))
                ul.legend #legend {
                    @for (index, one) in series.iter().take(MAX_SERIES).enumerate() {
                        li style=(format!("--swatch: {}", COLOURS[index % COLOURS.len()])) { (one.labels.to_string()) }
                    }
                    @if series.len() > MAX_SERIES { li.muted { (series.len() - MAX_SERIES) " more series not drawn" } }
                }
            }
        }
    };
    Ok(layout::page("Metrics", Some(&session), &[("Metrics", "/ui/metrics")], body))
}

#[cfg(test)]
mod tests {
    use super::range_ms;

    #[test]
    fn ranges_are_read_and_nonsense_is_not() {
        assert_eq!(range_ms("15m"), Some(900_000));
        assert_eq!(range_ms("7d"), Some(604_800_000));
        assert_eq!(range_ms("0m"), None);
        assert_eq!(range_ms("1y"), None);
        assert_eq!(range_ms("m"), None);
    }
}
