//! `jobs:`: each job's keys, runner, matrix, and the checks local to one job.

use crate::yaml::Reader as _;
use indexmap::IndexMap;

use super::workflow::{concurrency, defaults, permissions};
use super::{Cx, Dialect, expression_text, step};
use crate::model::{Environment, Job, JobSecrets, Matrix, RunsOn, Spanned, Step, StepKind, Strategy, Text};
use crate::yaml::{Entry, Node, NodeKind};

const KEYS: &[&str] = &[
    "name",
    "needs",
    "if",
    "runs-on",
    "environment",
    "outputs",
    "env",
    "defaults",
    "timeout-minutes",
    "continue-on-error",
    "strategy",
    "container",
    "services",
    "concurrency",
    "permissions",
    "steps",
    "uses",
    "with",
    "secrets",
    "snapshot",
    "allow-failure",
];

/// Keys a job that calls a reusable workflow may have.
const CALL_KEYS: &[&str] =
    &["name", "needs", "if", "permissions", "strategy", "concurrency", "uses", "with", "secrets", "outputs"];

pub(super) fn read_all(cx: &mut Cx, node: &Node) -> IndexMap<String, Job> {
    let mut jobs = IndexMap::new();
    let entries = cx.map(node, "jobs");
    if entries.is_empty() && (node.is_null() || node.as_map().is_some()) {
        cx.error("missing-key", node.span, "`jobs` is empty", "add at least one job");
    }
    for entry in entries {
        let Some(id) = cx.key(entry) else { continue };
        if !is_valid_job_id(id) {
            cx.error(
                "invalid-job-id",
                entry.key.span,
                format!("invalid job id `{id}`"),
                "a job id starts with a letter or `_` and holds only letters, digits, `-` and `_`",
            );
        }
        let job = read(cx, entry, id);
        jobs.insert(id.to_owned(), job);
    }
    jobs
}

/// GitHub's rule: `^[A-Za-z_][A-Za-z0-9_-]*$`.
fn is_valid_job_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn read(cx: &mut Cx, entry: &Entry, id: &str) -> Job {
    let id_text = Spanned { value: id.to_owned(), span: entry.key.span };
    let mut job = Job {
        id: id_text,
        name: None,
        needs: Vec::new(),
        if_: None,
        runs_on: None,
        environment: None,
        outputs: IndexMap::new(),
        env: IndexMap::new(),
        defaults: Default::default(),
        timeout_minutes: None,
        continue_on_error: None,
        strategy: None,
        container: None,
        services: None,
        concurrency: None,
        permissions: None,
        steps: Vec::new(),
        uses: None,
        with: IndexMap::new(),
        secrets: None,
        allow_failure: false,
    };
    let context = format!("job `{id}`");
    let entries = cx.map(&entry.value, &context);
    let mut keys: Vec<&Entry> = Vec::new();
    let mut steps_seen = false;
    for field in entries {
        let Some(key) = cx.key(field) else { continue };
        let value = &field.value;
        keys.push(field);
        match key {
            "name" => job.name = cx.text(value, "name"),
            "needs" => job.needs = cx.texts(value, "needs"),
            "if" => job.if_ = cx.text(value, "if"),
            "runs-on" => job.runs_on = runs_on(cx, value),
            "environment" => job.environment = environment(cx, value),
            "outputs" => job.outputs = cx.text_map(value, "outputs"),
            "env" => job.env = env_or_expr(cx, value),
            "defaults" => job.defaults = defaults(cx, value, "defaults"),
            "timeout-minutes" => job.timeout_minutes = cx.positive_or_expr(value, "timeout-minutes"),
            "continue-on-error" => job.continue_on_error = cx.bool_or_expr(value, "continue-on-error"),
            "strategy" => job.strategy = strategy(cx, value),
            "container" => job.container = Some(Cx::json(value)),
            "services" => job.services = Some(Cx::json(value)),
            "concurrency" => job.concurrency = concurrency(cx, value, "concurrency"),
            "permissions" => job.permissions = Some(permissions(cx, value)),
            "steps" => {
                steps_seen = true;
                job.steps = step::read_all(cx, value, step::Where::Job);
            }
            "uses" => {
                job.uses = cx.text(value, "uses");
                if let Some(uses) = &job.uses {
                    check_workflow_uses(cx, uses);
                }
            }
            "with" => job.with = cx.text_map(value, "with"),
            "secrets" => {
                job.secrets = if value.as_str() == Some("inherit") {
                    Some(JobSecrets::Inherit)
                } else {
                    Some(JobSecrets::Map(cx.text_map(value, "secrets")))
                };
            }
            "snapshot" => {}
            "allow-failure" => {
                if cx.dialect == Dialect::Ferry {
                    job.allow_failure = cx.bool(value, "allow-failure").unwrap_or(false);
                } else {
                    cx.error(
                        "ferry-extension",
                        field.key.span,
                        "`allow-failure` is a Ferry extension that GitHub does not accept",
                        "move the workflow to `.ferry/workflows/`, or use `continue-on-error: true`",
                    );
                }
            }
            _ => cx.unknown_key(field, key, KEYS, &context),
        }
    }
    let key_span = entry.key.span;
    if job.uses.is_some() {
        for field in &keys {
            let Some(key) = field.key.as_str() else { continue };
            if !CALL_KEYS.contains(&key) && KEYS.contains(&key) {
                cx.error(
                    "invalid-key-for-call",
                    field.key.span,
                    format!("`{key}` cannot be used in a job that calls a reusable workflow"),
                    "set it inside the called workflow instead, or remove `uses:` and run steps",
                );
            }
        }
    } else if entry.value.as_map().is_some() {
        // A misspelt key was reported as unknown with a suggestion; saying it is missing too
        // would only repeat that.
        let written = |wanted: &str| {
            keys.iter().filter_map(|field| field.key.as_str()).any(|key| {
                key == wanted || (!KEYS.contains(&key) && crate::suggest::closest(key, KEYS) == Some(wanted))
            })
        };
        if job.runs_on.is_none() && !written("runs-on") {
            cx.error(
                "missing-key",
                key_span,
                format!("job `{id}` has no `runs-on`"),
                "say where it runs, for example `runs-on: ubuntu-latest`, or call a reusable workflow with `uses:`",
            );
        }
        if !steps_seen && !written("steps") {
            cx.error(
                "missing-key",
                key_span,
                format!("job `{id}` has no `steps`"),
                "add `steps:` with at least one step, or call a reusable workflow with `uses:`",
            );
        }
    }
    check_duplicate_step_ids(cx, &job.steps);
    job
}

fn check_duplicate_step_ids(cx: &mut Cx, steps: &[Step]) {
    fn collect<'a>(steps: &'a [Step], ids: &mut Vec<&'a Text>) {
        for step in steps {
            if let Some(id) = &step.id {
                ids.push(id);
            }
            if let StepKind::Parallel(inner) = &step.kind {
                collect(inner, ids);
            }
        }
    }
    let mut ids = Vec::new();
    collect(steps, &mut ids);
    for (idx, id) in ids.iter().enumerate() {
        if let Some(first) = ids[..idx].iter().find(|other| other.value == id.value) {
            cx.error(
                "duplicate-step-id",
                id.span,
                format!("step id `{}` is already used in this job", id.value),
                format!("the first step with this id is at {}; give each step its own id", first.span.start),
            );
        }
    }
}

/// `env:` of a job may be a mapping, or (rarely) one expression yielding a mapping.
fn env_or_expr(cx: &mut Cx, node: &Node) -> IndexMap<String, Text> {
    if expression_text(node).is_some() {
        return IndexMap::new();
    }
    cx.text_map(node, "env")
}

fn runs_on(cx: &mut Cx, node: &Node) -> Option<RunsOn> {
    match &node.kind {
        NodeKind::Scalar(_) => cx.text(node, "runs-on").map(|label| RunsOn::Labels(vec![label])),
        NodeKind::Seq(_) => Some(RunsOn::Labels(cx.texts(node, "runs-on"))),
        NodeKind::Map(entries) => {
            let mut group = None;
            let mut labels = Vec::new();
            for entry in entries {
                let Some(key) = cx.key(entry) else { continue };
                match key {
                    "group" => group = cx.text(&entry.value, "runs-on.group"),
                    "labels" => labels = cx.texts(&entry.value, "runs-on.labels"),
                    _ => cx.unknown_key(entry, key, &["group", "labels"], "`runs-on`"),
                }
            }
            Some(RunsOn::Group { group, labels })
        }
    }
}

fn environment(cx: &mut Cx, node: &Node) -> Option<Environment> {
    if let NodeKind::Scalar(_) = &node.kind {
        return cx.text(node, "environment").map(|name| Environment { name, url: None });
    }
    let mut name = None;
    let mut url = None;
    for entry in cx.map(node, "environment") {
        let Some(key) = cx.key(entry) else { continue };
        match key {
            "name" => name = cx.text(&entry.value, "environment.name"),
            "url" => url = cx.text(&entry.value, "environment.url"),
            "deployment" => {
                cx.bool_or_expr(&entry.value, "environment.deployment");
            }
            _ => cx.unknown_key(entry, key, &["name", "url", "deployment"], "`environment`"),
        }
    }
    match name {
        Some(name) => Some(Environment { name, url }),
        None => {
            if node.as_map().is_some() {
                cx.error(
                    "missing-key",
                    node.span,
                    "`environment` has no `name`",
                    "add `name:` with the environment's name",
                );
            }
            None
        }
    }
}

fn strategy(cx: &mut Cx, node: &Node) -> Option<Strategy> {
    let mut strategy = Strategy { matrix: None, fail_fast: None, max_parallel: None };
    for entry in cx.map(node, "strategy") {
        let Some(key) = cx.key(entry) else { continue };
        match key {
            "matrix" => strategy.matrix = matrix(cx, &entry.value),
            "fail-fast" => strategy.fail_fast = cx.bool_or_expr(&entry.value, "fail-fast"),
            "max-parallel" => strategy.max_parallel = cx.positive_or_expr(&entry.value, "max-parallel"),
            _ => cx.unknown_key(entry, key, &["matrix", "fail-fast", "max-parallel"], "`strategy`"),
        }
    }
    Some(strategy)
}

fn matrix(cx: &mut Cx, node: &Node) -> Option<Matrix> {
    if let Some(text) = expression_text(node) {
        return Some(Matrix::Expr(text));
    }
    let NodeKind::Map(entries) = &node.kind else {
        cx.error(
            "wrong-type",
            node.span,
            format!("`matrix` must be a mapping or an expression, found {}", node.describe()),
            "write dimensions such as `os: [ubuntu-latest, windows-latest]`, or `${{ fromJSON(...) }}`",
        );
        return None;
    };
    let mut dimensions = IndexMap::new();
    let (mut include, mut exclude) = (None, None);
    for entry in entries {
        let Some(key) = cx.key(entry) else { continue };
        let value = &entry.value;
        match key {
            "include" | "exclude" => {
                let valid = expression_text(value).is_some()
                    || value.as_seq().is_some_and(|items| {
                        items.iter().all(|item| item.as_map().is_some() || expression_text(item).is_some())
                    });
                if !valid {
                    cx.error(
                        "wrong-type",
                        value.span,
                        format!("`matrix.{key}` must be a list of mappings or an expression"),
                        format!("write `{key}:` followed by `- {{ name: value }}` entries"),
                    );
                }
                let slot = if key == "include" { &mut include } else { &mut exclude };
                *slot = Some(Cx::json(value));
            }
            _ => {
                if value.as_seq().is_none() && expression_text(value).is_none() {
                    cx.error(
                        "wrong-type",
                        value.span,
                        format!("matrix dimension `{key}` must be a list or an expression, found {}", value.describe()),
                        format!("write `{key}: [a, b]`"),
                    );
                }
                dimensions.insert(key.to_owned(), Cx::json(value));
            }
        }
    }
    Some(Matrix::Map { dimensions, include, exclude })
}

/// A reusable workflow reference: `./path.yml`, `$/path.yml` or `owner/repo/path.yml@ref`.
fn check_workflow_uses(cx: &mut Cx, uses: &Text) {
    let value = uses.value.as_str();
    let local = value.starts_with("./") || value.starts_with("$/");
    let remote = value.split_once('@').is_some_and(|(path, git_ref)| {
        let parts: Vec<&str> = path.split('/').collect();
        parts.len() >= 3 && parts.iter().all(|part| !part.is_empty()) && !git_ref.is_empty()
    });
    let looks_like_workflow =
        value.split('@').next().is_some_and(|path| path.ends_with(".yml") || path.ends_with(".yaml"));
    if !(local || remote) || !looks_like_workflow {
        cx.error(
            "invalid-uses",
            uses.span,
            format!("`{value}` is not a reusable workflow reference"),
            "write `./.github/workflows/x.yml`, `$/.github/workflows/x.yml` or `owner/repo/.github/workflows/x.yml@ref`",
        );
    }
}
