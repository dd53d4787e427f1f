//! Binary operators: arithmetic, comparisons (filtering or `bool`), `atan2`, and the set
//! operators, with vector matching by `on`/`ignoring` and `group_left`/`group_right`.

use super::{Evaluator, Sample, Value, check_unique};
use crate::labels::{Labels, METRIC_NAME};
use crate::value::QueryError;
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};
use std::collections::{HashMap, HashSet};

pub(super) fn eval(evaluator: &Evaluator<'_>, binary: &BinaryExpr, t: i64) -> Result<Value, QueryError> {
    let op = binary.op.to_string();
    let return_bool = binary.modifier.as_ref().is_some_and(|m| m.return_bool);
    let lhs = evaluator.eval(&binary.lhs, t)?;
    let rhs = evaluator.eval(&binary.rhs, t)?;
    match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => {
            let (v, keep) = apply(&op, l, r)?;
            Ok(Value::Scalar(if is_comparison(&op) { f64::from(u8::from(keep)) } else { v }))
        }
        (Value::Vector(vector), Value::Scalar(s)) => vector_scalar(&op, vector, s, false, return_bool),
        (Value::Scalar(s), Value::Vector(vector)) => vector_scalar(&op, vector, s, true, return_bool),
        (Value::Vector(l), Value::Vector(r)) => {
            let matching = binary.modifier.as_ref().and_then(|m| m.matching.clone());
            let signature = |labels: &Labels| signature(labels, matching.as_ref());
            let out = match op.as_str() {
                "and" => {
                    let right: HashSet<Labels> = r.iter().map(|s| signature(&s.labels)).collect();
                    l.into_iter().filter(|s| right.contains(&signature(&s.labels))).collect()
                }
                "unless" => {
                    let right: HashSet<Labels> = r.iter().map(|s| signature(&s.labels)).collect();
                    l.into_iter().filter(|s| !right.contains(&signature(&s.labels))).collect()
                }
                "or" => {
                    let left: HashSet<Labels> = l.iter().map(|s| signature(&s.labels)).collect();
                    let mut out = l;
                    out.extend(r.into_iter().filter(|s| !left.contains(&signature(&s.labels))));
                    out
                }
                _ => {
                    let card = binary.modifier.as_ref().map_or(VectorMatchCardinality::OneToOne, |m| m.card.clone());
                    let out = vector_vector(&op, l, r, &card, matching.as_ref(), return_bool)?;
                    check_unique(&out)?;
                    out
                }
            };
            Ok(Value::Vector(out))
        }
        _ => Err(QueryError::Execution(format!("operator {op} does not apply to these operand types"))),
    }
}

fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=")
}

/// Whether the result of `op` loses the metric name (arithmetic does, comparisons do not).
fn drops_name(op: &str) -> bool {
    matches!(op, "+" | "-" | "*" | "/" | "%" | "^" | "atan2")
}

/// The value of `l op r` and, for comparisons, whether it holds (the value is then `l`).
fn apply(op: &str, l: f64, r: f64) -> Result<(f64, bool), QueryError> {
    Ok(match op {
        "+" => (l + r, true),
        "-" => (l - r, true),
        "*" => (l * r, true),
        "/" => (l / r, true),
        "%" => (l % r, true),
        "^" => (l.powf(r), true),
        "atan2" => (l.atan2(r), true),
        "==" => (l, l == r),
        "!=" => (l, l != r),
        ">" => (l, l > r),
        "<" => (l, l < r),
        ">=" => (l, l >= r),
        "<=" => (l, l <= r),
        other => return Err(QueryError::Execution(format!("operator {other} does not apply to scalars"))),
    })
}

fn vector_scalar(
    op: &str,
    vector: Vec<Sample>,
    scalar: f64,
    scalar_first: bool,
    return_bool: bool,
) -> Result<Value, QueryError> {
    let mut out = Vec::with_capacity(vector.len());
    for sample in vector {
        let (l, r) = if scalar_first { (scalar, sample.v) } else { (sample.v, scalar) };
        let (mut v, mut keep) = apply(op, l, r)?;
        // A comparison keeps the vector's value, whichever side it is on.
        if is_comparison(op) && scalar_first {
            v = r;
        }
        if return_bool {
            v = f64::from(u8::from(keep));
            keep = true;
        }
        if keep {
            let labels = if drops_name(op) || return_bool { sample.labels.without_name() } else { sample.labels };
            out.push(Sample { labels, v, t: sample.t });
        }
    }
    Ok(Value::Vector(out))
}

/// The labels two samples are matched on.
fn signature(labels: &Labels, matching: Option<&LabelModifier>) -> Labels {
    let mut signature = labels.clone();
    match matching {
        Some(LabelModifier::Include(names)) => signature.retain(|n| names.labels.iter().any(|l| l == n)),
        Some(LabelModifier::Exclude(names)) => {
            signature.retain(|n| n != METRIC_NAME && !names.labels.iter().any(|l| l == n));
        }
        None => signature.remove(METRIC_NAME),
    }
    signature
}

fn vector_vector(
    op: &str,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    card: &VectorMatchCardinality,
    matching: Option<&LabelModifier>,
    return_bool: bool,
) -> Result<Vec<Sample>, QueryError> {
    let one_to_many = matches!(card, VectorMatchCardinality::OneToMany(_));
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let mut one_by_signature: HashMap<Labels, Sample> = HashMap::new();
    for sample in one {
        let signature = signature(&sample.labels, matching);
        if let Some(other) = one_by_signature.get(&signature) {
            let side = if one_to_many { "left" } else { "right" };
            return Err(QueryError::Execution(format!(
                "found duplicate series for the match group {signature} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                other.labels, sample.labels
            )));
        }
        one_by_signature.insert(signature, sample);
    }
    let include: &[String] = match card {
        VectorMatchCardinality::ManyToOne(labels) | VectorMatchCardinality::OneToMany(labels) => &labels.labels,
        _ => &[],
    };
    let one_to_one = matches!(card, VectorMatchCardinality::OneToOne);
    let mut matched: HashMap<Labels, HashSet<Labels>> = HashMap::new();
    let mut out = Vec::new();
    for sample in many {
        let signature = signature(&sample.labels, matching);
        let Some(other) = one_by_signature.get(&signature) else { continue };
        let (l, r) = if one_to_many { (other.v, sample.v) } else { (sample.v, other.v) };
        let (mut v, keep) = apply(op, l, r)?;
        if return_bool {
            v = f64::from(u8::from(keep));
        } else if !keep {
            continue;
        }
        let mut labels = sample.labels.clone();
        if drops_name(op) || return_bool {
            labels.remove(METRIC_NAME);
        }
        if one_to_one {
            match matching {
                Some(LabelModifier::Include(names)) => labels.retain(|n| names.labels.iter().any(|l| l == n)),
                Some(LabelModifier::Exclude(names)) => labels.retain(|n| !names.labels.iter().any(|l| l == n)),
                None => {}
            }
        }
        for name in include {
            labels.set(name, other.labels.get(name).unwrap_or("").to_owned());
        }
        let seen = matched.entry(signature).or_default();
        if one_to_one {
            if !seen.is_empty() {
                return Err(QueryError::Execution(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                        .into(),
                ));
            }
            seen.insert(Labels::default());
        } else if !seen.insert(labels.clone()) {
            return Err(QueryError::Execution(
                "multiple matches for labels: grouping labels must ensure unique matches".into(),
            ));
        }
        out.push(Sample { labels, v, t: sample.t });
    }
    Ok(out)
}
