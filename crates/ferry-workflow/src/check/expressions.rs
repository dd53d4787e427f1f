//! `${{ }}` expressions inside the workflow: every string holding `${{` must parse as a
//! template, every `if:` as a condition, and only GitHub's contexts may be read.
//!
//! Errors point at the exact bytes when the scalar maps one-to-one onto the source (a plain
//! scalar, or a quoted one on a single line without escapes); otherwise at the whole scalar.
//! The `on:` section is not evaluated by GitHub (except `workflow_call` input defaults and
//! output values), and
//! neither are names and descriptions, so they are not checked.
//!
//! GitHub also refuses a context that exists but is not available where it is used (`matrix`
//! in a job's `if`, `secrets` in a step's `if`): [`Where`] follows GitHub's table of context
//! availability, and is generous wherever the table is not precise.

use std::ops::Range;

use crate::diagnostic::Diagnostic;
use crate::expr::{CONTEXTS, Condition, Expr, ExprError, Template};
use crate::parse::Cx;
use crate::span::Span;
use crate::suggest;
use crate::yaml::{Node, NodeKind, Style};

/// The contexts available at one place of a workflow (GitHub's "context availability" table).
type Where = &'static [&'static str];

const ALL: Where = CONTEXTS;
const WORKFLOW_LEVEL: Where = &["github", "inputs", "vars"];
const WORKFLOW_ENV: Where = &["github", "secrets", "inputs", "vars"];
const CALL_OUTPUT: Where = &["github", "jobs", "vars", "inputs"];
const JOB_IF: Where = &["github", "needs", "vars", "inputs"];
const JOB_STRATEGY: Where = &["github", "needs", "vars", "inputs"];
const JOB_LEVEL: Where = &["github", "needs", "strategy", "matrix", "vars", "inputs"];
const JOB_ENV: Where = &["github", "needs", "strategy", "matrix", "vars", "secrets", "inputs"];
const JOB_DEFAULTS: Where = &["github", "needs", "strategy", "matrix", "env", "vars", "inputs"];
const JOB_CALL: Where = &["github", "needs", "strategy", "matrix", "secrets", "inputs", "vars"];
/// `container`, `services` and `environment`: their nested `env`, `credentials` and `url`
/// see more than the rest, so the union is allowed throughout.
const JOB_RESOURCES: Where =
    &["github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets", "steps", "inputs"];
const STEP_IF: Where = &["github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "steps", "inputs"];
const STEP: Where =
    &["github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets", "steps", "inputs"];

/// Checks the expressions of a workflow tree.
pub(super) fn check_workflow(cx: &mut Cx, tree: &Node) {
    let Some(entries) = tree.as_map() else { return };
    for entry in entries {
        match entry.key.as_str() {
            Some("on") => {
                let inputs = get(&entry.value, "workflow_call").and_then(|call| get(call, "inputs"));
                for input in inputs.and_then(Node::as_map).unwrap_or_default() {
                    if let Some(default) = get(&input.value, "default") {
                        walk(cx, default, WORKFLOW_LEVEL, "on.workflow_call.inputs.default");
                    }
                }
                let outputs = get(&entry.value, "workflow_call").and_then(|call| get(call, "outputs"));
                for output in outputs.and_then(Node::as_map).unwrap_or_default() {
                    if let Some(value) = get(&output.value, "value") {
                        template(cx, value, CALL_OUTPUT, "on.workflow_call.outputs");
                    }
                }
            }
            Some("name") => {}
            Some("jobs") => {
                for job in entry.value.as_map().unwrap_or_default() {
                    job_expressions(cx, job.key.as_str().unwrap_or_default(), &job.value);
                }
            }
            Some(key @ ("run-name" | "concurrency")) => walk(cx, &entry.value, WORKFLOW_LEVEL, key),
            Some("env") => walk(cx, &entry.value, WORKFLOW_ENV, "env"),
            _ => walk(cx, &entry.value, ALL, ""),
        }
    }
}

/// Checks the expressions of an `action.yml` tree: input defaults, output values and `runs`.
pub(super) fn check_action(cx: &mut Cx, tree: &Node) {
    let Some(entries) = tree.as_map() else { return };
    for entry in entries {
        match entry.key.as_str() {
            Some("inputs") => {
                for input in entry.value.as_map().unwrap_or_default() {
                    if let Some(default) = get(&input.value, "default") {
                        template(cx, default, ALL, "");
                    }
                }
            }
            Some("outputs") => {
                for output in entry.value.as_map().unwrap_or_default() {
                    if let Some(value) = get(&output.value, "value") {
                        template(cx, value, ALL, "");
                    }
                }
            }
            Some("runs") => {
                for field in entry.value.as_map().unwrap_or_default() {
                    match field.key.as_str() {
                        Some("steps") => steps(cx, &field.value, "runs.steps", ALL, ALL),
                        Some("pre-if" | "post-if") => condition(cx, &field.value, ALL, ""),
                        _ => walk(cx, &field.value, ALL, ""),
                    }
                }
            }
            _ => {}
        }
    }
}

fn job_expressions(cx: &mut Cx, id: &str, job: &Node) {
    for field in job.as_map().unwrap_or_default() {
        let Some(key) = field.key.as_str() else { continue };
        let place = match key {
            "if" => {
                condition(cx, &field.value, JOB_IF, &format!("jobs.{id}.if"));
                continue;
            }
            "steps" => {
                steps(cx, &field.value, &format!("jobs.{id}.steps"), STEP_IF, STEP);
                continue;
            }
            "strategy" => JOB_STRATEGY,
            "name" | "runs-on" | "timeout-minutes" | "continue-on-error" | "concurrency" => JOB_LEVEL,
            "env" => JOB_ENV,
            "defaults" => JOB_DEFAULTS,
            "with" | "secrets" => JOB_CALL,
            "container" | "services" | "environment" => JOB_RESOURCES,
            _ => ALL,
        };
        walk(cx, &field.value, place, &format!("jobs.{id}.{key}"));
    }
}

fn steps(cx: &mut Cx, node: &Node, what: &str, if_place: Where, place: Where) {
    for step in node.as_seq().unwrap_or_default() {
        for field in step.as_map().unwrap_or_default() {
            match field.key.as_str() {
                Some("if") => condition(cx, &field.value, if_place, &format!("{what}.if")),
                Some("parallel") => steps(cx, &field.value, what, if_place, place),
                Some(key) => walk(cx, &field.value, place, &format!("{what}.{key}")),
                None => {}
            }
        }
    }
}

/// Every scalar below `node` that holds `${{` is a template.
fn walk(cx: &mut Cx, node: &Node, place: Where, what: &str) {
    match &node.kind {
        NodeKind::Scalar(scalar) => {
            if scalar.value.contains("${{") {
                template(cx, node, place, what);
            }
        }
        NodeKind::Seq(items) => items.iter().for_each(|item| walk(cx, item, place, what)),
        NodeKind::Map(entries) => entries.iter().for_each(|entry| walk(cx, &entry.value, place, what)),
    }
}

fn get<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    node.as_map()?.iter().find(|entry| entry.key.as_str() == Some(key)).map(|entry| &entry.value)
}

fn template(cx: &mut Cx, node: &Node, place: Where, what: &str) {
    let Some(text) = node.as_str() else { return };
    match Template::parse(text) {
        Ok(template) => contexts(cx, node, template.expressions(), place, what),
        Err(error) => syntax_error(cx, node, &error),
    }
}

fn condition(cx: &mut Cx, node: &Node, place: Where, what: &str) {
    let Some(text) = node.as_str() else { return };
    if node.is_null() {
        return;
    }
    match Condition::parse(text) {
        Ok(condition) => contexts(cx, node, condition.expressions(), place, what),
        Err(error) => syntax_error(cx, node, &error),
    }
}

fn syntax_error(cx: &mut Cx, node: &Node, error: &ExprError) {
    let span = sub_span(cx.src, node, error.range.clone());
    cx.diagnostics.push(
        Diagnostic::error("expression-syntax", span, format!("invalid expression: {}", error.message))
            .with_help("fix the expression; see GitHub's expression syntax for operators, literals and functions"),
    );
}

fn contexts(cx: &mut Cx, node: &Node, expressions: Vec<(&Expr, usize)>, place: Where, what: &str) {
    for (expr, offset) in expressions {
        for (name, range) in expr.contexts() {
            let span = sub_span(cx.src, node, offset + range.start..offset + range.end);
            if !CONTEXTS.contains(&name.as_str()) {
                let help = match suggest::closest(&name, CONTEXTS) {
                    Some(candidate) => format!("did you mean `{candidate}`?"),
                    None => format!("the contexts are: {}", CONTEXTS.join(", ")),
                };
                cx.diagnostics.push(
                    Diagnostic::error("unknown-context", span, format!("unknown context `{name}`")).with_help(help),
                );
            } else if !place.contains(&name.as_str()) {
                cx.diagnostics.push(
                    Diagnostic::error(
                        "unavailable-context",
                        span,
                        format!("the `{name}` context is not available in `{what}`"),
                    )
                    .with_help(format!("here the available contexts are: {}", place.join(", "))),
                );
            }
        }
    }
}

/// The span of bytes `range` of a scalar's value, or the scalar's span when its value does not
/// map one-to-one onto the source.
pub(crate) fn sub_span(src: &str, node: &Node, range: Range<usize>) -> Span {
    let Some(base) = value_offset(src, node) else { return node.span };
    let len = node.as_str().map_or(0, str::len);
    let (start, end) = (range.start.min(len), range.end.min(len).max(range.start.min(len)));
    Span::of(src, base + start, base + end)
}

/// Where a scalar's value starts in `src`, when the value is the source text verbatim.
fn value_offset(src: &str, node: &Node) -> Option<usize> {
    let scalar = node.scalar()?;
    let (start, end) = (node.span.start.offset, node.span.end.offset);
    let raw = src.get(start..end)?;
    match scalar.style {
        Style::Plain => (raw == scalar.value).then_some(start),
        Style::SingleQuoted | Style::DoubleQuoted => {
            let inner = raw.get(1..raw.len().checked_sub(1)?)?;
            (inner == scalar.value).then_some(start + 1)
        }
        Style::Literal | Style::Folded => None,
    }
}

#[cfg(test)]
mod tests;
