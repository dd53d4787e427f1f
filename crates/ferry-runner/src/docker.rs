//! The container engine a runner reaches for `container:` jobs, `services:` and Docker
//! actions: Docker Engine's API (or podman's compatible socket) through bollard, at
//! `DOCKER_HOST` or `/var/run/docker.sock`. No `docker` CLI is needed on the host.
//!
//! Everything Ferry creates carries the labels [`LABEL_RUNNER`] (who owns it: a runner, or the
//! work slot of a `ferry run` job), [`LABEL_JOB`] (for which job) and [`LABEL_PID`] (which
//! process made it), so a job removes what it made, and a runner that starts again, or the next
//! `ferry run` job that takes a work slot, removes what a killed process left behind
//! ([`Engine::remove_labeled`], [`EngineAccess`]).

mod exec;
pub mod options;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HealthStatusEnum, HostConfig, NetworkCreateRequest,
    NetworkingConfig, PortBinding,
};
use bollard::query_parameters::{
    BuildImageOptions, CreateContainerOptions, CreateImageOptions, ListContainersOptions, ListNetworksOptions,
    LogsOptions, RemoveContainerOptions,
};
use futures_util::StreamExt as _;

pub use exec::{ExecSpec, run_container, run_exec};

/// The label naming the runner that made a container or network.
pub const LABEL_RUNNER: &str = "ferry.runner";
/// The label naming the job a container or network was made for.
pub const LABEL_JOB: &str = "ferry.job";
/// The label holding the id of the process that made a container or network.
pub const LABEL_PID: &str = "ferry.pid";

/// Where the engine is looked for without `DOCKER_HOST`.
const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";

/// How long one request may take; image builds and pulls stream for longer, their requests
/// answer at once.
const REQUEST_TIMEOUT_S: u64 = 600;

/// What went wrong talking to the engine.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// No engine answered: the job cannot use containers on this host.
    #[error(
        "no container engine reachable at {endpoint} ({reason}). Jobs with `container:` or `services:` and \
         Docker actions need Docker Engine (or podman's Docker-compatible socket): start it, or point \
         DOCKER_HOST at its socket (unix:///path/to/docker.sock or tcp://host:port)"
    )]
    Unreachable { endpoint: String, reason: String },
    /// The image is not on the host and pulling it failed.
    #[error(
        "image `{image}` is not on this host and pulling it failed: {reason}. Make the registry reachable \
         (and give `credentials:` if it needs them), or build or load the image on the runner's host"
    )]
    ImageUnavailable { image: String, reason: String },
    /// `docker build` of a context failed.
    #[error("building image `{tag}` from {context}: {reason}")]
    Build { tag: String, context: String, reason: String },
    /// Any other refusal of the engine.
    #[error("{action}: {source}")]
    Api {
        action: String,
        #[source]
        source: bollard::errors::Error,
    },
}

fn api(action: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> DockerError {
    let action = action.into();
    move |source| DockerError::Api { action, source }
}

/// A connection to a container engine that answered.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    endpoint: String,
}

/// The engine a runner uses for its jobs' containers, and the name that labels what it makes
/// ([`LABEL_RUNNER`]).
#[derive(Debug, Clone)]
pub struct DockerHost {
    pub engine: Engine,
    pub runner: String,
}

impl DockerHost {
    /// Connects to the engine for the owner `runner` (a runner, or a job's work folder) and
    /// removes what a previous holder of that name left behind (containers and networks
    /// labelled with it).
    ///
    /// # Errors
    /// [`DockerError::Unreachable`] when no engine answers (a runner then lacks the `docker`
    /// capability), or the engine refused to list or remove what was left.
    pub async fn start(docker_host: Option<&str>, runner: &str) -> Result<DockerHost, DockerError> {
        let engine = Engine::connect(docker_host).await?;
        let (n_containers, n_networks) = engine.remove_labeled(LABEL_RUNNER, runner).await?;
        if n_containers + n_networks > 0 {
            tracing::info!(
                n_containers,
                n_networks,
                "removed {n_containers} containers and {n_networks} networks a previous process left as {runner}"
            );
        }
        Ok(DockerHost { engine, runner: runner.to_owned() })
    }
}

/// How a job reaches the container engine.
#[derive(Debug, Clone)]
pub enum EngineAccess {
    /// The runner's engine, connected when it started (which removed what an earlier life of
    /// the runner left).
    Runner(Arc<DockerHost>),
    /// Connected when the job first needs a container, once per job ([`DockerHost::start`]):
    /// what the job makes is owned by `owner`, and whatever `owner` still owns then is
    /// removed first. The owner is the job's work folder, which one process at a time holds
    /// (`ferry run`'s locked work slots, a runner's slots): a process that takes it after a
    /// `kill -9` removes what the killed one left. `ferry run` also removes what was left in
    /// any free slot when it starts ([`remove_left_in`]), whatever its jobs use.
    OnDemand { owner: String },
}

/// The owner ([`LABEL_RUNNER`]) of what a `ferry run` job makes in the work slot `root`
/// (see [`crate::workspace::lock_work_slot`]).
#[must_use]
pub fn slot_owner(root: &Path) -> String {
    format!("{SLOT_OWNER}{}", root.display())
}

const SLOT_OWNER: &str = "slot:";

/// Removes what `ferry run` processes that were killed left on `engine` from the work slots
/// under `work` (every repository's): the containers and networks of each slot no process
/// holds now, holding the slot meanwhile. A slot a running job holds keeps its own. How many
/// containers and networks went.
///
/// # Errors
/// The engine refused to list or remove them.
pub async fn remove_left_in(engine: &Engine, work: &Path) -> Result<(usize, usize), DockerError> {
    let mut removed = (0, 0);
    for owner in engine.label_values(LABEL_RUNNER).await? {
        let Some(root) = owner.strip_prefix(SLOT_OWNER).map(Path::new) else { continue };
        if !root.starts_with(work) {
            continue;
        }
        // Held by a live process (or not a slot): left alone.
        let Some(_held) = crate::workspace::hold_free_slot(root) else { continue };
        let (n_containers, n_networks) = engine.remove_labeled(LABEL_RUNNER, &owner).await?;
        removed.0 += n_containers;
        removed.1 += n_networks;
    }
    Ok(removed)
}

/// The labels for what a job with `job_label` makes on `host`.
#[must_use]
pub fn labels(host: &DockerHost, job_label: &str) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_RUNNER.to_owned(), host.runner.clone()),
        (LABEL_JOB.to_owned(), job_label.to_owned()),
        (LABEL_PID.to_owned(), std::process::id().to_string()),
    ])
}

/// Credentials for a registry (`container.credentials`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// A container to create and start.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    /// `NAME=value` entries.
    pub env: Vec<String>,
    /// `None`: the image's command.
    pub cmd: Option<Vec<String>>,
    /// `None`: the image's entrypoint.
    pub entrypoint: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub labels: HashMap<String, String>,
    /// `host:container[:ro]` binds and named volumes.
    pub binds: Vec<String>,
    /// The network to join, with these aliases there.
    pub network: Option<String>,
    pub aliases: Vec<String>,
    /// `container[/proto]` → host port (`None`: a free one the engine picks).
    pub ports: Vec<(String, Option<String>)>,
    pub health: Option<HealthConfig>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub shm_size: Option<i64>,
    pub tmpfs: HashMap<String, String>,
}

/// How a container's health check stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// It has no health check.
    None,
    Starting,
    Healthy,
    Unhealthy,
    /// The container stopped.
    Exited,
}

impl Engine {
    /// Connects to the engine at `docker_host` (a `DOCKER_HOST` value: `unix:///path` or
    /// `tcp://host:port`), or at `/var/run/docker.sock`, and checks that it answers, agreeing
    /// on the API version with it.
    ///
    /// # Errors
    /// [`DockerError::Unreachable`], naming the endpoint tried and why it failed.
    pub async fn connect(docker_host: Option<&str>) -> Result<Engine, DockerError> {
        let endpoint = docker_host.filter(|host| !host.is_empty()).unwrap_or(DEFAULT_SOCKET).to_owned();
        let unreachable = |reason: String| DockerError::Unreachable { endpoint: endpoint.clone(), reason };
        let docker = if let Some(path) = endpoint.strip_prefix("unix://") {
            if !Path::new(path).exists() {
                return Err(unreachable(format!("{path} does not exist")));
            }
            Docker::connect_with_unix(&endpoint, REQUEST_TIMEOUT_S, bollard::API_DEFAULT_VERSION)
        } else if endpoint.starts_with("tcp://") || endpoint.starts_with("http://") {
            Docker::connect_with_http(&endpoint, REQUEST_TIMEOUT_S, bollard::API_DEFAULT_VERSION)
        } else {
            return Err(unreachable("only unix:// and tcp:// endpoints are supported".to_owned()));
        }
        .map_err(|error| unreachable(error.to_string()))?;
        // An older engine refuses requests made for a newer API version.
        let docker = tokio::time::timeout(Duration::from_secs(10), docker.negotiate_version())
            .await
            .map_err(|_| unreachable("no answer within 10 s".to_owned()))?
            .map_err(|error| unreachable(error.to_string()))?;
        docker.ping().await.map_err(|error| unreachable(error.to_string()))?;
        Ok(Engine { docker, endpoint })
    }

    /// Where this engine was reached.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Whether `image` is on the host.
    ///
    /// # Errors
    /// The engine failed to answer.
    pub async fn has_image(&self, image: &str) -> Result<bool, DockerError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(false),
            Err(source) => Err(DockerError::Api { action: format!("looking for image `{image}`"), source }),
        }
    }

    /// Makes sure `image` is on the host: there already, else pulled (with `credentials`).
    ///
    /// # Errors
    /// [`DockerError::ImageUnavailable`] when it is missing and cannot be pulled.
    pub async fn ensure_image(&self, image: &str, credentials: Option<&Credentials>) -> Result<(), DockerError> {
        if self.has_image(image).await? {
            return Ok(());
        }
        let (from_image, tag) = split_tag(image);
        let options = CreateImageOptions {
            from_image: Some(from_image.to_owned()),
            tag: Some(tag.to_owned()),
            ..CreateImageOptions::default()
        };
        let credentials = credentials.map(|credentials| bollard::auth::DockerCredentials {
            username: Some(credentials.username.clone()),
            password: Some(credentials.password.clone()),
            ..bollard::auth::DockerCredentials::default()
        });
        let mut pull = self.docker.create_image(Some(options), None, credentials);
        let unavailable = |reason: String| DockerError::ImageUnavailable { image: image.to_owned(), reason };
        while let Some(info) = pull.next().await {
            let info = info.map_err(|error| unavailable(error.to_string()))?;
            if let Some(detail) = info.error_detail {
                return Err(unavailable(detail.message.unwrap_or_default()));
            }
        }
        if self.has_image(image).await? { Ok(()) } else { Err(unavailable("the pull ended without it".to_owned())) }
    }

    /// Builds `tag` from the folder `context` with its `dockerfile` (relative to the folder),
    /// labelled with `labels`; `progress` gets the build's output lines.
    ///
    /// # Errors
    /// [`DockerError::Build`] with the build's own error message.
    pub async fn build_image(
        &self,
        context: &Path,
        dockerfile: &str,
        tag: &str,
        labels: HashMap<String, String>,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), DockerError> {
        let failed =
            |reason: String| DockerError::Build { tag: tag.to_owned(), context: context.display().to_string(), reason };
        let archive = {
            let context = context.to_path_buf();
            tokio::task::spawn_blocking(move || tar_folder(&context))
                .await
                .map_err(|error| failed(error.to_string()))?
                .map_err(|error| failed(format!("packing the build context: {error}")))?
        };
        let options = BuildImageOptions {
            dockerfile: dockerfile.to_owned(),
            t: Some(tag.to_owned()),
            rm: true,
            forcerm: true,
            labels: Some(labels),
            ..BuildImageOptions::default()
        };
        let mut build = self.docker.build_image(options, None, Some(bollard::body_full(archive.into())));
        while let Some(info) = build.next().await {
            let info = info.map_err(|error| failed(error.to_string()))?;
            if let Some(detail) = info.error_detail {
                return Err(failed(detail.message.unwrap_or_default()));
            }
            if let Some(text) = info.stream {
                for line in text.lines().filter(|line| !line.trim().is_empty()) {
                    progress(line);
                }
            }
        }
        Ok(())
    }

    /// Makes a bridge network `name` with `labels`; its id.
    ///
    /// # Errors
    /// The engine refused.
    pub async fn create_network(&self, name: &str, labels: HashMap<String, String>) -> Result<String, DockerError> {
        let request = NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("bridge".to_owned()),
            labels: Some(labels),
            ..NetworkCreateRequest::default()
        };
        let created = self.docker.create_network(request).await.map_err(api(format!("creating network `{name}`")))?;
        Ok(created.id)
    }

    /// Creates and starts a container; its id.
    ///
    /// # Errors
    /// The engine refused to create or start it.
    pub async fn start_container(&self, spec: &ContainerSpec) -> Result<String, DockerError> {
        let mut port_bindings = HashMap::new();
        let mut exposed = Vec::new();
        for (container, host) in &spec.ports {
            let key = if container.contains('/') { container.clone() } else { format!("{container}/tcp") };
            exposed.push(key.clone());
            let binding = PortBinding { host_ip: None, host_port: Some(host.clone().unwrap_or_default()) };
            port_bindings.insert(key, Some(vec![binding]));
        }
        let networking = spec.network.as_ref().map(|network| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                network.clone(),
                EndpointSettings { aliases: Some(spec.aliases.clone()), ..EndpointSettings::default() },
            )])),
        });
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            env: Some(spec.env.clone()),
            cmd: spec.cmd.clone(),
            entrypoint: spec.entrypoint.clone(),
            working_dir: spec.working_dir.clone(),
            labels: Some(spec.labels.clone()),
            exposed_ports: Some(exposed),
            healthcheck: spec.health.clone(),
            user: spec.user.clone(),
            hostname: spec.hostname.clone(),
            host_config: Some(HostConfig {
                binds: Some(spec.binds.clone()),
                network_mode: spec.network.clone(),
                port_bindings: Some(port_bindings),
                privileged: Some(spec.privileged),
                cap_add: (!spec.cap_add.is_empty()).then(|| spec.cap_add.clone()),
                shm_size: spec.shm_size,
                tmpfs: (!spec.tmpfs.is_empty()).then(|| spec.tmpfs.clone()),
                ..HostConfig::default()
            }),
            networking_config: networking,
            ..ContainerCreateBody::default()
        };
        let options = CreateContainerOptions { name: Some(spec.name.clone()), ..CreateContainerOptions::default() };
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(api(format!("creating container `{}` from image `{}`", spec.name, spec.image)))?;
        self.docker
            .start_container(&created.id, None::<bollard::query_parameters::StartContainerOptions>)
            .await
            .map_err(api(format!("starting container `{}` (image `{}`)", spec.name, spec.image)))?;
        Ok(created.id)
    }

    /// The container's health, as its health check last said.
    ///
    /// # Errors
    /// The engine failed to answer.
    pub async fn health(&self, container: &str) -> Result<Health, DockerError> {
        let inspect = self
            .docker
            .inspect_container(container, None::<bollard::query_parameters::InspectContainerOptions>)
            .await
            .map_err(api(format!("inspecting container {container}")))?;
        let state = inspect.state.unwrap_or_default();
        if state.running != Some(true) {
            return Ok(Health::Exited);
        }
        Ok(match state.health.and_then(|health| health.status) {
            Some(HealthStatusEnum::HEALTHY) => Health::Healthy,
            Some(HealthStatusEnum::UNHEALTHY) => Health::Unhealthy,
            Some(HealthStatusEnum::STARTING) => Health::Starting,
            _ => Health::None,
        })
    }

    /// The host ports the container's ports are published on: `container port` (without
    /// `/tcp`) → host port.
    ///
    /// # Errors
    /// The engine failed to answer.
    pub async fn published_ports(&self, container: &str) -> Result<Vec<(String, String)>, DockerError> {
        let inspect = self
            .docker
            .inspect_container(container, None::<bollard::query_parameters::InspectContainerOptions>)
            .await
            .map_err(api(format!("inspecting container {container}")))?;
        let mut ports = Vec::new();
        let map = inspect.network_settings.and_then(|settings| settings.ports).unwrap_or_default();
        for (port, bindings) in map {
            let port = port.strip_suffix("/tcp").map_or_else(|| port.clone(), str::to_owned);
            if let Some(host_port) =
                bindings.into_iter().flatten().filter_map(|binding| binding.host_port).find(|port| !port.is_empty())
            {
                ports.push((port, host_port));
            }
        }
        ports.sort();
        Ok(ports)
    }

    /// The container's `PATH`, as its image sets it.
    ///
    /// # Errors
    /// The engine failed to answer.
    pub async fn container_path(&self, container: &str) -> Result<Option<String>, DockerError> {
        let inspect = self
            .docker
            .inspect_container(container, None::<bollard::query_parameters::InspectContainerOptions>)
            .await
            .map_err(api(format!("inspecting container {container}")))?;
        Ok(inspect
            .config
            .and_then(|config| config.env)
            .unwrap_or_default()
            .into_iter()
            .find_map(|entry| entry.strip_prefix("PATH=").map(str::to_owned)))
    }

    /// Everything the container printed, stdout and stderr, as lines.
    ///
    /// # Errors
    /// The engine failed to answer.
    pub async fn logs(&self, container: &str) -> Result<Vec<String>, DockerError> {
        let options = LogsOptions { stdout: true, stderr: true, ..LogsOptions::default() };
        let mut stream = self.docker.logs(container, Some(options));
        let mut text = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(api(format!("reading the logs of container {container}")))?;
            text.extend_from_slice(chunk.as_ref());
        }
        Ok(String::from_utf8_lossy(&text).lines().map(str::to_owned).collect())
    }

    /// Stops and removes a container with its anonymous volumes; one already gone is fine.
    ///
    /// # Errors
    /// The engine refused.
    pub async fn remove_container(&self, container: &str) -> Result<(), DockerError> {
        let options = RemoveContainerOptions { force: true, v: true, ..RemoveContainerOptions::default() };
        match self.docker.remove_container(container, Some(options)).await {
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
            Err(source) => Err(DockerError::Api { action: format!("removing container {container}"), source }),
        }
    }

    /// Removes a network; one already gone is fine.
    ///
    /// # Errors
    /// The engine refused.
    pub async fn remove_network(&self, network: &str) -> Result<(), DockerError> {
        match self.docker.remove_network(network).await {
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
            Err(source) => Err(DockerError::Api { action: format!("removing network {network}"), source }),
        }
    }

    /// Removes every container, then every network, labelled `label=value`; how many of each.
    ///
    /// # Errors
    /// The engine refused to list or remove one.
    pub async fn remove_labeled(&self, label: &str, value: &str) -> Result<(usize, usize), DockerError> {
        let filters = HashMap::from([("label".to_owned(), vec![format!("{label}={value}")])]);
        let containers = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters.clone()),
                ..ListContainersOptions::default()
            }))
            .await
            .map_err(api(format!("listing containers labelled {label}={value}")))?;
        for container in &containers {
            if let Some(id) = &container.id {
                self.remove_container(id).await?;
            }
        }
        let networks = self
            .docker
            .list_networks(Some(ListNetworksOptions { filters: Some(filters) }))
            .await
            .map_err(api(format!("listing networks labelled {label}={value}")))?;
        for network in &networks {
            if let Some(id) = &network.id {
                self.remove_network(id).await?;
            }
        }
        Ok((containers.len(), networks.len()))
    }

    /// The values of `label` on the containers and networks that carry it (each once):
    /// the owners of what Ferry made on this engine, for [`Engine::remove_labeled`].
    ///
    /// # Errors
    /// The engine refused to list them.
    pub async fn label_values(&self, label: &str) -> Result<Vec<String>, DockerError> {
        let filters = HashMap::from([("label".to_owned(), vec![label.to_owned()])]);
        let containers = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters.clone()),
                ..ListContainersOptions::default()
            }))
            .await
            .map_err(api(format!("listing containers labelled {label}")))?;
        let networks = self
            .docker
            .list_networks(Some(ListNetworksOptions { filters: Some(filters) }))
            .await
            .map_err(api(format!("listing networks labelled {label}")))?;
        let mut values: Vec<String> = containers
            .into_iter()
            .filter_map(|container| container.labels)
            .chain(networks.into_iter().filter_map(|network| network.labels))
            .filter_map(|mut labels| labels.remove(label))
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }

    /// The gateway of the engine's default `bridge` network: the address of this host its
    /// containers reach (on any bridge network of the engine), or `None` when it has none.
    /// An engine that does not say it (Docker 20.10 shows only the subnet) gives its bridge
    /// the subnet's first address.
    pub async fn bridge_gateway(&self) -> Option<std::net::IpAddr> {
        let network = self.docker.inspect_network("bridge", None).await.ok()?;
        let configs = network.ipam?.config?;
        let said = configs.iter().filter_map(|config| config.gateway.as_deref()).find_map(|text| text.parse().ok());
        said.or_else(|| configs.iter().filter_map(|config| config.subnet.as_deref()).find_map(first_address))
    }

    pub(crate) fn docker(&self) -> &Docker {
        &self.docker
    }
}

/// `name[:tag]` → name and tag (`latest` when none); a digest (`name@sha256:…`) stays whole.
/// The first host address of an IPv4 subnet written `a.b.c.d/len` (`172.17.0.0/16` →
/// `172.17.0.1`).
fn first_address(subnet: &str) -> Option<std::net::IpAddr> {
    let (address, len) = subnet.split_once('/')?;
    let address: std::net::Ipv4Addr = address.parse().ok()?;
    let len: u32 = len.parse().ok()?;
    if len > 30 {
        return None;
    }
    let network = u32::from(address) & (u32::MAX.checked_shl(32 - len).unwrap_or(0));
    Some(std::net::IpAddr::V4(std::net::Ipv4Addr::from(network + 1)))
}

fn split_tag(image: &str) -> (&str, &str) {
    if image.contains('@') {
        return (image, "");
    }
    let last_part_start = image.rfind('/').map_or(0, |slash| slash + 1);
    match image[last_part_start..].rfind(':') {
        Some(colon) => (&image[..last_part_start + colon], &image[last_part_start + colon + 1..]),
        None => (image, "latest"),
    }
}

/// The folder `dir` as a tar archive (a build context), symlinks kept as links.
fn tar_folder(dir: &Path) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.append_dir_all(".", dir)?;
    builder.into_inner()
}

/// `image` → its health check, from the `--health-*` options (Go durations in nanoseconds).
pub(crate) fn health_config(options: &options::ContainerOptions) -> Option<HealthConfig> {
    let cmd = options.health_cmd.as_ref()?;
    Some(HealthConfig {
        test: Some(vec!["CMD-SHELL".to_owned(), cmd.clone()]),
        interval: options.health_interval.map(duration_ns),
        timeout: options.health_timeout.map(duration_ns),
        retries: options.health_retries,
        start_period: options.health_start_period.map(duration_ns),
        ..HealthConfig::default()
    })
}

fn duration_ns(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
