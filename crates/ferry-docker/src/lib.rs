//! The one connection to a container engine that Ferry's runner (`container:` jobs,
//! `services:`, Docker actions) and agent (`image:` services) share: Docker Engine's API, or
//! podman's compatible socket, through bollard at `DOCKER_HOST` or `/var/run/docker.sock`. No
//! `docker` CLI is needed on the host.
//!
//! [`Engine`] connects and checks that the engine answers (agreeing on the API version), then
//! offers what both callers need: images (`image.rs`: found, pulled, built, loaded from a
//! `docker save` archive), networks and containers (`container.rs`: created from a
//! [`ContainerSpec`], inspected, followed, stopped, removed by label), and commands run in a
//! container (`exec.rs`). Every failure is a [`DockerError`] that names what was attempted;
//! what a failure means for a job or a replica is the caller's to say.

mod container;
mod exec;
mod image;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;

pub use bollard::container::LogOutput;
pub use container::{ContainerExit, ContainerSpec, Health, HealthCheck, Labelled, LogStream};
pub use exec::{ExecRequest, ExecStarted, ExecStatus};
pub use image::Credentials;

/// Where the engine is looked for without `DOCKER_HOST`.
pub const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";

/// How long one request may take; image builds, loads and pulls stream for longer, their
/// requests answer at once.
const REQUEST_TIMEOUT_S: u64 = 600;

/// What went wrong talking to the engine.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// No engine answered at `endpoint`: containers cannot run on this host.
    #[error(
        "no container engine reachable at {endpoint} ({reason}). Start Docker Engine (or podman's \
         Docker-compatible socket), or point DOCKER_HOST at its socket (unix:///path/to/docker.sock or \
         tcp://host:port)"
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
    /// A `docker load` archive held no image.
    #[error("the engine loaded no image from it (is it a `docker save` archive?)")]
    NoImageLoaded,
    /// A `docker load` archive held more than one image.
    #[error("it holds {} images ({}): save one image per archive", images.len(), images.join(", "))]
    SeveralImagesLoaded { images: Vec<String> },
    /// The image a load reported is not there when looked up.
    #[error("the engine lost the image `{image}` it just loaded")]
    LoadedImageLost { image: String },
    /// The engine's wait for a container ended without its exit status.
    #[error("the engine did not say how container {container} ended")]
    NoExitStatus { container: String },
    /// The engine started an exec detached when it was asked to attach.
    #[error("the engine started `{cmd}` detached")]
    ExecDetached { cmd: String },
    /// A local file the request needed could not be read.
    #[error("{action} {}: {source}", path.display())]
    File {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Any other refusal of the engine; `action` says what was asked.
    #[error("{action}: {source}")]
    Api {
        action: String,
        #[source]
        source: bollard::errors::Error,
    },
}

impl DockerError {
    /// Whether the error says that the container, image or network is not (or no longer)
    /// there.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, DockerError::Api { source, .. } if is_gone(source))
    }
}

fn api(action: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> DockerError {
    let action = action.into();
    move |source| DockerError::Api { action, source }
}

/// Whether the engine answered "no such object" (404) or "already so" (304).
fn is_gone(error: &bollard::errors::Error) -> bool {
    matches!(error, bollard::errors::Error::DockerResponseServerError { status_code: 404 | 304, .. })
}

/// A connection to a container engine that answered.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    endpoint: String,
}

impl Engine {
    /// Connects to the engine at `docker_host` (a `DOCKER_HOST` value: `unix:///path` or
    /// `tcp://host:port`), or at [`DEFAULT_SOCKET`] when it is `None` or empty, and checks that
    /// it answers, agreeing on the API version with it.
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
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

#[cfg(test)]
mod tests;
