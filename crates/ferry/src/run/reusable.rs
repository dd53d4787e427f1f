//! `ferry run`'s side of reusable workflows: the workflows a run calls are read from the
//! working tree (`uses: ./.github/workflows/build.yml`, or `$/.github/…`) or fetched from the actions source
//! (`uses: owner/repo/.github/workflows/build.yml@v1`, `--actions-url`, as actions are), at any
//! depth, and the run's jobs flattened by [`ferry_engine::reusable`], which does the rest.

use std::collections::HashMap;
use std::path::{Component, Path};
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use ferry_engine::{Callee, Flat};
use ferry_runner::actions::{ActionRef, ActionsSource};
use ferry_workflow::Dialect;
use ferry_workflow::model::Workflow;

use crate::render;

/// The jobs of `workflow` (at `file`, relative to `root`) with every call it makes, at any
/// depth, replaced by the called workflow's jobs.
///
/// # Errors
/// A called workflow that cannot be read or fetched or has errors, or calls that nest too
/// deep or in a cycle.
pub async fn flatten(
    root: &Path,
    actions: &ActionsSource,
    file: &str,
    workflow: Arc<Workflow>,
) -> anyhow::Result<Flat> {
    let mut found: HashMap<String, Callee> = HashMap::new();
    loop {
        let missing = ferry_engine::missing_calls(&workflow, &found);
        if missing.is_empty() {
            break;
        }
        for uses in missing {
            let callee = read(root, actions, &uses)
                .await
                .with_context(|| format!("{file}: reading the workflow `uses: {uses}`"))?;
            found.insert(uses, callee);
        }
    }
    ferry_engine::flatten(file, workflow, &found).map_err(|error| anyhow!("{file}: {error}"))
}

/// The called workflow `uses` names: a file of the working tree at `root`, or of another
/// repository fetched from `actions`.
async fn read(root: &Path, actions: &ActionsSource, uses: &str) -> anyhow::Result<Callee> {
    // `$/path` names a file of the same repository at the same commit, as `./path` does.
    let (src, shown) = match uses.strip_prefix("./").or_else(|| uses.strip_prefix("$/")) {
        Some(path) => (read_file(root, path)?, path.to_owned()),
        None => (read_remote(actions, uses).await?, uses.to_owned()),
    };
    let (workflow, diagnostics) = ferry_workflow::parse_workflow(&src, Dialect::for_path(&shown));
    let errors: Vec<_> = diagnostics.iter().filter(|diagnostic| diagnostic.is_error()).collect();
    if !errors.is_empty() {
        for diagnostic in &errors {
            eprintln!("{}\n", render::diagnostic(&shown, &src, diagnostic));
        }
        bail!("{shown} has {} error(s); fix them (see above, or run `ferry lint` on it)", errors.len());
    }
    let workflow = workflow.ok_or_else(|| anyhow!("{shown} is not a workflow"))?;
    Ok(Callee { file: shown, workflow: Arc::new(workflow) })
}

/// The text of the workflow of another repository `uses` names
/// (`owner/repo/.github/workflows/x.yml@ref`), fetched from `actions` as actions are; the
/// server reads such calls this way too.
///
/// # Errors
/// `uses` is not such a reference, or its repository or file cannot be fetched or read.
pub(crate) async fn read_remote(actions: &ActionsSource, uses: &str) -> anyhow::Result<String> {
    let Some(reference) = ActionRef::parse(uses) else {
        bail!("write a reusable workflow as ./.github/workflows/<file> or owner/repo/.github/workflows/<file>@ref");
    };
    let fetched = actions
        .fetch(&reference.owner, &reference.repo, &reference.git_ref)
        .await
        .with_context(|| format!("fetching {uses} from {}", actions.display_name()))?;
    read_file(&fetched.dir, &reference.path)
}

/// The workflow file `path` of the repository in `dir`, which must be in `.github/workflows`.
fn read_file(dir: &Path, path: &str) -> anyhow::Result<String> {
    let inside = Path::new(path).components().all(|component| matches!(component, Component::Normal(_)));
    let in_workflows =
        path.strip_prefix(".github/workflows/").is_some_and(|name| !name.is_empty() && !name.contains('/'));
    if !inside || !in_workflows {
        bail!("a reusable workflow must be a file in .github/workflows, like .github/workflows/build.yml");
    }
    let full = dir.join(path);
    std::fs::read_to_string(&full).with_context(|| format!("reading {}", full.display()))
}
