//! Command-line arguments. The flags of `ferry run` and `ferry lint` are a fixed contract:
//! other tools drive them. The client commands (`runner`, `runners`, `project`, `secret`,
//! `var`, `release`, `releases`, `trigger`, `logs`, `runs`, `cancel`, `rerun`) share [`ConnectArgs`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Ferry runs the whole delivery loop. Today: run GitHub Actions workflows on this machine,
/// check them for mistakes, and run them for a team with `ferry server` (web UI at its
/// address) and `ferry runner` on other hosts.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the whole delivery loop on this machine and watch an example go through it.
    ///
    /// Starts the server on loopback with embedded storage (SQLite), its runner and the
    /// host's agent, registers the bundled example service as project `example` (a git
    /// repository in DIR/example), runs its pipeline (tests, then a package), makes a release
    /// of it, deploys it to staging and promotes it to production through a canary, then
    /// prints a one-time login link for the web UI and both environments' addresses. Keeps
    /// serving until Ctrl-C; services keep running after it stops. Run again, it reuses DIR.
    ///
    /// Examples:
    ///   ferry up
    ///   ferry up --data-dir /tmp/ferry --listen 127.0.0.1:9090
    #[command(verbatim_doc_comment)]
    Up(UpArgs),
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
    /// Check workflow, action and deploy files and explain every mistake with file:line:col.
    ///
    /// With a directory, checks `.github/workflows`, `.ferry/workflows`, the local actions and
    /// `.ferry/deploy.yml` under it (or, when it has no workflow folder, every YAML file in
    /// it). Exits 1 when any error is found.
    ///
    /// Examples:
    ///   ferry lint
    ///   ferry lint .github/workflows/ci.yml --json
    ///   ferry lint .ferry/deploy.yml
    #[command(verbatim_doc_comment)]
    Lint(LintArgs),
    /// Serve Ferry's API, web UI, forge webhooks, health probes and metrics, and run jobs.
    ///
    /// The data directory holds the SQLite database (unless --database names another), the
    /// key secrets are encrypted with (secret.key) and, after the first start, the first
    /// admin token (admin.token). Both files are readable by their owner only. Listens on
    /// loopback unless told otherwise. Open its address in a browser and log in with a token
    /// for the web UI. A runner inside the server takes jobs for `self-hosted`, `linux` and
    /// GitHub's `ubuntu-*` labels (--runner-slots 0 turns it off). Stops on Ctrl-C or SIGTERM,
    /// cancelling the jobs it runs.
    ///
    /// Examples:
    ///   ferry server                               # ./ferry-data, http://127.0.0.1:8080
    ///   ferry server --data-dir /var/lib/ferry --listen 0.0.0.0:8080
    ///   ferry server --database postgres://ferry@db/ferry
    #[command(verbatim_doc_comment)]
    Server(ServerArgs),
    /// Run jobs from a Ferry server on this machine.
    ///
    /// The runner claims queued jobs whose `runs-on` labels it has, runs them as `ferry run`
    /// does (each in its own checkout of the run's commit) and streams their logs back. Its
    /// labels are always `self-hosted`, `linux` and `x64` or `arm64`, as on GitHub's
    /// self-hosted runners, plus those given with --labels. Given an admin token, it registers
    /// itself under --name and uses the runner token it gets; a runner token (`ferryr_…`) is
    /// used as it is. Logs to standard error; stops on Ctrl-C or SIGTERM, cancelling the jobs
    /// it runs.
    ///
    /// With --project (repeatable), it registers for those projects only: it never claims
    /// another project's jobs nor sees their secrets. `ferry runner revoke` revokes a runner's
    /// token instead of running one.
    ///
    /// Examples:
    ///   ferry runner --token "$(cat ferry-data/admin.token)"
    ///   ferry runner --server http://ci.internal:8080 --labels gpu,cuda --slots 2
    ///   FERRY_TOKEN=ferryr_… ferry runner --work-dir /var/lib/ferry-runner
    ///   ferry runner --project web --project api
    ///   ferry runner revoke build-3
    #[command(verbatim_doc_comment, args_conflicts_with_subcommands = true)]
    Runner(RunnerArgs),
    /// List the runners registered with a server: labels, projects, when last seen, the jobs
    /// they run (an admin token for all projects).
    ///
    /// Examples:
    ///   ferry runners
    ///   ferry runners --json
    #[command(verbatim_doc_comment)]
    Runners(RunnersArgs),
    /// Run the services the server places on this host, behind Ferry's proxy.
    ///
    /// The agent long-polls its desired state (which services of which environments, which
    /// release, the deployment under way), keeps it in --dir (secrets sealed under its token)
    /// and serves it at once on start, also while the server is away. Each replica runs in
    /// its own process group with $PORT and the environment's variables and secrets; it is
    /// health-checked, restarted with backoff, replaced when it drifts, and its output goes
    /// to the server masked. Replicas of services with `metrics:` in deploy.yml, and the
    /// proxies' counts per release, are scraped and pushed to the server by remote write.
    /// Given an admin token, the agent registers under --name and keeps the agent token it
    /// gets in --dir; an agent token (`ferrya_…`) is used as it is. One agent per directory.
    /// Stops on Ctrl-C or SIGTERM, leaving its replicas running: the next agent on the
    /// directory adopts them and brings their proxies back.
    ///
    /// Examples:
    ///   ferry agent --token "$(cat ferry-data/admin.token)"
    ///   ferry agent --server http://ferry.internal:8080 --name web-1 --labels eu,web --dir /var/lib/ferry-agent
    ///   FERRY_TOKEN=ferrya_… ferry agent --metrics-listen 127.0.0.1:9101
    #[command(verbatim_doc_comment)]
    Agent(AgentArgs),
    /// Manage a server's projects.
    ///
    /// Examples:
    ///   ferry project add web --repo https://git.example/acme/web.git
    ///   ferry project add demo --repo . --branch trunk --webhook-secret s3cr3t
    #[command(verbatim_doc_comment)]
    Project(ProjectArgs),
    /// Set a project's secrets (`secrets.KEY`), stored encrypted and masked in every log.
    ///
    /// Examples:
    ///   ferry secret set web DEPLOY_KEY < deploy_key     # the value from standard input
    ///   printf %s "$TOKEN" | ferry secret set web API_TOKEN
    #[command(verbatim_doc_comment)]
    Secret(SecretArgs),
    /// Set, list and delete a project's configuration variables (`vars.KEY`), the project's
    /// own or, with --env, an environment's (its services get them on top of the project's).
    ///
    /// Examples:
    ///   ferry var set web REGION eu-west-1
    ///   ferry var set web LOG_LEVEL debug --env staging
    ///   ferry var list web --env staging --json
    #[command(verbatim_doc_comment)]
    Var(VarArgs),
    /// Make a release of a service by hand: from a successful run's artifact (the one the
    /// service's `release:` names) or from a folder, packed and uploaded. The release takes
    /// the `.ferry/deploy.yml` of its commit (the run's, or --commit, by default the head of
    /// the project's branch), which must declare the service.
    ///
    /// Examples:
    ///   ferry release create web web --run 42
    ///   ferry release create web web --dir ./dist --commit v1.4.0 --json
    #[command(verbatim_doc_comment)]
    Release(ReleaseArgs),
    /// List a project's releases (of one service), newest first.
    ///
    /// Examples:
    ///   ferry releases web
    ///   ferry releases web api --json
    #[command(verbatim_doc_comment)]
    Releases(ReleasesArgs),
    /// Start a project's workflow_dispatch workflows on the server.
    ///
    /// Prints each run it started (`run 12 (#3 ci.yml) queued`). With --wait, follows the
    /// runs until they complete, prints their conclusions and exits 0 only when every one
    /// concluded success.
    ///
    /// Examples:
    ///   ferry trigger web
    ///   ferry trigger web --workflow deploy.yml --ref v1.2.0 --input env=staging --wait
    ///   ferry trigger web --wait --json
    #[command(verbatim_doc_comment)]
    Trigger(TriggerArgs),
    /// Show a run's logs: every line prefixed by its job and step (`build | step 2 | …`).
    ///
    /// Steps are numbered from 1 in the order the job lists them. With --follow, shows
    /// lines as the run's jobs print them until the run completes.
    ///
    /// Examples:
    ///   ferry logs 12
    ///   ferry logs 12 --job 31 --follow
    ///   ferry logs 12 --json                       # one chunk as JSON per line
    ///   ferry logs --project web --service site --env staging --follow
    #[command(verbatim_doc_comment)]
    Logs(LogsArgs),
    /// List a project's runs, newest first (the latest 50).
    ///
    /// Each line shows the run's id (what `ferry logs`, `cancel` and `rerun` take), its
    /// number in the project, status or conclusion, workflow file, commit title, short
    /// commit id and who started it.
    ///
    /// Examples:
    ///   ferry runs web
    ///   ferry runs web --status failure --branch main --workflow ci.yml
    ///   ferry runs web --limit 20 --before 120     # the 20 runs before run #120
    ///   ferry runs web --json
    #[command(verbatim_doc_comment)]
    Runs(RunsArgs),
    /// Cancel a run: queued jobs are cancelled at once, running ones stop at their runner.
    ///
    /// With --deployment, cancels a deployment: one queued or waiting at its gates at once;
    /// one in progress through its agent, which puts back the release that served before
    /// (the outcome is then `cancelled`; `ferry deployments` shows it).
    ///
    /// Examples:
    ///   ferry cancel 12
    ///   ferry cancel --deployment 31
    #[command(verbatim_doc_comment)]
    Cancel(CancelArgs),
    /// Approve a deployment waiting at its environment's `approvals:` (as a developer who is
    /// not the release's author); it starts once it has the approvals it needs.
    ///
    /// With --run, approves a run of a pull request from a fork that waits for a developer's
    /// approval (projects with --require-approval); it then runs, without the project's
    /// secrets. The pull request's author cannot approve it.
    ///
    /// Examples:
    ///   ferry approve 31 --comment "checked the canary"
    ///   ferry approve --run 12
    #[command(verbatim_doc_comment)]
    Approve(ApproveArgs),
    /// Start a completed run again: same workflow text, commit and event, as a new run.
    ///
    /// With --failed, only the jobs that did not succeed run again (with the jobs that need
    /// them); the others keep their results and outputs.
    ///
    /// Examples:
    ///   ferry rerun 12
    ///   ferry rerun 12 --failed
    #[command(verbatim_doc_comment)]
    Rerun(RerunArgs),
    /// Deploy a release of a service to an environment (default: the newest release).
    ///
    /// It starts at once, queues behind the deployment in progress there, waits at the
    /// environment's gates (approvals, after:, branches:) or is refused with the rule. With
    /// --wait, waits until it is over; --json prints {"id", "project", "service",
    /// "environment", "release", "strategy", "outcome", "reason"}. The exit status is 0 when
    /// it succeeded (or, without --wait, was accepted), 1 otherwise.
    ///
    /// Examples:
    ///   ferry deploy web site --env staging
    ///   ferry deploy web site --env production --release 7 --wait --json
    #[command(verbatim_doc_comment)]
    Deploy(DeployArgs),
    /// List a project's deployments, newest first, with who or what started each.
    ///
    /// Examples:
    ///   ferry deployments web
    ///   ferry deployments web --service site --env production --json
    #[command(verbatim_doc_comment)]
    Deployments(DeploymentsArgs),
    /// Show one deployment: its steps, the new release's traffic and, for `analysis.queries`,
    /// each query's phase and measurements.
    ///
    /// Examples:
    ///   ferry deployment 31
    ///   ferry deployment 31 --json     # as GET /api/v1/deployments/31 answers
    #[command(verbatim_doc_comment)]
    Deployment(DeploymentArgs),
    /// Deploy the release that succeeded before the current one (or --to N) again.
    ///
    /// Examples:
    ///   ferry rollback web site --env production
    ///   ferry rollback web site --env production --to 5 --wait
    #[command(verbatim_doc_comment)]
    Rollback(RollbackArgs),
    /// Show each environment's services: the release that serves, its URL and its replicas.
    ///
    /// Examples:
    ///   ferry status web
    ///   ferry status web --env production --json
    #[command(verbatim_doc_comment)]
    Status(StatusArgs),
    /// Show what converging an environment would change, like `terraform plan`.
    ///
    /// Examples:
    ///   ferry plan web --env production
    #[command(verbatim_doc_comment)]
    Plan(PlanArgs),
    /// Show the four DORA keys and rework rate of a project's services in an environment,
    /// added up (or of one service with --service), with their 2024 performance tiers (elite,
    /// high, medium, low), computed from the deployments and incidents Ferry recorded
    /// (docs/dora.md defines every number).
    ///
    /// --json prints {"window": {"from", "to"}, "deployment_frequency": {"deployments",
    /// "per_day", "deploy_days_per_week", "tier"}, "lead_time": {"commits", "median_seconds",
    /// "p90_seconds", "tier"}, "change_failure_rate": {"failed", "total", "rate", "tier"},
    /// "recovery_time": {"failures", "median_seconds", "p90_seconds", "tier"},
    /// "rework_rate": {"rework", "total", "rate"}}. `ferry dora import` starts a project with
    /// its history from CSV files.
    ///
    /// Examples:
    ///   ferry dora web
    ///   ferry dora web --service site
    ///   ferry dora web --service site --env staging --window 90d --json
    ///   ferry dora import web --deployments deployments.csv --incidents incidents.csv
    #[command(verbatim_doc_comment, args_conflicts_with_subcommands = true)]
    Dora(DoraArgs),
    /// Show each SLO's error budget: for every SLO of the project's .ferry/deploy.yml (its
    /// default branch) in every environment its service is deployed to, the objective, the
    /// error ratio over the SLO's window, the budget left (1 − errors / (1 − objective); below
    /// 0 when overspent), the burn rate of the last hour, and the status (ok, exhausted,
    /// no-data). An environment with `error-budget: hold` holds deployments while one is
    /// exhausted (docs/monitoring.md).
    ///
    /// --json prints [{"service", "environment", "slo", "objective", "window",
    /// "error_ratio", "budget_remaining", "burn_rate_1h", "status"}]. The exit status is 0
    /// unless the request fails.
    ///
    /// Examples:
    ///   ferry slo web
    ///   ferry slo web --service site --env production --json
    #[command(verbatim_doc_comment)]
    Slo(SloArgs),
    /// Open, acknowledge, resolve, show or list incidents: a service degraded in an
    /// environment (they count in the DORA keys). Ferry opens one itself when a production
    /// deployment is rolled back or fails, and when an alert with `severity: page` fires for
    /// a service (docs/monitoring.md).
    ///
    /// --json prints the incident ({"id", "project", "service", "environment", "title",
    /// "started_at", "resolved_at", "caused_by_deployment", "caused_by_commit", "opened_by",
    /// "acked_at", "acked_by", "resolved_by", "owner"}); `show --json` prints
    /// {"incident": {...}, "timeline": [{"at", "kind", "text", ...}]}.
    ///
    /// Examples:
    ///   ferry incident open web --service site --title "checkout errors" --caused-by 31
    ///   ferry incident ack 4
    ///   ferry incident show 4
    ///   ferry incident list web --open
    ///   ferry incident resolve 4
    #[command(verbatim_doc_comment)]
    Incident(IncidentArgs),
    /// List a project's incidents, newest first.
    ///
    /// Examples:
    ///   ferry incidents web --json
    #[command(verbatim_doc_comment)]
    Incidents(IncidentsArgs),
    /// Work with the server's metrics store: `ferry metrics import` backfills samples from
    /// OpenMetrics text, as `promtool tsdb create-blocks-from openmetrics` does. Query them
    /// with PromQL at `/prometheus/api/v1/query` (Grafana: a Prometheus data source at
    /// `http://SERVER/prometheus`).
    ///
    /// Examples:
    ///   ferry metrics import history.om
    ///   ferry metrics import --server http://ferry:8080 --token "$TOKEN" history.om --json
    #[command(verbatim_doc_comment)]
    Metrics(MetricsArgs),
    /// Check Prometheus rule files and run promtool's rule unit tests.
    ///
    /// Examples:
    ///   ferry rules check alerts.yml
    ///   ferry rules test tests.yml
    ///   ferry rules test --json tests/*.yml
    #[command(verbatim_doc_comment)]
    Rules(RulesArgs),
    /// List the alerts the server routes: firing ones, those held back by a silence or an
    /// inhibition (suppressed), and those resolved lately, as Alertmanager lists them.
    ///
    /// --json prints Alertmanager's list: [{"labels", "annotations", "startsAt", "endsAt",
    /// "updatedAt", "generatorURL", "fingerprint", "receivers": [{"name"}], "status":
    /// {"state", "silencedBy", "inhibitedBy", "mutedBy"}}].
    ///
    /// Examples:
    ///   ferry alerts
    ///   ferry alerts --json
    #[command(verbatim_doc_comment)]
    Alerts(AlertsArgs),
    /// Silence alerts for a while: matching alerts send no notification until the silence
    /// ends or is expired (a developer token).
    ///
    /// Matchers are Alertmanager's: name="value", name!="value", name=~"regex", name!~"regex"
    /// (quotes optional); an alert is silenced when it matches all of them.
    ///
    /// Examples:
    ///   ferry silence add alertname=DiskFull 'instance=~"db-.*"' --duration 2h --comment "resizing"
    ///   ferry silence list
    ///   ferry silence expire 0b9c2cbe-8a1e-4f4b-9a53-3f0c2e1d7a10
    #[command(verbatim_doc_comment)]
    Silence(SilenceArgs),
}

#[derive(Debug, Args)]
pub struct MetricsArgs {
    #[command(subcommand)]
    pub command: MetricsCommand,
}

#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
    /// Backfill OpenMetrics text (ending with `# EOF`; every sample with a timestamp in
    /// seconds) into the server's store. The file is checked first: a line that is not
    /// OpenMetrics is reported as FILE:LINE and nothing is sent. Samples older than a
    /// series' newest are counted as out of order and not stored. Needs an admin token.
    Import(MetricsImportArgs),
}

#[derive(Debug, Args)]
pub struct MetricsImportArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The OpenMetrics file (`-` reads standard input)
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
    /// Print what was stored as JSON: {"appended", "out_of_order", "duplicates"}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AlertsArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Print the alerts as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SilenceArgs {
    #[command(subcommand)]
    pub command: SilenceCommand,
}

#[derive(Debug, Subcommand)]
pub enum SilenceCommand {
    /// Make a silence from now on.
    Add(SilenceAddArgs),
    /// List silences: pending, active and recently expired.
    List(SilenceListArgs),
    /// End a silence now.
    Expire(SilenceExpireArgs),
}

#[derive(Debug, Args)]
pub struct SilenceAddArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// One or more matchers (name="value", name!="value", name=~"regex", name!~"regex")
    #[arg(required = true, value_name = "MATCHER")]
    pub matchers: Vec<String>,
    /// How long it lasts: 30m, 2h, 1d, …
    #[arg(long, default_value = "1h", value_name = "DURATION")]
    pub duration: String,
    /// Why (shown with the silence)
    #[arg(long, value_name = "TEXT")]
    pub comment: String,
    /// Who made it [default: the token's name]
    #[arg(long, value_name = "NAME")]
    pub author: Option<String>,
    /// Print the new silence's id as JSON ({"silenceID"}).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SilenceListArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Print the silences as JSON (Alertmanager's shape).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SilenceExpireArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The silence's id (as `ferry silence list` prints it)
    pub id: String,
    /// Print {"expired": ID} as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: RulesCommand,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Run rule unit tests in promtool's format (`promtool test rules`): the same verdicts and
    /// report. Exits 0 when every test passes, 1 when one fails.
    ///
    /// A test file names its rule files (relative to itself, globs allowed) and holds test
    /// groups: `input_series` in the expanding notation (`1+1x10`, `_`, `stale`),
    /// `alert_rule_test` and `promql_expr_test` at `eval_time`s, optional `interval`,
    /// `start_timestamp`, `external_labels`, `external_url`; `evaluation_interval` and
    /// `group_eval_order` at the top.
    #[command(verbatim_doc_comment)]
    Test(RulesTestArgs),
    /// Check rule files (groups, rules, PromQL expressions, templates) and explain every
    /// mistake with file:line:col. Exits 1 when one has an error.
    Check(RulesCheckArgs),
}

#[derive(Debug, Args)]
pub struct RulesTestArgs {
    /// Test files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print each file's verdict and failures as JSON instead of promtool's report.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RulesCheckArgs {
    /// Rule files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DoraArgs {
    #[command(subcommand)]
    pub command: Option<DoraCommand>,
    #[command(flatten)]
    pub connect: ConnectArgs,
    pub project: Option<String>,
    /// The service [default: every service of the project in the environment, added up]
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
    /// The environment [default: production]
    #[arg(long = "env", value_name = "ENV")]
    pub environment: Option<String>,
    /// The window's length: a number and d, w, h or m [default: 30d]
    #[arg(long, value_name = "LENGTH")]
    pub window: Option<String>,
    /// The window's end, RFC 3339 (2026-12-01T00:00:00Z) [default: now]
    #[arg(long, value_name = "RFC3339")]
    pub until: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SloArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    pub project: String,
    /// Only this service's SLOs
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
    /// Only in this environment
    #[arg(long = "env", value_name = "ENV")]
    pub environment: Option<String>,
    /// Print the budgets as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DoraCommand {
    /// Send deployments (and incidents) that happened outside Ferry, from CSV files with
    /// the headers `service,environment,commit,finished_at,outcome` and
    /// `service,environment,started_at,resolved_at,caused_by_commit` (times RFC 3339,
    /// outcome succeeded, failed or rolled_back). Every row is checked first; a bad one
    /// is reported with its file and line, and nothing is sent.
    Import(DoraImportArgs),
}

#[derive(Debug, Args)]
pub struct DoraImportArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    pub project: String,
    /// The deployments' CSV file
    #[arg(long, value_name = "FILE")]
    pub deployments: std::path::PathBuf,
    /// The incidents' CSV file
    #[arg(long, value_name = "FILE")]
    pub incidents: Option<std::path::PathBuf>,
    /// Print what was recorded as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct IncidentArgs {
    #[command(subcommand)]
    pub command: IncidentCommand,
}

#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Open an incident: service degraded now.
    Open(IncidentOpenArgs),
    /// Resolve an incident: service is restored now.
    Resolve(IncidentResolveArgs),
    /// Acknowledge an incident: you are on it (its owner is told).
    Ack(IncidentResolveArgs),
    /// Show an incident with its timeline: alerts, deployments and what was done.
    Show(IncidentResolveArgs),
    /// List a project's incidents, newest first.
    List(IncidentListArgs),
}

#[derive(Debug, Args)]
pub struct IncidentListArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    pub project: String,
    /// Only the open ones.
    #[arg(long)]
    pub open: bool,
    /// Print the incidents as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct IncidentOpenArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    pub project: String,
    /// The service that degraded
    #[arg(long, value_name = "SERVICE")]
    pub service: String,
    /// Its environment [default: production]
    #[arg(long = "env", value_name = "ENV")]
    pub environment: Option<String>,
    /// What happened
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
    /// The deployment that caused it (as `ferry deployments` prints it)
    #[arg(long, value_name = "DEPLOYMENT")]
    pub caused_by: Option<i64>,
    /// Print the incident as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct IncidentResolveArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The incident's id (as `ferry incidents` prints it)
    pub id: i64,
    /// Print the incident as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct IncidentsArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    pub project: String,
    /// Print the incidents as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    pub project: String,
    pub service: String,
    /// The environment to deploy to
    #[arg(long = "env", value_name = "ENV")]
    pub environment: String,
    /// The release's number [default: the newest]
    #[arg(long, value_name = "N")]
    pub release: Option<i64>,
    /// Wait until the deployment is over.
    #[arg(long)]
    pub wait: bool,
    /// Print the deployment as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DeploymentsArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    pub project: String,
    /// Only this service's
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
    /// Only those to this environment
    #[arg(long = "env", value_name = "ENV")]
    pub environment: Option<String>,
    /// Print the deployments as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DeploymentArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The deployment's id (as `ferry deployments` prints it).
    pub id: i64,
    /// Print the deployment as `GET /api/v1/deployments/ID` answers it.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    pub project: String,
    pub service: String,
    #[arg(long = "env", value_name = "ENV")]
    pub environment: String,
    /// The release to go back to [default: the one that succeeded before the current]
    #[arg(long, value_name = "N")]
    pub to: Option<i64>,
    /// Wait until the rollback is over.
    #[arg(long)]
    pub wait: bool,
    /// Print the deployment as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    pub project: String,
    /// Only this environment
    #[arg(long = "env", value_name = "ENV")]
    pub environment: Option<String>,
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    pub project: String,
    #[arg(long = "env", value_name = "ENV")]
    pub environment: String,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
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
    /// Host variables steps get besides PATH, HOME, LANG and the other basics, by name,
    /// comma-separated (never a FERRY_* one).
    #[arg(long, env = "FERRY_RUN_PASS_ENV", value_delimiter = ',', value_name = "NAMES")]
    pub pass_env: Vec<String>,
    /// Where `uses: owner/repo@ref` actions are fetched from: a git host's address, or a
    /// folder (or file:// URL) holding owner/repo git repositories [default: https://github.com]
    #[arg(long, env = "FERRY_ACTIONS_URL", value_name = "URL")]
    pub actions_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Directories (repositories), or workflow, action or deploy.yml files to check.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Where the server keeps its database, keys and tokens, and the example's repository;
    /// created if missing [default: ./ferry-data]
    #[arg(long, env = "FERRY_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    /// The address and port to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "FERRY_LISTEN", value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// How often the example's repository is checked for new commits, in seconds
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    pub poll_interval: u64,
}

#[derive(Debug, Default, Args)]
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
    /// How many jobs the runner inside the server runs at once; 0 runs none (only runners on
    /// other hosts then take jobs) [default: the number of cores]
    #[arg(long, env = "FERRY_RUNNER_SLOTS", value_name = "N")]
    pub runner_slots: Option<usize>,
    /// Host variables the embedded runner's steps get besides PATH, HOME, LANG and the other
    /// basics, by name, comma-separated (never a FERRY_* one); adds to `runner_pass_env` in
    /// ferry.toml
    #[arg(long, env = "FERRY_RUNNER_PASS_ENV", value_delimiter = ',', value_name = "NAMES")]
    pub runner_pass_env: Vec<String>,
    /// Where the embedded runner fetches `uses: owner/repo@ref` actions from: a git host's
    /// address, or a folder (or file:// URL) holding owner/repo git repositories; overrides
    /// `actions_url` in ferry.toml [default: https://github.com]
    #[arg(long, env = "FERRY_ACTIONS_URL", value_name = "URL")]
    pub actions_url: Option<String>,
    /// The address people and forges reach this server at (https://ferry.example.com), for
    /// the links in commit statuses and `github.server_url` [default: http://LISTEN]
    #[arg(long, env = "FERRY_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// An Alertmanager configuration file (alertmanager.yml: route, receivers,
    /// inhibit_rules, time_intervals) that routes alerts to webhooks, Slack and email;
    /// overrides `alertmanager_config` in ferry.toml [default: alerts are kept, nothing is sent]
    #[arg(long, env = "FERRY_ALERTMANAGER_CONFIG", value_name = "FILE")]
    pub alertmanager_config: Option<PathBuf>,
    /// How often each project's repository is polled for commits no webhook announced, and
    /// `on.schedule` checked, in seconds; 0 turns both off [default: 30]
    #[arg(long, env = "FERRY_POLL_INTERVAL", value_name = "SECONDS")]
    pub poll_interval: Option<u64>,
    /// How many days artifacts are kept after their upload; then they and the blobs no other
    /// artifact references are deleted [default: 90]
    #[arg(long, env = "FERRY_ARTIFACT_RETENTION_DAYS", value_name = "DAYS", value_parser = clap::value_parser!(u64).range(1..=36_500))]
    pub artifact_retention_days: Option<u64>,
    /// Do not start the host's local agent (`ferry agent --name local --dir DATA_DIR/agent`,
    /// its own process, which goes on serving when the server stops)
    #[arg(long, env = "FERRY_NO_AGENT", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_agent: bool,
}

/// Where the server is and which token to send; shared by the client commands.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The Ferry server's address (plain http://; put a TLS proxy in front for other networks)
    #[arg(long, env = "FERRY_SERVER", default_value = "http://127.0.0.1:8080", value_name = "URL")]
    pub server: String,
    /// The API token to send [default: ./ferry-data/admin.token when it exists]
    #[arg(long, env = "FERRY_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunnerArgs {
    #[command(subcommand)]
    pub command: Option<RunnerCommand>,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Claim only this project's jobs (repeatable) [default: every project's]
    #[arg(long = "project", value_name = "PROJECT")]
    pub projects: Vec<String>,
    /// Labels besides `self-hosted`, `linux` and the architecture, comma-separated
    #[arg(long, value_delimiter = ',', value_name = "LABELS")]
    pub labels: Vec<String>,
    /// How many jobs to run at once [default: the number of cores]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub slots: Option<u16>,
    /// The name to register under [default: this host's name]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Where repository mirrors, job workspaces and artifacts live; one runner per directory
    #[arg(long, default_value = "./ferry-runner", value_name = "DIR")]
    pub work_dir: PathBuf,
    /// Host variables steps get besides PATH, HOME, LANG and the other basics, by name,
    /// comma-separated (never a FERRY_* one: the runner's token stays the runner's)
    #[arg(long, env = "FERRY_RUNNER_PASS_ENV", value_delimiter = ',', value_name = "NAMES")]
    pub pass_env: Vec<String>,
    /// Where `uses: owner/repo@ref` actions are fetched from: a git host's address, or a
    /// folder (or file:// URL) holding owner/repo git repositories [default: https://github.com]
    #[arg(long, env = "FERRY_ACTIONS_URL", value_name = "URL")]
    pub actions_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The name to register under [default: this host's name]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Labels an environment's `hosts:` may select this agent by, comma-separated
    #[arg(long, value_delimiter = ',', value_name = "LABELS")]
    pub labels: Vec<String>,
    /// Where the agent keeps its token, desired state, runtime state, releases and replicas'
    /// output; one agent per directory
    #[arg(long, default_value = "./ferry-agent", value_name = "DIR")]
    pub dir: PathBuf,
    /// Also serve the proxies' counts and the push queue's as Prometheus text on
    /// http://ADDR/metrics (they are pushed to the server either way)
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// The IP address every service's proxy listens on, instead of its environment's `bind:`
    /// (one interface of this host; or 127.0.0.2 for a second agent on one machine)
    #[arg(long, value_name = "IP")]
    pub bind: Option<std::net::IpAddr>,
    /// Threads that run the supervisor and the proxies: 1 (the default) keeps the agent's
    /// memory lowest; more lets the proxies of a busy host use more cores
    #[arg(long, env = "FERRY_AGENT_THREADS", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256), value_name = "N")]
    pub threads: u16,
}

#[derive(Debug, Subcommand)]
pub enum RunnerCommand {
    /// Revoke a runner's token: it stops working at once, and the jobs the runner runs fail
    /// as "runner lost". Registering the runner again (with an admin token) gives it a new one.
    Revoke(RunnerRevokeArgs),
}

#[derive(Debug, Args)]
pub struct RunnerRevokeArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The runner's id or name (as `ferry runners` lists them)
    pub runner: String,
    /// Print the revoked runner as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunnersArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Print the runners as JSON, as `GET /api/v1/runners` answers.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProjectArgs {
    #[command(subcommand)]
    pub command: ProjectCommand,
}

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project on the server.
    Add(ProjectAddArgs),
    /// Change a project's settings.
    Set(ProjectSetArgs),
}

#[derive(Debug, Args)]
pub struct ProjectSetArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The project's name
    pub name: String,
    /// Whether runs of pull requests from forks wait for a developer's approval (`ferry approve`)
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub require_approval: bool,
    /// Print the project as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProjectAddArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The project's name: letters, digits, `.`, `_` and `-`
    pub name: String,
    /// The repository: a git URL, or a local path (sent as an absolute path)
    #[arg(long, value_name = "PATH_OR_URL")]
    pub repo: String,
    /// The default branch [default: main]
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,
    /// The secret forges sign webhooks with; without one, webhooks are refused
    #[arg(long, value_name = "SECRET")]
    pub webhook_secret: Option<String>,
    /// Runs of pull requests from forks wait for a developer's approval (`ferry approve`)
    #[arg(long)]
    pub require_approval: bool,
    /// Print the project as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SecretArgs {
    #[command(subcommand)]
    pub command: SecretCommand,
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Set a secret; without VALUE it is read from standard input, so it stays out of the
    /// shell's history.
    Set(SecretSetArgs),
}

#[derive(Debug, Args)]
pub struct SecretSetArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    pub project: String,
    pub key: String,
    /// The value [default: standard input, without its final line break]
    pub value: Option<String>,
    /// Set it for this environment only (its services and the jobs that target it)
    #[arg(long = "env", value_name = "ENV")]
    pub environment: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VarArgs {
    #[command(subcommand)]
    pub command: VarCommand,
}

#[derive(Debug, Subcommand)]
pub enum VarCommand {
    /// Set a configuration variable.
    Set(VarSetArgs),
    /// List the project's (or an environment's) variables with their values.
    List(VarListArgs),
    /// Delete a variable.
    Delete(VarDeleteArgs),
}

#[derive(Debug, Args)]
pub struct VarSetArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    pub project: String,
    pub key: String,
    pub value: String,
    /// Set it for this environment only (its services and the jobs that target it)
    #[arg(long = "env", value_name = "ENV")]
    pub environment: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VarListArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    pub project: String,
    /// This environment's variables [default: the project's own]
    #[arg(long = "env", value_name = "ENV")]
    pub environment: Option<String>,
    /// Print `[{name, value, updated_at}]`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VarDeleteArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    pub project: String,
    pub key: String,
    /// Delete this environment's [default: the project's own]
    #[arg(long = "env", value_name = "ENV")]
    pub environment: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    #[command(subcommand)]
    pub command: ReleaseCommand,
}

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Make a release of a service from a run or a folder.
    Create(ReleaseCreateArgs),
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["run", "dir"]))]
pub struct ReleaseCreateArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    pub project: String,
    pub service: String,
    /// A successful run of the project whose artifact holds the release's files
    #[arg(long, value_name = "RUN")]
    pub run: Option<i64>,
    /// A folder whose files are the release (uploaded as needed)
    #[arg(long, value_name = "PATH")]
    pub dir: Option<std::path::PathBuf>,
    /// The commit (id, branch or tag) whose .ferry/deploy.yml the release takes, with --dir
    /// [default: the head of the project's branch]
    #[arg(long, value_name = "SHA", conflicts_with = "run")]
    pub commit: Option<String>,
    /// Print the release as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReleasesArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    pub project: String,
    /// Only this service's releases
    pub service: Option<String>,
    /// Print the releases as JSON, newest first.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TriggerArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    pub project: String,
    /// The branch, tag or full ref to run [default: the project's branch]
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: Option<String>,
    /// Only this workflow file (`ci.yml` or `.github/workflows/ci.yml`) [default: every
    /// workflow with `on: workflow_dispatch`]
    #[arg(long, value_name = "FILE")]
    pub workflow: Option<String>,
    /// A workflow_dispatch input (`inputs.K`), repeatable.
    #[arg(long = "input", value_name = "K=V", value_parser = key_value)]
    pub inputs: Vec<(String, String)>,
    /// Wait for the runs to complete; exit 0 only when all concluded success.
    #[arg(long)]
    pub wait: bool,
    /// Print `{"runs": [{"id", "number", "workflow_file", "conclusion"}]}`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The run's id (as `ferry trigger` prints it).
    #[arg(required_unless_present = "project")]
    pub run: Option<i64>,
    /// Instead of a run's: the output of a service's replicas in an environment
    /// (`--project P --service S --env E`).
    #[arg(long, value_name = "PROJECT", conflicts_with = "run", requires_all = ["service", "environment"])]
    pub project: Option<String>,
    #[arg(long, value_name = "SERVICE", requires = "project")]
    pub service: Option<String>,
    #[arg(long = "env", value_name = "ENV", requires = "project")]
    pub environment: Option<String>,
    /// Only this job's lines (its id in `GET /api/v1/runs/RUN`).
    #[arg(long, value_name = "ID")]
    pub job: Option<i64>,
    /// Keep showing lines as they come, until the run completes.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Print each log chunk as one line of JSON.
    #[arg(long)]
    pub json: bool,
    /// Print the lines as the steps wrote them, without the `job | step N |` before each (to
    /// keep one step's log in a file: `ferry logs RUN --job ID --no-prefix > step.log`).
    #[arg(long, conflicts_with = "json")]
    pub no_prefix: bool,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    pub project: String,
    /// At most N runs (default 50, at most 200).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(1..))]
    pub limit: Option<i64>,
    /// Only runs numbered below N: the next page starts below the last number shown.
    #[arg(long, value_name = "N")]
    pub before: Option<i64>,
    /// Only runs in this state (queued, in_progress, completed) or with this conclusion
    /// (success, failure, cancelled, skipped, neutral).
    #[arg(long, value_name = "S")]
    pub status: Option<String>,
    /// Only runs of this branch (or full ref, `refs/tags/v1`).
    #[arg(long, value_name = "B")]
    pub branch: Option<String>,
    /// Only runs of this workflow file (`ci.yml` or `.github/workflows/ci.yml`).
    #[arg(long, value_name = "F")]
    pub workflow: Option<String>,
    /// Only runs of this event (push, pull_request, workflow_dispatch, schedule).
    #[arg(long, value_name = "E")]
    pub event: Option<String>,
    /// Print `{"runs": [...], "next_before": N|null}`, each run as `GET
    /// /api/v1/projects/PROJECT/runs` answers it; `next_before` is the `--before` of the next
    /// page (null on the last one).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The run's id (as `ferry runs` and `ferry trigger` print it); with --deployment, the
    /// deployment's (as `ferry deployments` prints it).
    pub id: i64,
    /// The id is a deployment's.
    #[arg(long)]
    pub deployment: bool,
    /// Print the run (or deployment) as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The waiting deployment's id (as `ferry deployments` prints it); with --run, the
    /// waiting run's (as `ferry runs` prints it).
    pub id: i64,
    /// The id is a run's: a run of a pull request from a fork waiting for approval.
    #[arg(long)]
    pub run: bool,
    /// Why, kept with a deployment's approval.
    #[arg(long, conflicts_with = "run", value_name = "TEXT")]
    pub comment: Option<String>,
    /// Print the deployment (or run) as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RerunArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The completed run's id (as `ferry runs` and `ferry trigger` print it).
    pub run: i64,
    /// Run again only the jobs that did not succeed, and the jobs that need them.
    #[arg(long)]
    pub failed: bool,
    /// Print the new run as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A `K=V` argument without a key or an `=`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected KEY=VALUE, got `{0}`")]
pub struct NotKeyValue(String);

fn key_value(text: &str) -> Result<(String, String), NotKeyValue> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(NotKeyValue(text.to_owned())),
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
        assert_eq!(key_value("=b").map_err(|error| error.to_string()), Err("expected KEY=VALUE, got `=b`".to_owned()));
        assert_eq!(key_value("ab"), Err(NotKeyValue("ab".to_owned())));
    }
}
