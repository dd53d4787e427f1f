//! `ferry up`: the whole loop on one machine with nothing set up. Starts the server (SQLite,
//! the embedded runner, the local agent), registers the bundled example service as project
//! `example` (a git repository of its own in the data directory), runs its pipeline, whose
//! successful run makes a release that goes to staging and is promoted to production through
//! a canary, and prints where to look: a one-time login link for the web UI and both
//! environments' addresses. Run again, it reuses the data directory and only reports.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use ferry_client::Client;
use ferry_proto::deployments::DeploymentState;
use ferry_proto::runs::TriggerRequest;

use crate::cli::{ServerArgs, UpArgs};

/// The example's files, built into the binary so `ferry up` works from any folder.
const EXAMPLE: &[(&str, &str)] = &[
    ("server.py", include_str!("../../../examples/service/server.py")),
    ("test_server.py", include_str!("../../../examples/service/test_server.py")),
    ("VERSION", include_str!("../../../examples/service/VERSION")),
    ("README.md", include_str!("../../../examples/service/README.md")),
    (".github/workflows/ci.yml", include_str!("../../../examples/service/.github/workflows/ci.yml")),
    (".ferry/deploy.yml", include_str!("../../../examples/service/.ferry/deploy.yml")),
];

/// The project's and the service's names.
const PROJECT: &str = "example";
const SERVICE: &str = "web";

/// How long the first delivery may take before `ferry up` stops waiting (the server goes on).
const DELIVERY_LIMIT: Duration = Duration::from_secs(600);

pub fn main(args: UpArgs) -> anyhow::Result<ExitCode> {
    let data_dir = args.data_dir.clone().unwrap_or_else(|| PathBuf::from("ferry-data"));
    let server_args = ServerArgs {
        data_dir: Some(data_dir.clone()),
        listen: args.listen,
        // Commits to the example are found within seconds.
        poll_interval: Some(args.poll_interval),
        ..ServerArgs::default()
    };
    crate::server::serve(
        server_args,
        Some(Box::new(move |url: String| {
            Box::pin(async move {
                if let Err(error) = deliver_example(&url, &data_dir).await {
                    eprintln!("ferry up: {error:#}");
                    eprintln!("ferry up: the server goes on at {url}; see `ferry deployments {PROJECT}` and its log");
                }
            })
        })),
    )
}

/// Registers the example, runs its pipeline when it has no release yet, follows its
/// deployments to production and prints where to look.
async fn deliver_example(url: &str, data_dir: &Path) -> anyhow::Result<()> {
    let token_file = data_dir.join("admin.token");
    let token = std::fs::read_to_string(&token_file).with_context(|| {
        format!("reading {} (the first admin token, written at the first start)", token_file.display())
    })?;
    let client = Client::new(url, token.trim())?;
    let repo = example_repository(data_dir)?;
    match client.create_project(PROJECT, &repo.display().to_string(), Some("main"), None).await {
        Ok(_) => println!("ferry up: registered the example service as project `{PROJECT}` ({})", repo.display()),
        // Registered by an earlier `ferry up` on this data directory.
        Err(ferry_client::ClientError::Http { status: 409, .. }) => {}
        Err(error) => return Err(error.into()),
    }
    if client.list_releases(PROJECT, Some(SERVICE)).await?.is_empty() {
        let request = TriggerRequest { workflow: Some("ci.yml".to_owned()), ..TriggerRequest::default() };
        let triggered = client.trigger(PROJECT, &request).await?;
        let run_ids: Vec<i64> = triggered.runs.iter().map(|run| run.id).collect();
        println!("ferry up: running the example's pipeline (run {})", join(&run_ids));
        follow_delivery(&client).await?;
    }
    let link = client.login_link().await?;
    let status = client.project_status(PROJECT, None).await?;
    println!();
    println!("Ferry is up at {url}");
    println!("  web UI (logged in, this link works once): {}", link.url);
    for environment in &status.environments {
        for service in &environment.services {
            let release =
                service.release.map_or_else(|| "no release yet".to_owned(), |number| format!("release {number}"));
            println!("  {:<11} {} ({release})", environment.name, service.url);
        }
    }
    println!();
    println!("Next: change the example and commit, and watch the change flow to production:");
    println!("  cd {} && sed -i 's/hello/ahoy/' .ferry/deploy.yml && git commit -qam ahoy", repo.display());
    println!("  ferry deployments {PROJECT} --server {url} --token \"$(cat {})\"", token_file.display());
    println!("Set `HEALTHY: \"no\"` in its deploy.yml and commit: the release fails its health check in staging");
    println!("and Ferry rolls it back there; production never gets it.");
    Ok(())
}

/// Waits for the example's release to reach production (or to stop on the way), printing
/// each deployment as it moves.
async fn follow_delivery(client: &Client) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut shown: Vec<(i64, String)> = Vec::new();
    loop {
        let deployments = client.list_deployments(PROJECT, Some(SERVICE), None).await?;
        for deployment in deployments.iter().rev() {
            let state = serde_json::to_value(deployment.outcome)?.as_str().unwrap_or_default().replace('_', " ");
            let line = (deployment.id, state.clone());
            if !shown.contains(&line) {
                let reason = deployment.reason.as_deref().map(|reason| format!(": {reason}")).unwrap_or_default();
                let release =
                    deployment.release.map_or_else(|| deployment.service.clone(), |release| release.to_string());
                println!(
                    "ferry up: {} of release {release} to {}: {state}{reason}",
                    deployment.strategy, deployment.environment
                );
                shown.push(line);
            }
        }
        if let Some(production) = deployments.iter().find(|deployment| deployment.environment == "production")
            && production.outcome.is_over()
        {
            return Ok(());
        }
        if let Some(stopped) = deployments
            .iter()
            .find(|deployment| deployment.outcome.is_over() && deployment.outcome != DeploymentState::Succeeded)
        {
            bail!(
                "the deployment to {} did not succeed: {}",
                stopped.environment,
                stopped.reason.as_deref().unwrap_or("no reason given")
            );
        }
        if started.elapsed() > DELIVERY_LIMIT {
            bail!("the example did not reach production within {} s", DELIVERY_LIMIT.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The example as a git repository of its own, `<data-dir>/example`, made once.
fn example_repository(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let repo = std::path::absolute(data_dir.join(PROJECT)).context("finding the data directory")?;
    if repo.join(".git").is_dir() {
        return Ok(repo);
    }
    for (path, text) in EXAMPLE {
        let file = repo.join(path);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    }
    let git = |args: &[&str]| -> anyhow::Result<()> {
        let output = std::process::Command::new("git")
            .args(["-c", "user.name=Ferry", "-c", "user.email=ferry@localhost", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(&repo)
            .output()
            .context("running git (install it: apt-get install git)")?;
        if !output.status.success() {
            bail!("git {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim());
        }
        Ok(())
    };
    git(&["init", "-q", "-b", "main"])?;
    git(&["add", "-A"])?;
    git(&["commit", "-q", "-m", "The example service"])?;
    Ok(repo)
}

fn join(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}
