//! The runner commands: `ferry runners` lists a server's runners, `ferry runner revoke`
//! revokes one's token (by id or name).

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use ferry_proto::runner::RunnerView;

use super::{block_on, connect};
use crate::cli::{RunnerRevokeArgs, RunnersArgs};
use crate::render::{DIM, GREEN, RED, YELLOW};

pub fn list(args: RunnersArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connect)?;
    let runners = block_on(async { Ok(client.list_runners().await?) })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&runners).context("serializing the runners")?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut stdout = anstream::stdout();
    if runners.is_empty() {
        writeln!(stdout, "no runners are registered; start one with `ferry runner`").context("writing to stdout")?;
        return Ok(ExitCode::SUCCESS);
    }
    let now = now_ms();
    for runner in &runners {
        writeln!(stdout, "{}", line(runner, now)).context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One runner: `3 build-1 busy: job 12 (build) of run 4 · seen 5s ago · labels … · projects …`.
fn line(runner: &RunnerView, now: i64) -> String {
    let state = if runner.revoked_at.is_some() {
        format!("{RED}revoked{RED:#}")
    } else if runner.busy.is_empty() {
        format!("{GREEN}idle{GREEN:#}")
    } else {
        let jobs: Vec<String> =
            runner.busy.iter().map(|job| format!("job {} ({}) of run {}", job.job_id, job.name, job.run_id)).collect();
        format!("{YELLOW}busy{YELLOW:#}: {}", jobs.join(", "))
    };
    let seen = runner.last_seen_at.map_or_else(|| "never seen".to_owned(), |at| format!("seen {}", ago(now - at)));
    let projects = runner.projects.as_ref().map_or_else(|| "all projects".to_owned(), |names| names.join(","));
    format!(
        "{} {} {state} {DIM}· {seen} · labels {} · projects {projects}{DIM:#}",
        runner.id,
        runner.name,
        runner.labels.join(",")
    )
}

/// How long ago, roughly: `5s ago`, `3m ago`, `2h ago`, `4d ago`.
pub(super) fn ago(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86_400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

pub(super) fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

pub fn revoke(args: RunnerRevokeArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connect)?;
    let (n_lost, revoked) = block_on(async {
        let runners = client.list_runners().await?;
        let by_name = runners.iter().find(|runner| runner.name == args.runner);
        let by_id = args.runner.parse::<i64>().ok().and_then(|id| runners.iter().find(|runner| runner.id == id));
        let runner = match (by_name, by_id) {
            (Some(named), Some(numbered)) if named.id != numbered.id => bail!(
                "{0:?} is runner {1}'s name and runner {2}'s id; revoke by the other runner's name ({3}) or id",
                args.runner,
                named.id,
                numbered.id,
                numbered.name
            ),
            (Some(runner), _) | (None, Some(runner)) => runner,
            (None, None) => bail!("no runner has the id or name {:?}; `ferry runners` lists them", args.runner),
        };
        Ok((runner.busy.len(), client.revoke_runner(runner.id).await?))
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&revoked).context("serializing the runner")?);
    } else {
        writeln!(
            anstream::stdout(),
            "runner {} ({}) revoked: its token no longer works{}",
            revoked.name,
            revoked.id,
            if n_lost == 0 { String::new() } else { format!("; {n_lost} job(s) it ran failed as lost") }
        )
        .context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}
