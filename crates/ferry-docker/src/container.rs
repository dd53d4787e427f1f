//! Containers and networks: created from a [`ContainerSpec`], inspected, their output read or
//! followed, waited for, stopped, and removed one by one or by label.

use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HealthStatusEnum, HostConfig, NetworkCreateRequest,
    NetworkingConfig, PortBinding,
};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, ListContainersOptions, ListNetworksOptions, LogsOptions,
    RemoveContainerOptions, StartContainerOptions, StopContainerOptions, WaitContainerOptions,
};
use futures_util::{Stream, StreamExt as _};

use crate::{DockerError, Engine, api, is_gone};

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
    /// The network to join (`host` for the host's), with these aliases there.
    pub network: Option<String>,
    pub aliases: Vec<String>,
    /// `container[/proto]` → host port (`None`: a free one the engine picks).
    pub ports: Vec<(String, Option<String>)>,
    pub health: Option<HealthCheck>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub shm_size: Option<i64>,
    pub tmpfs: HashMap<String, String>,
}

/// A container's health check: a shell command and its timing (the engine's defaults where
/// `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthCheck {
    pub cmd: String,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<i64>,
    pub start_period: Option<Duration>,
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

/// How a container ended, as the engine's wait reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerExit {
    pub code: i64,
    /// The engine's own words when the wait itself failed after the container ended.
    pub error: Option<String>,
}

/// A container as the engine lists it.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub id: String,
    pub running: bool,
    pub labels: HashMap<String, String>,
}

/// A container's output as it comes, stdout and stderr apart.
pub type LogStream = Pin<Box<dyn Stream<Item = Result<LogOutput, DockerError>> + Send>>;

impl Engine {
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

    /// Creates and starts a container; its id. A container that was created but would not
    /// start is removed again.
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
        let networking = spec.network.as_ref().filter(|_| !spec.aliases.is_empty()).map(|network| NetworkingConfig {
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
            healthcheck: spec.health.as_ref().map(health_config),
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
        if let Err(source) = self.docker.start_container(&created.id, None::<StartContainerOptions>).await {
            if let Err(error) = self.remove_container(&created.id).await {
                tracing::warn!(%error, "removing container {} that did not start: {error}", spec.name);
            }
            return Err(DockerError::Api {
                action: format!("starting container `{}` (image `{}`)", spec.name, spec.image),
                source,
            });
        }
        Ok(created.id)
    }

    /// The container's health, as its health check last said.
    ///
    /// # Errors
    /// The engine failed to answer.
    pub async fn health(&self, container: &str) -> Result<Health, DockerError> {
        let inspect = self
            .docker
            .inspect_container(container, None::<InspectContainerOptions>)
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
            .inspect_container(container, None::<InspectContainerOptions>)
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
            .inspect_container(container, None::<InspectContainerOptions>)
            .await
            .map_err(api(format!("inspecting container {container}")))?;
        Ok(inspect
            .config
            .and_then(|config| config.env)
            .unwrap_or_default()
            .into_iter()
            .find_map(|entry| entry.strip_prefix("PATH=").map(str::to_owned)))
    }

    /// Everything the container printed so far, stdout and stderr, as lines.
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

    /// The container's output from `since` (Unix seconds; 0 for all of it) until it stops.
    #[must_use]
    pub fn follow_logs(&self, container: &str, since: i64) -> LogStream {
        let options = LogsOptions {
            follow: true,
            stdout: true,
            stderr: true,
            since: i32::try_from(since).unwrap_or(0),
            ..LogsOptions::default()
        };
        let action = format!("following the output of container {container}");
        Box::pin(
            self.docker
                .logs(container, Some(options))
                .map(move |chunk| chunk.map_err(|source| DockerError::Api { action: action.clone(), source })),
        )
    }

    /// Waits for the container to stop; how it ended.
    ///
    /// # Errors
    /// The engine lost the container, or ended the wait without its exit status.
    pub async fn wait_container(&self, container: &str) -> Result<ContainerExit, DockerError> {
        let mut wait = self.docker.wait_container(container, None::<WaitContainerOptions>);
        match wait.next().await {
            Some(Ok(response)) => Ok(ContainerExit { code: response.status_code, error: None }),
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, error })) => {
                Ok(ContainerExit { code, error: (!error.is_empty()).then_some(error) })
            }
            Some(Err(source)) => Err(DockerError::Api { action: format!("waiting for container {container}"), source }),
            None => Err(DockerError::NoExitStatus { container: container.to_owned() }),
        }
    }

    /// Stops the container (its stop signal, then SIGKILL after `grace`, rounded up to whole
    /// seconds); one already stopped or gone is fine.
    ///
    /// # Errors
    /// The engine refused.
    pub async fn stop_container(&self, container: &str, grace: Duration) -> Result<(), DockerError> {
        let seconds = i32::try_from(grace.as_millis().div_ceil(1000)).unwrap_or(i32::MAX);
        let options = StopContainerOptions { t: Some(seconds), ..StopContainerOptions::default() };
        match self.docker.stop_container(container, Some(options)).await {
            Ok(()) => Ok(()),
            Err(error) if is_gone(&error) => Ok(()),
            Err(source) => Err(DockerError::Api { action: format!("stopping container {container}"), source }),
        }
    }

    /// Stops and removes a container (or a name) with its anonymous volumes; one already gone
    /// is fine.
    ///
    /// # Errors
    /// The engine refused.
    pub async fn remove_container(&self, container: &str) -> Result<(), DockerError> {
        let options = RemoveContainerOptions { force: true, v: true, ..RemoveContainerOptions::default() };
        match self.docker.remove_container(container, Some(options)).await {
            Ok(()) => Ok(()),
            Err(error) if is_gone(&error) => Ok(()),
            Err(source) => Err(DockerError::Api { action: format!("removing container {container}"), source }),
        }
    }

    /// Removes a network; one already gone is fine.
    ///
    /// # Errors
    /// The engine refused.
    pub async fn remove_network(&self, network: &str) -> Result<(), DockerError> {
        match self.docker.remove_network(network).await {
            Ok(()) => Ok(()),
            Err(error) if is_gone(&error) => Ok(()),
            Err(source) => Err(DockerError::Api { action: format!("removing network {network}"), source }),
        }
    }

    /// The containers labelled `label=value`, running or not.
    ///
    /// # Errors
    /// The engine failed to list them.
    pub async fn labelled(&self, label: &str, value: &str) -> Result<Vec<Labelled>, DockerError> {
        let filters = HashMap::from([("label".to_owned(), vec![format!("{label}={value}")])]);
        let options = ListContainersOptions { all: true, filters: Some(filters), ..ListContainersOptions::default() };
        let containers = self.docker.list_containers(Some(options)).await.map_err(api(format!(
            "listing the containers labelled {label}={value} in the engine at {}",
            self.endpoint
        )))?;
        Ok(containers
            .into_iter()
            .filter_map(|container| {
                Some(Labelled {
                    id: container.id?,
                    running: container.state.is_some_and(|state| state.to_string() == "running"),
                    labels: container.labels.unwrap_or_default(),
                })
            })
            .collect())
    }

    /// Removes every container, then every network, labelled `label=value`; how many of each.
    ///
    /// # Errors
    /// The engine refused to list or remove one.
    pub async fn remove_labeled(&self, label: &str, value: &str) -> Result<(usize, usize), DockerError> {
        let containers = self.labelled(label, value).await?;
        for container in &containers {
            self.remove_container(&container.id).await?;
        }
        let filters = HashMap::from([("label".to_owned(), vec![format!("{label}={value}")])]);
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

    /// The values of `label` on the containers and networks that carry it (each once): the
    /// owners of what was made on this engine, for [`Engine::remove_labeled`].
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
}

/// The first host address of an IPv4 subnet written `a.b.c.d/len` (`172.17.0.0/16` →
/// `172.17.0.1`).
pub(crate) fn first_address(subnet: &str) -> Option<std::net::IpAddr> {
    let (address, len) = subnet.split_once('/')?;
    let address: std::net::Ipv4Addr = address.parse().ok()?;
    let len: u32 = len.parse().ok()?;
    if len > 30 {
        return None;
    }
    let network = u32::from(address) & (u32::MAX.checked_shl(32 - len).unwrap_or(0));
    Some(std::net::IpAddr::V4(std::net::Ipv4Addr::from(network + 1)))
}

/// The engine's health check for `check` (Go durations in nanoseconds).
fn health_config(check: &HealthCheck) -> HealthConfig {
    HealthConfig {
        test: Some(vec!["CMD-SHELL".to_owned(), check.cmd.clone()]),
        interval: check.interval.map(duration_ns),
        timeout: check.timeout.map(duration_ns),
        retries: check.retries,
        start_period: check.start_period.map(duration_ns),
        ..HealthConfig::default()
    }
}

fn duration_ns(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}
