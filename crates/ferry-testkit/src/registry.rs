//! A private container registry on loopback for tests of `credentials:`: Debian's
//! `docker-registry` (the Distribution registry, `apt-get install docker-registry`) with basic
//! auth from an htpasswd file made by `htpasswd` (`apt-get install apache2-utils`). Docker
//! Engine treats registries on 127.0.0.0/8 as insecure-allowed, so it pulls from it over plain
//! HTTP. Panics saying what is missing and how to install it: a test that needs it fails, it is
//! never skipped.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use bollard::query_parameters::{ListImagesOptions, PushImageOptions, RemoveImageOptions, TagImageOptions};
use futures_util::StreamExt as _;

/// Debian's registry binary.
const REGISTRY: &str = "docker-registry";

/// A running registry that accepts only its one user; stopped and its storage deleted when
/// dropped.
#[derive(Debug)]
pub struct Registry {
    /// `127.0.0.1:PORT`, the host part of its images' names.
    pub address: String,
    pub username: String,
    pub password: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry on a free loopback port that accepts `username` with `password`, and
    /// waits until it listens.
    pub fn start(username: &str, password: &str) -> Registry {
        let dir = tempfile::tempdir().expect("a folder for the registry");
        let htpasswd =
            Command::new("htpasswd").args(["-B", "-b", "-n", username, password]).output().unwrap_or_else(|error| {
                panic!("running htpasswd: {error}; install it with `apt-get install apache2-utils`")
            });
        assert!(htpasswd.status.success(), "htpasswd failed: {}", String::from_utf8_lossy(&htpasswd.stderr));
        std::fs::write(dir.path().join("htpasswd"), &htpasswd.stdout).expect("writing the htpasswd file");
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\n\
             log: {{ level: info, formatter: text }}\n\
             storage: {{ filesystem: {{ rootdirectory: {data} }} }}\n\
             http: {{ addr: \"{address}\" }}\n\
             auth: {{ htpasswd: {{ realm: ferry-test, path: {htpasswd} }} }}\n",
            data = dir.path().join("data").display(),
            htpasswd = dir.path().join("htpasswd").display(),
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("writing the registry's configuration");
        let mut child = Command::new(REGISTRY)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("starting {REGISTRY}: {error}; install it with `apt-get install docker-registry`")
            });
        wait_listening(&mut child, &address);
        Registry { address, username: username.to_owned(), password: password.to_owned(), child, _dir: dir }
    }

    /// Pushes the local image `image` to this registry as `name` (`owner/image:tag`, under the
    /// registry's address), with the registry's user, then removes the local copy under that
    /// name so whatever runs it must pull it. Returns the full name.
    pub fn push(&self, image: &str, name: &str) -> String {
        let (repo, tag) = name.rsplit_once(':').unwrap_or((name, "latest"));
        let full_repo = format!("{}/{repo}", self.address);
        let full = format!("{full_repo}:{tag}");
        let credentials = bollard::auth::DockerCredentials {
            username: Some(self.username.clone()),
            password: Some(self.password.clone()),
            serveraddress: Some(self.address.clone()),
            ..bollard::auth::DockerCredentials::default()
        };
        crate::docker::on_engine(|docker| async move {
            let options = TagImageOptions { repo: Some(full_repo.clone()), tag: Some(tag.to_owned()) };
            docker.tag_image(image, Some(options)).await.unwrap_or_else(|error| panic!("tagging {image}: {error}"));
            let options = PushImageOptions { tag: Some(tag.to_owned()), ..PushImageOptions::default() };
            let mut push = docker.push_image(&full_repo, Some(options), Some(credentials));
            while let Some(info) = push.next().await {
                let info = info.unwrap_or_else(|error| panic!("pushing {full_repo}:{tag}: {error}"));
                if let Some(detail) = info.error_detail {
                    panic!("pushing {full_repo}:{tag}: {}", detail.message.unwrap_or_default());
                }
            }
            docker
                .remove_image(&format!("{full_repo}:{tag}"), None::<RemoveImageOptions>, None)
                .await
                .unwrap_or_else(|error| panic!("removing the local {full_repo}:{tag}: {error}"));
        });
        full
    }
}

impl Drop for Registry {
    /// Stops the registry and removes the images pulled from it.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let prefix = format!("{}/", self.address);
        crate::docker::on_engine(|docker| async move {
            for image in docker.list_images(None::<ListImagesOptions>).await.unwrap_or_default() {
                for tag in image.repo_tags.iter().filter(|tag| tag.starts_with(&prefix)) {
                    let _ = docker.remove_image(tag, None::<RemoveImageOptions>, None).await;
                }
            }
        });
    }
}

/// A port on 127.0.0.1 nothing listens on now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
    listener.local_addr().expect("the bound address").port()
}

/// Reads the registry's log until it says it listens on `address`; panics with the log when
/// it exits first.
fn wait_listening(child: &mut Child, address: &str) {
    let stderr = child.stderr.take().expect("the registry's stderr");
    let mut reader = BufReader::new(stderr);
    let mut log = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        let read = reader.read_line(&mut line).expect("reading the registry's log");
        if read == 0 {
            let status = child.wait().map(|status| status.to_string()).unwrap_or_default();
            panic!("the test registry ({REGISTRY}) could not start ({status}):\n{log}");
        }
        log.push_str(&line);
        if line.contains("listening on") && line.contains(address) {
            break;
        }
    }
    // Keep draining its log, or the registry blocks once the pipe is full.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
}
