//! Replicas of `image:` services as Docker containers, through the engine's API (bollard, at
//! `DOCKER_HOST` or `/var/run/docker.sock`; no `docker` CLI is needed on the host).
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

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, ImportImageOptions, ListContainersOptions, LogsOptions, RemoveContainerOptions,
    StopContainerOptions,
};
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

/// Where the engine is looked for without `DOCKER_HOST`.
const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";
/// How long one request may take (a load streams a whole archive).
const REQUEST_TIMEOUT_S: u64 = 600;

/// A connection to a Docker Engine that answered.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    endpoint: String,
}

impl Engine {
    /// Connects to the engine at `DOCKER_HOST` (`unix://…` or `tcp://…`) or at
    /// `/var/run/docker.sock` and checks that it answers, agreeing on the API version.
    ///
    /// # Errors
    /// Why no engine answered, naming the endpoint and what to do.
    pub async fn connect() -> Result<Engine, String> {
        let endpoint = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|host| !host.is_empty())
            .unwrap_or_else(|| DEFAULT_SOCKET.to_owned());
        let unreachable = |reason: String| {
            format!(
                "no Docker Engine answers at {endpoint} ({reason}): start Docker Engine on this host, or point \
                 DOCKER_HOST at its socket before starting the agent"
            )
        };
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

    /// Where the engine was reached.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
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
    ) -> Result<String, String> {
        let Some(archive) = archive else {
            return match self.image_id(image).await? {
                Some(id) => Ok(id),
                None => Err(format!(
                    "the image `{image}` is not in the Docker Engine at {}, and the agent does not pull: load it on \
                     this host (`docker pull {image}` or `docker load`), or ship it in the release with \
                     `image: {{ archive: FILE }}` (a `docker save` archive)",
                    self.endpoint
                )),
            };
        };
        let path = folder.join(archive);
        if !path.is_file() {
            return Err(format!(
                "release {} has no file `{archive}` holding its image: the release must contain the archive \
                 (`docker save -o {archive} IMAGE` in the job that makes the artifact)",
                release.number
            ));
        }
        let digest = match release.files.iter().find(|file| file.path == archive) {
            Some(file) => file.sha256.clone(),
            None => file_digest(&path).await?,
        };
        let marker = images.join(&digest);
        if let Ok(id) = tokio::fs::read_to_string(&marker).await
            && self.image_id(id.trim()).await?.is_some()
        {
            return Ok(id.trim().to_owned());
        }
        let id = self
            .load(&path)
            .await
            .map_err(|error| format!("loading `{archive}` of release {}: {error}", release.number))?;
        tokio::fs::create_dir_all(images).await.map_err(|error| format!("creating {}: {error}", images.display()))?;
        tokio::fs::write(&marker, &id).await.map_err(|error| format!("writing {}: {error}", marker.display()))?;
        tracing::info!("loaded the image {id} from {} (sha256 {digest})", path.display());
        Ok(id)
    }

    /// The id of `image`, `None` when the engine does not have it.
    async fn image_id(&self, image: &str) -> Result<Option<String>, String> {
        match self.docker.inspect_image(image).await {
            Ok(inspect) => Ok(Some(inspect.id.unwrap_or_else(|| image.to_owned()))),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
            Err(error) => {
                Err(format!("looking for the image `{image}` in the Docker Engine at {}: {error}", self.endpoint))
            }
        }
    }

    /// `docker load` of the archive at `path`, streamed; the id of the one image it holds.
    async fn load(&self, path: &Path) -> Result<String, String> {
        let file = tokio::fs::File::open(path).await.map_err(|error| format!("opening {}: {error}", path.display()))?;
        let chunks = futures_util::stream::unfold(file, |mut file| async move {
            use tokio::io::AsyncReadExt as _;
            let mut buf = vec![0u8; 256 * 1024];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok::<_, std::io::Error>(buf.into()), file))
                }
                Err(error) => Some((Err(error), file)),
            }
        });
        let options = ImportImageOptions { quiet: true, ..ImportImageOptions::default() };
        let mut progress = self.docker.import_image_stream(options, chunks, None);
        let mut loaded = Vec::new();
        while let Some(info) = progress.next().await {
            let info = info.map_err(|error| error.to_string())?;
            let text = info.stream.unwrap_or_default();
            for line in text.lines() {
                if let Some(id) = line.strip_prefix("Loaded image ID: ") {
                    loaded.push(id.trim().to_owned());
                } else if let Some(reference) = line.strip_prefix("Loaded image: ") {
                    loaded.push(reference.trim().to_owned());
                }
            }
        }
        let [image] = &loaded[..] else {
            return Err(if loaded.is_empty() {
                "the engine loaded no image from it (is it a `docker save` archive?)".to_owned()
            } else {
                format!("it holds {} images ({}): save one image per archive", loaded.len(), loaded.join(", "))
            });
        };
        self.image_id(image).await?.ok_or_else(|| format!("the engine lost the image `{image}` it just loaded"))
    }

    /// Creates and starts a replica's container (removing a container of the same name first,
    /// a previous life of the replica); its id.
    ///
    /// # Errors
    /// The engine refused to create or start it.
    pub async fn start(&self, launch: &ContainerLaunch<'_>) -> Result<String, String> {
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
        let body = ContainerCreateBody {
            image: Some(launch.image.to_owned()),
            env: Some(env),
            labels: Some(labels),
            host_config: Some(HostConfig { network_mode: Some("host".to_owned()), ..HostConfig::default() }),
            ..ContainerCreateBody::default()
        };
        let options = CreateContainerOptions { name: Some(name.clone()), ..CreateContainerOptions::default() };
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(|error| format!("creating the container {name} of the image {}: {error}", launch.image))?;
        if let Err(error) = self.docker.start_container(&created.id, None).await {
            self.remove(&created.id).await;
            return Err(format!("starting the container {name}: {error}"));
        }
        Ok(created.id)
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

    async fn follow(&self, id: &str, out: &Path, err: &Path, since: i64) -> Result<(), String> {
        let append = |path: &Path| {
            let path = path.to_owned();
            async move {
                tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .await
                    .map_err(|error| format!("opening {}: {error}", path.display()))
            }
        };
        let (mut out, mut err) = (append(out).await?, append(err).await?);
        let options = LogsOptions {
            follow: true,
            stdout: true,
            stderr: true,
            since: i32::try_from(since).unwrap_or(0),
            ..LogsOptions::default()
        };
        let mut logs = self.docker.logs(id, Some(options));
        while let Some(chunk) = logs.next().await {
            let (file, bytes) = match chunk.map_err(|error| error.to_string())? {
                LogOutput::StdErr { message } => (&mut err, message),
                LogOutput::StdOut { message } | LogOutput::Console { message } => (&mut out, message),
                LogOutput::StdIn { .. } => continue,
            };
            file.write_all(&bytes).await.map_err(|error| format!("writing the output: {error}"))?;
        }
        Ok(())
    }

    /// Why container `id` stopped, in words.
    async fn exit_of(&self, id: &str) -> String {
        let mut wait = self.docker.wait_container(id, None);
        match wait.next().await {
            Some(Ok(response)) => format!("exited with exit status: {}", response.status_code),
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, error })) if error.is_empty() => {
                format!("exited with exit status: {code}")
            }
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, error })) => {
                format!("exited with exit status: {code} ({error})")
            }
            Some(Err(error)) => format!("was lost by the engine: {error}"),
            None => "was lost by the engine".to_owned(),
        }
    }

    /// Stops container `id` (its stop signal, then SIGKILL after `grace`) and removes it.
    pub async fn stop(&self, id: &str, grace: Duration) {
        let seconds = i32::try_from(grace.as_millis().div_ceil(1000)).unwrap_or(i32::MAX);
        let options = StopContainerOptions { t: Some(seconds), ..StopContainerOptions::default() };
        if let Err(error) = self.docker.stop_container(id, Some(options)).await
            && !is_gone(&error)
        {
            tracing::warn!(%error, "stopping container {id}: {error}");
        }
        self.remove(id).await;
    }

    /// Removes container `id` (or name), killing it if it runs; a missing one is no error.
    pub async fn remove(&self, id: &str) {
        let options = RemoveContainerOptions { force: true, ..RemoveContainerOptions::default() };
        if let Err(error) = self.docker.remove_container(id, Some(options)).await
            && !is_gone(&error)
        {
            tracing::warn!(%error, "removing container {id}: {error}");
        }
    }

    /// The containers labelled as this agent's (`agent`, its directory), running or not.
    ///
    /// # Errors
    /// The engine failed to list them.
    pub async fn labelled(&self, agent: &str) -> Result<Vec<Labelled>, String> {
        let filters = HashMap::from([("label".to_owned(), vec![format!("{LABEL_AGENT}={agent}")])]);
        let options = ListContainersOptions { all: true, filters: Some(filters), ..ListContainersOptions::default() };
        let containers = self.docker.list_containers(Some(options)).await.map_err(|error| {
            format!("listing the agent's containers in the Docker Engine at {}: {error}", self.endpoint)
        })?;
        Ok(containers
            .into_iter()
            .filter_map(|container| {
                let labels = container.labels.unwrap_or_default();
                Some(Labelled {
                    id: container.id?,
                    running: container.state.is_some_and(|state| state.to_string() == "running"),
                    unit: labels.get(LABEL_UNIT).cloned().unwrap_or_default(),
                    replica: labels.get(LABEL_REPLICA).cloned().unwrap_or_default(),
                    release: labels.get(LABEL_RELEASE).and_then(|release| release.parse().ok()).unwrap_or(0),
                    port: labels.get(LABEL_PORT).and_then(|port| port.parse().ok()).unwrap_or(0),
                })
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

fn is_gone(error: &bollard::errors::Error) -> bool {
    matches!(error, bollard::errors::Error::DockerResponseServerError { status_code: 404 | 304, .. })
}

/// `sha256` of the file at `path`, hex.
async fn file_digest(path: &Path) -> Result<String, String> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path).map_err(|error| format!("opening {}: {error}", path.display()))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = std::io::Read::read(&mut file, &mut buf)
                .map_err(|error| format!("reading {}: {error}", path.display()))?;
            if n == 0 {
                return Ok(hex::encode(hasher.finalize()));
            }
            hasher.update(&buf[..n]);
        }
    })
    .await
    .map_err(|error| format!("hashing the archive stopped: {error}"))?
}
