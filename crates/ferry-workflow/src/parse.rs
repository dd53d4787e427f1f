//! From YAML tree to [`crate::model`]: lowering and the checks that need only one node at a
//! time (keys, value types, formats). Whole-workflow checks (the `needs` graph, expressions) are
//! in [`crate::check`].
//!
//! Every reader takes the node it should understand, reports what is wrong with it, and returns
//! what it could make of it; nothing stops at the first problem.

use crate::yaml::Reader as _;
use indexmap::IndexMap;

use crate::diagnostic::Diagnostic;
use crate::model::{Action, OrExpr, Spanned, Text, Workflow};
use crate::span::Span;

use crate::yaml::{self, Node, NodeKind};

mod action;
mod job;
mod step;
mod trigger;
mod workflow;

/// Which language a workflow file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// `.github/workflows/*.yml`: exactly what GitHub accepts.
    GitHub,
    /// `.ferry/workflows/*.yml`: GitHub's language plus `retry:` on steps and `allow-failure:`
    /// on jobs.
    Ferry,
}

impl Dialect {
    /// The dialect of a workflow file by its path: files under `.ferry/workflows/` are Ferry
    /// workflows, everything else is read as GitHub's.
    pub fn for_path(path: &str) -> Dialect {
        let path = path.replace('\\', "/");
        if path.starts_with(".ferry/workflows/") || path.contains("/.ferry/workflows/") {
            Dialect::Ferry
        } else {
            Dialect::GitHub
        }
    }
}

/// Reads and checks a workflow. Never fails and never panics: returns the best model it could
/// build (`None` only when the text is not YAML or not a mapping) and every diagnostic, sorted
/// by position.
pub fn parse_workflow(src: &str, dialect: Dialect) -> (Option<Workflow>, Vec<Diagnostic>) {
    let (tree, mut diagnostics) = yaml::parse(src);
    let workflow = tree.as_ref().and_then(|tree| {
        let mut cx = Cx::new(src, dialect);
        let workflow = workflow::read(&mut cx, tree);
        if let Some(workflow) = &workflow {
            crate::check::workflow(&mut cx, workflow, tree);
        }
        diagnostics.append(&mut cx.diagnostics);
        workflow
    });
    if tree.is_none() && diagnostics.is_empty() {
        let span = Span::of(src, 0, 0);
        diagnostics.push(
            Diagnostic::error("empty-file", span, "the file holds no workflow")
                .with_help("a workflow needs at least `on:` and `jobs:`"),
        );
    }
    sort(&mut diagnostics);
    (workflow, diagnostics)
}

/// Reads and checks an `action.yml`, the same way as [`parse_workflow`].
pub fn parse_action(src: &str) -> (Option<Action>, Vec<Diagnostic>) {
    let (tree, mut diagnostics) = yaml::parse(src);
    let action = tree.as_ref().and_then(|tree| {
        let mut cx = Cx::new(src, Dialect::GitHub);
        let action = action::read(&mut cx, tree);
        crate::check::action(&mut cx, tree);
        diagnostics.append(&mut cx.diagnostics);
        action
    });
    if tree.is_none() && diagnostics.is_empty() {
        let span = Span::of(src, 0, 0);
        diagnostics.push(
            Diagnostic::error("empty-file", span, "the file holds no action")
                .with_help("an action needs at least `name:`, `description:` and `runs:`"),
        );
    }
    sort(&mut diagnostics);
    (action, diagnostics)
}

fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| (a.span, a.code, &a.message).cmp(&(b.span, b.code, &b.message)));
}

/// What lowering needs: the source (to slice spans) and the diagnostics found so far.
pub(crate) struct Cx<'s> {
    pub src: &'s str,
    pub dialect: Dialect,
    pub diagnostics: Vec<Diagnostic>,
}

impl crate::yaml::Reader for Cx<'_> {
    fn diagnostics(&mut self) -> &mut Vec<Diagnostic> {
        &mut self.diagnostics
    }
}

impl<'s> Cx<'s> {
    fn new(src: &'s str, dialect: Dialect) -> Cx<'s> {
        Cx { src, dialect, diagnostics: Vec::new() }
    }

    /// A scalar as text (booleans and numbers as written); `null` gives `None` silently.
    fn text(&mut self, node: &Node, what: &str) -> Option<Text> {
        match &node.kind {
            NodeKind::Scalar(scalar) if !node.is_null() => {
                Some(Spanned { value: scalar.value.clone(), span: node.span })
            }
            NodeKind::Scalar(_) => None,
            _ => {
                self.wrong_type(node, what, "a string");
                None
            }
        }
    }

    /// A string or a sequence of strings.
    fn texts(&mut self, node: &Node, what: &str) -> Vec<Text> {
        match &node.kind {
            NodeKind::Seq(items) => items.iter().filter_map(|item| self.text(item, what)).collect(),
            NodeKind::Map(_) => {
                self.wrong_type(node, what, "a string or a list of strings");
                Vec::new()
            }
            NodeKind::Scalar(_) => self.text(node, what).into_iter().collect(),
        }
    }

    /// A mapping of names to strings (`env:`, `with:`, `outputs:`).
    fn text_map(&mut self, node: &Node, what: &str) -> IndexMap<String, Text> {
        let mut map = IndexMap::new();
        for entry in self.map(node, what) {
            let Some(key) = self.key(entry) else { continue };
            let value = match &entry.value.kind {
                // `FOO:` and `FOO: null` set an empty value, as on GitHub.
                NodeKind::Scalar(_) if entry.value.is_null() => {
                    Spanned { value: String::new(), span: entry.value.span }
                }
                NodeKind::Scalar(scalar) => Spanned { value: scalar.value.clone(), span: entry.value.span },
                _ => {
                    self.wrong_type(&entry.value, &format!("{what}.{key}"), "a string");
                    continue;
                }
            };
            map.insert(key.to_owned(), value);
        }
        map
    }

    fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        let flag = node.as_bool();
        if flag.is_none() && !node.is_null() {
            self.wrong_type(node, what, "`true` or `false`");
        }
        flag
    }

    fn bool_or_expr(&mut self, node: &Node, what: &str) -> Option<OrExpr<bool>> {
        if let Some(flag) = node.as_bool() {
            return Some(OrExpr::Value(Spanned { value: flag, span: node.span }));
        }
        if let Some(text) = expression_text(node) {
            return Some(OrExpr::Expr(text));
        }
        if !node.is_null() {
            self.wrong_type(node, what, "`true`, `false` or an expression");
        }
        None
    }

    /// A positive number or an expression (`timeout-minutes`, `max-parallel`).
    fn positive_or_expr(&mut self, node: &Node, what: &str) -> Option<OrExpr<f64>> {
        if let Some(text) = expression_text(node) {
            return Some(OrExpr::Expr(text));
        }
        match node.as_f64() {
            Some(number) if number > 0.0 && number.is_finite() => {
                Some(OrExpr::Value(Spanned { value: number, span: node.span }))
            }
            Some(_) => {
                self.error(
                    "invalid-value",
                    node.span,
                    format!("`{what}` must be a positive number"),
                    "write a number greater than 0, or an expression",
                );
                None
            }
            None => {
                if !node.is_null() {
                    self.wrong_type(node, what, "a positive number or an expression");
                }
                None
            }
        }
    }

    fn json(node: &Node) -> Spanned<serde_json::Value> {
        Spanned { value: node.to_json(), span: node.span }
    }
}

/// The text of a string scalar holding `${{ }}`.
fn expression_text(node: &Node) -> Option<Text> {
    let scalar = node.scalar()?;
    scalar.value.contains("${{").then(|| Spanned { value: scalar.value.clone(), span: node.span })
}

#[cfg(test)]
mod tests;

/// The `description` and `value` of an output of an action or a reusable workflow.
fn output(
    cx: &mut Cx,
    entry: &crate::yaml::Entry,
    name: &str,
) -> (Option<crate::model::Text>, Option<crate::model::Text>) {
    let (mut description, mut value) = (None, None);
    for field in cx.map(&entry.value, &format!("output `{name}`")) {
        let Some(field_key) = cx.key(field) else { continue };
        match field_key {
            "description" => description = cx.text(&field.value, "description"),
            "value" => value = cx.text(&field.value, "value"),
            _ => cx.unknown_key(field, field_key, &["description", "value"], &format!("output `{name}`")),
        }
    }
    (description, value)
}
