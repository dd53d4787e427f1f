//! From YAML tree to [`DeploySpec`]: the readers of each part of the file and the checks that
//! need one node at a time (keys, value types, durations, numbers, a strategy's fields).
//! Checks across the file (names of environments, `after:` cycles, ports) are in
//! [`crate::check`].
//!
//! Every reader takes the node it should understand, reports what is wrong with it, and
//! returns what it could make of it; nothing stops at the first problem.

use ferry_workflow::yaml::Reader as _;
use std::collections::BTreeMap;

use ferry_workflow::yaml::{self, Entry, Node, NodeKind};
use ferry_workflow::{Diagnostic, Span};

use crate::duration::parse_duration;
use crate::spec::DeploySpec;

mod environment;
mod service;
mod slo;

/// The keys at the top of the file.
const TOP_KEYS: &[&str] = &["environments", "services"];

/// Reads and checks a `.ferry/deploy.yml`. Never fails and never panics: returns the spec it
/// could build (`None` only when the text is not YAML or not a mapping) and every
/// diagnostic, sorted by position. A spec comes back even with errors; callers that act on
/// it should refuse one whose diagnostics hold an error.
pub fn compile(src: &str) -> (Option<DeploySpec>, Vec<Diagnostic>) {
    let (tree, mut diagnostics) = yaml::parse(src);
    for diagnostic in &mut diagnostics {
        if diagnostic.code == "yaml-multiple-documents" {
            diagnostic.message = "a deploy.yml holds exactly one YAML document".to_owned();
        }
    }
    let spec = tree.as_ref().and_then(|tree| {
        let mut cx = Cx::default();
        let spec = read(&mut cx, tree);
        if let Some(spec) = &spec {
            crate::check::spec(&mut cx, spec);
        }
        diagnostics.append(&mut cx.diagnostics);
        spec
    });
    if spec.is_none() && diagnostics.is_empty() {
        diagnostics.push(
            Diagnostic::error("empty-file", Span::of(src, 0, 0), "the file holds no deployment settings")
                .with_help("a deploy.yml needs `environments:` and `services:`"),
        );
    }
    diagnostics.sort_by(|a, b| (a.span, a.code, &a.message).cmp(&(b.span, b.code, &b.message)));
    (spec, diagnostics)
}

/// A `deploy.yml` with errors, which nothing should act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", summary(.errors))]
pub struct InvalidDeployFile {
    /// The errors (not the warnings), sorted by position.
    pub errors: Vec<Diagnostic>,
}

fn summary(errors: &[Diagnostic]) -> String {
    let shown: Vec<String> = errors
        .iter()
        .take(3)
        .map(|error| format!("{}: {} [{}]", error.span.start, error.message, error.code))
        .collect();
    let more = match errors.len() {
        0..=3 => String::new(),
        n => format!(" (and {} more; `ferry lint` lists them all)", n - 3),
    };
    let noun = if errors.len() == 1 { "error" } else { "errors" };
    format!("deploy.yml has {} {noun}: {}{more}", errors.len(), shown.join("; "))
}

/// [`compile`] for callers that act on the file (making a release, deploying): the spec when
/// the file has no error (warnings are allowed), else every error.
///
/// # Errors
/// [`InvalidDeployFile`] with the file's errors; its message names the first three with
/// their line:column.
pub fn compile_valid(src: &str) -> Result<DeploySpec, InvalidDeployFile> {
    let (spec, diagnostics) = compile(src);
    let errors: Vec<Diagnostic> = diagnostics.into_iter().filter(Diagnostic::is_error).collect();
    match spec {
        Some(spec) if errors.is_empty() => Ok(spec),
        _ => Err(InvalidDeployFile { errors }),
    }
}

fn read(cx: &mut Cx, tree: &Node) -> Option<DeploySpec> {
    let Some(entries) = tree.as_map() else {
        cx.error(
            "wrong-type",
            tree.span,
            format!("a deploy.yml must be a mapping, found {}", tree.describe()),
            "start with `environments:` and `services:`",
        );
        return None;
    };
    let mut spec = DeploySpec { environments: Vec::new(), services: Vec::new() };
    let (mut saw_environments, mut saw_services) = (false, false);
    for entry in entries {
        let Some(key) = cx.key(entry) else { continue };
        match key {
            "environments" if !saw_environments => {
                saw_environments = true;
                spec.environments = environment::read_all(cx, &entry.value);
            }
            "services" if !saw_services => {
                saw_services = true;
                spec.services = service::read_all(cx, &entry.value);
            }
            "environments" | "services" => {}
            _ => cx.unknown_key(entry, key, TOP_KEYS, "the file"),
        }
    }
    for (seen, key, help) in [
        (
            saw_environments,
            "environments",
            "add `environments:` with at least one, e.g. `staging: { auto-deploy: true }`",
        ),
        (saw_services, "services", "add `services:` with at least one service and where it deploys"),
    ] {
        if !seen {
            cx.error("missing-key", tree.span, format!("the file has no `{key}:`"), help);
        }
    }
    Some(spec)
}

/// Where things were written, for the checks across the file.
#[derive(Default)]
pub(crate) struct Sites {
    /// Each environment's name as written.
    pub environments: Vec<(String, Span)>,
    /// `(environment, name in its after:, where)`.
    pub after: Vec<(String, String, Span)>,
    /// `(service, environment named under its deploy:, where)`.
    pub deploys: Vec<(String, String, Span)>,
    /// `(service, environment, where its port: is)`.
    pub ports: Vec<(String, String, Span)>,
}

/// What reading needs: the diagnostics found so far and where things were written.
#[derive(Default)]
pub(crate) struct Cx {
    pub diagnostics: Vec<Diagnostic>,
    pub sites: Sites,
}

impl ferry_workflow::yaml::Reader for Cx {
    fn diagnostics(&mut self) -> &mut Vec<Diagnostic> {
        &mut self.diagnostics
    }
}

impl Cx {
    pub fn warning(&mut self, code: &'static str, span: Span, message: impl Into<String>, help: impl Into<String>) {
        self.diagnostics.push(Diagnostic::warning(code, span, message).with_help(help));
    }

    /// A scalar as text (booleans and numbers as written); `null` gives `None` silently.
    fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            NodeKind::Scalar(scalar) if !node.is_null() => Some(scalar.value.clone()),
            NodeKind::Scalar(_) => None,
            _ => {
                self.wrong_type(node, what, "a string");
                None
            }
        }
    }

    /// A string or a list of strings.
    fn texts(&mut self, node: &Node, what: &str) -> Vec<String> {
        match &node.kind {
            NodeKind::Seq(items) => items.iter().filter_map(|item| self.text(item, what)).collect(),
            NodeKind::Map(_) => {
                self.wrong_type(node, what, "a string or a list of strings");
                Vec::new()
            }
            NodeKind::Scalar(_) => self.text(node, what).into_iter().collect(),
        }
    }

    /// Like [`Cx::texts`], each with where it is written.
    fn spanned_texts(&mut self, node: &Node, what: &str) -> Vec<(String, Span)> {
        match &node.kind {
            NodeKind::Seq(items) => {
                items.iter().filter_map(|item| self.text(item, what).map(|text| (text, item.span))).collect()
            }
            NodeKind::Map(_) => {
                self.wrong_type(node, what, "a string or a list of strings");
                Vec::new()
            }
            NodeKind::Scalar(_) => self.text(node, what).map(|text| (text, node.span)).into_iter().collect(),
        }
    }

    fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        let flag = node.as_bool();
        if flag.is_none() {
            self.wrong_type(node, what, "`true` or `false`");
        }
        flag
    }

    /// A whole number in `min..=max`, or `None` after saying why not.
    fn number(&mut self, node: &Node, what: &str, min: u64, max: u64) -> Option<u64> {
        let value = node.as_f64().filter(|value| value.fract() == 0.0 && *value >= 0.0);
        match value {
            Some(value) if value >= min as f64 && value <= max as f64 => Some(value as u64),
            Some(_) => {
                self.error(
                    "bad-number",
                    node.span,
                    format!("`{what}` must be between {min} and {max}, found {}", scalar_text(node)),
                    format!("write a whole number from {min} to {max}"),
                );
                None
            }
            None => {
                self.error(
                    "bad-number",
                    node.span,
                    format!("`{what}` must be a whole number, found {}", describe_value(node)),
                    format!("write a whole number from {min} to {max}, without quotes"),
                );
                None
            }
        }
    }

    /// A number (not necessarily whole) in `min..=max`.
    fn fraction(&mut self, node: &Node, what: &str, min: f64, max: f64) -> Option<f64> {
        match node.as_f64() {
            Some(value) if (min..=max).contains(&value) => Some(value),
            _ => {
                self.error(
                    "bad-number",
                    node.span,
                    format!("`{what}` must be a number from {min} to {max}, found {}", describe_value(node)),
                    format!("write a number from {min} to {max}, e.g. 0.05 for 5 %"),
                );
                None
            }
        }
    }

    /// A duration in milliseconds (`500ms`, `2s`, `1m`, `1h`).
    fn duration(&mut self, node: &Node, what: &str) -> Option<u64> {
        let Some(text) = node.as_str().filter(|_| !node.is_null()) else {
            self.wrong_type(node, what, "a duration such as `30s`");
            return None;
        };
        match parse_duration(text) {
            Ok(ms) => Some(ms),
            Err(reason) => {
                self.error(
                    "bad-duration",
                    node.span,
                    format!("`{what}`: {reason}"),
                    "write a number and a unit: `500ms`, `2s`, `1m`, `1h` (or a sum such as `1m30s`)",
                );
                None
            }
        }
    }

    /// A mapping of names to strings (`env:`).
    fn text_map(&mut self, node: &Node, what: &str) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        for entry in self.map(node, what) {
            let Some(key) = self.key(entry) else { continue };
            let value = match &entry.value.kind {
                NodeKind::Scalar(_) if entry.value.is_null() => String::new(),
                NodeKind::Scalar(scalar) => scalar.value.clone(),
                _ => {
                    self.wrong_type(&entry.value, &format!("{what}.{key}"), "a string");
                    continue;
                }
            };
            if !is_env_name(key) {
                self.error(
                    "bad-name",
                    entry.key.span,
                    format!("`{key}` is not a valid environment variable name"),
                    "use letters, digits and `_`, not starting with a digit",
                );
            }
            map.entry(key.to_owned()).or_insert(value);
        }
        map
    }

    /// Checks a service's or environment's name: it becomes part of replica ids and URLs.
    fn name(&mut self, entry: &Entry, name: &str, what: &str) {
        let valid = !name.is_empty()
            && name.len() <= 100
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid {
            self.error(
                "bad-name",
                entry.key.span,
                format!("`{name}` is not a valid {what} name"),
                "use 1 to 100 letters, digits, `.`, `_` or `-`",
            );
        }
    }
}

fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn scalar_text(node: &Node) -> String {
    node.as_str().map_or_else(|| node.describe().to_owned(), |text| format!("`{text}`"))
}

/// "a string `two`", "a mapping", …
fn describe_value(node: &Node) -> String {
    match node.as_str() {
        Some(text) if !node.is_null() => format!("{} `{text}`", node.describe()),
        _ => node.describe().to_owned(),
    }
}

#[cfg(test)]
mod tests;
