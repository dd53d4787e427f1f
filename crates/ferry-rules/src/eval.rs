//! Evaluating a group at a time `t`, as Prometheus' rule manager does: rules in order, each
//! one's output appended before the next runs; recording rules write their series; alerting
//! rules move alerts between pending, firing and inactive (`for`, `keep_firing_for`, resolved
//! alerts kept 15 minutes) and write `ALERTS` and `ALERTS_FOR_STATE`; a series a rule wrote
//! last time and not this time gets a stale marker.
//!
//! The state of a group lives in [`GroupState`], which the caller keeps between evaluations
//! (a fresh state after a restart takes its alerts' active times from `ALERTS_FOR_STATE` at its
//! first evaluation).

use crate::file::{Group, Rule, RuleKind, Templated};
use crate::template::{self, Value};
use ferry_promql::{Labels, QueryError, QueryOptions, QueryValue, Storage, StorageError, stale_nan};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// How long a resolved alert is still reported (Prometheus' `resolvedRetention`).
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;
/// How far back a restart looks for `ALERTS_FOR_STATE` (Prometheus' outage tolerance).
pub const OUTAGE_TOLERANCE_MS: i64 = 60 * 60 * 1000;

/// A store rules can read and write.
pub trait RuleStorage: Storage {
    /// Appends samples `(labels, milliseconds, value)`.
    ///
    /// # Errors
    /// When the store refuses or fails.
    fn append(&self, samples: &[(Labels, i64, f64)]) -> Result<(), StorageError>;
}

/// Why a rule gave no output at an evaluation, in Prometheus' words (kept as the rule's
/// [`RuleState::last_error`]).
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The query gave a range vector or a string.
    #[error("rule result is not a vector or scalar")]
    NotAVector,
    #[error("vector contains metrics with the same labelset after applying rule labels")]
    DuplicateSeries,
    #[error("vector contains metrics with the same labelset after applying alert labels")]
    DuplicateAlerts,
    /// A recording rule gave more series than its group's `limit`.
    #[error("exceeded limit {limit} with {n_series} series")]
    SeriesLimit { limit: usize, n_series: usize },
    /// An alerting rule holds more alerts than its group's `limit`.
    #[error("exceeded limit of {limit} with {n_alerts} alerts")]
    AlertLimit { limit: usize, n_alerts: usize },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Settings shared by every group.
#[derive(Clone, Debug, Default)]
pub struct EvalOptions {
    /// `$externalLabels` in templates.
    pub external_labels: Labels,
    /// `$externalURL` in templates.
    pub external_url: String,
    pub query: QueryOptions,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// An alert of a rule: one label set its query returned.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// The sample's labels (without `__name__`), the rule's labels and `alertname`.
    pub labels: Labels,
    /// Annotations sorted by name; an empty value is kept.
    pub annotations: Vec<(String, String)>,
    pub state: AlertState,
    /// The query's value at the last evaluation.
    pub value: f64,
    pub active_at_ms: i64,
    pub fired_at_ms: Option<i64>,
    pub resolved_at_ms: Option<i64>,
    pub keep_firing_since_ms: Option<i64>,
}

/// What one rule keeps between evaluations.
#[derive(Clone, Debug, Default)]
pub struct RuleState {
    /// Alerts by labels (alerting rules).
    pub active: BTreeMap<Labels, Alert>,
    /// The series written at the last evaluation, for stale markers.
    pub written: BTreeSet<Labels>,
    pub last_error: Option<String>,
    pub last_evaluation_ms: Option<i64>,
    /// Whether `ALERTS_FOR_STATE` was consulted (at the first evaluation).
    pub restored: bool,
}

/// What a group keeps between evaluations: one [`RuleState`] per rule, in order.
#[derive(Clone, Debug, Default)]
pub struct GroupState {
    pub rules: Vec<RuleState>,
    pub last_evaluation_ms: Option<i64>,
}

/// Evaluates every rule of `group` at `t` (milliseconds), appending their output to `storage`.
/// A rule that fails keeps its error in its state ([`RuleState::last_error`]); the others run.
///
/// # Errors
/// Only when the store refuses an append.
pub fn eval_group(
    group: &Group,
    state: &mut GroupState,
    storage: &dyn RuleStorage,
    t: i64,
    options: &EvalOptions,
) -> Result<(), StorageError> {
    state.rules.resize_with(group.rules.len(), RuleState::default);
    let query_t = t - group.query_offset_ms;
    for (rule, rule_state) in group.rules.iter().zip(state.rules.iter_mut()) {
        let output = match rule.kind {
            RuleKind::Recording => eval_recording(rule, group.limit, storage, query_t, options),
            RuleKind::Alerting => eval_alerting(rule, rule_state, group.limit, storage, t, query_t, options),
        };
        rule_state.last_evaluation_ms = Some(t);
        let samples = match output {
            Ok(samples) => {
                rule_state.last_error = None;
                samples
            }
            Err(error) => {
                rule_state.last_error = Some(error.to_string());
                Vec::new()
            }
        };
        let written: BTreeSet<Labels> = samples.iter().map(|(labels, _)| labels.clone()).collect();
        let mut appends: Vec<(Labels, i64, f64)> = samples.into_iter().map(|(labels, v)| (labels, t, v)).collect();
        for gone in rule_state.written.difference(&written) {
            appends.push((gone.clone(), t, stale_nan()));
        }
        rule_state.written = written;
        if !appends.is_empty() {
            storage.append(&appends)?;
        }
    }
    state.last_evaluation_ms = Some(t);
    Ok(())
}

/// The rule's query at `t` as an instant vector.
fn query_vector(
    storage: &dyn Storage,
    expr: &str,
    t: i64,
    options: &QueryOptions,
) -> Result<Vec<(Labels, f64)>, RuleError> {
    match ferry_promql::instant_query(storage, expr, t, options)? {
        QueryValue::Vector(samples) => Ok(samples.into_iter().map(|s| (s.labels, s.v)).collect()),
        QueryValue::Scalar { v, .. } => Ok(vec![(Labels::default(), v)]),
        _ => Err(RuleError::NotAVector),
    }
}

fn eval_recording(
    rule: &Rule,
    limit: usize,
    storage: &dyn Storage,
    t: i64,
    options: &EvalOptions,
) -> Result<Vec<(Labels, f64)>, RuleError> {
    let vector = query_vector(storage, &rule.expr, t, &options.query)?;
    let mut out = Vec::with_capacity(vector.len());
    let mut seen = BTreeSet::new();
    for (mut labels, v) in vector {
        labels.set("__name__", rule.name.clone());
        for label in &rule.labels {
            labels.set(&label.name, label.text.clone());
        }
        if !seen.insert(labels.clone()) {
            return Err(RuleError::DuplicateSeries);
        }
        out.push((labels, v));
    }
    if limit > 0 && out.len() > limit {
        return Err(RuleError::SeriesLimit { limit, n_series: out.len() });
    }
    Ok(out)
}

fn eval_alerting(
    rule: &Rule,
    state: &mut RuleState,
    limit: usize,
    storage: &dyn Storage,
    t: i64,
    query_t: i64,
    options: &EvalOptions,
) -> Result<Vec<(Labels, f64)>, RuleError> {
    let vector = query_vector(storage, &rule.expr, query_t, &options.query)?;
    let query = |text: &str| -> Result<Value, RuleError> {
        let samples = query_vector(storage, text, query_t, &options.query)?;
        Ok(Value::List(Arc::new(
            samples.into_iter().map(|(labels, v)| Value::sample(Value::labels(labels.iter()), v)).collect(),
        )))
    };
    let mut current: BTreeMap<Labels, Alert> = BTreeMap::new();
    for (sample_labels, v) in vector {
        let expand = |templated: &Templated| match &templated.template {
            Some(template) => {
                let mut cx =
                    template::alert_context(&sample_labels, &options.external_labels, &options.external_url, v, &query);
                template.execute(&mut cx).unwrap_or_else(|error| format!("<error expanding template: {error}>"))
            }
            None => templated.text.clone(),
        };
        let mut labels = sample_labels.without_name();
        for label in &rule.labels {
            labels.set(&label.name, expand(label));
        }
        labels.set("alertname", rule.name.clone());
        let mut annotations: Vec<(String, String)> =
            rule.annotations.iter().map(|a| (a.name.clone(), expand(a))).collect();
        annotations.sort();
        if current.contains_key(&labels) {
            return Err(RuleError::DuplicateAlerts);
        }
        let alert = Alert {
            labels: labels.clone(),
            annotations,
            state: AlertState::Pending,
            value: v,
            active_at_ms: t,
            fired_at_ms: None,
            resolved_at_ms: None,
            keep_firing_since_ms: None,
        };
        current.insert(labels, alert);
    }
    // The first evaluation after a (re)start takes the time its alerts became active from
    // `ALERTS_FOR_STATE`, so `for` does not start again.
    if !state.restored {
        state.restored = true;
        for alert in current.values_mut() {
            if !state.active.contains_key(&alert.labels)
                && let Some(active_at_ms) = stored_active_at(storage, &alert.labels, t)?
                && active_at_ms < alert.active_at_ms
            {
                alert.active_at_ms = active_at_ms;
            }
        }
    }
    for (labels, alert) in &current {
        match state.active.get_mut(labels) {
            Some(existing) if existing.state != AlertState::Inactive => {
                existing.value = alert.value;
                existing.annotations = alert.annotations.clone();
            }
            _ => {
                state.active.insert(labels.clone(), alert.clone());
            }
        }
    }
    let mut n_active = 0;
    let mut out = Vec::new();
    let mut removed = Vec::new();
    for (labels, alert) in state.active.iter_mut() {
        if !current.contains_key(labels) {
            let mut keep_firing = false;
            if alert.state == AlertState::Firing && rule.keep_firing_for_ms > 0 {
                let since = *alert.keep_firing_since_ms.get_or_insert(t);
                keep_firing = t - since < rule.keep_firing_for_ms;
            }
            if !keep_firing {
                if alert.state == AlertState::Pending
                    || alert.resolved_at_ms.is_some_and(|resolved| t - resolved > RESOLVED_RETENTION_MS)
                {
                    removed.push(labels.clone());
                }
                if alert.state != AlertState::Inactive {
                    alert.state = AlertState::Inactive;
                    alert.resolved_at_ms = Some(t);
                }
                continue;
            }
        } else {
            alert.keep_firing_since_ms = None;
        }
        n_active += 1;
        if alert.state == AlertState::Pending && t - alert.active_at_ms >= rule.for_ms {
            alert.state = AlertState::Firing;
            alert.fired_at_ms = Some(t);
        }
        let mut alerts_labels = labels.clone();
        alerts_labels.set("__name__", "ALERTS".to_owned());
        alerts_labels.set("alertstate", alert.state.as_str().to_owned());
        out.push((alerts_labels, 1.0));
        let mut for_state = labels.clone();
        for_state.set("__name__", "ALERTS_FOR_STATE".to_owned());
        out.push((for_state, (alert.active_at_ms / 1000) as f64));
    }
    for labels in removed {
        state.active.remove(&labels);
    }
    if limit > 0 && n_active > limit {
        state.active.clear();
        return Err(RuleError::AlertLimit { limit, n_alerts: n_active });
    }
    Ok(out)
}

/// When the alert of `labels` became active, by the newest `ALERTS_FOR_STATE` sample within
/// [`OUTAGE_TOLERANCE_MS`] before `t`.
fn stored_active_at(storage: &dyn Storage, labels: &Labels, t: i64) -> Result<Option<i64>, StorageError> {
    let mut matchers: Vec<ferry_promql::Matcher> = labels
        .iter()
        .map(|(name, value)| ferry_promql::Matcher::new(ferry_promql::MatchOp::Equal, name, value))
        .collect();
    matchers.push(ferry_promql::Matcher::new(ferry_promql::MatchOp::Equal, "__name__", "ALERTS_FOR_STATE"));
    let series = storage.select(&matchers, t - OUTAGE_TOLERANCE_MS, t - 1)?;
    let newest = series
        .iter()
        .filter(|s| s.labels.len() == labels.len() + 1)
        .filter_map(|s| s.samples.iter().rev().find(|(_, v)| !ferry_promql::is_stale_nan(*v)).copied())
        .max_by_key(|(at, _)| *at);
    Ok(newest.map(|(_, active_at_s)| (active_at_s * 1000.0) as i64))
}

/// An in-memory store for rule tests and `ferry rules test`: series by labels.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    series: std::cell::RefCell<BTreeMap<Labels, Vec<(i64, f64)>>>,
}

impl MemoryStorage {
    /// Adds samples; a sample at a time the series already has replaces it.
    pub fn add(&self, labels: Labels, t: i64, v: f64) {
        let mut series = self.series.borrow_mut();
        let samples = series.entry(labels).or_default();
        match samples.binary_search_by_key(&t, |(at, _)| *at) {
            Ok(idx) => samples[idx].1 = v,
            Err(idx) => samples.insert(idx, (t, v)),
        }
    }
}

impl Storage for MemoryStorage {
    fn select(
        &self,
        matchers: &[ferry_promql::Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<ferry_promql::Series>, StorageError> {
        let series = self.series.borrow();
        Ok(series
            .iter()
            .filter(|(labels, _)| matchers.iter().all(|m| m.is_match(labels.get(&m.name).unwrap_or(""))))
            .filter_map(|(labels, samples)| {
                let start = samples.partition_point(|(t, _)| *t < mint);
                let end = samples.partition_point(|(t, _)| *t <= maxt);
                (start < end)
                    .then(|| ferry_promql::Series { labels: labels.clone(), samples: samples[start..end].to_vec() })
            })
            .collect())
    }
}

impl RuleStorage for MemoryStorage {
    fn append(&self, samples: &[(Labels, i64, f64)]) -> Result<(), StorageError> {
        for (labels, t, v) in samples {
            self.add(labels.clone(), *t, *v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
