//! `ferry metrics import`: checks an OpenMetrics file here, where its name is known, then
//! sends it to the server's store.

use std::io::{Read as _, Write as _};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use ferry_promql::exposition::{Format, parse};

use super::{block_on, connect};
use crate::cli::{MetricsArgs, MetricsCommand, MetricsImportArgs};

pub fn main(args: MetricsArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        MetricsCommand::Import(args) => import(args),
    }
}

fn import(args: MetricsImportArgs) -> anyhow::Result<ExitCode> {
    let name = args.file.display().to_string();
    let mut text = String::new();
    if name == "-" {
        std::io::stdin().read_to_string(&mut text).context("reading standard input")?;
    } else {
        text = std::fs::read_to_string(&args.file).with_context(|| format!("reading {name}"))?;
    }
    check(&name, &text)?;
    let client = connect(&args.connect)?;
    let report = block_on(async { Ok(client.import_metrics(text.into_bytes()).await?) })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).context("serializing the report")?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = anstream::stdout();
    writeln!(out, "stored {} samples from {name}", report.appended)?;
    if report.out_of_order > 0 {
        writeln!(
            out,
            "{} samples were older than their series' newest and were not stored (import older data before newer)",
            report.out_of_order
        )?;
    }
    if report.duplicates > 0 {
        writeln!(out, "{} samples repeated a stored one and were skipped", report.duplicates)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The file's first problem as FILE:LINE, before anything is sent.
fn check(name: &str, text: &str) -> anyhow::Result<()> {
    let exposition = match parse(text, Format::OpenMetrics) {
        Ok(exposition) => exposition,
        Err(error) => bail!("{name}:{}: {}; nothing was imported", error.line, error.message),
    };
    if let Some(sample) = exposition.samples.iter().find(|sample| sample.timestamp_ms.is_none()) {
        bail!(
            "{name}: {} has no timestamp; every sample of a backfill needs one (seconds since the epoch after the value); nothing was imported",
            sample.labels
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn a_bad_line_is_reported_with_the_file_and_line() {
        let error =
            check("h.om", "# TYPE up gauge\nup{job=\"a\"} 1 1700000000\nup{job= 1\n# EOF\n").expect_err("a bad line");
        let message = error.to_string();
        assert!(message.starts_with("h.om:3: "), "{message}");
        assert!(message.ends_with("nothing was imported"), "{message}");
    }

    #[test]
    fn a_sample_without_a_timestamp_is_refused_and_named() {
        let error = check("h.om", "up{job=\"a\"} 1 1700000000\nup{job=\"b\"} 1\n# EOF\n").expect_err("no timestamp");
        assert!(error.to_string().contains("up{job=\"b\"} has no timestamp"), "{error}");
        check("h.om", "up{job=\"a\"} 1 1700000000\n# EOF\n").expect("a valid file");
    }
}
