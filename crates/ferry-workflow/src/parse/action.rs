//! `action.yml`: metadata, inputs and outputs, and the three ways an action runs.

use crate::yaml::Reader as _;
use indexmap::IndexMap;

use super::workflow::empty_text;
use super::{Cx, step};
use crate::model::{Action, ActionInput, ActionOutput, Runs, Spanned, Text};
use crate::span::Span;
use crate::yaml::{Node, NodeKind};

const KEYS: &[&str] = &["name", "description", "author", "inputs", "outputs", "runs", "branding"];
const INPUT_KEYS: &[&str] = &["description", "required", "default", "deprecationMessage"];
const NODE_VERSIONS: &[&str] = &["node12", "node16", "node20", "node24"];

pub(super) fn read(cx: &mut Cx, tree: &Node) -> Option<Action> {
    let NodeKind::Map(entries) = &tree.kind else {
        cx.error(
            "wrong-type",
            tree.span,
            format!("an action must be a mapping, found {}", tree.describe()),
            "start the file with `name:`, `description:` and `runs:`",
        );
        return None;
    };
    let mut action = Action {
        name: None,
        description: None,
        author: None,
        inputs: IndexMap::new(),
        outputs: IndexMap::new(),
        runs: None,
        branding: None,
    };
    let mut runs_seen = false;
    for entry in entries {
        let Some(key) = cx.key(entry) else { continue };
        let value = &entry.value;
        match key {
            "name" => action.name = cx.text(value, "name"),
            "description" => action.description = cx.text(value, "description"),
            "author" => action.author = cx.text(value, "author"),
            "branding" => action.branding = Some(Cx::json(value)),
            "inputs" => {
                for input_entry in cx.map(value, "inputs") {
                    let Some(name) = cx.key(input_entry) else { continue };
                    let mut input =
                        ActionInput { description: None, required: None, default: None, deprecation_message: None };
                    for field in cx.map(&input_entry.value, &format!("input `{name}`")) {
                        let Some(field_key) = cx.key(field) else { continue };
                        match field_key {
                            "description" => input.description = cx.text(&field.value, "description"),
                            "required" => {
                                input.required = cx
                                    .bool(&field.value, "required")
                                    .map(|flag| Spanned { value: flag, span: field.value.span });
                            }
                            "default" => input.default = cx.text(&field.value, "default"),
                            "deprecationMessage" => {
                                input.deprecation_message = cx.text(&field.value, "deprecationMessage");
                            }
                            _ => cx.unknown_key(field, field_key, INPUT_KEYS, &format!("input `{name}`")),
                        }
                    }
                    action.inputs.insert(name.to_owned(), input);
                }
            }
            "outputs" => {
                for output_entry in cx.map(value, "outputs") {
                    let Some(name) = cx.key(output_entry) else { continue };
                    let (description, value) = super::output(cx, output_entry, name);
                    let output = ActionOutput { description, value };
                    action.outputs.insert(name.to_owned(), output);
                }
            }
            "runs" => {
                runs_seen = true;
                action.runs = runs(cx, value);
            }
            _ => cx.unknown_key(entry, key, KEYS, "an action"),
        }
    }
    if !runs_seen {
        let start = Span { start: tree.span.start, end: tree.span.start };
        cx.error("missing-key", start, "the action has no `runs:`", "add `runs:` with `using:` and what to run");
    }
    Some(action)
}

fn runs(cx: &mut Cx, node: &Node) -> Option<Runs> {
    let entries = cx.map(node, "runs");
    let find = |name: &str| entries.iter().find(|entry| entry.key.as_str() == Some(name));
    let Some(using_entry) = find("using") else {
        if node.as_map().is_some() {
            cx.error(
                "missing-key",
                node.span,
                "`runs` has no `using`",
                "add `using: composite`, `using: node20` or `using: docker`",
            );
        }
        return None;
    };
    let using = cx.text(&using_entry.value, "using")?;
    let (known, runs): (&[&str], Option<Runs>) = match using.value.as_str() {
        "composite" => {
            let steps = find("steps").map(|entry| step::read_all(cx, &entry.value, step::Where::Composite));
            if steps.is_none() {
                cx.error("missing-key", node.span, "a composite action needs `steps`", "add `steps:` under `runs:`");
            }
            (&["using", "steps"], Some(Runs::Composite { steps: steps.unwrap_or_default() }))
        }
        version if NODE_VERSIONS.contains(&version) => {
            let mut text = |name: &str| find(name).and_then(|entry| cx.text(&entry.value, name));
            let (main, pre, pre_if, post, post_if) =
                (text("main"), text("pre"), text("pre-if"), text("post"), text("post-if"));
            if main.is_none() {
                cx.error(
                    "missing-key",
                    node.span,
                    "a JavaScript action needs `main`",
                    "add `main:` with the script to run, e.g. `dist/index.js`",
                );
            }
            let main = main.unwrap_or_else(|| empty_text(node.span));
            (
                &["using", "main", "pre", "pre-if", "post", "post-if"],
                Some(Runs::Node { using: using.clone(), main, pre, pre_if, post, post_if }),
            )
        }
        "docker" => {
            let mut text = |name: &str| find(name).and_then(|entry| cx.text(&entry.value, name));
            let (image, entrypoint, pre_entrypoint, post_entrypoint) =
                (text("image"), text("entrypoint"), text("pre-entrypoint"), text("post-entrypoint"));
            let (pre_if, post_if) = (text("pre-if"), text("post-if"));
            if image.is_none() {
                cx.error(
                    "missing-key",
                    node.span,
                    "a Docker action needs `image`",
                    "add `image: Dockerfile` or `image: docker://name:tag`",
                );
            }
            let args: Vec<Text> = find("args").map(|entry| cx.texts(&entry.value, "args")).unwrap_or_default();
            let env = find("env").map(|entry| cx.text_map(&entry.value, "env")).unwrap_or_default();
            (
                &[
                    "using",
                    "image",
                    "args",
                    "entrypoint",
                    "pre-entrypoint",
                    "post-entrypoint",
                    "env",
                    "pre-if",
                    "post-if",
                ],
                Some(Runs::Docker {
                    image: image.unwrap_or_else(|| empty_text(node.span)),
                    args,
                    entrypoint,
                    pre_entrypoint,
                    pre_if,
                    post_entrypoint,
                    post_if,
                    env,
                }),
            )
        }
        other => {
            cx.error(
                "invalid-value",
                using.span,
                format!("unknown `using: {other}`"),
                "use `composite`, `docker`, or one of node12, node16, node20, node24",
            );
            return None;
        }
    };
    for entry in entries {
        let Some(key) = cx.key(entry) else { continue };
        if !known.contains(&key) {
            cx.unknown_key(entry, key, known, &format!("`runs` of a `{}` action", using.value));
        }
    }
    runs
}
