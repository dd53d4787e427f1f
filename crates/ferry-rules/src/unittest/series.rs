//! Input series in promtool's expanding notation (`up{job="a"}` with values `1+1x3 _ stale`)
//! and the label sets of expected samples.

use ferry_promql::{Labels, MatchOp, QueryError, stale_nan};

/// An input series that does not read.
#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    #[error("parsing series {series:?}: {reason}")]
    Labels { series: String, reason: MetricError },
    #[error("series {series:?}: native histogram values ({item}) are not supported by ferry rules test yet")]
    Histogram { series: String, item: String },
    #[error("series {series:?}: cannot read value {item:?} (write 1, 1+2x3, 5x2, _, _x3 or stale)")]
    BadValue { series: String, item: String },
}

/// A label set that does not read.
#[derive(Debug, thiserror::Error)]
pub enum MetricError {
    #[error(transparent)]
    Selector(#[from] QueryError),
    /// The text, which has a matcher other than `=`.
    #[error("{0}: only `=` matchers describe a series")]
    NotEqual(String),
}

/// The samples of one input series: value `i` at `start + i * interval`; `_` skips a step.
///
/// # Errors
/// What does not read: the series' labels or one of its values.
pub fn expand(
    series: &str,
    values: &str,
    start_ms: i64,
    interval_ms: i64,
) -> Result<Vec<(Labels, i64, f64)>, SeriesError> {
    let labels = parse_metric(series).map_err(|reason| SeriesError::Labels { series: series.to_owned(), reason })?;
    let mut out = Vec::new();
    let mut step: i64 = 0;
    for item in values.split_whitespace() {
        if item.starts_with("{{") {
            return Err(SeriesError::Histogram { series: series.to_owned(), item: item.to_owned() });
        }
        let bad = || SeriesError::BadValue { series: series.to_owned(), item: item.to_owned() };
        if let Some(times) = item.strip_prefix("_x") {
            step += times.parse::<i64>().map_err(|_| bad())?;
            continue;
        }
        if item == "_" {
            step += 1;
            continue;
        }
        let (base, repeat) = match item.rsplit_once('x') {
            Some((base, times))
                if !base.is_empty() && times.bytes().all(|b| b.is_ascii_digit()) && !times.is_empty() =>
            {
                (base, Some(times.parse::<i64>().map_err(|_| bad())?))
            }
            _ => (item, None),
        };
        // `a+b` or `a-b`: the sign that starts the increment is not the value's own sign or an
        // exponent's.
        let split = base
            .char_indices()
            .skip(1)
            .find(|(idx, c)| (*c == '+' || *c == '-') && !matches!(base.as_bytes()[idx - 1], b'e' | b'E'))
            .map(|(idx, _)| idx);
        let (first, increment) = match split {
            Some(idx) if repeat.is_some() => (&base[..idx], number(&base[idx..]).ok_or_else(bad)?),
            Some(_) => return Err(bad()),
            None => (base, 0.0),
        };
        let mut value = number(first).ok_or_else(bad)?;
        match repeat {
            None => {
                out.push((labels.clone(), start_ms + step * interval_ms, value));
                step += 1;
            }
            Some(times) => {
                for _ in 0..=times {
                    out.push((labels.clone(), start_ms + step * interval_ms, value));
                    value += increment;
                    step += 1;
                }
            }
        }
    }
    Ok(out)
}

fn number(text: &str) -> Option<f64> {
    match text {
        "stale" => Some(stale_nan()),
        "Inf" | "+Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => {
            if let Some(hex) = text.strip_prefix("0x") {
                return i64::from_str_radix(hex, 16).ok().map(|n| n as f64);
            }
            text.parse::<f64>().ok()
        }
    }
}

/// A label set written as a series selector with equality matchers: `up{job="a"}`,
/// `{job="a"}`, `up`; empty text is the empty set.
///
/// # Errors
/// The parser's message, or a matcher that is not `=`.
pub fn parse_metric(text: &str) -> Result<Labels, MetricError> {
    if text.trim().is_empty() || text.trim() == "{}" {
        return Ok(Labels::default());
    }
    let matchers = ferry_promql::parse_selector(text)?;
    let mut labels = Labels::default();
    for matcher in matchers {
        if matcher.op != MatchOp::Equal {
            return Err(MetricError::NotEqual(text.to_owned()));
        }
        labels.set(&matcher.name, matcher.value.clone());
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<(i64, String)> {
        expand("m", text, 0, 60_000)
            .unwrap_or_else(|error| panic!("{error}"))
            .into_iter()
            .map(|(_, t, v)| (t / 1000, if ferry_promql::is_stale_nan(v) { "stale".to_owned() } else { v.to_string() }))
            .collect()
    }

    #[test]
    fn expanding_notation_reads_as_promtool_reads_it() {
        let as_text =
            |pairs: Vec<(i64, String)>| pairs.iter().map(|(t, v)| format!("{t}:{v}")).collect::<Vec<_>>().join(" ");
        assert_eq!(as_text(values("1+1x2")), "0:1 60:2 120:3");
        assert_eq!(as_text(values("0x2 _ stale")), "0:0 60:0 120:0 240:stale");
        assert_eq!(as_text(values("-1-1x2")), "0:-1 60:-2 120:-3");
        assert_eq!(as_text(values("1 _x3 2")), "0:1 240:2");
        assert_eq!(as_text(values("1e3 2.5")), "0:1000 60:2.5");
        assert!(expand("m", "{{sum:1}}", 0, 1).is_err());
        assert_eq!(parse_metric("up{job=\"a\"}").map(|l| l.to_string()).ok(), Some("up{job=\"a\"}".to_owned()));
        assert_eq!(
            parse_metric("up{job!=\"a\"}").map_err(|error| error.to_string()).err(),
            Some("up{job!=\"a\"}: only `=` matchers describe a series".to_owned())
        );
    }
}
