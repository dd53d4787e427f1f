//! The functions a rule template can call: Go's built-ins (`eq`, `printf`, `len`, …) and
//! Prometheus' (`humanize`, `query`, `first`, `label`, `title`, …), with the output Prometheus
//! gives.

use super::{Context, Value};
use crate::duration::DurationError;
use crate::eval::RuleError;
use crate::gofmt;
use std::sync::Arc;

const SUPPORTED: &[&str] = &[
    "and",
    "or",
    "not",
    "len",
    "index",
    "print",
    "printf",
    "println",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "args",
    "reReplaceAll",
    "safeHtml",
    "match",
    "title",
    "toUpper",
    "toLower",
    "sortByLabel",
    "stripPort",
    "stripDomain",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toTime",
    "parseDuration",
];

/// Functions Prometheus knows that rule files rarely use; they parse, and running one says so.
const KNOWN_UNSUPPORTED: &[&str] = &[
    "html",
    "js",
    "urlquery",
    "slice",
    "call",
    "graphLink",
    "tableLink",
    "pathPrefix",
    "externalURL",
    "now",
    "toDuration",
    "urlQueryEscape",
];

pub(super) fn is_function(name: &str) -> bool {
    SUPPORTED.contains(&name) || KNOWN_UNSUPPORTED.contains(&name)
}

/// Why a function call failed, in the words of Go's `text/template` and Prometheus.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    #[error("wrong number of args for {name}: want {want} got {got}")]
    WrongArgs { name: String, want: usize, got: usize },
    /// A function given a value of a type it does not take (`len of type int`).
    #[error("{function} of type {go_type}")]
    OfType { function: &'static str, go_type: &'static str },
    #[error("index of untyped nil")]
    IndexOfNil,
    #[error("index out of range: {0}")]
    IndexOutOfRange(i64),
    #[error("can't index item of type {0}")]
    CantIndex(&'static str),
    #[error("printf needs a format string")]
    PrintfFormat,
    #[error("missing argument for comparison")]
    MissingComparison,
    #[error("invalid type for comparison")]
    InvalidComparison,
    #[error("incompatible types for comparison")]
    IncompatibleComparison,
    #[error(transparent)]
    Query(#[from] RuleError),
    #[error("first() called on vector with no elements")]
    FirstOfEmpty,
    #[error(transparent)]
    Regex(#[from] regex::Error),
    /// Text that does not read as a float, as written.
    #[error("strconv.ParseFloat: parsing {}: invalid syntax", gofmt::quote(.0))]
    ParseFloat(String),
    #[error("can't convert {0} to float")]
    NotAFloat(&'static str),
    #[error("cannot convert {} to time.Time", go_float(.0))]
    NotATime(f64),
    #[error(transparent)]
    Duration(#[from] DurationError),
    #[error("the template function {0} is not supported by Ferry")]
    Unsupported(String),
}

/// A float as Go's `%v` prints it, for a message.
fn go_float(v: &f64) -> String {
    gofmt::float_v(*v)
}

pub(super) fn call(name: &str, args: &[Value], cx: &Context<'_>) -> Result<Value, FunctionError> {
    let arity = |want: usize| {
        if args.len() == want {
            Ok(())
        } else {
            Err(FunctionError::WrongArgs { name: name.to_owned(), want, got: args.len() })
        }
    };
    let of_type = |function: &'static str, value: &Value| FunctionError::OfType { function, go_type: value.go_type() };
    match name {
        "not" => {
            arity(1)?;
            Ok(Value::Bool(!args[0].truthy()))
        }
        "len" => {
            arity(1)?;
            match &args[0] {
                Value::Str(s) => Ok(Value::Int(s.len() as i64)),
                Value::Map(map) => Ok(Value::Int(map.len() as i64)),
                Value::List(items) => Ok(Value::Int(items.len() as i64)),
                other => Err(of_type("len", other)),
            }
        }
        "index" => {
            let Some((first, keys)) = args.split_first() else { return Err(FunctionError::IndexOfNil) };
            let mut value = first.clone();
            for key in keys {
                value = match (&value, key) {
                    (Value::Map(map), Value::Str(k)) => Value::Str(map.get(k).cloned().unwrap_or_default()),
                    (Value::List(items), Value::Int(i)) => items
                        .get(usize::try_from(*i).map_err(|_| FunctionError::IndexOutOfRange(*i))?)
                        .cloned()
                        .ok_or(FunctionError::IndexOutOfRange(*i))?,
                    (value, _) => return Err(FunctionError::CantIndex(value.go_type())),
                };
            }
            Ok(value)
        }
        "print" => Ok(Value::Str(go_print(args))),
        "println" => {
            let parts: Vec<String> = args.iter().map(Value::to_text).collect();
            Ok(Value::Str(format!("{}\n", parts.join(" "))))
        }
        "printf" => {
            let Some((Value::Str(format), rest)) = args.split_first() else {
                return Err(FunctionError::PrintfFormat);
            };
            Ok(Value::Str(gofmt::sprintf(format, rest)))
        }
        "eq" | "ne" => {
            if args.len() < 2 {
                return Err(FunctionError::MissingComparison);
            }
            let mut equal = false;
            for other in &args[1..] {
                if compare(&args[0], other)? == Some(std::cmp::Ordering::Equal) {
                    equal = true;
                }
            }
            Ok(Value::Bool(if name == "eq" { equal } else { !equal }))
        }
        "lt" | "le" | "gt" | "ge" => {
            arity(2)?;
            let ordering = compare(&args[0], &args[1])?.ok_or(FunctionError::InvalidComparison)?;
            Ok(Value::Bool(match name {
                "lt" => ordering.is_lt(),
                "le" => ordering.is_le(),
                "gt" => ordering.is_gt(),
                _ => ordering.is_ge(),
            }))
        }
        "query" => {
            arity(1)?;
            Ok((cx.query)(&text(&args[0]))?)
        }
        "first" => {
            arity(1)?;
            match &args[0] {
                Value::List(items) => items.first().cloned().ok_or(FunctionError::FirstOfEmpty),
                other => Err(of_type("first", other)),
            }
        }
        "label" => {
            arity(2)?;
            match &args[1] {
                Value::Struct(fields) => Ok(fields
                    .iter()
                    .find(|(n, _)| *n == "Labels")
                    .and_then(|(_, labels)| match labels {
                        Value::Map(map) => map.get(&text(&args[0])).cloned(),
                        _ => None,
                    })
                    .map_or(Value::Str(String::new()), Value::Str)),
                _ => Ok(Value::Str(String::new())),
            }
        }
        "value" => {
            arity(1)?;
            match &args[0] {
                Value::Struct(fields) => {
                    Ok(fields.iter().find(|(n, _)| *n == "Value").map_or(Value::Nil, |(_, v)| v.clone()))
                }
                other => Err(of_type("value", other)),
            }
        }
        "strvalue" => {
            arity(1)?;
            match &args[0] {
                Value::Struct(fields) => Ok(fields
                    .iter()
                    .find(|(n, _)| *n == "Labels")
                    .and_then(|(_, labels)| match labels {
                        Value::Map(map) => map.get("__value__").cloned(),
                        _ => None,
                    })
                    .map_or(Value::Str(String::new()), Value::Str)),
                _ => Ok(Value::Str(String::new())),
            }
        }
        "args" => {
            let fields: Vec<(&'static str, Value)> =
                args.iter().take(ARG_NAMES.len()).enumerate().map(|(idx, v)| (ARG_NAMES[idx], v.clone())).collect();
            Ok(Value::Struct(Arc::new(fields)))
        }
        "reReplaceAll" => {
            arity(3)?;
            let re = regex::Regex::new(&text(&args[0]))?;
            Ok(Value::Str(re.replace_all(&text(&args[2]), text(&args[1]).as_str()).into_owned()))
        }
        "match" => {
            arity(2)?;
            let re = regex::Regex::new(&text(&args[0]))?;
            Ok(Value::Bool(re.is_match(&text(&args[1]))))
        }
        "safeHtml" => {
            arity(1)?;
            Ok(Value::Str(text(&args[0])))
        }
        "title" => {
            arity(1)?;
            Ok(Value::Str(title(&text(&args[0]))))
        }
        "toUpper" => {
            arity(1)?;
            Ok(Value::Str(text(&args[0]).to_uppercase()))
        }
        "toLower" => {
            arity(1)?;
            Ok(Value::Str(text(&args[0]).to_lowercase()))
        }
        "sortByLabel" => {
            arity(2)?;
            let label = text(&args[0]);
            match &args[1] {
                Value::List(items) => {
                    let mut items = items.as_ref().clone();
                    let key = |item: &Value| match item {
                        Value::Struct(fields) => fields
                            .iter()
                            .find(|(n, _)| *n == "Labels")
                            .and_then(|(_, l)| match l {
                                Value::Map(map) => map.get(&label).cloned(),
                                _ => None,
                            })
                            .unwrap_or_default(),
                        _ => String::new(),
                    };
                    items.sort_by_key(key);
                    Ok(Value::List(Arc::new(items)))
                }
                other => Err(of_type("sortByLabel", other)),
            }
        }
        "stripPort" => {
            arity(1)?;
            let host = text(&args[0]);
            Ok(Value::Str(strip_port(&host)))
        }
        "stripDomain" => {
            arity(1)?;
            let host = text(&args[0]);
            let (name, port) = match host.rsplit_once(':') {
                Some((name, port)) if !name.contains(':') => (name.to_owned(), format!(":{port}")),
                _ => (host.clone(), String::new()),
            };
            if name.split('.').count() == 4 && name.split('.').all(|part| part.parse::<u8>().is_ok()) {
                return Ok(Value::Str(host));
            }
            Ok(Value::Str(format!("{}{port}", name.split('.').next().unwrap_or(""))))
        }
        "humanize" => {
            arity(1)?;
            Ok(Value::Str(humanize(to_float(&args[0])?)))
        }
        "humanize1024" => {
            arity(1)?;
            Ok(Value::Str(humanize_1024(to_float(&args[0])?)))
        }
        "humanizeDuration" => {
            arity(1)?;
            Ok(Value::Str(humanize_duration(to_float(&args[0])?)))
        }
        "humanizePercentage" => {
            arity(1)?;
            Ok(Value::Str(format!("{}%", gofmt::float_g(to_float(&args[0])? * 100.0, 4))))
        }
        "humanizeTimestamp" => {
            arity(1)?;
            let v = to_float(&args[0])?;
            if !v.is_finite() {
                return Ok(Value::Str(gofmt::float_g(v, 4)));
            }
            Ok(Value::Str(go_time((v * 1e9) as i64)))
        }
        "toTime" => {
            arity(1)?;
            let v = to_float(&args[0])?;
            if !v.is_finite() {
                return Err(FunctionError::NotATime(v));
            }
            Ok(Value::Str(go_time((v * 1e9) as i64)))
        }
        "parseDuration" => {
            arity(1)?;
            let ms = crate::duration::parse_duration(&text(&args[0]))?;
            Ok(Value::Float(ms as f64 / 1000.0))
        }
        other => Err(FunctionError::Unsupported(other.to_owned())),
    }
}

const ARG_NAMES: [&str; 8] = ["arg0", "arg1", "arg2", "arg3", "arg4", "arg5", "arg6", "arg7"];

fn text(value: &Value) -> String {
    value.to_text()
}

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
fn go_print(args: &[Value]) -> String {
    let mut out = String::new();
    for (idx, arg) in args.iter().enumerate() {
        if idx > 0 && !matches!(arg, Value::Str(_)) && !matches!(args[idx - 1], Value::Str(_)) {
            out.push(' ');
        }
        out.push_str(&arg.to_text());
    }
    out
}

fn compare(a: &Value, b: &Value) -> Result<Option<std::cmp::Ordering>, FunctionError> {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(Some(x.cmp(y))),
        (Value::Int(x), Value::Int(y)) => Ok(Some(x.cmp(y))),
        (Value::Float(x), Value::Float(y)) => Ok(x.partial_cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Ok(Some(x.cmp(y))),
        (Value::Nil, Value::Nil) => Ok(Some(std::cmp::Ordering::Equal)),
        _ => Err(FunctionError::IncompatibleComparison),
    }
}

fn title(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at_start = true;
    for c in text.chars() {
        if at_start && c.is_alphanumeric() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_start = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}

fn strip_port(host: &str) -> String {
    if let Some(rest) = host.strip_prefix('[')
        && let Some((addr, _)) = rest.split_once(']')
    {
        return addr.to_owned();
    }
    match host.rsplit_once(':') {
        Some((name, _)) if !name.contains(':') => name.to_owned(),
        _ => host.to_owned(),
    }
}

fn to_float(value: &Value) -> Result<f64, FunctionError> {
    match value {
        Value::Float(v) => Ok(*v),
        Value::Int(i) => Ok(*i as f64),
        Value::Str(s) => s.trim().parse::<f64>().or_else(|_| match s.trim() {
            "NaN" => Ok(f64::NAN),
            "+Inf" | "Inf" => Ok(f64::INFINITY),
            "-Inf" => Ok(f64::NEG_INFINITY),
            _ => Err(FunctionError::ParseFloat(s.clone())),
        }),
        other => Err(FunctionError::NotAFloat(other.go_type())),
    }
}

fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return gofmt::float_g(v, 4);
    }
    let mut v = v;
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", gofmt::float_g(v, 4))
}

fn humanize_1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return gofmt::float_g(v, 4);
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", gofmt::float_g(v, 4))
}

fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return gofmt::float_g(v, 4);
    }
    if v == 0.0 {
        return format!("{}s", gofmt::float_g(v, 4));
    }
    if v.abs() >= 1.0 {
        let (sign, v) = if v < 0.0 { ("-", -v) } else { ("", v) };
        let duration = v as i64;
        let seconds = duration % 60;
        let minutes = (duration / 60) % 60;
        let hours = (duration / 3600) % 24;
        let days = duration / 86_400;
        if days != 0 {
            return format!("{sign}{days}d {hours}h {minutes}m {seconds}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {minutes}m {seconds}s");
        }
        if minutes != 0 {
            return format!("{sign}{minutes}m {seconds}s");
        }
        return format!("{sign}{}s", gofmt::float_g(v, 4));
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", gofmt::float_g(v, 4))
}

/// A time as Go's `time.Time.String` writes a UTC time: `2024-01-01 00:00:00 +0000 UTC`, with
/// fractional seconds when there are some.
fn go_time(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let Some(time) = chrono::DateTime::from_timestamp(secs, 0) else {
        return format!("{secs}");
    };
    let mut out = time.format("%Y-%m-%d %H:%M:%S").to_string();
    if frac != 0 {
        out.push('.');
        out.push_str(format!("{frac:09}").trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanizers_match_prometheus() {
        assert_eq!(humanize(1234.0), "1.234k");
        assert_eq!(humanize(0.0012), "1.2m");
        assert_eq!(humanize(0.0), "0");
        assert_eq!(humanize(12_345_678.0), "12.35M");
        assert_eq!(humanize_1024(2048.0), "2ki");
        assert_eq!(humanize_duration(3661.0), "1h 1m 1s");
        assert_eq!(humanize_duration(90_061.0), "1d 1h 1m 1s");
        assert_eq!(humanize_duration(1.5), "1.5s");
        assert_eq!(humanize_duration(0.25), "250ms");
        assert_eq!(humanize_duration(43200.0), "12h 0m 0s");
        assert_eq!(go_time(1_704_067_200_000_000_000), "2024-01-01 00:00:00 +0000 UTC");
        assert_eq!(title("hello world-wide"), "Hello World-Wide");
    }
}
