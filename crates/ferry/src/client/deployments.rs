//! The deployment commands: `ferry deploy` (and `--wait` until it is over), `ferry
//! deployments`, `ferry rollback`, `ferry approve`, `ferry status`, `ferry plan`
//! and `ferry logs --project P --service S --env E`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use ferry_client::Client;
use ferry_proto::deployments::{
    DeploymentRequest, DeploymentState, DeploymentView, Measurement, MeasurementPhase, QueryAnalysis, QueryPhase,
    RollbackRequest,
};
use serde_json::json;

use super::runners::{ago, now_ms};
use super::{block_on, connect};
use crate::cli::{ConnectArgs, DeployArgs, DeploymentArgs, DeploymentsArgs, PlanArgs, RollbackArgs, StatusArgs};
use crate::render::{BOLD, DIM, GREEN, RED, YELLOW};

/// How long one read of `--follow` waits on the server for a line.
const FOLLOW_WAIT_MS: u64 = 25_000;

/// The JSON `ferry deploy --json` prints: the fields the issue fixes, nothing else.
fn outcome_json(deployment: &DeploymentView) -> serde_json::Value {
    json!({
        "id": deployment.id,
        "project": deployment.project,
        "service": deployment.service,
        "environment": deployment.environment,
        "release": deployment.release,
        "strategy": deployment.strategy,
        "outcome": deployment.outcome,
        "reason": deployment.reason,
    })
}

fn state_word(state: DeploymentState) -> String {
    serde_json::to_value(state).ok().and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_default()
}

/// One line about a deployment, coloured by its state.
fn line(deployment: &DeploymentView) -> String {
    let style = match deployment.outcome {
        DeploymentState::Succeeded => GREEN,
        DeploymentState::RolledBack | DeploymentState::Failed => RED,
        DeploymentState::Cancelled => DIM,
        DeploymentState::Queued | DeploymentState::Waiting | DeploymentState::InProgress => YELLOW,
    };
    let rollback = if deployment.is_rollback { " (rollback)" } else { "" };
    let reason = deployment.reason.as_deref().map(|reason| format!(": {reason}")).unwrap_or_default();
    // A workflow job's deployment (`environment:`) has no release: its job and commit say what went.
    let what = match (deployment.release, deployment.run) {
        (Some(release), _) => format!("{} release {release}", deployment.service),
        (None, Some(run)) => format!("job {} of run {run}", deployment.service),
        (None, None) => format!("job {}", deployment.service),
    };
    format!(
        "{BOLD}#{}{BOLD:#} {what} → {} {style}{}{style:#}{rollback} {DIM}{} by {}, {}{DIM:#}{reason}",
        deployment.id,
        deployment.environment,
        state_word(deployment.outcome),
        deployment.strategy,
        deployment.triggered_by,
        ago(now_ms() - deployment.created_at),
    )
}

/// A query of `analysis.queries` in one line: its name, phase and counts.
fn query_line(query: &QueryAnalysis) -> String {
    let style = match query.phase {
        QueryPhase::Running => YELLOW,
        QueryPhase::Successful => GREEN,
        QueryPhase::Failed | QueryPhase::Inconclusive => RED,
    };
    let phase = serde_json::to_value(query.phase).ok().and_then(|value| value.as_str().map(str::to_owned));
    format!(
        "query {} {style}{}{style:#} {DIM}{} successful, {} failed, {} inconclusive{DIM:#}",
        query.name,
        phase.unwrap_or_default(),
        query.successes,
        query.failures,
        query.inconclusives
    )
}

/// One measurement: its phase and why.
fn measurement_line(query: &str, measurement: &Measurement) -> String {
    let (style, word) = match measurement.phase {
        MeasurementPhase::Successful => (GREEN, "successful"),
        MeasurementPhase::Failed => (RED, "failed"),
        MeasurementPhase::Inconclusive => (YELLOW, "inconclusive"),
    };
    format!("{query}: {style}{word}{style:#} {}", measurement.message)
}

/// Follows deployment `id`'s events until it is over (and again, should the stream break
/// before); with `steps`, prints each step of the strategy as the agent reports it.
async fn wait_over(client: &Client, mut deployment: DeploymentView, steps: bool) -> anyhow::Result<DeploymentView> {
    let mut shown = 0;
    // Measurements shown per query, by their times (only the latest are kept).
    let mut measured: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    while !deployment.outcome.is_over() {
        let mut events = client.follow_deployment(deployment.id).await?;
        loop {
            match events.next().await {
                Ok(Some(next)) => deployment = next,
                Ok(None) => break,
                Err(error) if error.is_transient() => {
                    // The server restarts, say: follow it again once it may be back.
                    tracing::debug!(%error, "following deployment {}: {error}; again", deployment.id);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
                Err(error) => return Err(error.into()),
            }
            if steps {
                let mut stdout = anstream::stdout();
                for step in deployment.steps.iter().skip(shown) {
                    writeln!(stdout, "  {DIM}· {}{DIM:#}", step.name).context("writing to stdout")?;
                }
                for query in deployment.analysis.iter().flat_map(|analysis| &analysis.queries) {
                    let last = measured.get(&query.name).copied().unwrap_or(i64::MIN);
                    for measurement in query.measurements.iter().filter(|measurement| measurement.at > last) {
                        writeln!(stdout, "  {DIM}·{DIM:#} {}", measurement_line(&query.name, measurement))
                            .context("writing to stdout")?;
                        measured.insert(query.name.clone(), measurement.at);
                    }
                }
            }
            shown = shown.max(deployment.steps.len());
        }
    }
    Ok(deployment)
}

/// Prints a deployment as `deploy` and `rollback` do; the exit status says whether it went
/// (or, not waited for, was accepted).
fn finish(deployment: &DeploymentView, as_json: bool) -> anyhow::Result<ExitCode> {
    if as_json {
        println!("{}", serde_json::to_string_pretty(&outcome_json(deployment)).context("serializing")?);
    } else {
        writeln!(anstream::stdout(), "{}", line(deployment)).context("writing to stdout")?;
    }
    let ok = matches!(
        deployment.outcome,
        DeploymentState::Succeeded | DeploymentState::Queued | DeploymentState::Waiting | DeploymentState::InProgress
    );
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

pub fn deploy(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connect)?;
    let deployment = block_on(async {
        let request = DeploymentRequest {
            service: args.service.clone(),
            environment: args.environment.clone(),
            release: args.release,
        };
        let deployment = client.deploy(&args.project, &request).await?;
        if args.wait { wait_over(&client, deployment, !args.json).await } else { Ok(deployment) }
    })?;
    finish(&deployment, args.json)
}

pub fn rollback(args: RollbackArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connect)?;
    let deployment = block_on(async {
        let request =
            RollbackRequest { service: args.service.clone(), environment: args.environment.clone(), to: args.to };
        let deployment = client.rollback(&args.project, &request).await?;
        if args.wait { wait_over(&client, deployment, !args.json).await } else { Ok(deployment) }
    })?;
    finish(&deployment, args.json)
}

pub fn list(args: DeploymentsArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connect)?;
    let deployments = block_on(async {
        Ok(client.list_deployments(&args.project, args.service.as_deref(), args.environment.as_deref()).await?)
    })?;
    if args.json {
        let list: Vec<serde_json::Value> = deployments
            .iter()
            .map(|deployment| {
                let mut value = outcome_json(deployment);
                value["created_at"] = json!(deployment.created_at);
                value["finished_at"] = json!(deployment.finished_at);
                value["triggered_by"] = json!(deployment.triggered_by);
                value["rollback_of"] = json!(deployment.rollback_of);
                value["commit"] = json!(deployment.commit);
                value["url"] = json!(deployment.url);
                value["run"] = json!(deployment.run);
                value["job"] = json!(deployment.job);
                value
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list).context("serializing")?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut stdout = anstream::stdout();
    if deployments.is_empty() {
        writeln!(stdout, "{DIM}no deployments of {} yet{DIM:#}", args.project).context("writing to stdout")?;
    }
    for deployment in &deployments {
        writeln!(stdout, "{}", line(deployment)).context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show(args: DeploymentArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connect)?;
    let deployment = block_on(async { Ok(client.get_deployment(args.id).await?) })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&deployment).context("serializing")?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut stdout = anstream::stdout();
    writeln!(stdout, "{}", line(&deployment)).context("writing to stdout")?;
    for step in &deployment.steps {
        writeln!(stdout, "  {DIM}· {}{DIM:#}", step.name).context("writing to stdout")?;
    }
    if let Some(analysis) = &deployment.analysis {
        let figures = &analysis.figures;
        if figures.requests > 0 {
            let p99 = figures.p99_latency_ms.map(|p99| format!(", p99 {p99}ms")).unwrap_or_default();
            writeln!(
                stdout,
                "  traffic: {} requests, {} errors (error rate {:.4}){p99}",
                figures.requests, figures.errors, figures.error_rate
            )
            .context("writing to stdout")?;
        }
        for query in &analysis.queries {
            writeln!(stdout, "  {}", query_line(query)).context("writing to stdout")?;
            if query.measurements.is_empty() {
                writeln!(stdout, "    {DIM}no measurement yet{DIM:#}").context("writing to stdout")?;
            }
            for measurement in &query.measurements {
                writeln!(
                    stdout,
                    "    {DIM}{}{DIM:#} {}",
                    ago(now_ms() - measurement.at),
                    measurement_line(&query.name, measurement)
                )
                .context("writing to stdout")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn approve(connect_args: &ConnectArgs, id: i64, comment: Option<&str>, as_json: bool) -> anyhow::Result<ExitCode> {
    let client = connect(connect_args)?;
    let deployment = block_on(async { Ok(client.approve_deployment(id, comment).await?) })?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&deployment).context("serializing")?);
    } else {
        writeln!(anstream::stdout(), "{} {DIM}approved{DIM:#}", line(&deployment)).context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn cancel(connect_args: &ConnectArgs, id: i64, as_json: bool) -> anyhow::Result<ExitCode> {
    let client = connect(connect_args)?;
    let deployment = block_on(async { Ok(client.cancel_deployment(id).await?) })?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&deployment).context("serializing")?);
    } else {
        let shown = match deployment.outcome {
            DeploymentState::Cancelled => "cancelled".to_owned(),
            _ => format!("{DIM}cancelling: its agent puts back the release that served before{DIM:#}"),
        };
        writeln!(anstream::stdout(), "{} {shown}", line(&deployment)).context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connect)?;
    let status = block_on(async { Ok(client.project_status(&args.project, args.environment.as_deref()).await?) })?;
    if args.json {
        // Exactly the shape.
        let environments: Vec<serde_json::Value> = status
            .environments
            .iter()
            .map(|environment| {
                let services: Vec<serde_json::Value> = environment
                    .services
                    .iter()
                    .map(|service| {
                        json!({"name": service.name, "url": service.url, "release": service.release, "replicas": service.replicas})
                    })
                    .collect();
                json!({"name": environment.name, "services": services})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&json!({"environments": environments})).context("serializing")?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut stdout = anstream::stdout();
    if status.environments.is_empty() {
        writeln!(stdout, "{DIM}nothing of {} is deployed yet{DIM:#}", args.project).context("writing to stdout")?;
    }
    for environment in &status.environments {
        writeln!(stdout, "{BOLD}{}{BOLD:#}", environment.name).context("writing to stdout")?;
        for service in &environment.services {
            let release =
                service.release.map_or_else(|| "no release yet".to_owned(), |release| format!("release {release}"));
            let n_healthy = service.replicas.iter().filter(|replica| replica.healthy).count();
            let agent = match (&service.agent, service.agent_gone) {
                (Some(agent), true) => format!(" {RED}agent {agent} is not reporting{RED:#}"),
                (Some(agent), false) => format!(" {DIM}on {agent}{DIM:#}"),
                (None, _) => String::new(),
            };
            writeln!(
                stdout,
                "  {} {release} {} {DIM}{n_healthy}/{} healthy{DIM:#}{agent}",
                service.name,
                service.url,
                service.replicas.len()
            )
            .context("writing to stdout")?;
            if let Some(pending) = &service.pending {
                writeln!(stdout, "    {}", line(pending)).context("writing to stdout")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn plan(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connect)?;
    let plan = block_on(async { Ok(client.project_plan(&args.project, &args.environment).await?) })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan).context("serializing")?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut stdout = anstream::stdout();
    if plan.changes.is_empty() {
        writeln!(stdout, "{GREEN}{} is as desired: no changes{GREEN:#}", plan.environment)
            .context("writing to stdout")?;
    }
    for change in &plan.changes {
        writeln!(stdout, "  {YELLOW}~{YELLOW:#} {}: {}", change.service, change.change).context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn service_logs(
    connect_args: &ConnectArgs,
    project: &str,
    service: &str,
    environment: &str,
    follow: bool,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let client = connect(connect_args)?;
    block_on(async {
        let mut after = 0;
        loop {
            // Following, the server holds the read until a line comes (a long poll).
            let wait_ms = if follow { FOLLOW_WAIT_MS } else { 0 };
            let page = client.service_logs(project, service, environment, after, wait_ms).await?;
            let mut stdout = anstream::stdout();
            for line in &page.lines {
                if as_json {
                    writeln!(stdout, "{}", serde_json::to_string(line).context("serializing")?)
                } else {
                    writeln!(stdout, "{DIM}{} r{} |{DIM:#} {}", line.replica, line.release, line.text)
                }
                .context("writing to stdout")?;
            }
            let caught_up = page.next == after;
            after = page.next;
            if caught_up && !follow {
                return Ok(ExitCode::SUCCESS);
            }
        }
    })
}
