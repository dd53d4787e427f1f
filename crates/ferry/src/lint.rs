//! `ferry lint`: finds workflow and action files and `.ferry/deploy.yml`, checks them, and
//! reports every finding.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use ferry_workflow::{Diagnostic, Dialect};
use serde_json::json;

use crate::cli::LintArgs;
use crate::render;

/// A file to check and how to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Workflow(Dialect),
    Action,
    /// `.ferry/deploy.yml`: environments and services (`ferry_deploy::compile`).
    Deploy,
}

pub fn main(args: LintArgs) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    for path in &args.paths {
        files.extend(discover(path)?);
    }
    if files.is_empty() {
        anyhow::bail!(
            "no workflow files found under {}; workflows live in .github/workflows/*.yml or .ferry/workflows/*.yml, deployments in .ferry/deploy.yml",
            args.paths.iter().map(|path| path.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    let mut findings = Vec::new();
    let mut n_errors = 0;
    let mut n_warnings = 0;
    for (path, kind) in &files {
        let src = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let diagnostics = check(&src, kind);
        for diagnostic in &diagnostics {
            if diagnostic.is_error() {
                n_errors += 1;
            } else {
                n_warnings += 1;
            }
        }
        findings.push((path.display().to_string(), src, diagnostics));
    }
    if args.json {
        let list: Vec<_> = findings
            .iter()
            .flat_map(|(path, _, diagnostics)| diagnostics.iter().map(move |diagnostic| finding_json(path, diagnostic)))
            .collect();
        let out = json!({"files": files.len(), "errors": n_errors, "warnings": n_warnings, "diagnostics": list});
        println!("{}", serde_json::to_string_pretty(&out).context("serializing findings")?);
    } else {
        use std::io::Write;
        let mut stdout = anstream::stdout();
        for (path, src, diagnostics) in &findings {
            for diagnostic in diagnostics {
                writeln!(stdout, "{}\n", render::diagnostic(path, src, diagnostic)).context("writing to stdout")?;
            }
        }
        let (style, verdict) = if n_errors > 0 { (render::RED, "failed") } else { (render::GREEN, "ok") };
        writeln!(
            stdout,
            "{style}{verdict}{style:#}: {} checked, {n_errors} error{}, {n_warnings} warning{}",
            plural(files.len(), "file"),
            if n_errors == 1 { "" } else { "s" },
            if n_warnings == 1 { "" } else { "s" },
        )
        .context("writing to stdout")?;
    }
    Ok(if n_errors > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Every diagnostic of one file.
pub fn check(src: &str, kind: &Kind) -> Vec<Diagnostic> {
    match kind {
        Kind::Workflow(dialect) => ferry_workflow::parse_workflow(src, *dialect).1,
        Kind::Action => ferry_workflow::parse_action(src).1,
        Kind::Deploy => ferry_deploy::compile(src).1,
    }
}

fn finding_json(path: &str, diagnostic: &Diagnostic) -> serde_json::Value {
    json!({
        "file": path,
        "line": diagnostic.span.start.line,
        "col": diagnostic.span.start.col,
        "end_line": diagnostic.span.end.line,
        "end_col": diagnostic.span.end.col,
        "severity": diagnostic.severity,
        "code": diagnostic.code,
        "message": diagnostic.message,
        "help": diagnostic.help,
    })
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// The files to check under `path`: a file as it is; a directory's workflow folders, local
/// actions and `.ferry/deploy.yml`, or, when it has no workflow folder, every YAML file
/// directly in it (and `.ferry/deploy.yml`).
pub fn discover(path: &Path) -> anyhow::Result<Vec<(PathBuf, Kind)>> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.is_file() {
        return Ok(vec![(path.to_path_buf(), kind_of(path))]);
    }
    let mut files = Vec::new();
    let mut found_folder = false;
    for (folder, dialect) in [(".github/workflows", Dialect::GitHub), (".ferry/workflows", Dialect::Ferry)] {
        let dir = path.join(folder);
        if dir.is_dir() {
            found_folder = true;
            files.extend(yaml_files(&dir)?.into_iter().map(|file| (file, Kind::Workflow(dialect))));
        }
    }
    if found_folder {
        for folder in [".github", ".ferry"] {
            collect_actions(&path.join(folder), &mut files);
        }
    } else {
        files.extend(yaml_files(path)?.into_iter().map(|file| {
            let kind = kind_of(&file);
            (file, kind)
        }));
    }
    for name in ["deploy.yml", "deploy.yaml"] {
        let file = path.join(".ferry").join(name);
        if file.is_file() {
            files.push((file, Kind::Deploy));
        }
    }
    Ok(files)
}

/// `action.yml` is an action, a file under `.ferry/workflows` a Ferry workflow, `deploy.yml`
/// outside a `workflows` folder a deploy file, anything else a GitHub workflow.
fn kind_of(path: &Path) -> Kind {
    let name = path.file_name().and_then(|name| name.to_str()).unwrap_or("");
    if name == "action.yml" || name == "action.yaml" {
        return Kind::Action;
    }
    let in_workflows = path.parent().is_some_and(|parent| parent.ends_with("workflows"));
    if (name == "deploy.yml" || name == "deploy.yaml") && !in_workflows {
        return Kind::Deploy;
    }
    let in_ferry = path.parent().is_some_and(|parent| {
        parent.ends_with(".ferry/workflows") || parent.ends_with(Path::new(".ferry").join("workflows"))
    });
    Kind::Workflow(if in_ferry { Dialect::Ferry } else { Dialect::GitHub })
}

fn yaml_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "yml" || ext == "yaml"))
        .collect();
    files.sort();
    Ok(files)
}

fn collect_actions(dir: &Path, out: &mut Vec<(PathBuf, Kind)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if path.ends_with("workflows") {
                continue;
            }
            collect_actions(&path, out);
        } else if kind_of(&path) == Kind::Action {
            out.push((path, Kind::Action));
        }
    }
}
