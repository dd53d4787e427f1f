//! The part of Go's `text/template` that rule files use in labels and annotations, with
//! Prometheus' functions: `{{ $labels.x }}`, `{{ $value | humanize }}`, `printf`, `if`/`else`/
//! `with`/`range`/`end`, variables, trim markers, comments, and `query` over the store.
//!
//! [`Template::parse`] checks a template as `promtool check rules` does (an unknown function
//! is an error naming it); [`Template::execute`] expands it with the alert's data. Missing map
//! keys print as the empty string (Prometheus runs templates with `missingkey=zero`).

mod exec;
mod functions;
mod parse;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::eval::RuleError;

pub use parse::Template;

/// A value inside a template.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A label set (`$labels`, `$externalLabels`).
    Map(Arc<BTreeMap<String, String>>),
    /// A struct with named fields (`.`, a query's sample).
    Struct(Arc<Vec<(&'static str, Value)>>),
    /// A query's result.
    List(Arc<Vec<Value>>),
}

impl Value {
    /// The text `{{ }}` prints for the value, as Go's `fmt.Print` would.
    pub fn to_text(&self) -> String {
        match self {
            Value::Nil => "<no value>".to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(v) => crate::gofmt::float_v(*v),
            Value::Str(s) => s.clone(),
            Value::Map(map) => {
                let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("map[{}]", parts.join(" "))
            }
            Value::Struct(fields) => {
                let parts: Vec<String> = fields.iter().map(|(_, v)| v.to_text()).collect();
                format!("{{{}}}", parts.join(" "))
            }
            Value::List(items) => {
                let parts: Vec<String> = items.iter().map(Value::to_text).collect();
                format!("[{}]", parts.join(" "))
            }
        }
    }

    /// Go's type name, for `printf`'s complaints.
    pub fn go_type(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Map(_) => "map[string]string",
            Value::Struct(_) => "struct",
            Value::List(_) => "queryResult",
        }
    }

    /// Go's truth: false, 0, nil and empty things are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(v) => *v != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Map(map) => !map.is_empty(),
            Value::Struct(_) => true,
            Value::List(items) => !items.is_empty(),
        }
    }

    /// A label set as a map value.
    pub fn labels<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
        Value::Map(Arc::new(pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()))
    }

    /// A query's sample: `.Labels` and `.Value`.
    pub fn sample(labels: Value, value: f64) -> Value {
        Value::Struct(Arc::new(vec![("Labels", labels), ("Value", Value::Float(value))]))
    }
}

/// What a template can reach while it runs.
pub struct Context<'a> {
    /// The dot at the start: the alert's `.Labels`, `.ExternalLabels`, `.ExternalURL`, `.Value`.
    pub data: Value,
    /// Variables defined before the template (`$labels`, `$value`, …).
    pub vars: Vec<(String, Value)>,
    /// Runs `query "…"`: a PromQL instant query at the evaluation time, as samples.
    pub query: &'a dyn Fn(&str) -> Result<Value, RuleError>,
}

/// A template that did not parse or failed while running.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("template: {name}:{line}: {message}")]
pub struct TemplateError {
    pub name: String,
    pub line: usize,
    pub message: String,
}

/// The data Prometheus gives an alert's templates, and the variables it defines for them.
pub fn alert_context<'a>(
    labels: &ferry_promql::Labels,
    external_labels: &ferry_promql::Labels,
    external_url: &str,
    value: f64,
    query: &'a dyn Fn(&str) -> Result<Value, RuleError>,
) -> Context<'a> {
    let labels = Value::labels(labels.iter());
    let external = Value::labels(external_labels.iter());
    let data = Value::Struct(Arc::new(vec![
        ("Labels", labels.clone()),
        ("ExternalLabels", external.clone()),
        ("ExternalURL", Value::Str(external_url.to_owned())),
        ("Value", Value::Float(value)),
    ]));
    Context {
        data,
        vars: vec![
            ("labels".to_owned(), labels),
            ("externalLabels".to_owned(), external),
            ("externalURL".to_owned(), Value::Str(external_url.to_owned())),
            ("value".to_owned(), Value::Float(value)),
        ],
        query,
    }
}

/// The variables an alert template may use without defining them.
pub const ALERT_VARIABLES: &[&str] = &["labels", "externalLabels", "externalURL", "value"];
