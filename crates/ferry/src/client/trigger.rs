//! `ferry trigger`: starts a project's workflow_dispatch workflows, prints the runs, and with
//! `--wait` follows them to their conclusions.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use ferry_model::{Conclusion, Status};
use ferry_proto::runs::{RunView, TriggerRequest};
use serde_json::{Map, Value, json};

use super::{block_on, connect};
use crate::cli::TriggerArgs;
use crate::render::{BOLD, DIM, GREEN, RED, YELLOW};

/// How often a waited-for run is looked at.
const POLL: Duration = Duration::from_millis(200);
/// How long a run may stay queued before the user hears why it might.
const QUEUED_HINT: Duration = Duration::from_secs(15);

pub fn main(args: TriggerArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connect)?;
    let request = TriggerRequest {
        git_ref: args.git_ref.clone(),
        workflow: args.workflow.clone(),
        inputs: args
            .inputs
            .iter()
            .map(|(key, value)| (key.clone(), Value::String(value.clone())))
            .collect::<Map<_, _>>(),
    };
    let mut stdout = anstream::stdout();
    let runs = block_on(async {
        let triggered = client.trigger(&args.project, &request).await?;
        if triggered.runs.is_empty() {
            bail!(
                "no workflow of project {} runs on workflow_dispatch{}; add `on: workflow_dispatch` to one",
                args.project,
                args.workflow.as_deref().map(|file| format!(" in {file}")).unwrap_or_default()
            );
        }
        if !args.json {
            for run in &triggered.runs {
                writeln!(stdout, "{} {DIM}queued{DIM:#}", label(run)).context("writing to stdout")?;
            }
        }
        if !args.wait {
            return Ok(triggered.runs);
        }
        let mut runs = Vec::new();
        for run in triggered.runs {
            let mut detail = None;
            let mut run = run;
            let started = tokio::time::Instant::now();
            let mut hinted = false;
            while run.status != Status::Completed {
                tokio::time::sleep(POLL).await;
                let fresh = client.get_run(run.id).await?;
                run = fresh.run.clone();
                detail = Some(fresh);
                if run.status == Status::Queued && !hinted && started.elapsed() > QUEUED_HINT {
                    hinted = true;
                    eprintln!(
                        "ferry: run {} is still queued: is a runner with the labels of its `runs-on` running (`ferry runner`)?",
                        run.id
                    );
                }
            }
            if !args.json {
                writeln!(stdout, "{} {}", label(&run), conclusion(run.conclusion)).context("writing to stdout")?;
                if let Some(error) = &run.error {
                    writeln!(stdout, "  {DIM}{error}{DIM:#}").context("writing to stdout")?;
                }
                // Which jobs let the run down, and why when they failed outside their steps.
                let jobs = detail.iter().flat_map(|detail| &detail.jobs);
                for job in jobs.filter(|job| {
                    run.conclusion != Some(Conclusion::Success) && job.conclusion != Some(Conclusion::Success)
                }) {
                    let reason = job.reason.as_deref().map(|reason| format!(": {reason}")).unwrap_or_default();
                    writeln!(stdout, "  {}: {}{reason}", job.name, conclusion(job.conclusion))
                        .context("writing to stdout")?;
                }
            }
            runs.push(run);
        }
        Ok(runs)
    })?;
    if args.json {
        let list: Vec<Value> = runs
            .iter()
            .map(|run| {
                json!({
                    "id": run.id,
                    "number": run.number,
                    "workflow_file": run.workflow_file,
                    "conclusion": run.conclusion.map(Conclusion::as_str),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&json!({"runs": list})).context("serializing the runs")?);
    }
    let all_succeeded = runs.iter().all(|run| run.conclusion == Some(Conclusion::Success));
    Ok(if !args.wait || all_succeeded { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `run 12 (#3 ci.yml)`.
pub(super) fn label(run: &RunView) -> String {
    let file = run.workflow_file.strip_prefix(".github/workflows/").unwrap_or(&run.workflow_file);
    format!("{BOLD}run {}{BOLD:#} (#{} {file})", run.id, run.number)
}

pub(super) fn conclusion(conclusion: Option<Conclusion>) -> String {
    match conclusion {
        Some(Conclusion::Success) => format!("{GREEN}success{GREEN:#}"),
        Some(Conclusion::Failure) => format!("{RED}failure{RED:#}"),
        Some(other) => format!("{YELLOW}{}{YELLOW:#}", other.as_str()),
        None => format!("{YELLOW}completed without a conclusion{YELLOW:#}"),
    }
}
