//! `analysis.queries`: PromQL queries with success and failure conditions on their result, in
//! the manner of the metrics of an Argo Rollouts `AnalysisTemplate`. The server evaluates each
//! query every `interval` while a deployment is under way; everything else is decided here:
//!
//! - [`substitute`] fills the placeholders (`{{project}}`, `{{service}}`, `{{environment}}`,
//!   `{{release}}`, `{{stable}}`), and [`check_query`] is what `deploy.yml`'s checks ask;
//! - [`judge`] judges one result (Argo's rules: with only `success`, a result that does not
//!   meet it failed; with only `failure`, one that does not meet it succeeded; with both, one
//!   that meets neither is inconclusive; with none, every result succeeds). An empty result or
//!   a NaN is inconclusive whatever the conditions say. A vector succeeds when every sample
//!   meets `success`, and fails when one sample meets `failure`;
//! - [`next_due`], [`record`] and [`verdict`] keep a query's measurements and limits: the
//!   analysis fails once more than `failure-limit` measurements failed (or more than
//!   `inconclusive-limit` were inconclusive), and a query with a `count` is done, successful,
//!   after that many.

use ferry_proto::agent::{AnalysisQuery, AnalysisVerdict, QueryTally};
use ferry_proto::deployments::{MAX_MEASUREMENTS, Measurement, MeasurementPhase, QueryAnalysis, QueryPhase};

mod condition;

pub use condition::{CmpOp, Condition, ConditionError, Operand, parse_condition, show_value};

/// The placeholders a query may use.
pub const PLACEHOLDERS: &[&str] = &["project", "service", "environment", "release", "stable"];
/// `interval:` when none is given.
pub const DEFAULT_INTERVAL_MS: u64 = 30_000;
/// The shortest `interval:` (the server looks for due queries once a second).
pub const MIN_INTERVAL_MS: u64 = 1_000;

/// A placeholder that cannot be filled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceholderError {
    #[error("unknown placeholder `{{{{{name}}}}}`")]
    Unknown { name: String },
    #[error("a `{{{{` is not closed by `}}}}`")]
    Unclosed,
}

/// Why a query as written cannot be measured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryCheckError {
    #[error(transparent)]
    Placeholder(#[from] PlaceholderError),
    #[error("it is not PromQL: {0}")]
    Promql(String),
}

/// The values of the placeholders for one deployment.
#[derive(Debug, Clone, Copy)]
pub struct Placeholders<'a> {
    pub project: &'a str,
    pub service: &'a str,
    pub environment: &'a str,
    /// The release being deployed.
    pub release: i64,
    /// The release that served before; `{{stable}}` is empty without one.
    pub stable: Option<i64>,
}

/// `query` with its placeholders filled.
///
/// # Errors
/// The first placeholder that is unknown or not closed.
pub fn substitute(query: &str, values: &Placeholders<'_>) -> Result<String, PlaceholderError> {
    let mut out = String::with_capacity(query.len());
    let mut rest = query;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or(PlaceholderError::Unclosed)?;
        let name = after[..end].trim();
        let value = match name {
            "project" => values.project.to_owned(),
            "service" => values.service.to_owned(),
            "environment" => values.environment.to_owned(),
            "release" => values.release.to_string(),
            "stable" => values.stable.map(|stable| stable.to_string()).unwrap_or_default(),
            _ => return Err(PlaceholderError::Unknown { name: name.to_owned() }),
        };
        out.push_str(&value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Checks a query as `deploy.yml` writes it: its placeholders are known, and it is PromQL
/// once they are filled with stand-ins.
///
/// # Errors
/// The unknown placeholder, or the PromQL parser's message.
pub fn check_query(query: &str) -> Result<(), QueryCheckError> {
    let stand_ins = Placeholders {
        project: "project",
        service: "service",
        environment: "environment",
        release: 2,
        stable: Some(1),
    };
    let text = substitute(query, &stand_ins)?;
    promql_parser::parser::parse(&text).map(|_| ()).map_err(QueryCheckError::Promql)
}

/// How one result was judged.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub phase: MeasurementPhase,
    /// The value that decided; `None` without a sample or for NaN.
    pub value: Option<f64>,
    /// Why, in words (`0.12 >= 0.05`).
    pub message: String,
}

/// Judges a query's result: `values` holds a scalar's value, or each sample's of a vector.
pub fn judge(success: Option<&Condition>, failure: Option<&Condition>, values: &[f64]) -> Judged {
    let judged = |phase, value: Option<f64>, message: String| Judged { phase, value, message };
    let Some(&first) = values.first() else {
        return judged(MeasurementPhase::Inconclusive, None, "no samples".to_owned());
    };
    if values.iter().any(|value| value.is_nan()) {
        return judged(MeasurementPhase::Inconclusive, None, "NaN".to_owned());
    }
    if let Some(failure) = failure
        && let Some(&bad) = values.iter().find(|value| failure.holds(**value))
    {
        return judged(MeasurementPhase::Failed, Some(bad), failure.show(Some(bad)));
    }
    match (success, failure) {
        (None, None) => judged(MeasurementPhase::Successful, Some(first), "no condition to meet".to_owned()),
        (None, Some(failure)) => {
            judged(MeasurementPhase::Successful, Some(first), format!("not {}", failure.show(Some(first))))
        }
        (Some(success), _) => match values.iter().find(|value| !success.holds(**value)) {
            None => judged(MeasurementPhase::Successful, Some(first), success.show(Some(first))),
            Some(&short) if failure.is_none() => {
                judged(MeasurementPhase::Failed, Some(short), format!("not {}", success.show(Some(short))))
            }
            Some(&short) => judged(
                MeasurementPhase::Inconclusive,
                Some(short),
                format!("neither {} nor the failure condition", success.show(Some(short))),
            ),
        },
    }
}

/// A query before its first measurement.
pub fn new_analysis(query: &AnalysisQuery) -> QueryAnalysis {
    QueryAnalysis {
        name: query.name.clone(),
        phase: QueryPhase::Running,
        measurements: Vec::new(),
        successes: 0,
        failures: 0,
        inconclusives: 0,
        reason: None,
    }
}

/// When `query` is measured next, for a deployment measured since `since` (when the server
/// first saw it in progress): one interval after the last measurement, the first one interval
/// after `since` (the new release has served a while by then); `None` once it is not running.
pub fn next_due(query: &AnalysisQuery, analysis: &QueryAnalysis, since: i64) -> Option<i64> {
    if analysis.phase != QueryPhase::Running {
        return None;
    }
    let last = analysis.measurements.last().map_or(since, |measurement| measurement.at);
    Some(last.saturating_add(i64::try_from(query.interval_ms).unwrap_or(i64::MAX)))
}

/// Adds a measurement to `analysis` and moves its phase on: failed or inconclusive once past
/// its limit (with the reason the deployment rolls back with), successful once it took its
/// `count`.
pub fn record(query: &AnalysisQuery, analysis: &mut QueryAnalysis, measurement: Measurement) {
    if analysis.phase != QueryPhase::Running {
        return;
    }
    let number = analysis.successes + analysis.failures + analysis.inconclusives + 1;
    let of = if query.count > 0 { format!(" of {}", query.count) } else { String::new() };
    match measurement.phase {
        MeasurementPhase::Successful => analysis.successes += 1,
        MeasurementPhase::Failed => {
            analysis.failures += 1;
            if analysis.failures > query.failure_limit {
                analysis.phase = QueryPhase::Failed;
                analysis.reason = Some(format!(
                    "query {}: {} (measurement {number}{of}; {} failed, failure-limit {})",
                    query.name, measurement.message, analysis.failures, query.failure_limit
                ));
            }
        }
        MeasurementPhase::Inconclusive => {
            analysis.inconclusives += 1;
            if analysis.inconclusives > query.inconclusive_limit {
                analysis.phase = QueryPhase::Inconclusive;
                analysis.reason = Some(format!(
                    "query {}: inconclusive, {} (measurement {number}{of}; {} inconclusive, inconclusive-limit {})",
                    query.name, measurement.message, analysis.inconclusives, query.inconclusive_limit
                ));
            }
        }
    }
    if analysis.phase == QueryPhase::Running && query.count > 0 && number >= query.count {
        analysis.phase = QueryPhase::Successful;
    }
    analysis.measurements.push(measurement);
    if analysis.measurements.len() > MAX_MEASUREMENTS {
        analysis.measurements.remove(0);
    }
}

/// What the agents carrying the deployment learn of the queries' measurements.
pub fn verdict(analyses: &[QueryAnalysis]) -> AnalysisVerdict {
    AnalysisVerdict {
        queries: analyses
            .iter()
            .map(|analysis| QueryTally {
                name: analysis.name.clone(),
                successes: analysis.successes,
                done: analysis.phase == QueryPhase::Successful,
            })
            .collect(),
        failure: analyses.iter().find_map(|analysis| analysis.reason.clone()),
    }
}

/// Whether each of `queries` passed a measurement since `before` (the tallies when a canary
/// step began), or is done.
pub fn passed_since(queries: &[AnalysisQuery], before: &[QueryTally], now: &[QueryTally]) -> bool {
    queries.iter().all(|query| {
        let tally = |tallies: &[QueryTally]| tallies.iter().find(|tally| tally.name == query.name).cloned();
        match tally(now) {
            Some(now) => now.done || now.successes > tally(before).map_or(0, |before| before.successes),
            None => false,
        }
    })
}

#[cfg(test)]
mod tests;
