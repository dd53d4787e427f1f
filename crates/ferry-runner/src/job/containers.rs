//! A job's `container:` and `services:`, as GitHub's runner runs them: a network made for the
//! job, the service containers started on it (each reachable by its id as host name) and
//! waited for until their health check says healthy, and the job container, in which every
//! `run:` step then runs through `docker exec`, with the workspace, temp folder, runner files
//! and tool cache mounted where GitHub's runner mounts them (`/__w/...`, `/github/home`,
//! `/github/workflow`). Host paths in a step's environment and command are translated to
//! where the container sees them.
//!
//! Everything is labelled with its owner (the runner, or the job's work folder) and the job,
//! and removed when the job ends (after a failure or cancel too); what a killed process left
//! is removed by the next one in its name: the runner when it starts again, or the next job
//! that takes the work folder and uses containers (see [`EngineAccess`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ferry_workflow::Span;
use ferry_workflow::expr::Value;
use ferry_workflow::model::{Job, Text};
use serde_json::{Map, json};
use tokio::sync::watch;

use super::action::NodeError;
use super::contexts::{Contexts, EvalFailure, Evaluate as _};
use super::{JobSetup, masked};
use crate::docker::options::{ContainerOptions, OptionsError, parse_options};
use crate::docker::{
    ContainerSpec, Credentials, DockerError, DockerHost, Engine, EngineAccess, ExecSpec, Health, LABEL_JOB,
};
use crate::events::EventSender;
use crate::process::{Output, ProcessExit, ProcessSpec};

/// Where the job's workspace parent, temp folder and tools are in a job container.
const WORK: &str = "/__w";

/// How often a starting service's health is asked for.
const HEALTH_POLL: Duration = Duration::from_secs(1);

/// The longest a service may take to become healthy (GitHub waits as long as Docker's
/// retries say; this bounds a health check that never decides).
const HEALTH_LIMIT: Duration = Duration::from_secs(15 * 60);

/// Why a job's `container:` or `services:` could not be started; the message is for the
/// job's log.
#[derive(Debug, thiserror::Error)]
pub(super) enum ContainerError {
    /// An expression in the definition failed.
    #[error(transparent)]
    Expression(#[from] EvalFailure),
    #[error("`services:` must be a mapping of service ids to containers")]
    ServicesNotMapping,
    #[error("`{what}` must be an image name or a mapping with `image:`")]
    NotAnImage { what: String },
    #[error("`{what}.options`: {source}")]
    Options {
        what: String,
        #[source]
        source: OptionsError,
    },
    #[error("`{what}.{key}` has an unclosed quote")]
    UnclosedQuote { what: String, key: String },
    #[error("port `{port}` is not `container`, `host:container` or `ip:host:container`")]
    PortShape { port: String },
    #[error("port `{port}`: `{container}` is not a port number")]
    PortNumber { port: String, container: String },
    /// What the server's embedded runner refuses (see [`confined_check`]).
    #[error(
        "`{what}`: {detail}; the server's embedded runner keeps jobs out of the server's files. \
         Use a named volume, or run the job on a `ferry runner` of its own"
    )]
    Confined { what: String, detail: String },
    #[error("`container.options`: --entrypoint is not supported for a job container (as on GitHub)")]
    JobEntrypoint,
    #[error("preparing the job container's folders: {0}")]
    Mounts(#[source] std::io::Error),
    /// A service that did not become healthy, with the last lines of its logs.
    #[error(
        "service container `{id}` {why}; check its image, `env` and `--health-cmd`. Its logs:{}",
        logs.iter().map(|line| format!("\n  {line}")).collect::<String>()
    )]
    Unhealthy { id: String, why: &'static str, logs: Vec<String> },
    #[error(transparent)]
    Engine(#[from] DockerError),
}

/// The containers and network of one job.
#[derive(Debug)]
pub(super) struct JobContainers {
    engine: Engine,
    /// The value of [`LABEL_JOB`] on everything made for the job.
    job_label: String,
    network: Option<String>,
    services: Vec<(String, String)>,
    pub container: Option<Arc<JobContainer>>,
}

/// The container a `container:` job's steps run in.
#[derive(Debug)]
pub struct JobContainer {
    engine: Engine,
    pub id: String,
    /// Host folder → where the container sees it, longest host path first.
    mounts: Vec<(PathBuf, String)>,
    /// The container's own `PATH`.
    pub path: String,
    user: Option<String>,
    /// Where a step's pid is kept, in the container.
    pid_file: String,
}

/// What a container's definition says, its expressions evaluated.
#[derive(Debug, Default)]
struct ContainerDef {
    image: String,
    credentials: Option<Credentials>,
    env: Vec<String>,
    ports: Vec<String>,
    volumes: Vec<String>,
    options: ContainerOptions,
    entrypoint: Option<Vec<String>>,
    command: Option<Vec<String>>,
}

/// A name unique to this process's jobs, for containers and networks.
fn unique_label(job_id: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let job: String = job_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(40)
        .collect();
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.subsec_nanos());
    format!("{job}-{}-{nanos:x}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

impl JobContainers {
    /// Starts the job's services and container, and fills `job.services` and `job.container`
    /// in `contexts`. `lines` receives what the job's log shows of it. On an error, whatever
    /// was started is removed again.
    pub(super) async fn start(
        setup: &JobSetup,
        docker: &mut Option<Arc<DockerHost>>,
        job: &Job,
        contexts: &mut Contexts,
        file: &str,
        lines: &mut Vec<String>,
        cancel: &watch::Receiver<bool>,
    ) -> Result<Option<JobContainers>, ContainerError> {
        let job_container = match &job.container {
            Some(spanned) => container_def(&evaluate(contexts, file, spanned.span, &spanned.value)?, "container")?,
            None => None,
        };
        let mut service_defs = Vec::new();
        if let Some(spanned) = &job.services {
            let services = evaluate(contexts, file, spanned.span, &spanned.value)?;
            let Value::Object(services) = services else {
                return Err(ContainerError::ServicesNotMapping);
            };
            for (id, value) in services {
                if let Some(def) = container_def(&value, &format!("services.{id}"))? {
                    service_defs.push((id, def));
                }
            }
        }
        // `container: ''` (from a matrix) runs the job on the host, as on GitHub.
        if job_container.is_none() && service_defs.is_empty() {
            return Ok(None);
        }
        // A registry password is a secret wherever it came from, as GitHub's runner treats it.
        if let Ok(mut masker) = setup.masker.write() {
            let defs = job_container.iter().chain(service_defs.iter().map(|(_, def)| def));
            for credentials in defs.filter_map(|def| def.credentials.as_ref()) {
                masker.add(&credentials.password);
            }
        }
        if setup.isolation.confinement.is_some() {
            for (what, def) in job_container
                .iter()
                .map(|def| ("container", def))
                .chain(service_defs.iter().map(|(id, def)| (id.as_str(), def)))
            {
                confined_check(what, def)?;
            }
        }
        let host = docker_host(setup, docker).await?;
        let job_label = unique_label(&setup.job_id);
        let mut containers = JobContainers {
            engine: host.engine.clone(),
            job_label: job_label.clone(),
            network: None,
            services: Vec::new(),
            container: None,
        };
        let res = containers.start_all(setup, &host, job_container, service_defs, contexts, lines, cancel).await;
        match res {
            Ok(()) => Ok(Some(containers)),
            Err(error) => {
                containers.remove(lines).await;
                Err(error)
            }
        }
    }

    #[expect(clippy::too_many_arguments, reason = "one call site, the pieces of one job's start")]
    async fn start_all(
        &mut self,
        setup: &JobSetup,
        host: &DockerHost,
        container_def: Option<ContainerDef>,
        service_defs: Vec<(String, ContainerDef)>,
        contexts: &mut Contexts,
        lines: &mut Vec<String>,
        cancel: &watch::Receiver<bool>,
    ) -> Result<(), ContainerError> {
        let engine = &host.engine;
        let labels = crate::docker::labels(host, &self.job_label);
        let network_name = format!("ferry_{}", self.job_label);
        lines.push(format!("Creating network {network_name} (container engine at {})", engine.endpoint()));
        let network = engine.create_network(&network_name, labels.clone()).await?;
        self.network = Some(network.clone());

        let mut services_context = Map::new();
        for (id, def) in service_defs {
            lines.push(format!("Starting service container `{id}` (image {})", def.image));
            engine.ensure_image(&def.image, def.credentials.as_ref()).await?;
            let mut spec = spec_of(&def, &format!("ferry_{}_{id}", self.job_label), &labels)?;
            spec.network = Some(network_name.clone());
            spec.aliases = vec![id.clone()];
            let container = engine.start_container(&spec).await?;
            self.services.push((id.clone(), container.clone()));
            let ports = engine.published_ports(&container).await?;
            let ports: Map<String, Value> =
                ports.into_iter().map(|(port, host_port)| (port, Value::String(host_port))).collect();
            services_context.insert(id, json!({"id": container, "network": network_name.clone(), "ports": ports}));
        }
        for (id, container) in &self.services {
            wait_healthy(engine, id, container, lines, cancel).await?;
        }

        let mut container_context = json!({"network": network_name.clone()});
        if let Some(def) = container_def {
            lines.push(format!("Starting job container (image {})", def.image));
            engine.ensure_image(&def.image, def.credentials.as_ref()).await?;
            if def.options.entrypoint.is_some() {
                return Err(ContainerError::JobEntrypoint);
            }
            let mounts = job_mounts(setup).map_err(ContainerError::Mounts)?;
            let mut spec = spec_of(&def, &format!("ferry_{}_job", self.job_label), &labels)?;
            spec.network = Some(network_name.clone());
            // As GitHub's runner: the container idles, steps are exec'd into it.
            spec.entrypoint = Some(vec!["tail".to_owned()]);
            spec.cmd = Some(vec!["-f".to_owned(), "/dev/null".to_owned()]);
            spec.env.push("HOME=/github/home".to_owned());
            spec.working_dir =
                mounts.iter().find(|(host, _)| *host == setup.workspace).map(|(_, inside)| inside.clone());
            spec.binds.extend(mounts.iter().map(|(host, inside)| format!("{}:{inside}", host.display())));
            let id = engine.start_container(&spec).await?;
            let path = engine
                .container_path(&id)
                .await?
                .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned());
            container_context = json!({"id": id.clone(), "network": network_name.clone()});
            let mut mounts = mounts;
            mounts.sort_by_key(|(host, _)| std::cmp::Reverse(host.as_os_str().len()));
            self.container = Some(Arc::new(JobContainer {
                engine: engine.clone(),
                id,
                mounts,
                path,
                user: def.options.user.clone(),
                pid_file: format!("{WORK}/_temp/_runner_file_commands/.step-pid"),
            }));
        }
        let job_context = contexts.object_mut("job");
        job_context.insert("container".to_owned(), container_context);
        job_context.insert("services".to_owned(), Value::Object(services_context));
        Ok(())
    }

    /// Shows the services' logs in `lines`, then removes every container and the network.
    pub(super) async fn finish(self, setup: &JobSetup, lines: &mut Vec<String>) {
        for (id, container) in &self.services {
            match self.engine.logs(container).await {
                Ok(log) => {
                    lines.push(format!("Logs of service container `{id}`:"));
                    lines.extend(log.iter().map(|line| masked(&setup.masker, line)));
                }
                Err(error) => lines.push(format!("warning: {error}")),
            }
        }
        self.remove(lines).await;
    }

    async fn remove(&self, lines: &mut Vec<String>) {
        // Everything labelled with this job, including what a failed start left half made.
        if let Err(error) = self.engine.remove_labeled(LABEL_JOB, &self.job_label).await {
            lines.push(format!("warning: removing the job's containers: {error}"));
        }
    }
}

/// On a confined runner (the server's embedded one), a container may not reach into the host:
/// no host folders as volumes, no extra privileges.
fn confined_check(what: &str, def: &ContainerDef) -> Result<(), ContainerError> {
    let refuse = |detail: String| Err(ContainerError::Confined { what: what.to_owned(), detail });
    if let Some(volume) =
        def.volumes.iter().chain(&def.options.volumes).find(|volume| volume.starts_with('/') || volume.starts_with('.'))
    {
        return refuse(format!("the host folder in volume `{volume}` is not mounted here"));
    }
    if def.options.privileged || !def.options.cap_add.is_empty() {
        return refuse("--privileged and --cap-add are refused here".to_owned());
    }
    Ok(())
}

/// The engine this job uses: the runner's, or the one the job connected to (`connected`),
/// connecting now if it has not yet, which removes what an earlier holder of the job's work
/// folder left (see [`EngineAccess::OnDemand`]).
pub(super) async fn docker_host(
    setup: &JobSetup,
    connected: &mut Option<Arc<DockerHost>>,
) -> Result<Arc<DockerHost>, DockerError> {
    let owner = match &setup.docker {
        EngineAccess::Runner(host) => return Ok(host.clone()),
        EngineAccess::OnDemand { owner } => owner,
    };
    if let Some(host) = connected {
        return Ok(host.clone());
    }
    let docker_host = std::env::var("DOCKER_HOST").ok();
    let host = Arc::new(DockerHost::start(docker_host.as_deref(), owner).await?);
    *connected = Some(host.clone());
    Ok(host)
}

/// Waits until the service's health check says healthy (at once when it has none).
async fn wait_healthy(
    engine: &Engine,
    id: &str,
    container: &str,
    lines: &mut Vec<String>,
    cancel: &watch::Receiver<bool>,
) -> Result<(), ContainerError> {
    let started = tokio::time::Instant::now();
    let mut said_waiting = false;
    loop {
        let health = engine.health(container).await?;
        match health {
            Health::None | Health::Healthy => {
                if said_waiting {
                    lines.push(format!("Service `{id}` is healthy"));
                }
                return Ok(());
            }
            Health::Starting if started.elapsed() < HEALTH_LIMIT && !*cancel.borrow() => {
                if !said_waiting {
                    lines.push(format!("Waiting for service `{id}` to be healthy"));
                    said_waiting = true;
                }
                tokio::time::sleep(HEALTH_POLL).await;
            }
            other => {
                let why = match other {
                    Health::Unhealthy => "is unhealthy",
                    Health::Exited => "stopped",
                    _ if *cancel.borrow() => "was still starting when the job was cancelled",
                    _ => "did not become healthy in time",
                };
                let log = engine.logs(container).await.unwrap_or_default();
                let logs = log[log.len().saturating_sub(50)..].to_vec();
                return Err(ContainerError::Unhealthy { id: id.to_owned(), why, logs });
            }
        }
    }
}

/// A `container:` or service definition: an image, or a mapping.
fn container_def(value: &Value, what: &str) -> Result<Option<ContainerDef>, ContainerError> {
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let map = match value {
        Value::Null => return Ok(None),
        Value::String(image) if image.trim().is_empty() => return Ok(None),
        Value::String(image) => {
            return Ok(Some(ContainerDef { image: image.trim().to_owned(), ..ContainerDef::default() }));
        }
        Value::Object(map) => map,
        _ => return Err(ContainerError::NotAnImage { what: what.to_owned() }),
    };
    let image = map.get("image").map(text).unwrap_or_default();
    if image.trim().is_empty() {
        return Ok(None);
    }
    let mut def = ContainerDef { image: image.trim().to_owned(), ..ContainerDef::default() };
    if let Some(Value::Object(credentials)) = map.get("credentials") {
        def.credentials = Some(Credentials {
            username: credentials.get("username").map(text).unwrap_or_default(),
            password: credentials.get("password").map(text).unwrap_or_default(),
        });
    }
    if let Some(Value::Object(env)) = map.get("env") {
        def.env = env.iter().map(|(name, value)| format!("{name}={}", text(value))).collect();
    }
    let list = |key: &str| -> Vec<String> {
        match map.get(key) {
            Some(Value::Array(items)) => items.iter().map(text).collect(),
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![text(other)],
        }
    };
    def.ports = list("ports");
    def.volumes = list("volumes");
    if let Some(options) = map.get("options").map(text) {
        def.options =
            parse_options(&options).map_err(|source| ContainerError::Options { what: what.to_owned(), source })?;
    }
    let words = |key: &str| -> Result<Option<Vec<String>>, ContainerError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items.iter().map(text).collect())),
            Some(value) => crate::shell::split_words(&text(value))
                .map(Some)
                .ok_or_else(|| ContainerError::UnclosedQuote { what: what.to_owned(), key: key.to_owned() }),
        }
    };
    def.entrypoint = words("entrypoint")?;
    def.command = words("command")?;
    Ok(Some(def))
}

/// Evaluates the expressions in a definition written as JSON; a string that is one expression
/// keeps its value's type (`container: ${{ matrix.container }}` may be a mapping).
fn evaluate(contexts: &Contexts, file: &str, span: Span, value: &Value) -> Result<Value, EvalFailure> {
    Ok(match value {
        Value::String(text) if text.contains("${{") => {
            let text = Text { value: text.clone(), span };
            contexts.value(file, &text)?
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| evaluate(contexts, file, span, item)).collect::<Result<_, _>>()?)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| Ok((key.clone(), evaluate(contexts, file, span, item)?)))
                .collect::<Result<_, EvalFailure>>()?,
        ),
        other => other.clone(),
    })
}

/// The container to create for `def`.
fn spec_of(def: &ContainerDef, name: &str, labels: &HashMap<String, String>) -> Result<ContainerSpec, ContainerError> {
    let options = &def.options;
    let mut labels = labels.clone();
    labels.extend(options.labels.iter().cloned());
    let mut ports = Vec::new();
    for port in def.ports.iter().chain(&options.ports) {
        ports.push(parse_port(port)?);
    }
    Ok(ContainerSpec {
        name: name.to_owned(),
        image: def.image.clone(),
        env: def.env.iter().chain(&options.env).cloned().collect(),
        cmd: def.command.clone(),
        entrypoint: def.entrypoint.clone().or_else(|| options.entrypoint.clone().map(|entrypoint| vec![entrypoint])),
        working_dir: options.workdir.clone(),
        labels,
        binds: def.volumes.iter().chain(&options.volumes).cloned().collect(),
        network: None,
        aliases: Vec::new(),
        ports,
        health: crate::docker::health_check(options),
        user: options.user.clone(),
        hostname: options.hostname.clone(),
        privileged: options.privileged,
        cap_add: options.cap_add.clone(),
        shm_size: options.shm_size,
        tmpfs: options.tmpfs.clone(),
    })
}

/// `8080:80`, `127.0.0.1:8080:80`, `80` or `80/udp` → container port and host port.
fn parse_port(port: &str) -> Result<(String, Option<String>), ContainerError> {
    let parts: Vec<&str> = port.trim().split(':').collect();
    let (host, container) = match parts.as_slice() {
        [container] => (None, *container),
        [host, container] | [_, host, container] => {
            (Some((*host).to_owned()).filter(|host| !host.is_empty()), *container)
        }
        _ => return Err(ContainerError::PortShape { port: port.to_owned() }),
    };
    let number = container.split('/').next().unwrap_or_default();
    if number.parse::<u16>().is_err() {
        return Err(ContainerError::PortNumber { port: port.to_owned(), container: container.to_owned() });
    }
    Ok((container.to_owned(), host))
}

/// The host folders a job container gets, and where: as GitHub's runner mounts its work
/// folder, temp folder, home, workflow folder and tool cache. Made when missing.
fn job_mounts(setup: &JobSetup) -> std::io::Result<Vec<(PathBuf, String)>> {
    let name =
        setup.workspace.file_name().map_or_else(|| "workspace".to_owned(), |name| name.to_string_lossy().into_owned());
    let home = setup.temp.join("_github_home");
    let workflow = setup.temp.join("_github_workflow");
    let tools = setup.temp.join("_tool");
    for dir in [&setup.temp, &setup.files, &home, &workflow, &tools] {
        std::fs::create_dir_all(dir)?;
    }
    let mut mounts = vec![
        (setup.workspace.clone(), format!("{WORK}/{name}/{name}")),
        (setup.temp.clone(), format!("{WORK}/_temp")),
        (setup.files.clone(), format!("{WORK}/_temp/_runner_file_commands")),
        (tools, format!("{WORK}/_tool")),
        (home, "/github/home".to_owned()),
        (workflow, "/github/workflow".to_owned()),
    ];
    for (idx, dir) in setup.action_dirs.iter().enumerate() {
        if dir.is_dir() && !dir.starts_with(&setup.workspace) {
            mounts.push((dir.clone(), format!("{WORK}/_actions/{idx}")));
        }
    }
    // Actions from their repositories run from the store, and JavaScript ones on the host's
    // Node.js, mounted where GitHub's runner mounts its own (`/__e/node20`).
    if let Some(actions) = &setup.actions {
        std::fs::create_dir_all(actions.store())?;
        mounts.push((actions.store().to_path_buf(), format!("{WORK}/_actions/fetched")));
    }
    if let Ok((node, _)) = super::action::find_node()
        && Path::new(&node).is_absolute()
    {
        mounts.push((PathBuf::from(node), CONTAINER_NODE.to_owned()));
    }
    Ok(mounts)
}

/// Where a job container sees the host's Node.js, for JavaScript actions.
pub(super) const CONTAINER_NODE: &str = "/__e/node20/bin/node";

impl JobContainer {
    /// Where the container sees the host path `path` (unchanged when no mount holds it).
    pub fn to_container(&self, path: &str) -> String {
        translate(&self.mounts, path)
    }

    /// Whether the host's Node.js at `node` starts in the container (`node --version`);
    /// `Err` with why not, and how to fix it.
    pub(super) async fn check_node(&self, node: &str) -> Result<(), NodeError> {
        let inside = self.to_container(node);
        if inside != CONTAINER_NODE {
            return Err(NodeError::NotAbsolute { node: node.to_owned() });
        }
        let exec = ExecSpec {
            container: self.id.clone(),
            cmd: vec![inside.clone(), "--version".to_owned()],
            env: Vec::new(),
            working_dir: "/".to_owned(),
            user: self.user.clone(),
            timeout: Some(Duration::from_secs(60)),
            kill_grace: Duration::from_secs(1),
            pid_file: self.pid_file.clone(),
        };
        let mut said = Vec::new();
        let mut output = |_, line: &str| said.push(line.to_owned());
        let (_keep, mut cancel) = watch::channel(false);
        let exit = crate::docker::run_exec(&self.engine, &exec, &mut cancel, &mut output, None)
            .await
            .map_err(|error| NodeError::StartInContainer { reason: error.to_string() })?;
        if exit.success() {
            return Ok(());
        }
        Err(NodeError::NotInImage { node: node.to_owned(), inside, said: said.join(" ").trim().to_owned() })
    }

    /// Runs `spec` (made for the host) in the container: its program, arguments, working
    /// folder and the values of its environment that are host paths translated to the
    /// container's paths.
    pub async fn run(
        &self,
        spec: &ProcessSpec,
        cancel: &mut watch::Receiver<bool>,
        output: &mut dyn Output,
        backpressure: Option<&EventSender>,
    ) -> std::io::Result<ProcessExit> {
        let env = container_env(&spec.env, &self.mounts, &[]);
        let mut cmd = vec![self.to_container(&spec.program)];
        cmd.extend(spec.args.iter().map(|arg| if arg.starts_with('/') { self.to_container(arg) } else { arg.clone() }));
        let exec = ExecSpec {
            container: self.id.clone(),
            cmd,
            env: env.into_iter().map(|(name, value)| format!("{name}={value}")).collect(),
            working_dir: self.to_container(&spec.working_dir.display().to_string()),
            user: self.user.clone(),
            timeout: spec.timeout,
            kill_grace: spec.kill_grace,
            pid_file: self.pid_file.clone(),
        };
        crate::docker::run_exec(&self.engine, &exec, cancel, output, backpressure).await
    }
}

/// A process's environment `env` (the last value of a name wins) as a container with
/// `mounts` gets it: values that are host paths translated, the names in `dropped` left out.
pub(super) fn container_env(
    env: &[(String, String)],
    mounts: &[(PathBuf, String)],
    dropped: &[String],
) -> Vec<(String, String)> {
    let mut inside: Vec<(String, String)> = Vec::new();
    for (name, value) in env {
        if dropped.contains(name) {
            continue;
        }
        let value = if value.starts_with('/') { translate(mounts, value) } else { value.clone() };
        inside.retain(|(known, _)| known != name);
        inside.push((name.clone(), value));
    }
    inside
}

/// Where a container with `mounts` (longest host path first) sees the host path `path`.
pub(super) fn translate(mounts: &[(PathBuf, String)], path: &str) -> String {
    for (host, inside) in mounts {
        if let Ok(rest) = Path::new(path).strip_prefix(host) {
            let rest = rest.to_string_lossy();
            return if rest.is_empty() { inside.clone() } else { format!("{inside}/{rest}") };
        }
    }
    path.to_owned()
}

#[cfg(test)]
mod tests;
