//! `on:`: event names, ref and path filters, cron schedules, and dispatch and call inputs.

use crate::yaml::Reader as _;
use indexmap::IndexMap;

use super::Cx;
use crate::filter;
use crate::model::{
    CallInput, CallInputType, CallOutput, CallSecret, DispatchInput, DispatchInputType, RefFilters, Spanned, Text,
    Trigger, TriggerKind, WorkflowCall,
};
use crate::suggest;
use crate::yaml::{Entry, Node, NodeKind};

/// Every event that can trigger a workflow, as GitHub documents them.
pub(crate) const EVENTS: &[&str] = &[
    "branch_protection_rule",
    "check_run",
    "check_suite",
    "create",
    "delete",
    "deployment",
    "deployment_status",
    "discussion",
    "discussion_comment",
    "fork",
    "gollum",
    "image_version",
    "issue_comment",
    "issues",
    "label",
    "merge_group",
    "milestone",
    "page_build",
    "project",
    "project_card",
    "project_column",
    "public",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_target",
    "push",
    "registry_package",
    "release",
    "repository_dispatch",
    "schedule",
    "status",
    "watch",
    "workflow_call",
    "workflow_dispatch",
    "workflow_run",
];

const REF_KEYS: &[&str] = &["branches", "branches-ignore", "tags", "tags-ignore", "paths", "paths-ignore", "types"];

pub(super) fn read(cx: &mut Cx, node: &Node) -> Vec<Trigger> {
    match &node.kind {
        NodeKind::Scalar(_) => cx.text(node, "on").into_iter().filter_map(|name| bare_event(cx, name)).collect(),
        NodeKind::Seq(items) => {
            let names: Vec<Text> = items.iter().filter_map(|item| cx.text(item, "on")).collect();
            names.into_iter().filter_map(|name| bare_event(cx, name)).collect()
        }
        NodeKind::Map(entries) => {
            let mut triggers = Vec::new();
            for entry in entries {
                let Some(key) = cx.key(entry) else { continue };
                let event = Spanned { value: key.to_owned(), span: entry.key.span };
                if !check_event_name(cx, &event) {
                    continue;
                }
                let kind = event_config(cx, key, entry);
                triggers.push(Trigger { event, kind });
            }
            triggers
        }
    }
}

/// An event named without configuration (`on: push` or `on: [push, pull_request]`).
fn bare_event(cx: &mut Cx, name: Text) -> Option<Trigger> {
    if !check_event_name(cx, &name) {
        return None;
    }
    let kind = match name.value.as_str() {
        "push" | "pull_request" | "pull_request_target" => TriggerKind::Ref(RefFilters::default()),
        "workflow_dispatch" => TriggerKind::Dispatch(IndexMap::new()),
        "workflow_call" => TriggerKind::Call(WorkflowCall::default()),
        "schedule" => {
            cx.error(
                "missing-key",
                name.span,
                "`schedule` needs cron entries",
                "write `schedule:` followed by `- cron: '0 3 * * *'`",
            );
            TriggerKind::Schedule(Vec::new())
        }
        _ => TriggerKind::Other(serde_json::Value::Null),
    };
    Some(Trigger { event: name, kind })
}

fn check_event_name(cx: &mut Cx, name: &Text) -> bool {
    if EVENTS.contains(&name.value.as_str()) {
        return true;
    }
    let help = match suggest::closest(&name.value, EVENTS) {
        Some(candidate) => format!("did you mean `{candidate}`?"),
        None => "see GitHub's list of events that trigger workflows".to_owned(),
    };
    cx.error("unknown-event", name.span, format!("unknown event `{}`", name.value), help);
    false
}

fn event_config(cx: &mut Cx, event: &str, entry: &Entry) -> TriggerKind {
    let node = &entry.value;
    match event {
        "push" => TriggerKind::Ref(ref_filters(cx, node, event, REF_KEYS)),
        // GitHub accepts (and ignores) tag filters on pull-request events.
        "pull_request" | "pull_request_target" => TriggerKind::Ref(ref_filters(cx, node, event, REF_KEYS)),
        "schedule" => TriggerKind::Schedule(schedule(cx, node)),
        "workflow_dispatch" => TriggerKind::Dispatch(dispatch(cx, node)),
        "workflow_call" => TriggerKind::Call(call(cx, node)),
        _ => {
            if !node.is_null() && node.as_map().is_none() {
                cx.wrong_type(node, event, "a mapping");
            }
            TriggerKind::Other(node.to_json())
        }
    }
}

fn ref_filters(cx: &mut Cx, node: &Node, event: &str, known: &[&str]) -> RefFilters {
    let mut filters = RefFilters::default();
    let mut written: Vec<(&str, &Entry)> = Vec::new();
    for entry in cx.map(node, event) {
        let Some(key) = cx.key(entry) else { continue };
        if !known.contains(&key) {
            cx.unknown_key(entry, key, known, &format!("`on.{event}`"));
            continue;
        }
        written.push((key, entry));
        let what = format!("on.{event}.{key}");
        if key == "types" {
            filters.types = cx.texts(&entry.value, &what);
            continue;
        }
        let patterns = cx.texts(&entry.value, &what);
        for pattern in &patterns {
            if let Err(problem) = filter::validate_pattern(&pattern.value) {
                cx.error(
                    "invalid-filter",
                    pattern.span,
                    format!("invalid filter pattern `{}`: {problem}", pattern.value),
                    "see GitHub's filter pattern cheat sheet: `*`, `**`, `?`, `+`, `[...]` and a leading `!`",
                );
            }
        }
        let slot = match key {
            "branches" => &mut filters.branches,
            "branches-ignore" => &mut filters.branches_ignore,
            "tags" => &mut filters.tags,
            "tags-ignore" => &mut filters.tags_ignore,
            "paths" => &mut filters.paths,
            _ => &mut filters.paths_ignore,
        };
        *slot = Some(patterns);
    }
    for (plain, ignore) in [("branches", "branches-ignore"), ("tags", "tags-ignore"), ("paths", "paths-ignore")] {
        let find = |name: &str| written.iter().find(|(key, _)| *key == name).map(|(_, entry)| *entry);
        if let (Some(_), Some(ignore_entry)) = (find(plain), find(ignore)) {
            cx.error(
                "conflicting-filters",
                ignore_entry.key.span,
                format!("`{plain}` and `{ignore}` cannot both be used for `{event}`"),
                format!("keep `{plain}` and turn each `{ignore}` pattern into a `!pattern` entry of it"),
            );
        }
    }
    filters
}

fn schedule(cx: &mut Cx, node: &Node) -> Vec<Text> {
    let Some(items) = node.as_seq() else {
        cx.wrong_type(node, "on.schedule", "a list of `- cron: ...` entries");
        return Vec::new();
    };
    let mut crons = Vec::new();
    for item in items {
        let mut cron = None;
        for entry in cx.map(item, "on.schedule[]") {
            let Some(key) = cx.key(entry) else { continue };
            match key {
                "cron" => cron = cx.text(&entry.value, "cron"),
                // GitHub accepts an IANA time zone next to the cron string.
                "timezone" => {
                    cx.text(&entry.value, "timezone");
                }
                _ => cx.unknown_key(entry, key, &["cron", "timezone"], "a schedule entry"),
            }
        }
        match cron {
            Some(cron) => {
                if let Err(problem) = check_cron(&cron.value) {
                    cx.error(
                        "invalid-cron",
                        cron.span,
                        format!("invalid cron `{}`: {problem}", cron.value),
                        "write five fields: minute hour day-of-month month day-of-week, e.g. `30 5 * * 1-5`",
                    );
                }
                crons.push(cron);
            }
            None if item.as_map().is_some() => {
                cx.error("missing-key", item.span, "schedule entry without `cron`", "add `cron: '0 3 * * *'`");
            }
            None => {}
        }
    }
    crons
}

/// Why a `cron:` line is not one GitHub accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CronError {
    #[error("GitHub does not support `@` shortcuts such as `@daily`")]
    Shortcut,
    #[error("expected 5 fields, found {0}")]
    FieldCount(usize),
    #[error("`{0}` uses syntax that POSIX cron does not have")]
    Syntax(String),
    #[error("`{0}` is neither a number nor a month or weekday name such as JAN or MON")]
    Name(String),
    /// What croner found wrong with it.
    #[error("{0}")]
    Invalid(String),
}

/// GitHub's cron: five POSIX fields with `*`, `,`, `-`, `/` and month and weekday names.
pub(crate) fn check_cron(text: &str) -> Result<(), CronError> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    if text.trim_start().starts_with('@') {
        return Err(CronError::Shortcut);
    }
    if fields.len() != 5 {
        return Err(CronError::FieldCount(fields.len()));
    }
    if let Some(field) =
        fields.iter().find(|field| !field.chars().all(|c| c.is_ascii_alphanumeric() || "*,-/".contains(c)))
    {
        return Err(CronError::Syntax((*field).to_owned()));
    }
    const NAMES: &[&str] = &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", "SUN", "MON", "TUE", "WED",
        "THU", "FRI", "SAT",
    ];
    let words = fields.iter().flat_map(|field| field.split([',', '-', '/']));
    if let Some(word) = words
        .filter(|word| word.chars().any(|c| c.is_ascii_alphabetic()))
        .find(|word| !NAMES.contains(&word.to_ascii_uppercase().as_str()))
    {
        return Err(CronError::Name(word.to_owned()));
    }
    let parser = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .year(croner::parser::Year::Disallowed)
        .build();
    parser.parse(text).map(|_| ()).map_err(|error| CronError::Invalid(error.to_string()))
}

const DISPATCH_INPUT_KEYS: &[&str] = &["description", "required", "default", "type", "options", "deprecationMessage"];

fn dispatch(cx: &mut Cx, node: &Node) -> IndexMap<String, DispatchInput> {
    let mut inputs = IndexMap::new();
    for entry in cx.map(node, "on.workflow_dispatch") {
        let Some(key) = cx.key(entry) else { continue };
        if key != "inputs" {
            cx.unknown_key(entry, key, &["inputs"], "`on.workflow_dispatch`");
            continue;
        }
        for input_entry in cx.map(&entry.value, "on.workflow_dispatch.inputs") {
            let Some(name) = cx.key(input_entry) else { continue };
            inputs.insert(name.to_owned(), dispatch_input(cx, input_entry, name));
        }
    }
    inputs
}

fn dispatch_input(cx: &mut Cx, entry: &Entry, name: &str) -> DispatchInput {
    let mut input =
        DispatchInput { description: None, required: false, default: None, kind: DispatchInputType::String };
    let mut type_node = None;
    let mut options = None;
    for field in cx.map(&entry.value, &format!("input `{name}`")) {
        let Some(key) = cx.key(field) else { continue };
        match key {
            "description" => input.description = cx.text(&field.value, "description"),
            "required" => input.required = cx.bool(&field.value, "required").unwrap_or(false),
            "default" => input.default = Some(Cx::json(&field.value)),
            "type" => type_node = Some(&field.value),
            "options" => options = Some((field, cx.texts(&field.value, "options"))),
            "deprecationMessage" => {
                cx.text(&field.value, "deprecationMessage");
            }
            _ => cx.unknown_key(field, key, DISPATCH_INPUT_KEYS, &format!("input `{name}`")),
        }
    }
    const TYPES: &[&str] = &["string", "boolean", "number", "choice", "environment"];
    let type_text = type_node.and_then(|node| cx.text(node, "type"));
    input.kind = match type_text.as_ref().map(|text| text.value.as_str()) {
        None | Some("string") => DispatchInputType::String,
        Some("boolean") => DispatchInputType::Boolean,
        Some("number") => DispatchInputType::Number,
        Some("environment") => DispatchInputType::Environment,
        Some("choice") => DispatchInputType::Choice { options: Vec::new() },
        Some(other) => {
            let help = match suggest::closest(other, TYPES) {
                Some(candidate) => format!("did you mean `{candidate}`?"),
                None => format!("use one of: {}", TYPES.join(", ")),
            };
            let span = type_text.as_ref().map_or(entry.key.span, |text| text.span);
            cx.error("invalid-input-type", span, format!("unknown input type `{other}`"), help);
            DispatchInputType::String
        }
    };
    match (&mut input.kind, options) {
        (DispatchInputType::Choice { options: slot }, Some((_, options))) => {
            if options.is_empty() {
                cx.error(
                    "choice-without-options",
                    entry.key.span,
                    format!("choice input `{name}` has no options"),
                    "list the choices under `options:`",
                );
            }
            if let Some(default) = &input.default
                && let Some(text) = default.value.as_str().map(str::to_owned).or_else(|| scalar_text(&default.value))
                && !options.iter().any(|option| option.value == text)
            {
                cx.error(
                    "default-not-an-option",
                    default.span,
                    format!("default `{text}` of input `{name}` is not one of its options"),
                    "make the default one of the `options`, or add it to them",
                );
            }
            *slot = options;
        }
        (DispatchInputType::Choice { .. }, None) => cx.error(
            "choice-without-options",
            entry.key.span,
            format!("choice input `{name}` has no options"),
            "list the choices under `options:`",
        ),
        // GitHub ignores `options` on other input types.
        (_, _) => {}
    }
    input
}

fn scalar_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Bool(_) | serde_json::Value::Number(_) => Some(value.to_string()),
        _ => None,
    }
}

fn call(cx: &mut Cx, node: &Node) -> WorkflowCall {
    let mut call = WorkflowCall::default();
    for entry in cx.map(node, "on.workflow_call") {
        let Some(key) = cx.key(entry) else { continue };
        match key {
            "inputs" => {
                for input_entry in cx.map(&entry.value, "on.workflow_call.inputs") {
                    let Some(name) = cx.key(input_entry) else { continue };
                    call.inputs.insert(name.to_owned(), call_input(cx, input_entry, name));
                }
            }
            "outputs" => {
                for output_entry in cx.map(&entry.value, "on.workflow_call.outputs") {
                    let Some(name) = cx.key(output_entry) else { continue };
                    let (description, value) = super::output(cx, output_entry, name);
                    let output = CallOutput { description, value };
                    if output.value.is_none() {
                        cx.error(
                            "missing-key",
                            output_entry.key.span,
                            format!("output `{name}` has no `value`"),
                            "set `value:` to an expression such as `${{ jobs.build.outputs.x }}`",
                        );
                    }
                    call.outputs.insert(name.to_owned(), output);
                }
            }
            "secrets" => {
                for secret_entry in cx.map(&entry.value, "on.workflow_call.secrets") {
                    let Some(name) = cx.key(secret_entry) else { continue };
                    let mut secret = CallSecret { description: None, required: false };
                    for field in cx.map(&secret_entry.value, &format!("secret `{name}`")) {
                        let Some(field_key) = cx.key(field) else { continue };
                        match field_key {
                            "description" => secret.description = cx.text(&field.value, "description"),
                            "required" => secret.required = cx.bool(&field.value, "required").unwrap_or(false),
                            _ => cx.unknown_key(
                                field,
                                field_key,
                                &["description", "required"],
                                &format!("secret `{name}`"),
                            ),
                        }
                    }
                    call.secrets.insert(name.to_owned(), secret);
                }
            }
            _ => cx.unknown_key(entry, key, &["inputs", "outputs", "secrets"], "`on.workflow_call`"),
        }
    }
    call
}

fn call_input(cx: &mut Cx, entry: &Entry, name: &str) -> CallInput {
    let mut input = CallInput { description: None, required: false, default: None, kind: CallInputType::String };
    let mut type_seen = false;
    for field in cx.map(&entry.value, &format!("input `{name}`")) {
        let Some(key) = cx.key(field) else { continue };
        match key {
            "description" => input.description = cx.text(&field.value, "description"),
            "required" => input.required = cx.bool(&field.value, "required").unwrap_or(false),
            "default" => input.default = Some(Cx::json(&field.value)),
            "type" => {
                type_seen = true;
                let Some(text) = cx.text(&field.value, "type") else { continue };
                input.kind = match text.value.as_str() {
                    "string" => CallInputType::String,
                    "boolean" => CallInputType::Boolean,
                    "number" => CallInputType::Number,
                    other => {
                        const TYPES: &[&str] = &["string", "boolean", "number"];
                        let help = match suggest::closest(other, TYPES) {
                            Some(candidate) => format!("did you mean `{candidate}`?"),
                            None => "use one of: string, boolean, number".to_owned(),
                        };
                        cx.error("invalid-input-type", text.span, format!("unknown input type `{other}`"), help);
                        CallInputType::String
                    }
                };
            }
            _ => {
                cx.unknown_key(field, key, &["description", "required", "default", "type"], &format!("input `{name}`"))
            }
        }
    }
    if !type_seen && entry.value.as_map().is_some() {
        cx.error(
            "missing-key",
            entry.key.span,
            format!("input `{name}` of `workflow_call` has no `type`"),
            "add `type: string`, `type: boolean` or `type: number`",
        );
    }
    input
}
