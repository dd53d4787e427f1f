//! The run's contexts: the repository and its HEAD, the `github` context and event payload,
//! `inputs`, `vars`, `secrets`; and how a ready job's `if:`, matrix and name are evaluated.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use ferry_engine::Scope;
use ferry_model::JobStatus;
use ferry_workflow::model::Workflow;
use serde_json::{Map, Value, json};

use crate::cli::RunArgs;

/// The git checkout being run.
pub struct Repo {
    /// The top of the work tree.
    pub root: PathBuf,
    pub sha: String,
    /// `refs/heads/<branch>`, or the commit itself when HEAD is detached.
    pub git_ref: String,
    /// `owner/name`, from the `origin` remote when it looks like a forge URL.
    pub name: String,
    pub actor: String,
}

impl Repo {
    pub async fn open(dir: &Path) -> anyhow::Result<Repo> {
        let root = git(dir, &["rev-parse", "--show-toplevel"]).with_context(|| {
            format!("{} is not inside a git checkout; run `git init` and commit first", dir.display())
        })?;
        let root = PathBuf::from(root).canonicalize().context("resolving the repository root")?;
        let head = ferry_runner::workspace::head_commit(&root)
            .await
            .with_context(|| format!("reading HEAD of {}", root.display()))?;
        let (sha, branch) = (head.sha, head.branch);
        let git_ref = branch.map_or_else(|| sha.clone(), |branch| format!("refs/heads/{branch}"));
        let name = git(&root, &["remote", "get-url", "origin"])
            .ok()
            .and_then(|url| repository_from_url(&url))
            .unwrap_or_else(|| {
                let dir_name = root
                    .file_name()
                    .map_or_else(|| "repository".to_owned(), |name| name.to_string_lossy().into_owned());
                format!("local/{dir_name}")
            });
        let actor = git(&root, &["config", "user.name"])
            .ok()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "ferry".to_owned());
        Ok(Repo { root, sha, git_ref, name, actor })
    }
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stderr(std::process::Stdio::null())
        .output()
        .context("running git (is it installed?)")?;
    if !out.status.success() {
        bail!("git {} failed", args.join(" "));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `owner/name` of a remote URL such as `git@github.com:owner/name.git` or
/// `https://gitea.example/owner/name`.
fn repository_from_url(url: &str) -> Option<String> {
    let path = url.trim_end_matches('/').trim_end_matches(".git");
    let path = path.rsplit_once(':').map_or(path, |(_, rest)| rest);
    let mut parts = path.rsplit('/');
    let name = parts.next()?;
    let owner = parts.next()?;
    (!owner.is_empty() && !name.is_empty()).then(|| format!("{owner}/{name}"))
}

/// Contexts shared by every job of one workflow run.
pub struct RunContexts {
    pub github: Map<String, Value>,
    pub inputs: Map<String, Value>,
    pub vars: Map<String, Value>,
    pub secrets: Map<String, Value>,
    pub action_dirs: Vec<PathBuf>,
}

impl RunContexts {
    pub fn build(
        args: &RunArgs,
        repo: &Repo,
        file: &str,
        workflow: &Workflow,
        scratch: &Path,
    ) -> anyhow::Result<RunContexts> {
        let inputs = inputs(args, workflow)?;
        let event = match &args.event_path {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                serde_json::from_str::<Value>(&text).with_context(|| {
                    format!("{} is not valid JSON; --event-path takes the event payload", path.display())
                })?
            }
            None => synthesized_event(&args.event, repo, &inputs),
        };
        let event_path = scratch.join("event.json");
        std::fs::write(&event_path, serde_json::to_vec_pretty(&event).context("serializing the event")?)
            .with_context(|| format!("writing {}", event_path.display()))?;
        let run_id =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis());
        let workflow_name = workflow.name.as_ref().map_or_else(|| file.to_owned(), |name| name.value.clone());
        let github = ferry_engine::github_context(&ferry_engine::GithubFacts {
            repository: &repo.name,
            actor: &repo.actor,
            event_name: &args.event,
            event: &event,
            event_path: &event_path.display().to_string(),
            git_ref: &repo.git_ref,
            sha: &repo.sha,
            workflow_name: &workflow_name,
            workflow_file: file,
            run_id: &run_id.to_string(),
            run_number: "1",
            run_attempt: "1",
            server_url: "https://github.com",
            forge: "",
            forge_url: "",
            retention_days: "90",
        });
        let pairs = |list: &[(String, String)]| -> Map<String, Value> {
            list.iter().map(|(key, value)| (key.clone(), Value::String(value.clone()))).collect()
        };
        let mut secrets = pairs(&args.secrets);
        secrets.entry("GITHUB_TOKEN").or_insert_with(|| Value::String(String::new()));
        let mut action_dirs = vec![repo.root.join(".ferry").join("actions")];
        if let Some(dir) = std::env::var_os("FERRY_ACTIONS_DIR") {
            action_dirs.extend(std::env::split_paths(&dir));
        }
        Ok(RunContexts { github, inputs, vars: pairs(&args.vars), secrets, action_dirs })
    }

    /// The run's contexts by name (`github`, `inputs`, `vars`, `secrets`), as job-level
    /// expressions see them.
    pub fn values(&self) -> Map<String, Value> {
        let mut values = Map::new();
        values.insert("github".to_owned(), Value::Object(self.github.clone()));
        values.insert("inputs".to_owned(), Value::Object(self.inputs.clone()));
        values.insert("vars".to_owned(), Value::Object(self.vars.clone()));
        values.insert("secrets".to_owned(), Value::Object(self.secrets.clone()));
        values
    }
}

/// Every fixed context of one started job instance: the run's contexts as the job sees them
/// (`values`, from `ferry_engine::reusable::job_values`) with the job's own.
pub fn job_contexts(
    values: Map<String, Value>,
    job_id: &str,
    matrix: &Map<String, Value>,
    needs: &Map<String, Value>,
    workspace: &Path,
    strategy: &Value,
) -> Map<String, Value> {
    let mut contexts = Scope::new(&values, needs, JobStatus::Success).values;
    let workspace = workspace.display().to_string();
    if let Some(github) = contexts.get_mut("github").and_then(Value::as_object_mut) {
        github.insert("workspace".to_owned(), Value::String(workspace));
        github.insert("job".to_owned(), Value::String(job_id.to_owned()));
    }
    contexts.insert("matrix".to_owned(), Value::Object(matrix.clone()));
    contexts.insert("strategy".to_owned(), strategy.clone());
    contexts
}

/// `workflow_dispatch` inputs: the defaults, overridden by `--input`, typed as declared.
fn inputs(args: &RunArgs, workflow: &Workflow) -> anyhow::Result<Map<String, Value>> {
    ferry_engine::dispatch_inputs(workflow, &args.inputs, args.event == "workflow_dispatch")
        .map_err(|error| anyhow::anyhow!("{error}"))
}

fn synthesized_event(event: &str, repo: &Repo, inputs: &Map<String, Value>) -> Value {
    let (owner, name) = repo.name.split_once('/').unwrap_or(("local", repo.name.as_str()));
    let repository = json!({
        "name": name, "full_name": repo.name, "owner": {"login": owner, "name": owner},
        "default_branch": repo.git_ref.strip_prefix("refs/heads/").unwrap_or("main"),
    });
    let sender = json!({"login": repo.actor});
    match event {
        "push" => json!({
            "ref": repo.git_ref, "before": "0000000000000000000000000000000000000000", "after": repo.sha,
            "repository": repository, "sender": sender, "pusher": {"name": repo.actor},
            "head_commit": {"id": repo.sha}, "commits": [{"id": repo.sha}],
        }),
        "pull_request" | "pull_request_target" => json!({
            "action": "opened", "number": 1, "repository": repository, "sender": sender,
            "pull_request": {
                "number": 1,
                "head": {"ref": repo.git_ref.strip_prefix("refs/heads/").unwrap_or(&repo.git_ref), "sha": repo.sha},
                "base": {"ref": "main", "sha": repo.sha},
            },
        }),
        "workflow_dispatch" => json!({
            "ref": repo.git_ref, "inputs": ferry_engine::event_inputs(inputs), "repository": repository, "sender": sender,
        }),
        _ => json!({"repository": repository, "sender": sender}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_come_from_remote_urls() {
        let cases = [
            ("git@github.com:ferry-ci/ferry.git", Some("ferry-ci/ferry")),
            ("https://github.com/ferry-ci/ferry", Some("ferry-ci/ferry")),
            ("https://gitea.example/org/repo.git/", Some("org/repo")),
            ("repo", None),
        ];
        for (url, want) in cases {
            assert_eq!(repository_from_url(url).as_deref(), want, "{url}");
        }
    }
}
