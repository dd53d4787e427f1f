//! The release commands: `ferry release create` makes a release of a service from a run or
//! from a folder (packed: its files hashed, the blobs the server lacks for the project
//! uploaded, then the release made from the list), and `ferry releases` lists them.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use ferry_proto::releases::{ReleaseRequest, ReleaseView};

use super::runners::{ago, now_ms};
use super::{block_on, connect};
use crate::cli::{ReleaseCommand, ReleaseCreateArgs, ReleasesArgs};
use crate::render::{BOLD, DIM, GREEN};

pub fn release(command: ReleaseCommand) -> anyhow::Result<ExitCode> {
    let ReleaseCommand::Create(args) = command;
    create(args)
}

fn create(args: ReleaseCreateArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connect)?;
    let release = block_on(async {
        let request = match (&args.run, &args.dir) {
            (Some(run_id), _) => {
                ReleaseRequest { service: args.service.clone(), run_id: Some(*run_id), ..ReleaseRequest::default() }
            }
            (None, Some(dir)) => {
                if !dir.is_dir() {
                    bail!("{} is not a folder; --dir takes the folder whose files are the release", dir.display());
                }
                let root = dir.clone();
                let files = tokio::task::spawn_blocking(move || ferry_runner::agent::hash_tree(&root))
                    .await
                    .context("hashing the folder")?
                    .with_context(|| format!("reading {}", dir.display()))?;
                if files.is_empty() {
                    bail!("{} holds no files; a release needs at least one", dir.display());
                }
                let digests: Vec<String> = files.iter().map(|(file, _)| file.sha256.clone()).collect();
                let missing = client.missing_project_blobs(&args.project, &digests).await?;
                let mut sent = std::collections::HashSet::new();
                for (file, path) in &files {
                    if missing.contains(&file.sha256) && sent.insert(file.sha256.clone()) {
                        client
                            .upload_project_blob(&args.project, &file.sha256, path)
                            .await
                            .with_context(|| format!("uploading {}", path.display()))?;
                    }
                }
                ReleaseRequest {
                    service: args.service.clone(),
                    files: Some(files.into_iter().map(|(file, _)| file).collect()),
                    commit: args.commit.clone(),
                    ..ReleaseRequest::default()
                }
            }
            (None, None) => bail!("give --run RUN or --dir PATH"),
        };
        Ok(client.create_release(&args.project, &request).await?)
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&release).context("serializing the release")?);
    } else {
        writeln!(
            anstream::stdout(),
            "{GREEN}release {} of {}{GREEN:#} made from commit {} ({} file(s), {} bytes)",
            release.number,
            release.service,
            short(&release.commit),
            release.files.len(),
            release.size
        )
        .context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn list(args: ReleasesArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connect)?;
    let releases = block_on(async { Ok(client.list_releases(&args.project, args.service.as_deref()).await?) })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&releases).context("serializing the releases")?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut stdout = anstream::stdout();
    if releases.is_empty() {
        writeln!(stdout, "no releases yet; make one with `ferry release create`").context("writing to stdout")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        stdout,
        "{BOLD}{:>6}  {:<16} {:<12} {:>6}  {:<16} created{BOLD:#}",
        "number", "service", "commit", "run", "author"
    )
    .context("writing to stdout")?;
    for release in &releases {
        writeln!(stdout, "{}", line(release)).context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One release: number, service, commit, run, author, when.
fn line(release: &ReleaseView) -> String {
    let run = release.run_id.map_or_else(|| "-".to_owned(), |run_id| run_id.to_string());
    format!(
        "{:>6}  {:<16} {:<12} {:>6}  {:<16} {DIM}{}{DIM:#}",
        release.number,
        release.service,
        short(&release.commit),
        run,
        release.author.as_deref().unwrap_or("-"),
        ago(now_ms() - release.created_at)
    )
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}
