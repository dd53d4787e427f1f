//! The Prometheus text exposition format and OpenMetrics text, parsed into samples: what a
//! scrape returns and what `ferry metrics import` backfills (as `promtool tsdb
//! create-blocks-from openmetrics` does).
//!
//! The two formats differ in timestamps (milliseconds in the text format, seconds with
//! decimals in OpenMetrics) and in OpenMetrics' `# EOF` end marker and exemplars (skipped).
//! Every error names its line and what to fix; nothing here panics on any input (fuzzed).

use crate::labels::{Labels, METRIC_NAME};

/// Which format the text is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`: timestamps in milliseconds.
    Text,
    /// `application/openmetrics-text`: timestamps in seconds, ends with `# EOF`.
    OpenMetrics,
}

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedSample {
    /// The labels, with the metric name as `__name__`.
    pub labels: Labels,
    pub value: f64,
    /// Milliseconds since the epoch, when the line has a timestamp.
    pub timestamp_ms: Option<i64>,
}

/// What `# TYPE`, `# HELP` and `# UNIT` say of a metric family.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    pub name: String,
    pub kind: Option<String>,
    pub help: Option<String>,
    pub unit: Option<String>,
}

/// A parsed exposition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exposition {
    pub samples: Vec<ParsedSample>,
    pub metadata: Vec<Metadata>,
}

/// A line that is not valid in the format.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based.
    pub line: usize,
    pub message: String,
}

/// Parses a whole exposition.
///
/// # Errors
/// The first line that is not valid, with what is wrong; for OpenMetrics also a missing
/// `# EOF` or text after it.
pub fn parse(text: &str, format: Format) -> Result<Exposition, ParseError> {
    let mut exposition = Exposition::default();
    let mut saw_eof = false;
    for (idx, line) in text.lines().enumerate() {
        let line_no = idx + 1;
        let error = |message: String| ParseError { line: line_no, message };
        if saw_eof {
            if line.is_empty() {
                continue;
            }
            return Err(error("text after \"# EOF\"; the end marker must be the last line".into()));
        }
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            let comment = comment.trim_start();
            if comment == "EOF" {
                saw_eof = true;
                continue;
            }
            let mut words = comment.splitn(3, ' ');
            let keyword = words.next().unwrap_or("");
            if !matches!(keyword, "HELP" | "TYPE" | "UNIT") {
                continue;
            }
            let Some(name) = words.next().filter(|n| is_metric_name(n)) else {
                return Err(error(format!(
                    "# {keyword} needs a metric name, like \"# {keyword} http_requests_total …\""
                )));
            };
            let rest = words.next().unwrap_or("").trim().to_owned();
            let metadata = match exposition.metadata.iter_mut().find(|m| m.name == name) {
                Some(metadata) => metadata,
                None => {
                    exposition.metadata.push(Metadata { name: name.to_owned(), ..Metadata::default() });
                    let last = exposition.metadata.len() - 1;
                    &mut exposition.metadata[last]
                }
            };
            match keyword {
                "HELP" => metadata.help = Some(unescape_help(&rest)),
                "TYPE" => {
                    const KINDS: &[&str] = &[
                        "counter",
                        "gauge",
                        "histogram",
                        "gaugehistogram",
                        "summary",
                        "info",
                        "stateset",
                        "untyped",
                        "unknown",
                    ];
                    if !KINDS.contains(&rest.as_str()) {
                        return Err(error(format!("unknown metric type {rest:?}; one of {}", KINDS.join(", "))));
                    }
                    metadata.kind = Some(rest);
                }
                _ => metadata.unit = Some(rest),
            }
            continue;
        }
        exposition.samples.push(parse_sample(trimmed, format).map_err(|problem| error(problem.0))?);
    }
    if format == Format::OpenMetrics && !saw_eof {
        return Err(ParseError {
            line: text.lines().count(),
            message: "OpenMetrics text must end with \"# EOF\"".into(),
        });
    }
    Ok(exposition)
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn unescape_help(text: &str) -> String {
    text.replace("\\n", "\n").replace("\\\\", "\\")
}

/// What is wrong with one line, in words (the line number is added by [`parse`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
struct LineProblem(String);

/// A [`LineProblem`] from `format!` arguments.
macro_rules! problem {
    ($($arg:tt)*) => { LineProblem(format!($($arg)*)) };
}

fn parse_sample(line: &str, format: Format) -> Result<ParsedSample, LineProblem> {
    let name_end = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(line.len());
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err(problem!("expected a metric name at the start of {line:?}"));
    }
    let mut labels = Labels::default();
    labels.set(METRIC_NAME, name.to_owned());
    let mut rest = &line[name_end..];
    if let Some(after_brace) = rest.strip_prefix('{') {
        rest = parse_labels(after_brace, &mut labels)?;
    }
    let rest = rest.trim_start_matches([' ', '\t']);
    // An OpenMetrics exemplar follows " # ".
    let rest = rest.split(" # ").next().unwrap_or("");
    let mut fields = rest.split_ascii_whitespace();
    let value_text = fields.next().ok_or_else(|| problem!("{name} has no value"))?;
    let value = parse_float(value_text).ok_or_else(|| problem!("{value_text:?} is not a number (value of {name})"))?;
    let timestamp_ms = match fields.next() {
        None => None,
        Some(text) => Some(match format {
            Format::Text => text.parse::<i64>().map_err(|_| {
                problem!("{text:?} is not a timestamp in milliseconds (of {name}); the text format takes an integer")
            })?,
            Format::OpenMetrics => {
                let seconds = parse_float(text)
                    .filter(|s| s.is_finite())
                    .ok_or_else(|| problem!("{text:?} is not a timestamp in seconds (of {name})"))?;
                (seconds * 1000.0).round() as i64
            }
        }),
    };
    if let Some(extra) = fields.next() {
        return Err(problem!("unexpected {extra:?} after the value and timestamp of {name}"));
    }
    Ok(ParsedSample { labels, value, timestamp_ms })
}

/// Parses `name="value",…}` and returns what follows the closing brace.
fn parse_labels<'a>(mut text: &'a str, labels: &mut Labels) -> Result<&'a str, LineProblem> {
    loop {
        text = text.trim_start();
        if let Some(rest) = text.strip_prefix('}') {
            return Ok(rest);
        }
        let name_end = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len());
        let name = &text[..name_end];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(problem!("expected a label name or '}}' at {text:?}"));
        }
        text = text[name_end..].trim_start();
        text = text.strip_prefix('=').ok_or_else(|| problem!("expected '=' after label {name}"))?.trim_start();
        text = text.strip_prefix('"').ok_or_else(|| problem!("the value of label {name} must be in double quotes"))?;
        let mut value = String::new();
        let mut chars = text.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(problem!("the value of label {name} has no closing quote")),
                Some((idx, '"')) => break idx,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, other)) => return Err(problem!("unknown escape \\{other} in the value of label {name}")),
                    None => return Err(problem!("the value of label {name} has no closing quote")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        if labels.get(name).is_some() {
            return Err(problem!("label {name} appears twice"));
        }
        labels.set(name, value);
        text = text[end + 1..].trim_start();
        if let Some(rest) = text.strip_prefix(',') {
            text = rest;
        } else if !text.starts_with('}') {
            return Err(problem!("expected ',' or '}}' after label {name}"));
        }
    }
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        "NaN" | "nan" => Some(f64::NAN),
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ if text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E')) => {
            text.parse().ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
