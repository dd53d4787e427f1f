//! The top level of a workflow file, and the sections shared by workflows and jobs
//! (`defaults`, `concurrency`).

use crate::yaml::Reader as _;
use indexmap::IndexMap;

use super::{Cx, job, step, trigger};
use crate::model::{Concurrency, Defaults, Spanned, Workflow};
use crate::span::Span;
use crate::yaml::{Node, NodeKind};

const KEYS: &[&str] = &["name", "run-name", "on", "env", "defaults", "concurrency", "permissions", "jobs"];

pub(super) fn read(cx: &mut Cx, tree: &Node) -> Option<Workflow> {
    let NodeKind::Map(entries) = &tree.kind else {
        cx.error(
            "wrong-type",
            tree.span,
            format!("a workflow must be a mapping, found {}", tree.describe()),
            "start the file with `on:` and `jobs:` keys",
        );
        return None;
    };
    let mut workflow = Workflow {
        name: None,
        run_name: None,
        on: Vec::new(),
        env: IndexMap::new(),
        defaults: Defaults::default(),
        concurrency: None,
        permissions: None,
        jobs: IndexMap::new(),
    };
    let (mut seen_on, mut seen_jobs) = (false, false);
    for entry in entries {
        let Some(key) = cx.key(entry) else { continue };
        let value = &entry.value;
        match key {
            "name" => workflow.name = cx.text(value, "name"),
            "run-name" => workflow.run_name = cx.text(value, "run-name"),
            "on" => {
                seen_on = true;
                workflow.on = trigger::read(cx, value);
            }
            "env" => workflow.env = cx.text_map(value, "env"),
            "defaults" => workflow.defaults = defaults(cx, value, "defaults"),
            "concurrency" => workflow.concurrency = concurrency(cx, value, "concurrency"),
            "permissions" => workflow.permissions = Some(permissions(cx, value)),
            "jobs" => {
                seen_jobs = true;
                workflow.jobs = job::read_all(cx, value);
            }
            _ => cx.unknown_key(entry, key, KEYS, "a workflow"),
        }
    }
    let start = Span { start: tree.span.start, end: tree.span.start };
    if !seen_on {
        cx.error(
            "missing-key",
            start,
            "the workflow has no `on:`",
            "say which events start it, for example `on: push`",
        );
    }
    if !seen_jobs {
        cx.error("missing-key", start, "the workflow has no `jobs:`", "add `jobs:` with at least one job");
    }
    Some(workflow)
}

/// `defaults:` → `run:` → `shell`, `working-directory`.
pub(super) fn defaults(cx: &mut Cx, node: &Node, what: &str) -> Defaults {
    let mut defaults = Defaults::default();
    for entry in cx.map(node, what) {
        let Some(key) = cx.key(entry) else { continue };
        if key != "run" {
            cx.unknown_key(entry, key, &["run"], &format!("`{what}`"));
            continue;
        }
        for run_entry in cx.map(&entry.value, &format!("{what}.run")) {
            let Some(run_key) = cx.key(run_entry) else { continue };
            match run_key {
                "shell" => {
                    defaults.shell = cx.text(&run_entry.value, "shell");
                    if let Some(shell) = &defaults.shell {
                        step::check_shell(cx, shell);
                    }
                }
                "working-directory" => defaults.working_directory = cx.text(&run_entry.value, "working-directory"),
                _ => cx.unknown_key(run_entry, run_key, &["shell", "working-directory"], &format!("`{what}.run`")),
            }
        }
    }
    defaults
}

/// `concurrency:` as a group string or `{ group, cancel-in-progress }`.
pub(super) fn concurrency(cx: &mut Cx, node: &Node, what: &str) -> Option<Concurrency> {
    if let NodeKind::Scalar(_) = &node.kind {
        return cx.text(node, what).map(|group| Concurrency { group, cancel_in_progress: None });
    }
    let mut group = None;
    let mut cancel_in_progress = None;
    for entry in cx.map(node, what) {
        let Some(key) = cx.key(entry) else { continue };
        match key {
            "group" => group = cx.text(&entry.value, "concurrency.group"),
            "cancel-in-progress" => {
                cancel_in_progress = cx.bool_or_expr(&entry.value, "concurrency.cancel-in-progress");
            }
            _ => cx.unknown_key(entry, key, &["group", "cancel-in-progress"], "`concurrency`"),
        }
    }
    match group {
        Some(group) => Some(Concurrency { group, cancel_in_progress }),
        None => {
            if node.as_map().is_some() {
                cx.error(
                    "missing-key",
                    node.span,
                    "`concurrency` has no `group`",
                    "name the concurrency group with `group:`",
                );
            }
            None
        }
    }
}

/// A placeholder value for fields that could not be read, so the model stays complete.
pub(super) fn empty_text(span: Span) -> Spanned<String> {
    Spanned { value: String::new(), span }
}

/// The scopes `permissions:` may name.
const PERMISSION_SCOPES: &[&str] = &[
    "actions",
    "artifact-metadata",
    "attestations",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "models",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "security-events",
    "statuses",
];

/// `permissions:` is `read-all`, `write-all`, `{}`, or scope → `read` | `write` | `none`. Kept
/// as JSON in the model.
pub(super) fn permissions(cx: &mut Cx, node: &Node) -> Spanned<serde_json::Value> {
    match &node.kind {
        NodeKind::Scalar(_) => {
            if !matches!(node.as_str(), Some("read-all" | "write-all")) && !node.is_null() {
                cx.error(
                    "invalid-value",
                    node.span,
                    format!(
                        "`permissions` must be `read-all`, `write-all` or a mapping, found `{}`",
                        node.as_str().unwrap_or_default()
                    ),
                    "write `permissions: read-all`, or list scopes such as `contents: read`",
                );
            }
        }
        NodeKind::Seq(_) => cx.wrong_type(node, "permissions", "`read-all`, `write-all` or a mapping"),
        NodeKind::Map(entries) => {
            for entry in entries {
                let Some(scope) = cx.key(entry) else { continue };
                if !PERMISSION_SCOPES.contains(&scope) {
                    cx.unknown_key(entry, scope, PERMISSION_SCOPES, "`permissions`");
                    continue;
                }
                let level = entry.value.as_str().unwrap_or_default();
                if !matches!(level, "read" | "write" | "none") || entry.value.scalar().is_none() {
                    cx.error(
                        "invalid-value",
                        entry.value.span,
                        format!("permission `{scope}` must be `read`, `write` or `none`"),
                        format!("write for example `{scope}: read`"),
                    );
                }
            }
        }
    }
    Cx::json(node)
}
