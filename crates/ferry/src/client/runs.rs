//! The run commands: `ferry runs` lists a project's runs as a table, `ferry cancel` stops one
//! and `ferry rerun` starts one again (all of it or its failed jobs).

use std::io::Write;
use std::process::ExitCode;

use anstyle::Style;
use anyhow::Context as _;
use ferry_client::RunQuery;
use ferry_model::{Conclusion, Status};
use ferry_proto::runs::{RerunRequest, RunView};
use serde_json::json;

use super::trigger::{conclusion, label};
use super::{block_on, connect};
use crate::cli::{ApproveArgs, CancelArgs, RerunArgs, RunsArgs};
use crate::render::{DIM, GREEN, RED, YELLOW};

/// How much of a commit title a line of `ferry runs` shows.
const TITLE_CHARS: usize = 60;

pub fn list(args: RunsArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connect)?;
    let query = RunQuery {
        before: args.before,
        limit: args.limit,
        status: args.status.clone(),
        branch: args.branch.clone(),
        workflow: args.workflow.clone(),
        event: args.event.clone(),
    };
    let runs = block_on(async { Ok(client.list_runs_where(&args.project, &query).await?) })?;
    // A full page may have more after it.
    let limit = args.limit.unwrap_or(DEFAULT_PAGE).min(MAX_PAGE);
    let next_before = runs.last().filter(|_| i64::try_from(runs.len()).is_ok_and(|n| n == limit)).map(|run| run.number);
    if args.json {
        let page = json!({"runs": runs, "next_before": next_before});
        println!("{}", serde_json::to_string_pretty(&page).context("serializing the runs")?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut stdout = anstream::stdout();
    let filtered = args.before.is_some()
        || args.status.is_some()
        || args.branch.is_some()
        || args.workflow.is_some()
        || args.event.is_some();
    if runs.is_empty() {
        if filtered {
            writeln!(stdout, "no runs of project {} match", args.project).context("writing to stdout")?;
        } else {
            writeln!(stdout, "project {0} has no runs yet; start one with `ferry trigger {0}`", args.project)
                .context("writing to stdout")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 7]> = runs
        .iter()
        .map(|run| {
            [
                format!("run {}", run.id),
                format!("#{}", run.number),
                state(run).to_owned(),
                run.workflow_file.strip_prefix(".github/workflows/").unwrap_or(&run.workflow_file).to_owned(),
                title(&run.title),
                run.sha.chars().take(7).collect(),
                run.actor.clone(),
            ]
        })
        .collect();
    let mut widths = [0; 7];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for (run, row) in runs.iter().zip(&rows) {
        let mut line = String::new();
        for (col, (cell, width)) in row.iter().zip(widths).enumerate() {
            let style = if col == 2 { state_style(run) } else { Style::new() };
            let pad = if col + 1 == row.len() { 0 } else { width - cell.chars().count() + 2 };
            line.push_str(&format!("{style}{cell}{style:#}{:pad$}", ""));
        }
        writeln!(stdout, "{line}").context("writing to stdout")?;
    }
    if let Some(number) = next_before {
        writeln!(stdout, "{DIM}older runs: add --before {number}{DIM:#}").context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The server's page sizes (`api/runs.rs`): its default and its most.
const DEFAULT_PAGE: i64 = 50;
const MAX_PAGE: i64 = 200;

pub fn cancel(args: CancelArgs) -> anyhow::Result<ExitCode> {
    if args.deployment {
        return super::deployments::cancel(&args.connect, args.id, args.json);
    }
    let client = connect(&args.connect)?;
    let run = block_on(async { Ok(client.cancel_run(args.id).await?) })?;
    if args.json {
        return print_json(&run);
    }
    let shown = match (run.status.as_str(), run.conclusion) {
        ("completed", Some(Conclusion::Cancelled)) => conclusion(run.conclusion),
        ("completed", other) => format!("had already completed: {}", conclusion(other)),
        _ => format!("{DIM}cancelling: its running jobs stop at their runners' next report{DIM:#}"),
    };
    writeln!(anstream::stdout(), "{} {shown}", label(&run)).context("writing to stdout")?;
    Ok(ExitCode::SUCCESS)
}

pub fn approve(args: ApproveArgs) -> anyhow::Result<ExitCode> {
    if !args.run {
        return super::deployments::approve(&args.connect, args.id, args.comment.as_deref(), args.json);
    }
    let client = connect(&args.connect)?;
    let run = block_on(async { Ok(client.approve_run(args.id).await?) })?;
    if args.json {
        return print_json(&run);
    }
    writeln!(anstream::stdout(), "{} {DIM}approved: it runs now, without the project's secrets{DIM:#}", label(&run))
        .context("writing to stdout")?;
    Ok(ExitCode::SUCCESS)
}

pub fn rerun(args: RerunArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connect)?;
    let request = RerunRequest { failed_only: args.failed };
    let run = block_on(async { Ok(client.rerun(args.run, &request).await?) })?;
    if args.json {
        return print_json(&run);
    }
    let what = if args.failed { "the failed jobs of run" } else { "run" };
    writeln!(anstream::stdout(), "{} {DIM}queued{DIM:#}, repeating {what} {}", label(&run), args.run)
        .context("writing to stdout")?;
    Ok(ExitCode::SUCCESS)
}

fn print_json(run: &RunView) -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(run).context("serializing the run")?);
    Ok(ExitCode::SUCCESS)
}

/// The conclusion of a completed run, else its status.
fn state(run: &RunView) -> &str {
    match run.conclusion {
        Some(conclusion) if run.status == Status::Completed => conclusion.as_str(),
        _ => run.status.as_str(),
    }
}

fn state_style(run: &RunView) -> Style {
    match run.conclusion {
        _ if run.status != Status::Completed => DIM,
        Some(Conclusion::Success) => GREEN,
        Some(Conclusion::Failure) => RED,
        _ => YELLOW,
    }
}

/// The title cut to [`TITLE_CHARS`], so one long subject does not widen every line.
fn title(title: &str) -> String {
    if title.chars().count() <= TITLE_CHARS {
        return title.to_owned();
    }
    let mut cut: String = title.chars().take(TITLE_CHARS - 1).collect();
    cut.push('…');
    cut
}
