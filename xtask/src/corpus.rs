//! `cargo xtask corpus-report [CORPUS]`: for every real-world workflow of the corpus, whether
//! each of its jobs uses only what Ferry can run (given that the actions it names can be
//! fetched), and the share of jobs that can, against issue 14's target of 90 %.
//!
//! A job is judged by what it asks of the host: its `runs-on` (a macOS or Windows host is a
//! GitHub-hosted service Ferry's Linux runners cannot stand in for), the actions its steps
//! use, a reusable workflow it calls, `container:` and `services:` (which need a Docker
//! Engine: Ferry runs them where one is reachable). An action is read where the corpus holds
//! it: local actions (`./path`) from `actions/`, remote ones from the bare repositories of
//! `action-repos/` at the ref the step names (resolved with git); any other remote action is
//! counted as runnable when its `runs.using` is, which is only known once it is fetched, and is
//! listed as such.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use ferry_workflow::model::{Job, Runs, RunsOn, Step, StepKind};
use ferry_workflow::{Dialect, parse_action, parse_workflow};

/// The share of jobs (that need no GitHub-only service) that must be runnable.
const TARGET: f64 = 0.90;

/// The action runtimes Ferry's runner executes (`runs.using`).
const RUNTIMES: &[&str] = &["composite", "node12", "node16", "node20", "node24", "docker"];

/// Actions that only do something against GitHub's own services, with what they need.
const GITHUB_ONLY: &[(&str, &str)] = &[
    ("github/codeql-action", "GitHub code scanning"),
    ("actions/attest-build-provenance", "GitHub artifact attestations"),
    ("actions/attest", "GitHub artifact attestations"),
    ("actions/deploy-pages", "GitHub Pages"),
    ("actions/configure-pages", "GitHub Pages"),
    ("actions/create-github-app-token", "a GitHub App"),
    ("actions/dependency-review-action", "GitHub's dependency graph"),
];

/// What one job needs.
#[derive(Debug, Default)]
struct Verdict {
    /// Why it cannot run anywhere but on GitHub (a hosted macOS runner, a GitHub service).
    github_only: Option<String>,
    /// Why Ferry cannot run it (an action runtime it does not have, an unreadable action).
    blocked: Option<String>,
    /// What it needs from the runner: `docker`, remote actions fetched at run time.
    needs: Vec<String>,
}

pub fn main(corpus: Option<String>) -> std::process::ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace root");
    let corpus = corpus
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("FERRY_CORPUS").map(PathBuf::from))
        .unwrap_or_else(|| root.join("../shared/corpus"));
    let Ok(manifest) = std::fs::read_to_string(corpus.join("workflows/MANIFEST.tsv")) else {
        eprintln!("corpus-report: no corpus at {} (give its folder, or set FERRY_CORPUS)", corpus.display());
        return std::process::ExitCode::from(2);
    };
    let corpus = Corpus { dir: corpus.clone(), local_actions: local_actions(&corpus) };
    let (mut n_jobs, mut n_github_only, mut n_runnable) = (0usize, 0usize, 0usize);
    let mut fetched: BTreeMap<String, usize> = BTreeMap::new();
    for line in manifest.lines().skip(1) {
        let mut fields = line.split('\t');
        let (Some(file), Some(repository)) = (fields.next(), fields.next()) else { continue };
        let Ok(src) = std::fs::read_to_string(corpus.dir.join("workflows").join(file)) else {
            println!("{file}: unreadable");
            continue;
        };
        let (workflow, _) = parse_workflow(&src, Dialect::GitHub);
        let Some(workflow) = workflow else {
            println!("{file}: does not parse");
            continue;
        };
        let mut rows = Vec::new();
        let (mut runnable, mut counted) = (0, 0);
        for (job_id, job) in &workflow.jobs {
            let verdict = corpus.job(repository, job);
            n_jobs += 1;
            for need in &verdict.needs {
                if let Some(action) = need.strip_prefix("fetch ") {
                    *fetched.entry(action.to_owned()).or_default() += 1;
                }
            }
            if let Some(reason) = &verdict.github_only {
                n_github_only += 1;
                rows.push(format!("    {job_id}: GitHub only ({reason})"));
                continue;
            }
            counted += 1;
            match &verdict.blocked {
                Some(reason) => rows.push(format!("    {job_id}: CANNOT RUN: {reason}")),
                None => {
                    runnable += 1;
                    let docker: Vec<&String> =
                        verdict.needs.iter().filter(|need| !need.starts_with("fetch ")).collect();
                    if !docker.is_empty() {
                        rows.push(format!(
                            "    {job_id}: runs, needs {}",
                            docker.iter().map(|need| need.as_str()).collect::<Vec<_>>().join(", ")
                        ));
                    }
                }
            }
        }
        n_runnable += runnable;
        println!("{file}: {runnable}/{counted} jobs runnable");
        for row in rows {
            println!("{row}");
        }
    }
    let counted = n_jobs - n_github_only;
    let share = if counted == 0 { 0.0 } else { n_runnable as f64 / counted as f64 };
    println!();
    println!("remote actions fetched at run time (kind known once fetched), by jobs using them:");
    for (action, n) in &fetched {
        println!("    {action}: {n}");
    }
    println!();
    println!(
        "{n_runnable} of {counted} jobs that need no GitHub-only service can run on Ferry ({:.1} %, target {:.0} %); \
         {n_github_only} of {n_jobs} jobs need GitHub itself",
        share * 100.0,
        TARGET * 100.0
    );
    if share >= TARGET { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE }
}

struct Corpus {
    dir: PathBuf,
    /// `repository` + `path of the action's folder` → the action file in the corpus.
    local_actions: BTreeMap<(String, String), PathBuf>,
}

impl Corpus {
    fn job(&self, repository: &str, job: &Job) -> Verdict {
        let mut verdict = Verdict::default();
        if let Some(host) = github_hosted_only(job) {
            verdict.github_only = Some(host);
        }
        if job.container.is_some() || job.services.is_some() {
            verdict.needs.push("docker".to_owned());
        }
        if let Some(uses) = &job.uses {
            let uses = uses.value.as_str();
            if let Some(path) = uses.strip_prefix("./").or_else(|| uses.strip_prefix("$/")) {
                // A local reusable workflow: the corpus names it `<owner>__<repo>__<file>`.
                let file = path.rsplit('/').next().unwrap_or(path);
                let name = format!("{}__{file}", repository.replace('/', "__"));
                if !self.dir.join("workflows").join(&name).is_file() {
                    verdict.needs.push(format!("fetch {repository}/{path} (reusable, not in the corpus)"));
                }
            } else {
                verdict.needs.push(format!("fetch {uses} (reusable)"));
            }
        }
        self.steps(repository, &job.steps, &mut verdict, 0);
        verdict
    }

    fn steps(&self, repository: &str, steps: &[Step], verdict: &mut Verdict, depth: usize) {
        for step in steps {
            match &step.kind {
                StepKind::Uses { uses, .. } => self.action(repository, &uses.value, verdict, depth),
                StepKind::Parallel(inner) => self.steps(repository, inner, verdict, depth),
                _ => {}
            }
        }
    }

    fn action(&self, repository: &str, uses: &str, verdict: &mut Verdict, depth: usize) {
        if depth > 10 {
            verdict.blocked = Some(format!("`{uses}`: composite actions nested deeper than 10"));
            return;
        }
        if uses.starts_with("docker://") {
            verdict.needs.push("docker".to_owned());
            return;
        }
        if let Some(path) = uses.strip_prefix("./").or_else(|| uses.strip_prefix("$/")) {
            let key = (repository.to_owned(), path.trim_end_matches('/').to_owned());
            match self.local_actions.get(&key) {
                Some(file) => match std::fs::read_to_string(file) {
                    Ok(src) => self.runs(repository, uses, &src, verdict, depth),
                    Err(error) => verdict.blocked = Some(format!("`{uses}`: {error}")),
                },
                // The repository's own action, not kept in the corpus: it is read from the
                // job's checkout at run time.
                None => verdict.needs.push(format!("fetch {repository}/{path} (local action, not in the corpus)")),
            }
            return;
        }
        let name = uses.split('@').next().unwrap_or(uses).to_ascii_lowercase();
        if let Some((_, service)) =
            GITHUB_ONLY.iter().find(|(prefix, _)| name == *prefix || name.starts_with(&format!("{prefix}/")))
        {
            verdict.github_only.get_or_insert_with(|| format!("`{uses}` needs {service}"));
            return;
        }
        if [
            "actions/checkout",
            "actions/upload-artifact",
            "actions/download-artifact",
            "actions/cache",
            "actions/cache/restore",
            "actions/cache/save",
        ]
        .contains(&name.as_str())
        {
            return;
        }
        let Some((name, git_ref)) = uses.split_once('@') else {
            verdict.blocked = Some(format!("`{uses}` names no version"));
            return;
        };
        let mut parts = name.splitn(3, '/');
        let (Some(owner), Some(repo)) = (parts.next(), parts.next()) else {
            verdict.blocked = Some(format!("`{uses}` is not owner/repo@ref"));
            return;
        };
        let sub = parts.next().unwrap_or("");
        let bare = self.dir.join("action-repos").join(owner).join(repo);
        if !bare.is_dir() {
            verdict.needs.push(format!("fetch {owner}/{repo}"));
            return;
        }
        let file = ["action.yml", "action.yaml"]
            .iter()
            .map(|file| if sub.is_empty() { (*file).to_owned() } else { format!("{sub}/{file}") })
            .find_map(|path| git(&bare, &["show", &format!("{git_ref}:{path}")]));
        match file {
            Some(src) => self.runs(&format!("{owner}/{repo}"), uses, &src, verdict, depth),
            // Another version than the corpus keeps (its commits are not upstream's).
            None => verdict.needs.push(format!("fetch {owner}/{repo}@{git_ref} (a version the corpus lacks)")),
        }
    }

    /// Judges an action by its `runs:`; a composite action by its own steps too.
    fn runs(&self, repository: &str, uses: &str, src: &str, verdict: &mut Verdict, depth: usize) {
        let (action, _) = parse_action(src);
        let Some(runs) = action.and_then(|action| action.runs) else {
            verdict.blocked = Some(format!("`{uses}`: its action.yml has no usable `runs:`"));
            return;
        };
        match runs {
            Runs::Composite { steps } => self.steps(repository, &steps, verdict, depth + 1),
            Runs::Node { using, .. } if !RUNTIMES.contains(&using.value.as_str()) => {
                verdict.blocked = Some(format!("`{uses}` runs on `{}`", using.value));
            }
            Runs::Node { .. } => {}
            Runs::Docker { .. } => verdict.needs.push("docker".to_owned()),
        }
    }
}

/// `Some(why)` when every host the job may run on is a GitHub-hosted macOS or Windows one.
fn github_hosted_only(job: &Job) -> Option<String> {
    let labels: Vec<String> = match &job.runs_on {
        Some(RunsOn::Labels(labels)) | Some(RunsOn::Group { labels, .. }) => {
            labels.iter().map(|label| label.value.to_ascii_lowercase()).collect()
        }
        None => return None,
    };
    let foreign = |text: &str| text.contains("macos") || text.contains("windows");
    if labels.iter().any(|label| label.contains("${{")) {
        // An expression (usually `matrix.os`): GitHub-only when the matrix names only
        // foreign hosts.
        let matrix = serde_json::to_string(&job.strategy).unwrap_or_default().to_ascii_lowercase();
        let names_linux = ["ubuntu", "linux", "self-hosted"].iter().any(|word| matrix.contains(word));
        return (!names_linux && foreign(&matrix)).then(|| "a matrix of macOS/Windows hosts".to_owned());
    }
    labels.iter().find(|label| foreign(label)).map(|label| format!("runs-on `{label}`"))
}

/// Local actions of the corpus by repository and folder, from `actions/MANIFEST.tsv`.
fn local_actions(corpus: &Path) -> BTreeMap<(String, String), PathBuf> {
    let manifest = std::fs::read_to_string(corpus.join("actions/MANIFEST.tsv")).unwrap_or_default();
    manifest
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let (file, repository, path) = (fields.next()?, fields.next()?, fields.next()?);
            let folder = path.rsplit_once('/').map_or("", |(folder, _)| folder);
            Some(((repository.to_owned(), folder.to_owned()), corpus.join("actions").join(file)))
        })
        .collect()
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}
