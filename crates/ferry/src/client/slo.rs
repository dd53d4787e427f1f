//! `ferry slo PROJECT [--service S] [--env E] [--json]`: each SLO's error budget in each
//! environment of its service, as `GET /api/v1/projects/{name}/slos` answers.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use ferry_proto::slos::{SloStatus, SloView};

use super::{block_on, connect};
use crate::cli::SloArgs;
use crate::render::{BOLD, DIM, GREEN, RED};

pub fn main(args: SloArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connect)?;
    let slos = block_on(async {
        Ok(client.slos(&args.project, args.service.as_deref(), args.environment.as_deref()).await?)
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&slos).context("serializing the SLOs")?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut stdout = anstream::stdout();
    if slos.is_empty() {
        writeln!(stdout, "{DIM}no SLO: add `slos:` to a service in .ferry/deploy.yml (docs/deploy.md){DIM:#}")
            .context("writing to stdout")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        stdout,
        "{BOLD}{:<28} {:<10} {:>9} {:>11} {:>9} {:>9}  STATUS{BOLD:#}",
        "SLO", "OBJECTIVE", "WINDOW", "BUDGET LEFT", "ERRORS", "BURN 1H"
    )
    .context("writing to stdout")?;
    for slo in &slos {
        writeln!(stdout, "{}", row(slo)).context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| format!("{:.2} %", value * 100.0))
}

fn row(slo: &SloView) -> String {
    let status = match slo.status {
        SloStatus::Ok => format!("{GREEN}ok{GREEN:#}"),
        SloStatus::Exhausted => format!("{RED}exhausted{RED:#}"),
        SloStatus::NoData => format!("{DIM}no-data{DIM:#}"),
    };
    let name = format!("{} {} {}", slo.service, slo.environment, slo.slo);
    let burn = slo.burn_rate_1h.map_or_else(|| "-".to_owned(), |rate| format!("{rate:.1}x"));
    format!(
        "{name:<28} {:>9} {:>9} {:>11} {:>9} {burn:>9}  {status}",
        format!("{} %", slo.objective),
        slo.window,
        percent(slo.budget_remaining),
        percent(slo.error_ratio)
    )
}
