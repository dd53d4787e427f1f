//! PromQL's functions, as Prometheus 2 computes them: range functions (extrapolated `rate`,
//! `increase`, `delta`; `irate`; `*_over_time`; `deriv`, `predict_linear`, `holt_winters`),
//! math and date functions, `histogram_quantile`, `label_replace`/`label_join`, `absent`.

use super::aggregate::{is_label_name, quantile};
use super::{Evaluator, Sample, Value, check_unique, selector_matchers};
use crate::labels::{Labels, METRIC_NAME};
use crate::value::QueryError;
use promql_parser::label::MatchOp;
use promql_parser::parser::{Call, Expr};
use std::collections::HashMap;

pub(super) fn eval(evaluator: &Evaluator<'_>, call: &Call, t: i64) -> Result<Value, QueryError> {
    let name = call.func.name;
    let args: Vec<&Expr> = call.args.args.iter().map(AsRef::as_ref).collect();
    let arg = |idx: usize| {
        args.get(idx).copied().ok_or_else(|| QueryError::BadData(format!("{name}() is missing argument {}", idx + 1)))
    };
    if let Some(value) = range_function(evaluator, name, &args, t)? {
        return Ok(value);
    }
    let value = match name {
        "time" => Value::Scalar(t as f64 / 1000.0),
        "pi" => Value::Scalar(std::f64::consts::PI),
        "vector" => Value::Vector(vec![Sample { labels: Labels::default(), v: evaluator.eval_scalar(arg(0)?, t)?, t }]),
        "scalar" => {
            let samples = evaluator.eval_vector(arg(0)?, t)?;
            Value::Scalar(if samples.len() == 1 { samples[0].v } else { f64::NAN })
        }
        "sort" | "sort_desc" => {
            let mut samples = evaluator.eval_vector(arg(0)?, t)?;
            let descending = name == "sort_desc";
            samples.sort_by(|a, b| match (a.v.is_nan(), b.v.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Less,
                (false, true) => std::cmp::Ordering::Greater,
                _ if descending => b.v.total_cmp(&a.v),
                _ => a.v.total_cmp(&b.v),
            });
            Value::Vector(samples)
        }
        "timestamp" => {
            let mut inner = arg(0)?;
            while let Expr::Paren(paren) = inner {
                inner = &paren.expr;
            }
            let stored_time = matches!(inner, Expr::VectorSelector(_));
            let samples = evaluator.eval_vector(inner, t)?;
            Value::Vector(
                samples
                    .into_iter()
                    .map(|s| {
                        let ts = if stored_time { s.t } else { t };
                        Sample { labels: s.labels.without_name(), v: ts as f64 / 1000.0, t }
                    })
                    .collect(),
            )
        }
        "absent" => {
            let samples = evaluator.eval_vector(arg(0)?, t)?;
            if samples.is_empty() {
                Value::Vector(vec![Sample { labels: absent_labels(arg(0)?), v: 1.0, t }])
            } else {
                Value::Vector(Vec::new())
            }
        }
        "histogram_quantile" => {
            let q = evaluator.eval_scalar(arg(0)?, t)?;
            Value::Vector(histogram_quantile(q, evaluator.eval_vector(arg(1)?, t)?, t))
        }
        "label_replace" => {
            let samples = evaluator.eval_vector(arg(0)?, t)?;
            let dst = evaluator.eval_string(arg(1)?, t)?;
            let replacement = evaluator.eval_string(arg(2)?, t)?;
            let src = evaluator.eval_string(arg(3)?, t)?;
            let pattern = evaluator.eval_string(arg(4)?, t)?;
            let regex = regex::Regex::new(&format!("^(?s:{pattern})$")).map_err(|error| {
                QueryError::Execution(format!("invalid regular expression in label_replace(): {pattern}: {error}"))
            })?;
            if !is_label_name(&dst) {
                return Err(QueryError::Execution(format!("invalid destination label name in label_replace(): {dst}")));
            }
            let mut out = Vec::with_capacity(samples.len());
            for mut sample in samples {
                let value = sample.labels.get(&src).unwrap_or("").to_owned();
                if let Some(captures) = regex.captures(&value) {
                    let mut result = String::new();
                    captures.expand(&replacement, &mut result);
                    sample.labels.set(&dst, result);
                }
                out.push(sample);
            }
            check_unique(&out)?;
            Value::Vector(out)
        }
        "label_join" => {
            let samples = evaluator.eval_vector(arg(0)?, t)?;
            let dst = evaluator.eval_string(arg(1)?, t)?;
            let separator = evaluator.eval_string(arg(2)?, t)?;
            let mut sources = Vec::new();
            for idx in 3..args.len() {
                let source = evaluator.eval_string(arg(idx)?, t)?;
                if !is_label_name(&source) {
                    return Err(QueryError::Execution(format!("invalid source label name in label_join(): {source}")));
                }
                sources.push(source);
            }
            if !is_label_name(&dst) {
                return Err(QueryError::Execution(format!("invalid destination label name in label_join(): {dst}")));
            }
            let mut out = Vec::with_capacity(samples.len());
            for mut sample in samples {
                let joined: Vec<&str> = sources.iter().map(|s| sample.labels.get(s).unwrap_or("")).collect();
                let joined = joined.join(&separator);
                sample.labels.set(&dst, joined);
                out.push(sample);
            }
            check_unique(&out)?;
            Value::Vector(out)
        }
        "clamp" | "clamp_min" | "clamp_max" => {
            let samples = evaluator.eval_vector(arg(0)?, t)?;
            let (min, max) = match name {
                "clamp" => (evaluator.eval_scalar(arg(1)?, t)?, evaluator.eval_scalar(arg(2)?, t)?),
                "clamp_min" => (evaluator.eval_scalar(arg(1)?, t)?, f64::INFINITY),
                _ => (f64::NEG_INFINITY, evaluator.eval_scalar(arg(1)?, t)?),
            };
            if max < min {
                return Ok(Value::Vector(Vec::new()));
            }
            map_vector(samples, t, |v| go_max(min, go_min(max, v)))?
        }
        "round" => {
            let samples = evaluator.eval_vector(arg(0)?, t)?;
            let to_nearest = match args.get(1) {
                Some(expr) => evaluator.eval_scalar(expr, t)?,
                None => 1.0,
            };
            let inverse = 1.0 / to_nearest;
            map_vector(samples, t, |v| (v * inverse + 0.5).floor() / inverse)?
        }
        "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute" | "month" | "year" => {
            let samples = match args.first() {
                Some(expr) => evaluator.eval_vector(expr, t)?,
                None => vec![Sample { labels: Labels::default(), v: t as f64 / 1000.0, t }],
            };
            map_vector(samples, t, |v| date_part(name, v))?
        }
        _ => match math_function(name) {
            Some(f) => map_vector(evaluator.eval_vector(arg(0)?, t)?, t, f)?,
            None => return Err(QueryError::Execution(format!("function {name}() is not supported by Ferry yet"))),
        },
    };
    Ok(value)
}

/// Go's `math.Max`: NaN wins.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) }
}

/// Go's `math.Min`: NaN wins.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.min(b) }
}

fn map_vector(samples: Vec<Sample>, t: i64, f: impl Fn(f64) -> f64) -> Result<Value, QueryError> {
    let out: Vec<Sample> =
        samples.into_iter().map(|s| Sample { labels: s.labels.without_name(), v: f(s.v), t }).collect();
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

fn math_function(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => f64::to_degrees,
        "rad" => f64::to_radians,
        "sgn" => |v: f64| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

/// The functions over a range vector; `None` when `name` is not one.
fn range_function(evaluator: &Evaluator<'_>, name: &str, args: &[&Expr], t: i64) -> Result<Option<Value>, QueryError> {
    let matrix_arg = match name {
        "quantile_over_time" => 1,
        "rate"
        | "irate"
        | "increase"
        | "delta"
        | "idelta"
        | "deriv"
        | "predict_linear"
        | "changes"
        | "resets"
        | "holt_winters"
        | "double_exponential_smoothing"
        | "avg_over_time"
        | "min_over_time"
        | "max_over_time"
        | "sum_over_time"
        | "count_over_time"
        | "stddev_over_time"
        | "stdvar_over_time"
        | "last_over_time"
        | "present_over_time"
        | "absent_over_time" => 0,
        _ => return Ok(None),
    };
    let Some(matrix_expr) = args.get(matrix_arg) else {
        return Err(QueryError::BadData(format!("{name}() needs a range vector argument")));
    };
    let matrix = evaluator.eval_matrix(matrix_expr, t)?;
    if name == "absent_over_time" {
        return Ok(Some(Value::Vector(if matrix.series.is_empty() {
            vec![Sample { labels: absent_labels(matrix_expr), v: 1.0, t }]
        } else {
            Vec::new()
        })));
    }
    let scalar = |idx: usize| -> Result<f64, QueryError> {
        let expr = args.get(idx).ok_or_else(|| QueryError::BadData(format!("{name}() is missing an argument")))?;
        evaluator.eval_scalar(expr, t)
    };
    let (q, duration, smoothing, trend) = match name {
        "quantile_over_time" => (scalar(0)?, 0.0, 0.0, 0.0),
        "predict_linear" => (0.0, scalar(1)?, 0.0, 0.0),
        "holt_winters" | "double_exponential_smoothing" => {
            let (smoothing, trend) = (scalar(1)?, scalar(2)?);
            if smoothing <= 0.0 || smoothing >= 1.0 {
                return Err(QueryError::Execution(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {smoothing}"
                )));
            }
            if trend <= 0.0 || trend >= 1.0 {
                return Err(QueryError::Execution(format!("invalid trend factor. Expected: 0 < tf < 1, got: {trend}")));
            }
            (0.0, 0.0, smoothing, trend)
        }
        _ => (0.0, 0.0, 0.0, 0.0),
    };
    let mut out = Vec::with_capacity(matrix.series.len());
    for series in matrix.series {
        let points = &series.points;
        let values = || points.iter().map(|(_, v)| *v);
        let n = points.len() as f64;
        let v = match name {
            "rate" => extrapolated_rate(points, matrix.range_start, matrix.range_end, true, true),
            "increase" => extrapolated_rate(points, matrix.range_start, matrix.range_end, true, false),
            "delta" => extrapolated_rate(points, matrix.range_start, matrix.range_end, false, false),
            "irate" => instant_value(points, true),
            "idelta" => instant_value(points, false),
            "deriv" => (points.len() >= 2).then(|| linear_regression(points, points[0].0).0),
            "predict_linear" => (points.len() >= 2).then(|| {
                let (slope, intercept) = linear_regression(points, t);
                intercept + slope * duration
            }),
            "holt_winters" | "double_exponential_smoothing" => holt_winters(points, smoothing, trend),
            "changes" => {
                Some(points.windows(2).filter(|w| w[0].1 != w[1].1 && !(w[0].1.is_nan() && w[1].1.is_nan())).count()
                    as f64)
            }
            "resets" => Some(points.windows(2).filter(|w| w[1].1 < w[0].1).count() as f64),
            "avg_over_time" => Some(super::incremental_mean(values())),
            "min_over_time" => Some(values().fold(f64::NAN, |acc, v| if acc.is_nan() || v < acc { v } else { acc })),
            "max_over_time" => Some(values().fold(f64::NAN, |acc, v| if acc.is_nan() || v > acc { v } else { acc })),
            "sum_over_time" => Some(values().sum()),
            "count_over_time" => Some(n),
            "present_over_time" => Some(1.0),
            "last_over_time" => points.last().map(|(_, v)| *v),
            "quantile_over_time" => Some(quantile(q, values().collect())),
            "stddev_over_time" | "stdvar_over_time" => {
                let (mut count, mut mean, mut m2) = (0.0, 0.0, 0.0);
                for v in values() {
                    count += 1.0;
                    let delta = v - mean;
                    mean += delta / count;
                    m2 += delta * (v - mean);
                }
                let variance = m2 / count;
                Some(if name == "stddev_over_time" { variance.sqrt() } else { variance })
            }
            _ => None,
        };
        if let Some(v) = v {
            let labels = if name == "last_over_time" { series.labels } else { series.labels.without_name() };
            out.push(Sample { labels, v, t });
        }
    }
    check_unique(&out)?;
    Ok(Some(Value::Vector(out)))
}

/// `rate`, `increase` and `delta`: the change over the window, extrapolated to its edges
/// unless the series starts or ends too far from them (Prometheus' `extrapolatedRate`).
fn extrapolated_rate(
    points: &[(i64, f64)],
    range_start: i64,
    range_end: i64,
    counter: bool,
    rate: bool,
) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (first_t, first_v) = points[0];
    let (last_t, last_v) = points[points.len() - 1];
    let mut result = last_v - first_v;
    if counter {
        let mut last = 0.0;
        for (_, v) in points {
            if *v < last {
                result += last;
            }
            last = *v;
        }
    }
    let mut to_start = (first_t - range_start) as f64 / 1000.0;
    let to_end = (range_end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let average_between = sampled / (points.len() - 1) as f64;
    if counter && result > 0.0 && first_v >= 0.0 {
        let to_zero = sampled * (first_v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = average_between * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold { to_start } else { average_between / 2.0 };
    interval += if to_end < threshold { to_end } else { average_between / 2.0 };
    result *= interval / sampled;
    if rate {
        result /= (range_end - range_start) as f64 / 1000.0;
    }
    Some(result)
}

/// `irate` and `idelta`: from the last two samples.
fn instant_value(points: &[(i64, f64)], rate: bool) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (previous_t, previous_v) = points[points.len() - 2];
    let (last_t, last_v) = points[points.len() - 1];
    let mut result = last_v - previous_v;
    if rate && last_v < previous_v {
        result = last_v;
    }
    let interval = last_t - previous_t;
    if interval == 0 {
        return None;
    }
    if rate {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

/// Least squares over the points, x in seconds from `intercept_time`: `(slope, intercept)`.
fn linear_regression(points: &[(i64, f64)], intercept_time: i64) -> (f64, f64) {
    let first = points[0].1;
    if points.iter().all(|(_, v)| *v == first) {
        return if first.is_infinite() { (f64::NAN, f64::NAN) } else { (0.0, first) };
    }
    let (mut n, mut sum_x, mut sum_y, mut sum_xy, mut sum_x2) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (t, v) in points {
        let x = (t - intercept_time) as f64 / 1000.0;
        n += 1.0;
        sum_x += x;
        sum_y += v;
        sum_xy += x * v;
        sum_x2 += x * x;
    }
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    (slope, sum_y / n - slope * sum_x / n)
}

fn holt_winters(points: &[(i64, f64)], smoothing: f64, trend: f64) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (mut s0, mut s1) = (0.0, points[0].1);
    let mut b = points[1].1 - points[0].1;
    for (idx, (_, v)) in points.iter().enumerate().skip(1) {
        let x = smoothing * v;
        if idx > 1 {
            b = trend * (s1 - s0) + (1.0 - trend) * b;
        }
        let y = (1.0 - smoothing) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Some(s1)
}

/// The labels `absent()` gives: the selector's equality matchers.
fn absent_labels(expr: &Expr) -> Labels {
    let selector = match expr {
        Expr::VectorSelector(selector) => selector,
        Expr::MatrixSelector(matrix) => &matrix.vs,
        _ => return Labels::default(),
    };
    let mut labels = Labels::default();
    let mut cleared = Vec::new();
    for matcher in selector_matchers(selector) {
        if matcher.name == METRIC_NAME {
            continue;
        }
        if matcher.op == MatchOp::Equal && labels.get(&matcher.name).is_none() {
            labels.set(&matcher.name, matcher.value.clone());
        } else {
            cleared.push(matcher.name);
        }
    }
    for name in cleared {
        labels.remove(&name);
    }
    labels
}

fn histogram_quantile(q: f64, samples: Vec<Sample>, t: i64) -> Vec<Sample> {
    let mut order: Vec<Labels> = Vec::new();
    let mut groups: HashMap<Labels, Vec<(f64, f64)>> = HashMap::new();
    for sample in samples {
        let Some(Ok(upper_bound)) = sample.labels.get("le").map(str::parse::<f64>) else { continue };
        let mut group = sample.labels.clone();
        group.remove("le");
        let buckets = groups.entry(group.clone()).or_insert_with(|| {
            order.push(group);
            Vec::new()
        });
        buckets.push((upper_bound, sample.v));
    }
    let mut out = Vec::new();
    for group in order {
        let buckets = groups.remove(&group).unwrap_or_default();
        out.push(Sample { labels: group.without_name(), v: bucket_quantile(q, buckets), t });
    }
    out
}

/// Prometheus' `bucketQuantile` over `(upper bound, cumulative count)` pairs.
fn bucket_quantile(q: f64, mut buckets: Vec<(f64, f64)>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.last().is_none_or(|(upper, _)| *upper != f64::INFINITY) {
        return f64::NAN;
    }
    // Buckets with the same bound are added up; counts are made monotonic.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for (upper, count) in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == upper => last.1 += count,
            _ => merged.push((upper, count)),
        }
    }
    let mut max = f64::NEG_INFINITY;
    for bucket in &mut merged {
        if bucket.1 > max {
            max = bucket.1;
        } else if bucket.1 < max {
            bucket.1 = max;
        }
    }
    if merged.len() < 2 {
        return f64::NAN;
    }
    let observations = merged[merged.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = merged[..merged.len() - 1].partition_point(|(_, count)| *count < rank);
    if b == merged.len() - 1 {
        return merged[merged.len() - 2].0;
    }
    if b == 0 && merged[0].0 <= 0.0 {
        return merged[0].0;
    }
    let (bucket_end, mut count) = merged[b];
    let mut bucket_start = 0.0;
    if b > 0 {
        bucket_start = merged[b - 1].0;
        count -= merged[b - 1].1;
        rank -= merged[b - 1].1;
    }
    bucket_start + (bucket_end - bucket_start) * (rank / count)
}

/// A date part of a time in seconds, in UTC.
fn date_part(name: &str, seconds: f64) -> f64 {
    if !seconds.is_finite() {
        return f64::NAN;
    }
    let secs = seconds as i64;
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let day_of_year = days - days_from_civil(year, 1, 1) + 1;
    (match name {
        "day_of_month" => day,
        "day_of_week" => (days + 4).rem_euclid(7),
        "day_of_year" => day_of_year,
        "days_in_month" => days_in_month,
        "hour" => of_day / 3600,
        "minute" => of_day % 3600 / 60,
        "month" => month,
        _ => year,
    }) as f64
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
