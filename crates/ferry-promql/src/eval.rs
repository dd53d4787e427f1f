//! The evaluator: a query is evaluated at each step on its own, as Prometheus' engine does,
//! over series loaded once per selector for the whole time span the query needs.
//!
//! Staleness follows Prometheus 2: an instant selector takes a series' newest sample no older
//! than the lookback delta (5 minutes, both ends included), unless that sample is a stale
//! marker; range selectors take the samples in `[t - range, t]` without stale markers.

mod aggregate;
mod binary;
mod functions;
#[cfg(test)]
mod tests;

use crate::labels::{Labels, METRIC_NAME};
use crate::storage::{Series, Storage, is_stale_nan};
use crate::value::{InstantSample, QueryError, QueryValue, RangeSeries};
use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{self, AtModifier, Expr, Offset, VectorSelector};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Settings of an evaluation, Prometheus' defaults by [`Default`].
#[derive(Clone, Debug)]
pub struct QueryOptions {
    /// How far back an instant selector looks for a sample (Prometheus' `--query.lookback-delta`).
    pub lookback_ms: i64,
    /// The step of a subquery that names none (Prometheus' global evaluation interval).
    pub default_subquery_step_ms: i64,
    /// The most points a range query may return per series, as Prometheus' API refuses more.
    pub max_points_per_series: i64,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions { lookback_ms: 300_000, default_subquery_step_ms: 60_000, max_points_per_series: 11_000 }
    }
}

/// Evaluates `query` at `t` (milliseconds since the epoch).
///
/// # Errors
/// [`QueryError::BadData`] for a query that does not parse, [`QueryError::Execution`] for one
/// that cannot be evaluated on this data, [`QueryError::Internal`] when the store fails.
pub fn instant_query(
    storage: &dyn Storage,
    query: &str,
    t: i64,
    options: &QueryOptions,
) -> Result<QueryValue, QueryError> {
    let expr = parser::parse(query).map_err(QueryError::BadData)?;
    let evaluator = Evaluator::load(storage, &expr, t, t, options)?;
    Ok(match evaluator.eval(&expr, t)? {
        Value::Scalar(v) => QueryValue::Scalar { t, v },
        Value::String(s) => QueryValue::String { t, s },
        Value::Vector(samples) => {
            check_unique(&samples)?;
            QueryValue::Vector(samples.into_iter().map(|s| InstantSample { labels: s.labels, t, v: s.v }).collect())
        }
        Value::Matrix(matrix) => {
            let mut series = matrix.series;
            series.sort_by(|a, b| a.labels.cmp(&b.labels));
            QueryValue::Matrix(series)
        }
    })
}

/// Evaluates `query` at `start`, `start + step`, … up to `end` (milliseconds): a matrix whose
/// series are sorted by labels; a scalar expression gives one series without labels.
///
/// # Errors
/// As [`instant_query`]; also [`QueryError::BadData`] for a step that is not positive, an end
/// before the start, too many points, or an expression that is not a scalar or instant vector.
pub fn range_query(
    storage: &dyn Storage,
    query: &str,
    start: i64,
    end: i64,
    step: i64,
    options: &QueryOptions,
) -> Result<QueryValue, QueryError> {
    if step <= 0 {
        return Err(QueryError::BadData(
            "zero or negative query resolution step widths are not accepted. Try a positive integer".to_owned(),
        ));
    }
    if end < start {
        return Err(QueryError::BadData("end timestamp must not be before start time".to_owned()));
    }
    if end.saturating_sub(start) / step >= options.max_points_per_series {
        return Err(QueryError::BadData(format!(
            "exceeded maximum resolution of {} points per timeseries. Try decreasing the query resolution (?step=XX)",
            options.max_points_per_series
        )));
    }
    let expr = parser::parse(query).map_err(QueryError::BadData)?;
    let value_type = expr.value_type();
    if !matches!(value_type, ValueType::Scalar | ValueType::Vector) {
        let name = match value_type {
            ValueType::Matrix => "range vector",
            _ => "string",
        };
        return Err(QueryError::BadData(format!(
            "invalid expression type \"{name}\" for range query, must be Scalar or instant Vector"
        )));
    }
    let evaluator = Evaluator::load(storage, &expr, start, end, options)?;
    let mut series: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    let mut t = start;
    while t <= end {
        match evaluator.eval(&expr, t)? {
            Value::Scalar(v) => series.entry(Labels::default()).or_default().push((t, v)),
            Value::Vector(samples) => {
                check_unique(&samples)?;
                for sample in samples {
                    series.entry(sample.labels).or_default().push((t, sample.v));
                }
            }
            Value::String(_) | Value::Matrix(_) => {
                return Err(QueryError::Execution("range query gave a value that is not a vector or scalar".into()));
            }
        }
        t += step;
    }
    Ok(QueryValue::Matrix(series.into_iter().map(|(labels, points)| RangeSeries { labels, points }).collect()))
}

/// Matchers of a selector, its metric name included.
pub(crate) fn selector_matchers(selector: &VectorSelector) -> Vec<Matcher> {
    let mut matchers = selector.matchers.matchers.clone();
    if let Some(name) = &selector.name {
        matchers.push(Matcher::new(MatchOp::Equal, METRIC_NAME, name));
    }
    matchers
}

/// A value at one evaluation step.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    Scalar(f64),
    String(String),
    Vector(Vec<Sample>),
    Matrix(Matrix),
}

#[derive(Clone, Debug)]
pub(crate) struct Sample {
    pub labels: Labels,
    pub v: f64,
    /// The time of the stored sample this came from (for `timestamp()`), else the step's.
    pub t: i64,
}

/// A range vector with the window it was selected over (extrapolation needs it).
#[derive(Clone, Debug)]
pub(crate) struct Matrix {
    pub series: Vec<RangeSeries>,
    pub range_start: i64,
    pub range_end: i64,
}

pub(crate) fn check_unique(samples: &[Sample]) -> Result<(), QueryError> {
    if samples.len() < 2 {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::with_capacity(samples.len());
    for sample in samples {
        if !seen.insert(&sample.labels) {
            return Err(QueryError::Execution("vector cannot contain metrics with the same labelset".to_owned()));
        }
    }
    Ok(())
}

/// The mean of `values` as Prometheus computes `avg` and `avg_over_time`: incrementally, so
/// large values do not overflow a sum, and an infinite mean stays infinite unless an opposite
/// infinity or a NaN arrives.
fn incremental_mean(values: impl Iterator<Item = f64>) -> f64 {
    let mut mean: f64 = 0.0;
    let mut count = 0.0;
    for v in values {
        count += 1.0;
        if mean.is_infinite() {
            if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                continue;
            }
            if !v.is_infinite() && !v.is_nan() {
                continue;
            }
        }
        mean += v / count - mean / count;
    }
    mean
}

fn duration_ms(duration: &Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn offset_ms(offset: &Option<Offset>) -> i64 {
    match offset {
        None => 0,
        Some(Offset::Pos(duration)) => duration_ms(duration),
        Some(Offset::Neg(duration)) => -duration_ms(duration),
    }
}

fn system_time_ms(time: &SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => duration_ms(&after),
        Err(before) => -duration_ms(&before.duration()),
    }
}

fn node_key<T>(node: &T) -> usize {
    std::ptr::from_ref(node) as usize
}

pub(crate) struct Evaluator<'a> {
    /// The series of each selector node, by the node's address.
    series: HashMap<usize, Vec<Series>>,
    start: i64,
    end: i64,
    options: &'a QueryOptions,
}

impl<'a> Evaluator<'a> {
    fn load(
        storage: &dyn Storage,
        expr: &Expr,
        start: i64,
        end: i64,
        options: &'a QueryOptions,
    ) -> Result<Evaluator<'a>, QueryError> {
        let mut evaluator = Evaluator { series: HashMap::new(), start, end, options };
        let mut selectors: Vec<(&VectorSelector, i64, i64)> = Vec::new();
        evaluator.plan(expr, start, end, &mut selectors)?;
        let mut ranges: HashMap<usize, (&VectorSelector, i64, i64)> = HashMap::new();
        for (selector, mint, maxt) in selectors {
            let entry = ranges.entry(node_key(selector)).or_insert((selector, mint, maxt));
            entry.1 = entry.1.min(mint);
            entry.2 = entry.2.max(maxt);
        }
        for (key, (selector, mint, maxt)) in ranges {
            let mut series = storage
                .select(&selector_matchers(selector), mint, maxt)
                .map_err(|error| QueryError::Internal(error.to_string()))?;
            for or_matchers in &selector.matchers.or_matchers {
                let mut matchers = or_matchers.clone();
                if let Some(name) = &selector.name {
                    matchers.push(Matcher::new(MatchOp::Equal, METRIC_NAME, name));
                }
                for more in storage.select(&matchers, mint, maxt).map_err(|e| QueryError::Internal(e.to_string()))? {
                    if !series.iter().any(|s| s.labels == more.labels) {
                        series.push(more);
                    }
                }
            }
            evaluator.series.insert(key, series);
        }
        Ok(evaluator)
    }

    /// The time a node with these modifiers is evaluated at, for a step at `t`.
    fn effective_time(&self, at: &Option<AtModifier>, offset: &Option<Offset>, t: i64) -> i64 {
        let base = match at {
            None => t,
            Some(AtModifier::Start) => self.start,
            Some(AtModifier::End) => self.end,
            Some(AtModifier::At(time)) => system_time_ms(time),
        };
        base.saturating_sub(offset_ms(offset))
    }

    /// Collects each selector with the time range its samples are needed from, for steps in
    /// `[mint, maxt]`.
    fn plan<'e>(
        &self,
        expr: &'e Expr,
        mint: i64,
        maxt: i64,
        selectors: &mut Vec<(&'e VectorSelector, i64, i64)>,
    ) -> Result<(), QueryError> {
        match expr {
            Expr::VectorSelector(selector) => {
                let (lo, hi) = self.span(&selector.at, &selector.offset, mint, maxt);
                selectors.push((selector, lo.saturating_sub(self.options.lookback_ms), hi));
            }
            Expr::MatrixSelector(matrix) => {
                let (lo, hi) = self.span(&matrix.vs.at, &matrix.vs.offset, mint, maxt);
                selectors.push((&matrix.vs, lo.saturating_sub(duration_ms(&matrix.range)), hi));
            }
            Expr::Subquery(subquery) => {
                let (lo, hi) = self.span(&subquery.at, &subquery.offset, mint, maxt);
                self.plan(&subquery.expr, lo.saturating_sub(duration_ms(&subquery.range)), hi, selectors)?;
            }
            Expr::Aggregate(aggregate) => {
                self.plan(&aggregate.expr, mint, maxt, selectors)?;
                if let Some(param) = &aggregate.param {
                    self.plan(param, mint, maxt, selectors)?;
                }
            }
            Expr::Unary(unary) => self.plan(&unary.expr, mint, maxt, selectors)?,
            Expr::Paren(paren) => self.plan(&paren.expr, mint, maxt, selectors)?,
            Expr::Binary(binary) => {
                self.plan(&binary.lhs, mint, maxt, selectors)?;
                self.plan(&binary.rhs, mint, maxt, selectors)?;
            }
            Expr::Call(call) => {
                for arg in &call.args.args {
                    self.plan(arg, mint, maxt, selectors)?;
                }
            }
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
            Expr::Extension(_) => return Err(QueryError::BadData("extension expressions are not supported".into())),
        }
        Ok(())
    }

    fn span(&self, at: &Option<AtModifier>, offset: &Option<Offset>, mint: i64, maxt: i64) -> (i64, i64) {
        if at.is_some() {
            let t = self.effective_time(at, offset, mint);
            (t, t)
        } else {
            let offset = offset_ms(offset);
            (mint.saturating_sub(offset), maxt.saturating_sub(offset))
        }
    }

    fn selected(&self, selector: &VectorSelector) -> &[Series] {
        self.series.get(&node_key(selector)).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn eval(&self, expr: &Expr, t: i64) -> Result<Value, QueryError> {
        match expr {
            Expr::NumberLiteral(number) => Ok(Value::Scalar(number.val)),
            Expr::StringLiteral(string) => Ok(Value::String(string.val.clone())),
            Expr::Paren(paren) => self.eval(&paren.expr, t),
            Expr::Unary(unary) => match self.eval(&unary.expr, t)? {
                Value::Scalar(v) => Ok(Value::Scalar(-v)),
                Value::Vector(samples) => Ok(Value::Vector(
                    samples.into_iter().map(|s| Sample { labels: s.labels.without_name(), v: -s.v, t: s.t }).collect(),
                )),
                _ => Err(QueryError::Execution("unary minus applies to a scalar or an instant vector".into())),
            },
            Expr::VectorSelector(selector) => Ok(Value::Vector(self.select_vector(selector, t))),
            Expr::MatrixSelector(matrix) => {
                let end = self.effective_time(&matrix.vs.at, &matrix.vs.offset, t);
                let start = end.saturating_sub(duration_ms(&matrix.range));
                let series = self
                    .selected(&matrix.vs)
                    .iter()
                    .filter_map(|series| {
                        let from = series.samples.partition_point(|(ts, _)| *ts < start);
                        let to = series.samples.partition_point(|(ts, _)| *ts <= end);
                        let points: Vec<(i64, f64)> =
                            series.samples[from..to].iter().copied().filter(|(_, v)| !is_stale_nan(*v)).collect();
                        (!points.is_empty()).then(|| RangeSeries { labels: series.labels.clone(), points })
                    })
                    .collect();
                Ok(Value::Matrix(Matrix { series, range_start: start, range_end: end }))
            }
            Expr::Subquery(subquery) => {
                let end = self.effective_time(&subquery.at, &subquery.offset, t);
                let start = end.saturating_sub(duration_ms(&subquery.range));
                let step = subquery.step.as_ref().map_or(self.options.default_subquery_step_ms, duration_ms).max(1);
                let mut series: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
                let mut ts = start.div_euclid(step) * step;
                if ts < start {
                    ts += step;
                }
                while ts <= end {
                    match self.eval(&subquery.expr, ts)? {
                        Value::Scalar(v) => series.entry(Labels::default()).or_default().push((ts, v)),
                        Value::Vector(samples) => {
                            for sample in samples {
                                series.entry(sample.labels).or_default().push((ts, sample.v));
                            }
                        }
                        _ => return Err(QueryError::Execution("a subquery needs a scalar or instant vector".into())),
                    }
                    let Some(next) = ts.checked_add(step) else { break };
                    ts = next;
                }
                Ok(Value::Matrix(Matrix {
                    series: series.into_iter().map(|(labels, points)| RangeSeries { labels, points }).collect(),
                    range_start: start,
                    range_end: end,
                }))
            }
            Expr::Aggregate(aggregate) => aggregate::eval(self, aggregate, t),
            Expr::Binary(binary) => binary::eval(self, binary, t),
            Expr::Call(call) => functions::eval(self, call, t),
            Expr::Extension(_) => Err(QueryError::BadData("extension expressions are not supported".into())),
        }
    }

    fn select_vector(&self, selector: &VectorSelector, t: i64) -> Vec<Sample> {
        let at = self.effective_time(&selector.at, &selector.offset, t);
        self.selected(selector)
            .iter()
            .filter_map(|series| {
                let idx = series.samples.partition_point(|(ts, _)| *ts <= at);
                let (ts, v) = *series.samples.get(idx.checked_sub(1)?)?;
                (ts >= at.saturating_sub(self.options.lookback_ms) && !is_stale_nan(v)).then(|| Sample {
                    labels: series.labels.clone(),
                    v,
                    t: ts,
                })
            })
            .collect()
    }

    pub(crate) fn eval_vector(&self, expr: &Expr, t: i64) -> Result<Vec<Sample>, QueryError> {
        match self.eval(expr, t)? {
            Value::Vector(samples) => Ok(samples),
            _ => Err(QueryError::Execution(format!("expected an instant vector: {expr}"))),
        }
    }

    pub(crate) fn eval_scalar(&self, expr: &Expr, t: i64) -> Result<f64, QueryError> {
        match self.eval(expr, t)? {
            Value::Scalar(v) => Ok(v),
            _ => Err(QueryError::Execution(format!("expected a scalar: {expr}"))),
        }
    }

    pub(crate) fn eval_string(&self, expr: &Expr, t: i64) -> Result<String, QueryError> {
        match self.eval(expr, t)? {
            Value::String(s) => Ok(s),
            _ => Err(QueryError::Execution(format!("expected a string: {expr}"))),
        }
    }

    pub(crate) fn eval_matrix(&self, expr: &Expr, t: i64) -> Result<Matrix, QueryError> {
        match self.eval(expr, t)? {
            Value::Matrix(matrix) => Ok(matrix),
            _ => Err(QueryError::Execution(format!("expected a range vector: {expr}"))),
        }
    }
}
