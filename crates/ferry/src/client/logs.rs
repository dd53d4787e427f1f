//! `ferry logs`: a run's log lines, prefixed by job and step (`build | step 2 | line`), as the
//! steps wrote them (`--no-prefix`), or its chunks as JSON lines; with `--follow`, until the
//! run completes.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;

use anstyle::{AnsiColor, Style};
use anyhow::Context as _;
use ferry_client::{Client, LogChunkRef};

use super::{block_on, connect};
use crate::cli::LogsArgs;
use crate::render::DIM;

const PALETTE: [AnsiColor; 6] =
    [AnsiColor::Cyan, AnsiColor::Magenta, AnsiColor::Blue, AnsiColor::Yellow, AnsiColor::Green, AnsiColor::BrightBlue];

pub fn main(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connect)?;
    block_on(async {
        let mut names = JobNames::default();
        let prefixed = !args.json && !args.no_prefix;
        if prefixed {
            names.refresh(&client, args.run).await?;
        }
        let mut stream = client.logs(args.run, args.job, args.follow).await?;
        // A chunk is rendered whole and written at once: writing stdout line by line cost a
        // system call per line. Ferry's own colours follow the terminal and NO_COLOR; the
        // step's lines are written as they are.
        let stdout = std::io::stdout();
        let color = anstream::AutoStream::choice(&stdout) != anstream::ColorChoice::Never;
        let mut stdout = stdout.lock();
        let mut buffer = Vec::new();
        while let Some(raw) = stream.next_raw().await? {
            if args.no_prefix
                && let Some(text) = raw.text()
            {
                // As it came: nothing to split.
                stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()).context("writing to stdout")?;
                continue;
            }
            let chunk = raw.read()?;
            if args.json {
                serde_json::to_writer(&mut buffer, &chunk).context("serializing a log chunk")?;
                buffer.push(b'\n');
            } else if args.no_prefix {
                for line in &chunk.lines {
                    buffer.extend_from_slice(line.as_bytes());
                    buffer.push(b'\n');
                }
            } else {
                // A job that started after the names were read.
                if !names.jobs.contains_key(&chunk.job_id) {
                    names.refresh(&client, args.run).await?;
                }
                render_chunk(&mut buffer, &names, &chunk, color);
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
}

/// Appends `chunk`'s lines to `out` as `job | step N | line`, the prefix styled when `color`.
fn render_chunk(out: &mut Vec<u8>, names: &JobNames, chunk: &LogChunkRef<'_>, color: bool) {
    let unknown = (format!("job {}", chunk.job_id), Style::new());
    let (name, style) = names.jobs.get(&chunk.job_id).unwrap_or(&unknown);
    // Numbered from 1, as people count a job's steps.
    let step = chunk.step_idx + 1;
    let prefix = if color {
        format!("{style}{name}{style:#} {DIM}| step {step} |{DIM:#} ")
    } else {
        format!("{name} | step {step} | ")
    };
    for line in &chunk.lines {
        out.extend_from_slice(prefix.as_bytes());
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
}
