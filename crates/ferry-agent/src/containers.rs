//! Replicas of `image:` services as Docker containers, through the engine connection the
//! runner shares ([`ferry_docker::Engine`], at `DOCKER_HOST` or `/var/run/docker.sock`; no
//! `docker` CLI is needed on the host).
//!
//! A release's image is either a reference the engine already has (the agent does not pull:
//! no registry may be reachable from the host) or a `docker save` archive among the release's
//! files, loaded once per archive digest: the image id it loaded is kept in
//! `<dir>/images/<sha256>`, and a release whose archive has that digest runs that id while the
//! engine still has it. Replicas run the image's id, never a tag another load could move.
//!
//! A replica's container uses the host's network (`--network host`) and gets `$PORT`, so the
//! proxy and the health checks reach it at `127.0.0.1:$PORT` exactly as they reach a process
//! (published ports would answer TCP connects through the engine's proxy before the replica
//! listens). It has no restart policy: the supervisor restarts it with its backoff, as it
//! does a process. Containers carry labels naming the agent's directory, the unit, the replica,
//! its release and its port, so a restarted agent adopts the ones still running and removes
//! those it does not know. Their output is followed through the engine's log API into the
//! same files a process writes, so the rest of the agent reads, masks and ships it the same
//! way; a follower started again after the agent restarted reads from the second the file
//! was last written, so a line written within that second may come twice.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferry_docker::{ContainerSpec, DockerError, LogOutput};
use ferry_proto::agent::{ReleaseSpec, UnitKey};
use futures_util::StreamExt as _;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The label naming the agent directory a container belongs to.
pub const LABEL_AGENT: &str = "ferry.agent";
/// `project/service/environment` of the unit a container serves.
pub const LABEL_UNIT: &str = "ferry.unit";
/// The replica's id.
pub const LABEL_REPLICA: &str = "ferry.replica";
/// The number of the release the container runs.
pub const LABEL_RELEASE: &str = "ferry.release";
/// The `$PORT` the container listens on (on the host's network).
pub const LABEL_PORT: &str = "ferry.port";

/// Why a release's image or a replica's container is not there; the deployment or the
/// replica fails with it.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// No engine answered: `image:` services cannot run on this host.
    #[error(
        "no Docker Engine answers at {endpoint} ({reason}): start Docker Engine on this host, or point \
         DOCKER_HOST at its socket before starting the agent"
    )]
    NoEngine { endpoint: String, reason: String },
    /// The release names an image the engine lacks, and the agent does not pull.
    #[error(
        "the image `{image}` is not in the Docker Engine at {endpoint}, and the agent does not pull: load it on \
         this host (`docker pull {image}` or `docker load`), or ship it in the release with \
         `image: {{ archive: FILE }}` (a `docker save` archive)"
    )]
    ImageMissing { image: String, endpoint: String },
    /// The release lacks the archive its image is to be loaded from.
    #[error(
        "release {release} has no file `{archive}` holding its image: the release must contain the archive \
         (`docker save -o {archive} IMAGE` in the job that makes the artifact)"
    )]
    NoArchive { release: i64, archive: String },
    /// The engine would not load the release's archive.
    #[error("loading `{archive}` of release {release}: {source}")]
    Load {
        archive: String,
        release: i64,
        #[source]
        source: DockerError,
    },
    /// A file of the agent's (an archive, a marker, an output file) could not be used.
    #[error("{action} {}: {source}", path.display())]
    File {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("hashing the archive stopped: {0}")]
    Hashing(#[source] tokio::task::JoinError),
    #[error(transparent)]
    Engine(DockerError),
}

impl From<DockerError> for ContainerError {
    fn from(error: DockerError) -> ContainerError {
        match error {
            DockerError::Unreachable { endpoint, reason } => ContainerError::NoEngine { endpoint, reason },
            other => ContainerError::Engine(other),
        }
    }
}

fn file_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ContainerError {
    let path = path.to_owned();
    move |source| ContainerError::File { action, path, source }
}

/// A connection to a Docker Engine that answered.
#[derive(Debug, Clone)]
pub struct Engine {
    engine: ferry_docker::Engine,
}

impl Engine {
    /// Connects to the engine at `DOCKER_HOST` (`unix://…` or `tcp://…`) or at
    /// `/var/run/docker.sock` and checks that it answers, agreeing on the API version.
    ///
    /// # Errors
    /// [`ContainerError::NoEngine`], naming the endpoint and what to do.
    pub async fn connect() -> Result<Engine, ContainerError> {
        let docker_host = std::env::var("DOCKER_HOST").ok();
        Ok(Engine { engine: ferry_docker::Engine::connect(docker_host.as_deref()).await? })
    }

    /// Where the engine was reached.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        self.engine.endpoint()
    }

    /// The id of the image release `release` runs: `image` looked up, or `archive` (a file in
    /// `folder`) loaded unless `images` (the agent's `images/` folder) records that its digest
    /// was loaded as an image the engine still has.
    ///
    /// # Errors
    /// An image the engine lacks, an archive missing or holding no single image, an engine
    /// that fails.
    pub async fn prepare_image(
        &self,
        release: &ReleaseSpec,
        image: &str,
        archive: Option<&str>,
        folder: &Path,
        images: &Path,
    ) -> Result<String, ContainerError> {
        let Some(archive) = archive else {
            return match self.engine.image_id(image).await? {
                Some(id) => Ok(id),
                None => {
                    Err(ContainerError::ImageMissing { image: image.to_owned(), endpoint: self.endpoint().to_owned() })
                }
            };
        };
        let path = folder.join(archive);
        if !path.is_file() {
            return Err(ContainerError::NoArchive { release: release.number, archive: archive.to_owned() });
        }
        let digest = match release.files.iter().find(|file| file.path == archive) {
            Some(file) => file.sha256.clone(),
            None => file_digest(&path).await?,
        };
        let marker = images.join(&digest);
        if let Ok(id) = tokio::fs::read_to_string(&marker).await
            && self.engine.image_id(id.trim()).await?.is_some()
        {
            return Ok(id.trim().to_owned());
        }
        let id = self.engine.load_image(&path).await.map_err(|source| ContainerError::Load {
            archive: archive.to_owned(),
            release: release.number,
            source,
        })?;
        tokio::fs::create_dir_all(images).await.map_err(file_error("creating", images))?;
        tokio::fs::write(&marker, &id).await.map_err(file_error("writing", &marker))?;
        tracing::info!("loaded the image {id} from {} (sha256 {digest})", path.display());
        Ok(id)
    }

    /// Creates and starts a replica's container (removing a container of the same name first,
    /// a previous life of the replica); its id.
    ///
    /// # Errors
    /// The engine refused to create or start it.
    pub async fn start(&self, launch: &ContainerLaunch<'_>) -> Result<String, ContainerError> {
        let name = container_name(launch.key, launch.replica);
        self.remove(&name).await;
        let mut env: Vec<String> = launch.env.iter().map(|(key, value)| format!("{key}={value}")).collect();
        env.push(format!("PORT={}", launch.port));
        let labels = HashMap::from([
            (LABEL_AGENT.to_owned(), launch.agent.to_owned()),
            (LABEL_UNIT.to_owned(), unit_label(launch.key)),
            (LABEL_REPLICA.to_owned(), launch.replica.to_owned()),
            (LABEL_RELEASE.to_owned(), launch.release.to_string()),
            (LABEL_PORT.to_owned(), launch.port.to_string()),
        ]);
        let spec = ContainerSpec {
            name,
            image: launch.image.to_owned(),
            env,
            labels,
            network: Some("host".to_owned()),
            ..ContainerSpec::default()
        };
        Ok(self.engine.start_container(&spec).await?)
    }

    /// Follows container `id`'s output into `out` and `err` (appended, from `since` in Unix
    /// seconds) until it stops; the receiver gets why it stopped.
    pub fn watch(
        &self,
        id: &str,
        out: PathBuf,
        err: PathBuf,
        since: i64,
    ) -> (oneshot::Receiver<String>, JoinHandle<()>) {
        let (sender, receiver) = oneshot::channel();
        let engine = self.clone();
        let id = id.to_owned();
        let task = tokio::spawn(async move {
            if let Err(error) = engine.follow(&id, &out, &err, since).await {
                tracing::warn!(%error, "following the output of container {id}: {error}");
            }
            let _ = sender.send(engine.exit_of(&id).await);
        });
        (receiver, task)
    }

    async fn follow(&self, id: &str, out: &Path, err: &Path, since: i64) -> Result<(), ContainerError> {
        let append = |path: &Path| {
            let path = path.to_owned();
            async move {
                tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .await
                    .map_err(file_error("opening", &path))
            }
        };
        let (mut out_file, mut err_file) = (append(out).await?, append(err).await?);
        let mut logs = self.engine.follow_logs(id, since);
        while let Some(chunk) = logs.next().await {
            let (file, path, bytes) = match chunk? {
                LogOutput::StdErr { message } => (&mut err_file, err, message),
                LogOutput::StdOut { message } | LogOutput::Console { message } => (&mut out_file, out, message),
                LogOutput::StdIn { .. } => continue,
            };
            file.write_all(&bytes).await.map_err(file_error("writing", path))?;
        }
        Ok(())
    }

    /// Why container `id` stopped, in words.
    async fn exit_of(&self, id: &str) -> String {
        match self.engine.wait_container(id).await {
            Ok(ferry_docker::ContainerExit { code, error: None }) => format!("exited with exit status: {code}"),
            Ok(ferry_docker::ContainerExit { code, error: Some(error) }) => {
                format!("exited with exit status: {code} ({error})")
            }
            Err(error) => format!("was lost by the engine: {error}"),
        }
    }

    /// Stops container `id` (its stop signal, then SIGKILL after `grace`) and removes it.
    pub async fn stop(&self, id: &str, grace: Duration) {
        if let Err(error) = self.engine.stop_container(id, grace).await {
            tracing::warn!(%error, "stopping container {id}: {error}");
        }
        self.remove(id).await;
    }

    /// Removes container `id` (or name), killing it if it runs; a missing one is no error.
    pub async fn remove(&self, id: &str) {
        if let Err(error) = self.engine.remove_container(id).await {
            tracing::warn!(%error, "removing container {id}: {error}");
        }
    }

    /// The containers labelled as this agent's (`agent`, its directory), running or not.
    ///
    /// # Errors
    /// The engine failed to list them.
    pub async fn labelled(&self, agent: &str) -> Result<Vec<Labelled>, ContainerError> {
        let containers = self.engine.labelled(LABEL_AGENT, agent).await?;
        Ok(containers
            .into_iter()
            .map(|container| {
                let labels = container.labels;
                Labelled {
                    id: container.id,
                    running: container.running,
                    unit: labels.get(LABEL_UNIT).cloned().unwrap_or_default(),
                    replica: labels.get(LABEL_REPLICA).cloned().unwrap_or_default(),
                    release: labels.get(LABEL_RELEASE).and_then(|release| release.parse().ok()).unwrap_or(0),
                    port: labels.get(LABEL_PORT).and_then(|port| port.parse().ok()).unwrap_or(0),
                }
            })
            .collect())
    }
}

/// What starting a replica's container needs.
pub struct ContainerLaunch<'a> {
    /// The agent's directory, its [`LABEL_AGENT`].
    pub agent: &'a str,
    pub key: &'a UnitKey,
    pub replica: &'a str,
    pub release: i64,
    /// The image's id.
    pub image: &'a str,
    pub env: &'a std::collections::BTreeMap<String, String>,
    pub port: u16,
}

/// A container of this agent as the engine lists it, with what its labels say.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub id: String,
    pub running: bool,
    /// [`LABEL_UNIT`]: `project/service/environment`.
    pub unit: String,
    pub replica: String,
    pub release: i64,
    pub port: u16,
}

/// `project/service/environment`, the value of [`LABEL_UNIT`].
#[must_use]
pub fn unit_label(key: &UnitKey) -> String {
    format!("{}/{}/{}", key.project, key.service, key.environment)
}

/// `ferry-<project>-<replica>`: names are unique per engine, replica ids per unit.
fn container_name(key: &UnitKey, replica: &str) -> String {
    let name: String = format!("ferry-{}-{replica}", key.project)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') { c } else { '-' })
        .collect();
    name
}

/// `sha256` of the file at `path`, hex.
async fn file_digest(path: &Path) -> Result<String, ContainerError> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path).map_err(file_error("opening", &path))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = std::io::Read::read(&mut file, &mut buf).map_err(file_error("reading", &path))?;
            if n == 0 {
                return Ok(hex::encode(hasher.finalize()));
            }
            hasher.update(&buf[..n]);
        }
    })
    .await
    .map_err(ContainerError::Hashing)?
}

#[cfg(test)]
mod tests;
