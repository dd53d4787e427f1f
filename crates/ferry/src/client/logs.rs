//! `ferry logs`: a run's log lines, prefixed by job and step (`build | step 2 | line`), as the
//! steps wrote them (`--no-prefix`), or its chunks as JSON lines; with `--follow`, until the
//! run completes.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;

use anstyle::{AnsiColor, Style};
use anyhow::Context as _;
use ferry_client::Client;

use super::{block_on, connect};
use crate::cli::LogsArgs;
use crate::render::DIM;

const PALETTE: [AnsiColor; 6] =
    [AnsiColor::Cyan, AnsiColor::Magenta, AnsiColor::Blue, AnsiColor::Yellow, AnsiColor::Green, AnsiColor::BrightBlue];

pub fn main(args: LogsArgs) -> anyhow::Result<ExitCode> {
    if let (Some(project), Some(service), Some(environment)) = (&args.project, &args.service, &args.environment) {
        return super::deployments::service_logs(&args.connect, project, service, environment, args.follow, args.json);
    }
    let Some(run) = args.run else { anyhow::bail!("give a run's id, or --project, --service and --env") };
    let client = connect(&args.connect)?;
    block_on(async {
        let mut names = JobNames::default();
        let prefixed = !args.json && !args.no_prefix;
        if prefixed {
            names.refresh(&client, run).await?;
        }
        let mut stream = client.logs(run, args.job, args.follow).await?;
        // A chunk is rendered whole and written at once: writing stdout line by line cost a
        // system call per line. Ferry's own colours follow the terminal and NO_COLOR; the
        // step's lines are written as they are.
        let stdout = std::io::stdout();
        let color = anstream::AutoStream::choice(&stdout) != anstream::ColorChoice::Never;
        let mut stdout = stdout.lock();
        let mut buffer = Vec::new();
        while let Some(raw) = stream.next_raw().await? {
            if args.no_prefix
                && let Some(framed) = raw.framed()
            {
                // As it came: nothing to split.
                stdout.write_all(framed.text.as_bytes()).and_then(|()| stdout.flush()).context("writing to stdout")?;
                continue;
            }
            if args.json {
                serde_json::to_writer(&mut buffer, &raw.read()?).context("serializing a log chunk")?;
                buffer.push(b'\n');
            } else {
                let read;
                // A framed chunk's lines are found in its text, with no list of them made.
                let (job_id, step_idx, lines): (i64, i64, Box<dyn Iterator<Item = &str>>) = match raw.framed() {
                    Some(framed) => (framed.job_id, framed.step_idx, Box::new(framed.lines())),
                    None => {
                        read = raw.read()?;
                        (read.job_id, read.step_idx, Box::new(read.lines.iter().map(AsRef::as_ref)))
                    }
                };
                if args.no_prefix {
                    render_lines(&mut buffer, "", lines);
                } else {
                    // A job that started after the names were read.
                    if !names.jobs.contains_key(&job_id) {
                        names.refresh(&client, run).await?;
                    }
                    render_lines(&mut buffer, &names.prefix(job_id, step_idx, color), lines);
                }
            }
            stdout.write_all(&buffer).and_then(|()| stdout.flush()).context("writing to stdout")?;
            buffer.clear();
        }
        Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Job names and colours by job id, from `GET /api/v1/runs/{id}`.
#[derive(Default)]
struct JobNames {
    jobs: HashMap<i64, (String, Style)>,
}

impl JobNames {
    async fn refresh(&mut self, client: &Client, run_id: i64) -> anyhow::Result<()> {
        let detail = client.get_run(run_id).await?;
        for (job_idx, job) in detail.jobs.iter().enumerate() {
            let style = PALETTE[job_idx % PALETTE.len()].on_default();
            self.jobs.insert(job.id, (job.name.clone(), style));
        }
        Ok(())
    }

    /// `job | step N | ` for a line of step `step_idx` of job `job_id`, the prefix styled when
    /// `color`.
    fn prefix(&self, job_id: i64, step_idx: i64, color: bool) -> String {
        let unknown = (format!("job {job_id}"), Style::new());
        let (name, style) = self.jobs.get(&job_id).unwrap_or(&unknown);
        // Numbered from 1, as people count a job's steps.
        let step = step_idx + 1;
        if color {
            format!("{style}{name}{style:#} {DIM}| step {step} |{DIM:#} ")
        } else {
            format!("{name} | step {step} | ")
        }
    }
}

/// Appends `lines` to `out` as `prefix` and the line, each ending in `\n`.
fn render_lines<'a>(out: &mut Vec<u8>, prefix: &str, lines: impl Iterator<Item = &'a str>) {
    for line in lines {
        out.extend_from_slice(prefix.as_bytes());
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
}
