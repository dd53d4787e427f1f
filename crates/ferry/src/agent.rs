//! `ferry agent`: takes its directory's lock, registers with the server when given an admin
//! token (keeping the agent token it gets in the directory), sets up logging, and runs
//! `ferry_agent::agent` until Ctrl-C or SIGTERM, leaving the replicas running.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use ferry_agent::agent::{AgentOptions, run_agent};
use ferry_agent::dir::{AgentDir, write_private};
use ferry_client::Client;
use ferry_proto::agent::{AgentHello, AgentRegistration};

use crate::cli::AgentArgs;

/// Agent tokens start so; any other token is taken for an admin's and used to register.
const AGENT_TOKEN_PREFIX: &str = "ferrya_";

pub fn main(args: AgentArgs) -> anyhow::Result<ExitCode> {
    crate::logging::init()?;
    let given = crate::client::token(&args.connect)?;
    let labels: Vec<String> =
        args.labels.iter().map(|label| label.trim().to_owned()).filter(|label| !label.is_empty()).collect();
    let name = args.name.clone().unwrap_or_else(|| crate::runner::host_name("ferry-agent"));
    // The lock first: a second agent on the directory must not register (and so replace the
    // first one's token) before it is refused.
    let dir = AgentDir::open(&args.dir)?;
    // One thread by default: the supervisor and every proxy on it, a request's client and
    // backend connections on the same thread (no hand-off between threads), and one malloc
    // arena instead of one per worker (BENCHMARKS.md, "Delivery" and "Reverse proxy").
    let mut builder = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(usize::from(args.threads));
        builder
    };
    let runtime = builder.enable_all().build().context("starting the async runtime")?;
    runtime.block_on(async {
        let token = agent_token(&dir, &args.connect.server, &given, &name, &labels).await?;
        let client = Client::new(&args.connect.server, &token)?;
        let hello = AgentHello {
            labels: (!labels.is_empty()).then(|| labels.clone()),
            hostname: crate::runner::host_name("localhost"),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            // Whether it can run `image:` services; the supervisor reaches the engine again
            // when one needs it, so an engine started later still serves.
            docker: ferry_agent::containers::Engine::connect().await.is_ok(),
        };
        let options = AgentOptions {
            dir,
            token,
            client: Some(client),
            hello,
            metrics_listen: args.metrics_listen,
            bind: args.bind,
        };
        run_agent(options, crate::server::shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// The agent token: the one given, or the one kept in the directory, or one got by
/// registering under `name` with the admin token given (kept then).
async fn agent_token(
    dir: &AgentDir,
    server: &str,
    given: &str,
    name: &str,
    labels: &[String],
) -> anyhow::Result<String> {
    if given.starts_with(AGENT_TOKEN_PREFIX) {
        return Ok(given.to_owned());
    }
    let kept_path = dir.token_path();
    if let Ok(kept) = std::fs::read_to_string(&kept_path)
        && kept.trim().starts_with(AGENT_TOKEN_PREFIX)
    {
        return Ok(kept.trim().to_owned());
    }
    let admin = Client::new(server, given)?;
    let registration = AgentRegistration { name: name.to_owned(), labels: labels.to_vec() };
    let mut wait = Duration::from_secs(1);
    let registered = loop {
        match admin.register_agent(&registration).await {
            Ok(registered) => break registered,
            Err(error) if error.is_transient() => {
                tracing::warn!(%error, "registering agent {name}: {error}; retrying in {} s", wait.as_secs());
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
            Err(error) => {
                return Err(error).with_context(|| {
                    format!("registering agent {name} (the token is not an agent token `ferrya_…`, so it must be an admin's)")
                });
            }
        }
    };
    tracing::info!(agent.id = registered.id, "registered as agent {} (id {})", registered.name, registered.id);
    write_private(&kept_path, registered.token.as_bytes())?;
    Ok(registered.token)
}
