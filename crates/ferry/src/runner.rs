//! `ferry runner`: registers with the server when given an admin token, sets up logging, and
//! runs `ferry_runner::agent` until Ctrl-C or SIGTERM.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use ferry_client::Client;
use ferry_proto::runner::RunnerRegistration;
use ferry_runner::agent::{AgentOptions, run_agent};
use ferry_runner::docker::DockerHost;
use ferry_runner::isolation::Isolation;

use crate::cli::RunnerArgs;

/// Runner tokens start so; any other token is taken for an admin's and used to register.
const RUNNER_TOKEN_PREFIX: &str = "ferryr_";

pub fn main(args: RunnerArgs) -> anyhow::Result<ExitCode> {
    crate::logging::init()?;
    ferry_runner::isolation::check_pass_env(&args.pass_env)?;
    ferry_runner::isolation::protect_this_process();
    let token = crate::client::token(&args.connect)?;
    let labels = labels(&args.labels);
    let name = args.name.clone().unwrap_or_else(|| host_name("ferry-runner"));
    let slots = args.slots.map_or_else(|| std::thread::available_parallelism().map_or(2, usize::from), usize::from);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(async {
        // The token given, an admin's or the runner's, is masked in every job's log.
        let mut credentials = vec![token.clone()];
        let token = if token.starts_with(RUNNER_TOKEN_PREFIX) {
            token
        } else {
            let admin = Client::new(&args.connect.server, &token)?;
            let projects = (!args.projects.is_empty()).then(|| args.projects.clone());
            let registration = RunnerRegistration { name: name.clone(), labels: labels.clone(), projects };
            let registered = admin.register_runner(&registration).await.with_context(|| {
                format!(
                    "registering runner {name} (the token is not a runner token `ferryr_…`, so it must be an admin's)"
                )
            })?;
            tracing::info!(
                runner.id = registered.id,
                "registered as runner {} (id {})",
                registered.name,
                registered.id
            );
            credentials.push(registered.token.clone());
            registered.token
        };
        let client = Client::new(&args.connect.server, &token)?;
        let docker = docker_host(&name).await;
        let options = AgentOptions {
            labels,
            slots,
            work_dir: args.work_dir.clone(),
            events: None,
            repositories: None,
            // A runner of its own is isolated by where it runs (its user, container or host);
            // its steps get a cleared environment.
            isolation: Isolation { pass_env: args.pass_env.clone().into(), confinement: None },
            credentials,
            actions_url: args
                .actions_url
                .clone()
                .unwrap_or_else(|| ferry_runner::actions::DEFAULT_ACTIONS_URL.to_owned()),
            docker,
        };
        run_agent(client, options, crate::server::shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// The container engine at `DOCKER_HOST` or `/var/run/docker.sock`, cleared of what an
/// earlier run of runner `name` left; without one the runner lacks the `docker` capability
/// and says why.
pub(crate) async fn docker_host(name: &str) -> Option<Arc<DockerHost>> {
    let docker_host = std::env::var("DOCKER_HOST").ok();
    match DockerHost::start(docker_host.as_deref(), name).await {
        Ok(host) => {
            tracing::info!(
                endpoint = host.engine.endpoint(),
                "container engine at {}: this runner runs container jobs and services (capability `docker`)",
                host.engine.endpoint()
            );
            Some(Arc::new(host))
        }
        Err(error) => {
            tracing::info!(%error, "no `docker` capability: {error}");
            None
        }
    }
}

/// `self-hosted`, `linux` and the architecture as GitHub names them, then `extra`, each once
/// (ignoring case, as matching does).
fn labels(extra: &[String]) -> Vec<String> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => other,
    };
    let mut labels: Vec<String> = Vec::new();
    for label in ["self-hosted", "linux", arch].into_iter().chain(extra.iter().map(String::as_str)) {
        let label = label.trim();
        if !label.is_empty() && !labels.iter().any(|known| known.eq_ignore_ascii_case(label)) {
            labels.push(label.to_owned());
        }
    }
    labels
}

/// This host's name, made a valid runner or agent name (letters, digits, `.`, `_`, `-`);
/// `fallback` when it has none.
pub(crate) fn host_name(fallback: &str) -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let name: String = name
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' })
        .take(100)
        .collect();
    if name.is_empty() { fallback.to_owned() } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_start_with_githubs_self_hosted_ones_and_appear_once() {
        let labels = labels(&["gpu".to_owned(), "Linux".to_owned(), " ".to_owned(), "GPU".to_owned()]);
        assert_eq!(labels[..2], ["self-hosted", "linux"]);
        assert_eq!(labels[3..], ["gpu"]);
        assert_eq!(labels.len(), 4);
    }
}
