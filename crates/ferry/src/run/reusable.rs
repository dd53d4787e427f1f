//! `ferry run`'s side of reusable workflows: the workflows a run calls are read from the
//! working tree (`uses: ./.github/workflows/build.yml`, the same paths at any depth) and the
//! run's jobs flattened by [`ferry_engine::reusable`], which does the rest.

use std::collections::HashMap;
use std::path::{Component, Path};
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use ferry_engine::{Callee, Flat};
use ferry_workflow::Dialect;
use ferry_workflow::model::Workflow;

use crate::render;

/// The jobs of `workflow` (at `file`, relative to `root`) with every call it makes, at any
/// depth, replaced by the called workflow's jobs.
///
/// # Errors
/// A called workflow that cannot be read or has errors, a remote one, or calls that nest too
/// deep or in a cycle.
pub fn flatten(root: &Path, file: &str, workflow: Arc<Workflow>) -> anyhow::Result<Flat> {
    let mut found: HashMap<String, Callee> = HashMap::new();
    loop {
        let missing = ferry_engine::missing_calls(&workflow, &found);
        if missing.is_empty() {
            break;
        }
        for uses in missing {
            let callee = read(root, &uses).with_context(|| format!("{file}: reading the workflow `uses: {uses}`"))?;
            found.insert(uses, callee);
        }
    }
    ferry_engine::flatten(file, workflow, &found).map_err(|error| anyhow!("{file}: {error}"))
}

/// The called workflow `uses` names, read from the working tree at `root`.
fn read(root: &Path, uses: &str) -> anyhow::Result<Callee> {
    let Some(path) = uses.strip_prefix("./") else {
        bail!(
            "`ferry run` runs reusable workflows of this repository only (`uses: ./.github/workflows/<file>`); \
             copy {uses} into .github/workflows and call it by its local path"
        );
    };
    let inside = Path::new(path).components().all(|component| matches!(component, Component::Normal(_)));
    if !inside || !path.starts_with(".github/workflows/") {
        bail!("a reusable workflow must be a file under .github/workflows, like ./.github/workflows/build.yml");
    }
    let full = root.join(path);
    let src = std::fs::read_to_string(&full).with_context(|| format!("reading {}", full.display()))?;
    let (workflow, diagnostics) = ferry_workflow::parse_workflow(&src, Dialect::for_path(path));
    let errors: Vec<_> = diagnostics.iter().filter(|diagnostic| diagnostic.is_error()).collect();
    if !errors.is_empty() {
        for diagnostic in &errors {
            eprintln!("{}\n", render::diagnostic(path, &src, diagnostic));
        }
        bail!("{path} has {} error(s); fix them (see above, or run `ferry lint {path}`)", errors.len());
    }
    let workflow = workflow.ok_or_else(|| anyhow!("{path} is not a workflow"))?;
    Ok(Callee { file: path.to_owned(), workflow: Arc::new(workflow) })
}
