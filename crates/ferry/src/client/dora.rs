//! The DORA commands: `ferry dora` (the five keys of a unit, or of a project's services in
//! an environment, with their tiers), `ferry dora import` (history from CSV files),
//! `ferry incident open|ack|resolve|show|list` and `ferry incidents`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use ferry_client::DoraQuery;
use ferry_proto::dora::{DoraEvents, DoraReport, IncidentDetail, IncidentRequest, IncidentView, Tier};

use super::runners::{ago, now_ms};
use super::{block_on, connect};
use crate::cli::{ConnectArgs, DoraArgs, DoraCommand, DoraImportArgs, IncidentArgs, IncidentCommand, IncidentsArgs};
use crate::render::{BOLD, DIM, GREEN, RED, YELLOW};

pub fn main(args: DoraArgs) -> anyhow::Result<ExitCode> {
    if let Some(DoraCommand::Import(import_args)) = args.command {
        return import(import_args);
    }
    let Some(project) = args.project.as_deref() else { bail!("name the project: `ferry dora PROJECT [--service S]`") };
    let service = args.service.as_deref();
    let client = connect(&args.connect)?;
    let query = DoraQuery {
        service,
        environment: args.environment.as_deref(),
        window: args.window.as_deref(),
        until: args.until.as_deref(),
    };
    let report = block_on(async { Ok(client.dora_report(project, query).await?) })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).context("serializing the report")?);
        return Ok(ExitCode::SUCCESS);
    }
    print_report(
        project,
        service.unwrap_or("(all services)"),
        args.environment.as_deref().unwrap_or("production"),
        &report,
    )
}

/// A tier in its colour, or a dim dash when there is nothing to rate.
fn tier(tier: Option<Tier>) -> String {
    match tier {
        Some(tier @ Tier::Elite) | Some(tier @ Tier::High) => format!("{GREEN}{}{GREEN:#}", tier.as_str()),
        Some(tier @ Tier::Medium) => format!("{YELLOW}{}{YELLOW:#}", tier.as_str()),
        Some(tier @ Tier::Low) => format!("{RED}{}{RED:#}", tier.as_str()),
        None => format!("{DIM}-{DIM:#}"),
    }
}

/// A duration in seconds, in the largest unit that keeps it readable.
fn duration(seconds: Option<i64>) -> String {
    match seconds {
        None => "-".to_owned(),
        Some(seconds) if seconds < 3600 => format!("{:.0} min", seconds as f64 / 60.0),
        Some(seconds) if seconds < 2 * 86_400 => format!("{:.1} h", seconds as f64 / 3600.0),
        Some(seconds) => format!("{:.1} days", seconds as f64 / 86_400.0),
    }
}

fn rate(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".to_owned(), |rate| format!("{:.1} %", rate * 100.0))
}

fn print_report(project: &str, service: &str, environment: &str, report: &DoraReport) -> anyhow::Result<ExitCode> {
    let mut stdout = anstream::stdout();
    let frequency = &report.deployment_frequency;
    let lead = &report.lead_time;
    let failures = &report.change_failure_rate;
    let recovery = &report.recovery_time;
    let rework = &report.rework_rate;
    writeln!(
        stdout,
        "{BOLD}{project} {service} → {environment}{BOLD:#} {DIM}from {} to {}{DIM:#}",
        report.window.from, report.window.to
    )
    .context("writing to stdout")?;
    let rows = [
        (
            "deployment frequency",
            format!(
                "{} deployments, {:.2} a day, {:.1} deploy days a week",
                frequency.deployments, frequency.per_day, frequency.deploy_days_per_week
            ),
            tier(Some(frequency.tier)),
        ),
        (
            "lead time for changes",
            format!(
                "median {}, p90 {} over {} commits",
                duration(lead.median_seconds),
                duration(lead.p90_seconds),
                lead.commits
            ),
            tier(lead.tier),
        ),
        (
            "change failure rate",
            format!("{} ({} of {} deployments)", rate(failures.rate), failures.failed, failures.total),
            tier(failures.tier),
        ),
        (
            "recovery time",
            format!(
                "median {}, p90 {} over {} failures",
                duration(recovery.median_seconds),
                duration(recovery.p90_seconds),
                recovery.failures
            ),
            tier(recovery.tier),
        ),
        (
            "rework rate",
            format!("{} ({} of {} deployments)", rate(rework.rate), rework.rework, rework.total),
            format!("{DIM}-{DIM:#}"),
        ),
    ];
    for (name, figures, tier) in rows {
        writeln!(stdout, "  {name:<22} {tier:<8} {figures}").context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `ferry dora import`: every row of both files is checked before anything is sent.
fn import(args: DoraImportArgs) -> anyhow::Result<ExitCode> {
    let read =
        |path: &std::path::Path| std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()));
    let mut problems = Vec::new();
    let text = read(&args.deployments)?;
    let deployments = ferry_dora::parse_deployments(&text).unwrap_or_else(|errors| {
        problems.extend(errors.iter().map(|error| format!("{}:{error}", args.deployments.display())));
        Vec::new()
    });
    let incidents = match &args.incidents {
        Some(path) => {
            let text = read(path)?;
            ferry_dora::parse_incidents(&text).unwrap_or_else(|errors| {
                problems.extend(errors.iter().map(|error| format!("{}:{error}", path.display())));
                Vec::new()
            })
        }
        None => Vec::new(),
    };
    if !problems.is_empty() {
        bail!("nothing was imported; fix these rows and run it again:\n  {}", problems.join("\n  "));
    }
    let client = connect(&args.connect)?;
    let events = DoraEvents { deployments, incidents };
    let recorded = block_on(async { Ok(client.record_dora_events(&args.project, &events).await?) })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&recorded).context("serializing")?);
    } else {
        writeln!(
            anstream::stdout(),
            "imported {} deployments and {} incidents into {}",
            recorded.deployments,
            recorded.incidents,
            args.project
        )
        .context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn incident_line(incident: &IncidentView) -> String {
    let state = match (incident.resolved_at, &incident.acked_by) {
        (Some(at), _) => format!("{GREEN}resolved{GREEN:#} {DIM}{}{DIM:#}", ago(now_ms() - at)),
        (None, Some(by)) => format!("{YELLOW}acked{YELLOW:#} {DIM}by {by}{DIM:#}"),
        (None, None) => format!("{RED}open{RED:#}"),
    };
    let cause = match (incident.caused_by_deployment, &incident.caused_by_commit) {
        (Some(deployment), _) => format!(" {DIM}caused by deployment #{deployment}{DIM:#}"),
        (None, Some(commit)) => format!(" {DIM}caused by commit {}{DIM:#}", commit.get(..7).unwrap_or(commit)),
        (None, None) => String::new(),
    };
    format!(
        "{BOLD}#{}{BOLD:#} {} {} → {} {state} {DIM}started {} by {}{DIM:#}{cause}",
        incident.id,
        incident.title,
        incident.service,
        incident.environment,
        ago(now_ms() - incident.started_at),
        incident.opened_by
    )
}

pub fn incident(args: IncidentArgs) -> anyhow::Result<ExitCode> {
    let (connect_args, json) = match &args.command {
        IncidentCommand::Open(open) => (&open.connect, open.json),
        IncidentCommand::Resolve(by_id) | IncidentCommand::Ack(by_id) | IncidentCommand::Show(by_id) => {
            (&by_id.connect, by_id.json)
        }
        IncidentCommand::List(list) => return print_incidents(&list.connect, &list.project, list.open, list.json),
    };
    let client = connect(connect_args)?;
    let incident = match &args.command {
        IncidentCommand::Open(open) => {
            let request = IncidentRequest {
                service: open.service.clone(),
                environment: open.environment.clone(),
                title: open.title.clone(),
                caused_by: open.caused_by,
                started_at: None,
            };
            block_on(async { Ok(client.open_incident(&open.project, &request).await?) })?
        }
        IncidentCommand::Resolve(resolve) => block_on(async { Ok(client.resolve_incident(resolve.id).await?) })?,
        IncidentCommand::Ack(ack) => block_on(async { Ok(client.ack_incident(ack.id).await?) })?,
        IncidentCommand::Show(show) => {
            let detail = block_on(async { Ok(client.get_incident(show.id).await?) })?;
            return print_detail(&detail, json);
        }
        IncidentCommand::List(list) => return print_incidents(&list.connect, &list.project, list.open, list.json),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&incident).context("serializing the incident")?);
    } else {
        writeln!(anstream::stdout(), "{}", incident_line(&incident)).context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `ferry incident show`: the incident's line, its owner and acknowledgement, then its
/// timeline (times in UTC).
fn print_detail(detail: &IncidentDetail, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(detail).context("serializing the incident")?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut stdout = anstream::stdout();
    writeln!(stdout, "{}", incident_line(&detail.incident)).context("writing to stdout")?;
    if let Some(owner) = &detail.incident.owner {
        writeln!(stdout, "  {DIM}owner{DIM:#} {owner}").context("writing to stdout")?;
    }
    if let (Some(at), Some(by)) = (detail.incident.acked_at, &detail.incident.acked_by) {
        writeln!(stdout, "  {DIM}acknowledged by{DIM:#} {by} {DIM}{}{DIM:#}", ago(now_ms() - at))
            .context("writing to stdout")?;
    }
    for entry in &detail.timeline {
        let at = ferry_dora::rfc3339(entry.at.div_euclid(1000));
        writeln!(stdout, "  {DIM}{at}{DIM:#}  {}", entry.text).context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn incidents(args: IncidentsArgs) -> anyhow::Result<ExitCode> {
    print_incidents(&args.connect, &args.project, false, args.json)
}

/// `ferry incidents` and `ferry incident list`.
fn print_incidents(connect_args: &ConnectArgs, project: &str, open: bool, json: bool) -> anyhow::Result<ExitCode> {
    let client = connect(connect_args)?;
    let incidents = block_on(async {
        Ok(if open { client.list_open_incidents(project).await? } else { client.list_incidents(project).await? })
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&incidents).context("serializing the incidents")?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut stdout = anstream::stdout();
    if incidents.is_empty() {
        let which = if open { "open incidents" } else { "incidents" };
        writeln!(stdout, "{DIM}no {which} in {project}{DIM:#}").context("writing to stdout")?;
    }
    for incident in &incidents {
        writeln!(stdout, "{}", incident_line(incident)).context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}
