//! Prometheus' rule-file format: `groups` of recording and alerting rules with `interval`,
//! `limit`, `query_offset`, `labels`, and per rule `expr`, `for`, `keep_firing_for`, `labels`,
//! `annotations`. Read with `ferry-workflow`'s YAML front end so every finding has a line and
//! column; checked as `promtool check rules` checks: expressions parse, names are valid,
//! templates parse.

use crate::duration::parse_duration;
use crate::template::{ALERT_VARIABLES, Template};
use ferry_workflow::yaml::{self, Entry, Node, Reader as _};
use ferry_workflow::{Diagnostic, Span};

/// A rule file's groups.
#[derive(Clone, Debug, Default)]
pub struct RuleFile {
    pub groups: Vec<Group>,
}

/// A group: its rules are evaluated in order, every `interval`.
#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    /// `None`: the global evaluation interval.
    pub interval_ms: Option<i64>,
    /// How far back the group's queries look (`query_offset`).
    pub query_offset_ms: i64,
    /// The most series a rule may give, or alerts it may hold; 0 for no limit.
    pub limit: usize,
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleKind {
    Recording,
    Alerting,
}

/// A label or annotation whose value is a template (alerting rules) or text (recording rules).
#[derive(Clone, Debug)]
pub struct Templated {
    pub name: String,
    pub text: String,
    /// Parsed for alerting rules; recording rules' labels are not templates.
    pub template: Option<Template>,
}

/// One rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub kind: RuleKind,
    /// The `record` or `alert` name.
    pub name: String,
    pub expr: String,
    pub for_ms: i64,
    pub keep_firing_for_ms: i64,
    pub labels: Vec<Templated>,
    pub annotations: Vec<Templated>,
    /// Where the rule is written (its `record`/`alert` key).
    pub span: Span,
}

/// A rule file that did not read, with every finding at `file:line:col`.
#[derive(Debug, thiserror::Error)]
#[error("{}", render(.file, .diagnostics))]
pub struct RuleFileError {
    pub file: String,
    pub diagnostics: Vec<Diagnostic>,
}

fn render(file: &str, diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<String> = diagnostics
        .iter()
        .map(|d| {
            let help = d.help.as_deref().map(|h| format!(" ({h})")).unwrap_or_default();
            format!("{file}:{}:{}: {}{help}", d.span.start.line, d.span.start.col, d.message)
        })
        .collect();
    lines.join("\n")
}

/// Reads a rule file; `file` names it in errors.
///
/// # Errors
/// Every error found, each with its line and column.
pub fn load_rule_file(file: &str, src: &str) -> Result<RuleFile, RuleFileError> {
    let (rule_file, diagnostics) = parse_rule_file(src);
    let errors: Vec<Diagnostic> = diagnostics.into_iter().filter(Diagnostic::is_error).collect();
    if errors.is_empty() { Ok(rule_file) } else { Err(RuleFileError { file: file.to_owned(), diagnostics: errors }) }
}

/// Reads a rule file: the groups that read and every finding.
pub fn parse_rule_file(src: &str) -> (RuleFile, Vec<Diagnostic>) {
    let (tree, diagnostics) = yaml::parse(src);
    let mut cx = Cx { diagnostics };
    let mut file = RuleFile::default();
    if let Some(root) = tree {
        for entry in cx.map(&root, "the rule file") {
            match cx.key(entry) {
                Some("groups") => file.groups = cx.groups(&entry.value),
                Some(other) => cx.unknown_key(entry, other, &["groups"], "a rule file"),
                None => {}
            }
        }
    }
    (file, cx.diagnostics)
}

struct Cx {
    diagnostics: Vec<Diagnostic>,
}

impl ferry_workflow::yaml::Reader for Cx {
    fn diagnostics(&mut self) -> &mut Vec<Diagnostic> {
        &mut self.diagnostics
    }
}

const GROUP_KEYS: &[&str] = &["name", "interval", "query_offset", "limit", "labels", "rules"];
const RULE_KEYS: &[&str] = &["record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"];

impl Cx {
    fn seq<'n>(&mut self, node: &'n Node, what: &str) -> &'n [Node] {
        match node.as_seq() {
            Some(items) => items,
            None if node.is_null() => &[],
            None => {
                self.wrong_type(node, what, "a sequence");
                &[]
            }
        }
    }

    fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.scalar() {
            Some(scalar) if !node.is_null() => Some(scalar.value.clone()),
            _ => {
                self.wrong_type(node, what, "a string");
                None
            }
        }
    }

    fn duration(&mut self, node: &Node, what: &str) -> Option<i64> {
        let text = self.text(node, what)?;
        match parse_duration(&text) {
            Ok(ms) => Some(ms),
            Err(message) => {
                self.error(
                    "bad-duration",
                    node.span,
                    format!("`{what}`: {message}"),
                    "write a duration like 30s, 5m or 1h30m",
                );
                None
            }
        }
    }

    fn groups(&mut self, node: &Node) -> Vec<Group> {
        let mut groups: Vec<Group> = Vec::new();
        for item in self.seq(node, "groups") {
            let mut group =
                Group { name: String::new(), interval_ms: None, query_offset_ms: 0, limit: 0, rules: Vec::new() };
            let mut group_labels: Vec<(String, String)> = Vec::new();
            let mut rules_node = None;
            for entry in self.map(item, "a group") {
                match self.key(entry) {
                    Some("name") => group.name = self.text(&entry.value, "name").unwrap_or_default(),
                    Some("interval") => group.interval_ms = self.duration(&entry.value, "interval"),
                    Some("query_offset") => {
                        group.query_offset_ms = self.duration(&entry.value, "query_offset").unwrap_or(0)
                    }
                    Some("limit") => match entry.value.as_f64() {
                        Some(limit) if limit >= 0.0 && limit.fract() == 0.0 => group.limit = limit as usize,
                        _ => self.wrong_type(&entry.value, "limit", "a whole number"),
                    },
                    Some("labels") => group_labels = self.label_map(&entry.value, "labels", "label"),
                    Some("rules") => rules_node = Some(&entry.value),
                    Some(other) => self.unknown_key(entry, other, GROUP_KEYS, "a group"),
                    None => {}
                }
            }
            if group.name.is_empty() {
                self.error("group-name", item.span, "a group needs a `name`", "add `name: my-group`");
            } else if groups.iter().any(|g| g.name == group.name) {
                self.error(
                    "duplicate-group",
                    item.span,
                    format!("groupname: \"{}\" is repeated in the same file", group.name),
                    "give each group of a file its own name",
                );
            }
            if let Some(rules_node) = rules_node {
                for rule_node in self.seq(rules_node, "rules") {
                    if let Some(mut rule) = self.rule(rule_node) {
                        for (name, value) in &group_labels {
                            if !rule.labels.iter().any(|l| &l.name == name) {
                                let template = (rule.kind == RuleKind::Alerting)
                                    .then(|| Template::parse("__group_label", value, ALERT_VARIABLES).ok())
                                    .flatten();
                                rule.labels.push(Templated { name: name.clone(), text: value.clone(), template });
                            }
                        }
                        group.rules.push(rule);
                    }
                }
            }
            groups.push(group);
        }
        groups
    }

    fn label_map(&mut self, node: &Node, what: &str, noun: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for entry in self.map(node, what) {
            let Some(name) = self.key(entry) else { continue };
            if !valid_label_name(name) {
                self.error(
                    "bad-label-name",
                    entry.key.span,
                    format!("invalid {noun} name: {name}"),
                    "names are letters, digits and underscores, not starting with a digit",
                );
            }
            let value = match entry.value.scalar() {
                Some(scalar) if !entry.value.is_null() => scalar.value.clone(),
                _ if entry.value.is_null() => String::new(),
                _ => {
                    self.wrong_type(&entry.value, name, "a string");
                    continue;
                }
            };
            out.push((name.to_owned(), value));
        }
        out
    }

    fn rule(&mut self, node: &Node) -> Option<Rule> {
        let mut record: Option<(String, Span)> = None;
        let mut alert: Option<(String, Span)> = None;
        let mut expr: Option<(String, Span)> = None;
        let mut for_ms = None;
        let mut keep_firing_for_ms = None;
        let mut labels = Vec::new();
        let mut annotations: Option<(Vec<(String, String)>, &Entry)> = None;
        let mut label_entry: Option<&Entry> = None;
        for entry in self.map(node, "a rule") {
            match self.key(entry) {
                Some("record") => record = self.text(&entry.value, "record").map(|t| (t, entry.value.span)),
                Some("alert") => alert = self.text(&entry.value, "alert").map(|t| (t, entry.value.span)),
                Some("expr") => expr = self.text(&entry.value, "expr").map(|t| (t, entry.value.span)),
                Some("for") => for_ms = self.duration(&entry.value, "for").map(|ms| (ms, entry)),
                Some("keep_firing_for") => {
                    keep_firing_for_ms = self.duration(&entry.value, "keep_firing_for").map(|ms| (ms, entry));
                }
                Some("labels") => {
                    labels = self.label_map(&entry.value, "labels", "label");
                    label_entry = Some(entry);
                }
                Some("annotations") => {
                    annotations = Some((self.label_map(&entry.value, "annotations", "annotation"), entry));
                }
                Some(other) => self.unknown_key(entry, other, RULE_KEYS, "a rule"),
                None => {}
            }
        }
        let (kind, (name, span)) = match (record, alert) {
            (Some(record), None) => (RuleKind::Recording, record),
            (None, Some(alert)) => (RuleKind::Alerting, alert),
            (Some(_), Some(_)) => {
                self.error(
                    "rule-kind",
                    node.span,
                    "only one of 'record' and 'alert' must be set",
                    "split it in two rules",
                );
                return None;
            }
            (None, None) => {
                self.error(
                    "rule-kind",
                    node.span,
                    "one of 'record' or 'alert' must be set",
                    "add `record:` or `alert:`",
                );
                return None;
            }
        };
        let Some((expr, expr_span)) = expr else {
            self.error(
                "rule-expr",
                node.span,
                format!("field 'expr' must be set in rule {name}"),
                "add `expr:` with a PromQL query",
            );
            return None;
        };
        if let Err(message) = ferry_promql::parse_expr(&expr) {
            self.error("bad-expr", expr_span, format!("could not parse expression: {message}"), "fix the PromQL query");
        }
        if kind == RuleKind::Recording {
            if !valid_metric_name(&name) {
                self.error(
                    "bad-record",
                    span,
                    format!("invalid recording rule name: {name}"),
                    "use letters, digits, `_` and `:`",
                );
            }
            for (key, entry) in [("for", for_ms.map(|f| f.1)), ("keep_firing_for", keep_firing_for_ms.map(|f| f.1))] {
                if let Some(entry) = entry {
                    self.error(
                        "recording-field",
                        entry.key.span,
                        format!("invalid field '{key}' in recording rule"),
                        "remove it",
                    );
                }
            }
            if let Some((_, entry)) = &annotations {
                self.error(
                    "recording-field",
                    entry.key.span,
                    "invalid field 'annotations' in recording rule",
                    "remove it",
                );
            }
        } else if name.is_empty() {
            self.error("bad-alert", span, "an alerting rule needs a name", "write `alert: MyAlert`");
        }
        let compile = |cx: &mut Cx, pairs: Vec<(String, String)>, entry: Option<&Entry>| -> Vec<Templated> {
            pairs
                .into_iter()
                .map(|(label, text)| {
                    let template = if kind == RuleKind::Alerting {
                        match Template::parse(&format!("__alert_{name}"), &text, ALERT_VARIABLES) {
                            Ok(template) => Some(template),
                            Err(error) => {
                                let at = entry.map_or(span, |e| {
                                    e.value
                                        .as_map()
                                        .and_then(|m| m.iter().find(|x| x.key.as_str() == Some(&label)))
                                        .map_or(e.value.span, |x| x.value.span)
                                });
                                cx.error("bad-template", at, format!("{label}: {error}"), "fix the Go template");
                                None
                            }
                        }
                    } else {
                        None
                    };
                    Templated { name: label, text, template }
                })
                .collect()
        };
        let labels = compile(self, labels, label_entry);
        let annotations = match annotations {
            Some((pairs, entry)) => compile(self, pairs, Some(entry)),
            None => Vec::new(),
        };
        Some(Rule {
            kind,
            name,
            expr,
            for_ms: for_ms.map_or(0, |f| f.0),
            keep_firing_for_ms: keep_firing_for_ms.map_or(0, |f| f.0),
            labels,
            annotations,
            span,
        })
    }
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests;
