//! `steps:` of jobs and composite actions: what each step does, `uses` references, shells, and
//! Ferry's `retry`.

use crate::yaml::Reader as _;
use indexmap::IndexMap;

use super::{Cx, Dialect};
use crate::model::{Retry, Step, StepKind, Text};
use crate::span::Span;
use crate::yaml::{Node, NodeKind};

/// Where the steps are written: composite-action steps must name their shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Where {
    Job,
    Composite,
}

const KEYS: &[&str] = &[
    "id",
    "name",
    "if",
    "run",
    "shell",
    "working-directory",
    "env",
    "continue-on-error",
    "timeout-minutes",
    "uses",
    "with",
    "parallel",
    "background",
    "wait",
    "wait-all",
    "cancel",
    "retry",
];

/// The words `shell:` understands; anything else is a command template holding `{0}`.
const SHELLS: &[&str] = &["bash", "sh", "python", "pwsh", "powershell", "cmd"];

pub(super) fn read_all(cx: &mut Cx, node: &Node, place: Where) -> Vec<Step> {
    let Some(items) = node.as_seq() else {
        if !node.is_null() {
            cx.wrong_type(node, "steps", "a list of steps");
        }
        return Vec::new();
    };
    if items.is_empty() {
        cx.error("missing-key", node.span, "`steps` is empty", "add at least one step");
    }
    items.iter().filter_map(|item| read(cx, item, place)).collect()
}

fn read(cx: &mut Cx, node: &Node, place: Where) -> Option<Step> {
    let NodeKind::Map(entries) = &node.kind else {
        cx.wrong_type(node, "step", "a mapping with `run:` or `uses:`");
        return None;
    };
    let mut step = Step {
        id: None,
        name: None,
        if_: None,
        env: IndexMap::new(),
        continue_on_error: None,
        timeout_minutes: None,
        background: None,
        retry: None,
        kind: StepKind::Invalid,
        span: node.span,
    };
    let (mut run, mut shell, mut working_directory, mut uses) = (None, None, None, None);
    let mut with = IndexMap::new();
    let mut actions: Vec<(&str, Span)> = Vec::new();
    let mut parallel = None;
    let mut wait = None;
    let mut cancel = None;
    for entry in entries {
        let Some(key) = cx.key(entry) else { continue };
        if actions.iter().any(|(seen, _)| *seen == key) {
            // A duplicate key, already reported by the YAML reader.
            continue;
        }
        let value = &entry.value;
        match key {
            "id" => step.id = cx.text(value, "id"),
            "name" => step.name = cx.text(value, "name"),
            "if" => step.if_ = cx.text(value, "if"),
            "run" => {
                actions.push((key, entry.key.span));
                run = cx.text(value, "run");
            }
            "shell" => {
                shell = cx.text(value, "shell");
                if let Some(shell) = &shell {
                    check_shell(cx, shell);
                }
            }
            "working-directory" => working_directory = cx.text(value, "working-directory"),
            "env" => {
                if super::expression_text(value).is_none() {
                    step.env = cx.text_map(value, "env");
                }
            }
            "continue-on-error" => step.continue_on_error = cx.bool_or_expr(value, "continue-on-error"),
            "timeout-minutes" => step.timeout_minutes = cx.positive_or_expr(value, "timeout-minutes"),
            "uses" => {
                actions.push((key, entry.key.span));
                uses = cx.text(value, "uses");
                if let Some(uses) = &uses {
                    check_action_uses(cx, uses);
                }
            }
            "with" => with = cx.text_map(value, "with"),
            "parallel" => {
                actions.push((key, entry.key.span));
                parallel = Some(read_all(cx, value, place));
            }
            "background" => step.background = cx.bool_or_expr(value, "background"),
            "wait" => {
                actions.push((key, entry.key.span));
                wait = Some(cx.texts(value, "wait"));
            }
            "wait-all" => {
                actions.push((key, entry.key.span));
                cx.bool(value, "wait-all");
                wait = Some(Vec::new());
            }
            "cancel" => {
                actions.push((key, entry.key.span));
                cancel = cx.text(value, "cancel");
            }
            "retry" => {
                if cx.dialect == Dialect::Ferry {
                    step.retry = retry(cx, value);
                } else {
                    cx.error(
                        "ferry-extension",
                        entry.key.span,
                        "`retry` is a Ferry extension that GitHub does not accept",
                        "move the workflow to `.ferry/workflows/` to use `retry`",
                    );
                }
            }
            _ => cx.unknown_key(entry, key, KEYS, "a step"),
        }
    }
    match actions.as_slice() {
        [] => cx.error(
            "step-without-action",
            node.span,
            "the step has neither `run` nor `uses`",
            "add `run:` with a command or `uses:` with an action",
        ),
        [_] => {}
        [(first, _), (second, span), ..] => cx.error(
            "step-with-two-actions",
            *span,
            format!("the step has both `{first}` and `{second}`"),
            "split it into two steps: a step either runs a command or uses an action",
        ),
    }
    step.kind = match actions.first().map(|(key, _)| *key) {
        Some("run") => match run {
            Some(run) => {
                if place == Where::Composite && shell.is_none() {
                    let span = actions.first().map_or(node.span, |(_, span)| *span);
                    cx.error(
                        "missing-shell",
                        span,
                        "a `run` step of a composite action must set `shell`",
                        "add `shell: bash` (or another shell) to the step",
                    );
                }
                StepKind::Run { run, shell, working_directory }
            }
            None => StepKind::Invalid,
        },
        Some("uses") => uses.map_or(StepKind::Invalid, |uses| StepKind::Uses { uses, with }),
        Some("parallel") => StepKind::Parallel(parallel.unwrap_or_default()),
        Some("wait" | "wait-all") => StepKind::Wait(wait.unwrap_or_default()),
        Some("cancel") => cancel.map_or(StepKind::Invalid, StepKind::Cancel),
        _ => StepKind::Invalid,
    };
    Some(step)
}

/// `shell:` is one of GitHub's shell names, or a command template with `{0}` for the script.
pub(super) fn check_shell(cx: &mut Cx, shell: &Text) {
    let value = shell.value.trim();
    if SHELLS.contains(&value) || value.contains("{0}") || shell.has_expression() {
        return;
    }
    let help = match crate::suggest::closest(value, SHELLS) {
        Some(candidate) => format!("did you mean `{candidate}`? A custom shell command must contain `{{0}}`"),
        None => format!(
            "use one of {}, or a command with `{{0}}` where the script path goes (`perl {{0}}`)",
            SHELLS.join(", ")
        ),
    };
    cx.error("invalid-shell", shell.span, format!("unknown shell `{value}`"), help);
}

/// An action reference: `owner/repo@ref`, `owner/repo/path@ref`, `./path`, `$/path` or
/// `docker://image`.
fn check_action_uses(cx: &mut Cx, uses: &Text) {
    let value = uses.value.trim();
    let valid = if value.starts_with("./") || value.starts_with("$/") {
        true
    } else if let Some(image) = value.strip_prefix("docker://") {
        !image.is_empty()
    } else if let Some((path, git_ref)) = value.split_once('@') {
        let parts: Vec<&str> = path.split('/').collect();
        parts.len() >= 2 && parts.iter().all(|part| !part.is_empty()) && !git_ref.is_empty()
    } else {
        false
    };
    if !valid {
        let help = if value.starts_with("docker://") {
            "name an image after `docker://`, for example `docker://alpine:3.20`".to_owned()
        } else if !value.contains('@') && value.split('/').count() >= 2 && !value.starts_with('.') {
            format!("pin a version: `{value}@v1` (or a commit SHA)")
        } else {
            "write `owner/repo@ref`, `owner/repo/path@ref`, `./local/path` or `docker://image`".to_owned()
        };
        cx.error("invalid-uses", uses.span, format!("`{value}` is not a valid action reference"), help);
    }
}

fn retry(cx: &mut Cx, node: &Node) -> Option<Retry> {
    let mut retry = Retry { attempts: 1, delay_seconds: 0.0, backoff: 1.0, on_exit_codes: None, span: node.span };
    if let NodeKind::Scalar(_) = &node.kind {
        retry.attempts = attempts(cx, node)?;
        return Some(retry);
    }
    let NodeKind::Map(entries) = &node.kind else {
        cx.wrong_type(node, "retry", "a number of attempts or a mapping");
        return None;
    };
    const RETRY_KEYS: &[&str] = &["attempts", "delay-seconds", "backoff", "on-exit-codes"];
    let mut attempts_seen = false;
    for entry in entries {
        let Some(key) = cx.key(entry) else { continue };
        let value = &entry.value;
        match key {
            "attempts" => {
                attempts_seen = true;
                retry.attempts = attempts(cx, value)?;
            }
            "delay-seconds" => match value.as_f64() {
                Some(delay) if delay >= 0.0 && delay.is_finite() => retry.delay_seconds = delay,
                _ => cx.error(
                    "invalid-value",
                    value.span,
                    "`retry.delay-seconds` must be a number of seconds, 0 or more",
                    "write for example `delay-seconds: 5`",
                ),
            },
            "backoff" => match value.as_f64() {
                Some(backoff) if backoff >= 1.0 && backoff.is_finite() => retry.backoff = backoff,
                _ => cx.error(
                    "invalid-value",
                    value.span,
                    "`retry.backoff` must be a number, 1 or more",
                    "write for example `backoff: 2` to double the delay after each attempt",
                ),
            },
            "on-exit-codes" => {
                let codes: Option<Vec<i32>> = value.as_seq().and_then(|items| {
                    items.iter().map(|item| item.as_str().and_then(|text| text.parse::<i32>().ok())).collect()
                });
                match codes {
                    Some(codes) if !codes.is_empty() && !codes.contains(&0) => retry.on_exit_codes = Some(codes),
                    _ => cx.error(
                        "invalid-value",
                        value.span,
                        "`retry.on-exit-codes` must be a non-empty list of non-zero exit codes",
                        "write for example `on-exit-codes: [1, 75]`, or leave it out to retry on any failure",
                    ),
                }
            }
            _ => cx.unknown_key(entry, key, RETRY_KEYS, "`retry`"),
        }
    }
    if !attempts_seen {
        cx.error(
            "missing-key",
            node.span,
            "`retry` has no `attempts`",
            "add `attempts:` with the total number of attempts",
        );
    }
    Some(retry)
}

fn attempts(cx: &mut Cx, node: &Node) -> Option<u32> {
    let attempts = node.as_str().and_then(|text| text.parse::<u32>().ok()).filter(|n| *n >= 1);
    if attempts.is_none() || node.as_f64().is_none() {
        cx.error(
            "invalid-value",
            node.span,
            "`retry` attempts must be a whole number, 1 or more",
            "write the total number of attempts, for example `retry: 3`",
        );
        return None;
    }
    attempts
}
