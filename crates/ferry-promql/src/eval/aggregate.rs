//! Aggregations (`sum`, `avg`, `topk`, `count_values`, …) with `by`/`without`, computed as
//! Prometheus 2 computes them (incremental means, Welford's variance).

use super::{Evaluator, Sample, Value};
use crate::labels::{Labels, METRIC_NAME};
use crate::value::{QueryError, format_value};
use promql_parser::parser::{AggregateExpr, LabelModifier};
use std::collections::HashMap;

pub(super) fn eval(evaluator: &Evaluator<'_>, aggregate: &AggregateExpr, t: i64) -> Result<Value, QueryError> {
    let op = aggregate.op.to_string();
    let input = evaluator.eval_vector(&aggregate.expr, t)?;
    let modifier = aggregate.modifier.as_ref();
    let group_of = |labels: &Labels| -> Labels {
        let mut group = labels.clone();
        match modifier {
            Some(LabelModifier::Include(names)) => group.retain(|n| names.labels.iter().any(|l| l == n)),
            Some(LabelModifier::Exclude(names)) => {
                group.retain(|n| n != METRIC_NAME && !names.labels.iter().any(|l| l == n));
            }
            None => group = Labels::default(),
        }
        group
    };
    // Groups in the order they first appear.
    let mut order: Vec<Labels> = Vec::new();
    let mut groups: HashMap<Labels, Vec<Sample>> = HashMap::new();
    let count_values_label = if op == "count_values" {
        let Some(param) = &aggregate.param else {
            return Err(QueryError::BadData("count_values needs a label name".into()));
        };
        let label = evaluator.eval_string(param, t)?;
        if !is_label_name(&label) {
            return Err(QueryError::Execution(format!("invalid label name {label:?}")));
        }
        Some(label)
    } else {
        None
    };
    for sample in input {
        let mut group = group_of(&sample.labels);
        if let Some(label) = &count_values_label {
            group.set(label, format_value(sample.v));
        }
        match groups.get_mut(&group) {
            Some(members) => members.push(sample),
            None => {
                order.push(group.clone());
                groups.insert(group, vec![sample]);
            }
        }
    }
    let param = match op.as_str() {
        "topk" | "bottomk" | "quantile" => match &aggregate.param {
            Some(param) => evaluator.eval_scalar(param, t)?,
            None => return Err(QueryError::BadData(format!("{op} needs a parameter"))),
        },
        _ => 0.0,
    };
    let mut out = Vec::new();
    for group in order {
        let members = groups.remove(&group).unwrap_or_default();
        let values = || members.iter().map(|s| s.v);
        let n = members.len() as f64;
        let v = match op.as_str() {
            "sum" => values().sum(),
            "avg" => super::incremental_mean(values()),
            "count" | "count_values" => n,
            "group" => 1.0,
            "min" => values().fold(f64::NAN, |acc, v| if acc.is_nan() || v < acc { v } else { acc }),
            "max" => values().fold(f64::NAN, |acc, v| if acc.is_nan() || v > acc { v } else { acc }),
            "stddev" | "stdvar" => {
                let (mut count, mut mean, mut m2) = (0.0, 0.0, 0.0);
                for v in values() {
                    count += 1.0;
                    let delta = v - mean;
                    mean += delta / count;
                    m2 += delta * (v - mean);
                }
                let variance = m2 / count;
                if op == "stddev" { variance.sqrt() } else { variance }
            }
            "quantile" => quantile(param, values().collect()),
            "topk" | "bottomk" => {
                if param < 1.0 {
                    continue;
                }
                let k = if param.is_finite() { param as usize } else { usize::MAX };
                let mut members = members;
                let top = op == "topk";
                members.sort_by(|a, b| {
                    // NaN sorts last either way, as Prometheus' heaps keep it out when they can.
                    match (a.v.is_nan(), b.v.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        (false, false) if top => b.v.total_cmp(&a.v),
                        (false, false) => a.v.total_cmp(&b.v),
                    }
                });
                members.truncate(k);
                out.extend(members.into_iter().map(|s| Sample { t, ..s }));
                continue;
            }
            other => return Err(QueryError::BadData(format!("unknown aggregation {other}"))),
        };
        out.push(Sample { labels: group, v, t });
    }
    Ok(Value::Vector(out))
}

/// The q-quantile of values, interpolated linearly between ranks (Prometheus' `quantile`).
pub(super) fn quantile(q: f64, mut values: Vec<f64>) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

pub(super) fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
