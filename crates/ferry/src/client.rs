//! The client commands: `ferry project`, `secret`, `var`, `release`, `releases`, `trigger`,
//! `logs`, `runs`, `cancel`, `rerun`, `runners`, `runner revoke`, `slo` (`slo.rs`) and the others talk to a Ferry server
//! through `ferry-client`. Here: where the server and the token come from, and the short
//! commands; `trigger`, `logs`, the run commands (`runs`), the release commands (`releases`)
//! and the runner commands (`runners`) have modules of their own.

mod alerts;
mod deployments;
mod dora;
mod logs;
mod metrics;
mod releases;
mod runners;
mod runs;
mod slo;
mod trigger;

use std::future::Future;
use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use ferry_client::Client;
use serde_json::json;

use crate::cli::{ConnectArgs, ProjectAddArgs, ProjectCommand, ProjectSetArgs, SecretCommand, VarCommand};
use crate::render::{BOLD, GREEN};

pub use alerts::{alerts, silence};
pub use deployments::{deploy, list as deployments, plan, rollback, show as deployment, status};
pub use dora::{incident, incidents, main as dora};
pub use logs::main as logs;
pub use metrics::main as metrics;
pub use releases::{list as releases, release};
pub use runners::{list as runners, revoke as revoke_runner};
pub use runs::{approve, cancel, list as runs, rerun};
pub use slo::main as slo;
pub use trigger::main as trigger;

/// Where a server started in this directory writes its first admin token.
const LOCAL_ADMIN_TOKEN: &str = "ferry-data/admin.token";

/// The token to send: `--token` or `FERRY_TOKEN`, else the local server's admin token.
pub fn token(connect: &ConnectArgs) -> anyhow::Result<String> {
    if let Some(token) = &connect.token {
        return Ok(token.trim().to_owned());
    }
    let path = Path::new(LOCAL_ADMIN_TOKEN);
    if path.is_file() {
        let token = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return Ok(token.trim().to_owned());
    }
    bail!(
        "no token: pass --token or set FERRY_TOKEN (a server started in this directory writes its first admin token \
         to ./{LOCAL_ADMIN_TOKEN}, which is read when it exists)"
    )
}

/// A client for `--server` with the token of [`token`].
pub fn connect(connect: &ConnectArgs) -> anyhow::Result<Client> {
    Ok(Client::new(&connect.server, &token(connect)?)?)
}

/// Runs a client command's future on a runtime of its own.
pub fn block_on<T>(future: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(future)
}

pub fn project(command: ProjectCommand) -> anyhow::Result<ExitCode> {
    match command {
        ProjectCommand::Add(args) => project_add(args),
        ProjectCommand::Set(args) => project_set(args),
    }
}

fn project_set(args: ProjectSetArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connect)?;
    let project = block_on(async { Ok(client.set_require_approval(&args.name, args.require_approval).await?) })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&project).context("serializing the project")?);
    } else {
        let what = if args.require_approval { "wait for a developer's approval" } else { "start at once" };
        writeln!(anstream::stdout(), "project {}: runs of pull requests from forks {what}", args.name)
            .context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn project_add(args: ProjectAddArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connect)?;
    // The server and its runners run elsewhere: a local path only means something absolute.
    let repo = match Path::new(&args.repo).canonicalize() {
        Ok(path) if path.is_dir() => path.display().to_string(),
        _ => args.repo.clone(),
    };
    let project = block_on(async {
        let project =
            client.create_project(&args.name, &repo, args.branch.as_deref(), args.webhook_secret.as_deref()).await?;
        if args.require_approval {
            return Ok(client.set_require_approval(&args.name, true).await?);
        }
        Ok(project)
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&project).context("serializing the project")?);
    } else {
        let branch = project["branch"].as_str().unwrap_or("main");
        let mut stdout = anstream::stdout();
        writeln!(stdout, "{GREEN}project {}{GREEN:#} added ({repo}, branch {branch})", args.name)
            .context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn secret(command: SecretCommand) -> anyhow::Result<ExitCode> {
    let SecretCommand::Set(args) = command;
    let client = connect(&args.connect)?;
    let value = match args.value {
        Some(value) => value,
        None => read_value(&args.key)?,
    };
    let environment = args.environment.as_deref();
    block_on(async { Ok(client.set_secret_in(&args.project, environment, &args.key, &value).await?) })?;
    report_set(args.json, "secret", &args.project, environment, &args.key)
}

pub fn var(command: VarCommand) -> anyhow::Result<ExitCode> {
    match command {
        VarCommand::Set(args) => {
            let client = connect(&args.connect)?;
            let environment = args.environment.as_deref();
            block_on(async { Ok(client.set_var_in(&args.project, environment, &args.key, &args.value).await?) })?;
            report_set(args.json, "var", &args.project, environment, &args.key)
        }
        VarCommand::List(args) => {
            let client = connect(&args.connect)?;
            let vars = block_on(async { Ok(client.list_vars(&args.project, args.environment.as_deref()).await?) })?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&vars).context("serializing the variables")?);
                return Ok(ExitCode::SUCCESS);
            }
            let mut stdout = anstream::stdout();
            for var in &vars {
                let name = var.get("name").and_then(serde_json::Value::as_str).unwrap_or_default();
                let value = var.get("value").and_then(serde_json::Value::as_str).unwrap_or_default();
                writeln!(stdout, "{BOLD}{name}{BOLD:#}={value}").context("writing to stdout")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        VarCommand::Delete(args) => {
            let client = connect(&args.connect)?;
            let environment = args.environment.as_deref();
            block_on(async { Ok(client.delete_var(&args.project, environment, &args.key).await?) })?;
            writeln!(
                anstream::stdout(),
                "{BOLD}var {}{BOLD:#} deleted from {}",
                args.key,
                scope_words(&args.project, environment)
            )
            .context("writing to stdout")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `project web` or `environment staging of project web`.
fn scope_words(project: &str, environment: Option<&str>) -> String {
    match environment {
        Some(environment) => format!("environment {environment} of project {project}"),
        None => format!("project {project}"),
    }
}

fn report_set(json: bool, kind: &str, project: &str, environment: Option<&str>, key: &str) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", json!({"project": project, "environment": environment, kind: key}));
    } else {
        writeln!(anstream::stdout(), "{BOLD}{kind} {key}{BOLD:#} set in {}", scope_words(project, environment))
            .context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A secret's value from standard input: one line when a person types it, else everything,
/// without the final line break.
fn read_value(key: &str) -> anyhow::Result<String> {
    let mut stdin = std::io::stdin();
    let mut value = String::new();
    if stdin.is_terminal() {
        eprint!("value of {key}: ");
        stdin.read_line(&mut value).context("reading the value from standard input")?;
    } else {
        stdin.read_to_string(&mut value).context("reading the value from standard input")?;
    }
    let value = value.strip_suffix('\n').map_or(value.as_str(), |value| value.strip_suffix('\r').unwrap_or(value));
    Ok(value.to_owned())
}
