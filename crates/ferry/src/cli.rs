//! Command-line arguments. The flags of `ferry run` and `ferry lint` are a fixed contract:
//! other tools drive them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Ferry runs the whole delivery loop. Today: run GitHub Actions workflows on this machine
/// and check them for mistakes.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the workflows of a git checkout on this machine, without Docker.
    ///
    /// Ferry reads `.github/workflows/*.yml` and `.ferry/workflows/*.yml` under DIR, picks the
    /// workflows that `--event` triggers (or the one given with `-W`), and runs their jobs as
    /// GitHub would: matrix expanded, `needs` respected, jobs in parallel. Each job runs in
    /// its own copy of the repository at HEAD; `runs-on` is mapped to this host.
    ///
    /// Examples:
    ///   ferry run                                  # the push workflows of the current checkout
    ///   ferry run -W .github/workflows/ci.yml --job test
    ///   ferry run --event workflow_dispatch --input level=debug --secret TOKEN=s3cr3t
    ///   ferry run --report report.json             # machine-readable results
    #[command(verbatim_doc_comment)]
    Run(Box<RunArgs>),
    /// Check workflow and action files and explain every mistake with file:line:col.
    ///
    /// With a directory, checks `.github/workflows`, `.ferry/workflows` and the local actions
    /// under it (or, when it has neither, every YAML file in it). Exits 1 when any error is
    /// found.
    ///
    /// Examples:
    ///   ferry lint
    ///   ferry lint .github/workflows/ci.yml --json
    #[command(verbatim_doc_comment)]
    Lint(LintArgs),
    /// Serve Ferry's API, forge webhooks, health probes and metrics.
    ///
    /// The data directory holds the SQLite database (unless --database names another), the
    /// key secrets are encrypted with (secret.key) and, after the first start, the first
    /// admin token (admin.token). Both files are readable by their owner only. Listens on
    /// loopback unless told otherwise. Stops on Ctrl-C or SIGTERM.
    ///
    /// Examples:
    ///   ferry server                               # ./ferry-data, http://127.0.0.1:8080
    ///   ferry server --data-dir /var/lib/ferry --listen 0.0.0.0:8080
    ///   ferry server --database postgres://ferry@db/ferry
    #[command(verbatim_doc_comment)]
    Server(ServerArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The git checkout whose workflows to run.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Run only this workflow file (relative to DIR or absolute), whatever its triggers.
    #[arg(short = 'W', long = "workflow", value_name = "WORKFLOW_FILE")]
    pub workflow: Option<PathBuf>,
    /// Run only this job (by its id in the workflow); jobs it needs are not run.
    #[arg(long, value_name = "ID")]
    pub job: Option<String>,
    /// The event that triggers the run (push, pull_request, workflow_dispatch, schedule, …).
    #[arg(long, default_value = "push", value_name = "NAME")]
    pub event: String,
    /// A JSON file holding the event payload (`github.event`); one is synthesized otherwise.
    #[arg(long, value_name = "PAYLOAD_JSON")]
    pub event_path: Option<PathBuf>,
    /// A workflow_dispatch input (`inputs.K`), repeatable.
    #[arg(long = "input", value_name = "K=V", value_parser = key_value)]
    pub inputs: Vec<(String, String)>,
    /// A secret (`secrets.K`), masked in every output; repeatable.
    #[arg(long = "secret", value_name = "K=V", value_parser = key_value)]
    pub secrets: Vec<(String, String)>,
    /// A configuration variable (`vars.K`), repeatable.
    #[arg(long = "var", value_name = "K=V", value_parser = key_value)]
    pub vars: Vec<(String, String)>,
    /// Write the results as JSON to this file.
    #[arg(long, value_name = "OUT_JSON")]
    pub report: Option<PathBuf>,
    /// Print the JSON report to standard output instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// How many jobs may run at once [default: the number of cores].
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Directories (repositories) or workflow/action files to check.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// A TOML file whose `[server]` table sets `data_dir`, `listen` and `database`; flags and
    /// FERRY_* variables override it [default: ./ferry.toml when it exists]
    #[arg(long, env = "FERRY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where the server keeps its database, keys and first admin token; created if missing
    /// [default: ./ferry-data]
    #[arg(long, env = "FERRY_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The address and port to listen on; port 0 picks a free one [default: 127.0.0.1:8080]
    #[arg(long, env = "FERRY_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// The database: a file path, sqlite://PATH or postgres://… [default: DIR/ferry.db]
    #[arg(long, env = "FERRY_DATABASE", hide_env_values = true, value_name = "URL")]
    pub database: Option<String>,
}

fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got `{text}`")),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn key_value_pairs_split_at_the_first_equals_sign() {
        assert_eq!(key_value("a=b=c"), Ok(("a".to_owned(), "b=c".to_owned())));
        assert_eq!(key_value("a="), Ok(("a".to_owned(), String::new())));
        assert_eq!(key_value("=b"), Err("expected KEY=VALUE, got `=b`".to_owned()));
        assert_eq!(key_value("ab"), Err("expected KEY=VALUE, got `ab`".to_owned()));
    }
}
