//! `ferry agent` running an `image:` service as containers: two images built from busybox and
//! saved into release folders (`docker save`), loaded by the agent, served through its proxy,
//! rolled from one to the other after the agent was SIGKILLed and started again (it adopts
//! the running container), replaced when it dies, and removed when no longer wanted. A host whose engine does not
//! answer, and an image the engine lacks, fail the deployment with the reason.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{free_port, get_ok};

fn until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "waited 60 s for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn agent(dir: &Path, log: &Path, docker_host: Option<&str>) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("open the agent's log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferry"));
    command
        .args(["agent", "--server", "http://127.0.0.1:9", "--token", "ferrya_test_secret", "--dir"])
        .arg(dir)
        .env("FERRY_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    if let Some(host) = docker_host {
        command.env("DOCKER_HOST", host);
    }
    command.spawn().expect("spawn")
}

/// A release of `image` (a reference, or with `archive` the file in the release's folder).
fn release(number: i64, image: &str, archive: Option<&str>) -> Value {
    json!({"number": number, "files": [], "kind": "image", "image": image, "archive": archive,
           "env": {"GREETING": "hi"}, "secret_keys": []})
}

fn desired(generation: i64, port: u16, serving: Option<Value>, deployment: Option<Value>) -> Value {
    json!({"generation": generation, "units": [{
        "key": {"project": "shop", "service": "web", "environment": "production"},
        "port": port, "bind": "127.0.0.1", "replicas": 1,
        "health": {"kind": "http", "path": "/healthz", "interval_ms": 100, "timeout_ms": 1000,
                   "healthy_after": 1, "unhealthy_after": 3, "start_timeout_ms": 30000},
        "drain_timeout_ms": 500, "stop_grace_ms": 2000,
        "release": serving,
        "deployment": deployment,
    }]})
}

fn order(id: i64, release: Value) -> Value {
    json!({"id": id, "release": release, "strategy": {"kind": "rolling", "max_surge": 1, "max_unavailable": 0},
           "verify_ms": 0})
}

fn state(dir: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("state.json")).ok()?).ok()
}

/// The outcome and reason of the unit's deployment, once over.
fn outcome(dir: &Path) -> Option<(String, String)> {
    let outcome = state(dir)?["units"][0]["deployment"]["outcome"].clone();
    Some((outcome[0].as_str()?.to_owned(), outcome[1].as_str()?.to_owned()))
}

/// The ids of the containers this agent's directory labels.
fn containers(dir: &Path) -> Vec<String> {
    ferry_testkit::labelled("ferry.agent", &dir.display().to_string()).0
}

/// Kills the agents, then removes the containers and images the test made.
struct Cleanup<'a> {
    dir: &'a Path,
    label: String,
    agents: Vec<Child>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for child in &mut self.agents {
            let _ = child.kill();
            let _ = child.wait();
        }
        ferry_testkit::remove_labelled("ferry.agent", &self.dir.display().to_string(), &self.label);
    }
}

#[test]
fn an_image_service_is_served_rolled_and_adopted_by_a_restarted_agent() {
    let base = ferry_testkit::busybox_image();
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = temp.path().join("agent");
    let log = temp.path().join("agent.log");
    let label = format!("agent-images-{}", std::process::id());
    let mut cleanup = Cleanup { dir: &dir, label: label.clone(), agents: Vec::new() };
    for number in [1, 2] {
        let folder = dir.join("releases/shop/web").join(number.to_string());
        std::fs::create_dir_all(&folder).expect("create_dir_all");
        let dockerfile = format!(
            "FROM {base}\n\
             RUN mkdir /www && echo ok > /www/healthz && echo release {number} > /www/index.html\n\
             CMD [\"sh\", \"-c\", \"echo release {number} says $GREETING on $PORT; exec httpd -f -p 127.0.0.1:$PORT -h /www\"]\n"
        );
        ferry_testkit::saved_image(
            &format!("ferry-test/web:{label}-{number}"),
            &dockerfile,
            &label,
            &folder.join("web.tar"),
        );
    }
    let port = free_port();
    let desired_1 = desired(1, port, Some(release(1, "web.tar", Some("web.tar"))), None);
    std::fs::write(dir.join("desired.json"), desired_1.to_string()).expect("write");

    // The agent loads the archive and serves the image's container behind its proxy.
    cleanup.agents.push(agent(&dir, &log, None));
    assert_eq!(until("the proxy to answer", || get_ok(port)), "release 1\n");
    let first = until("state.json to list the container", || {
        let state = state(&dir)?;
        let replica = &state["replicas"][0];
        Some((replica["container"].as_str()?.to_owned(), u16::try_from(replica["port"].as_u64()?).ok()?))
    });
    assert_eq!(containers(&dir), std::slice::from_ref(&first.0));
    let out = until("the container's output in its file", || {
        let text = std::fs::read_to_string(dir.join("logs/web-production-1-1.out")).ok()?;
        text.contains("release 1 says hi").then_some(text)
    });
    assert!(out.contains(&format!("on {}", first.1)), "{out}");

    // SIGKILL: the container goes on answering on its port; the proxy is gone.
    let mut killed = cleanup.agents.pop().expect("pop");
    killed.kill().expect("kill");
    killed.wait().expect("wait");
    assert_eq!(get_ok(first.1).as_deref(), Some("release 1\n"), "the container outlives its agent");
    assert_eq!(get_ok(port), None);

    // The next agent adopts the container, then rolls to release 2's image.
    let release_2 = release(2, "web.tar", Some("web.tar"));
    let desired_2 = desired(2, port, Some(release(1, "web.tar", Some("web.tar"))), Some(order(7, release_2)));
    std::fs::write(dir.join("desired.json"), desired_2.to_string()).expect("write");
    cleanup.agents.push(agent(&dir, &log, None));
    until("the rolling update to release 2", || (get_ok(port)? == "release 2\n").then_some(()));
    let logged = std::fs::read_to_string(&log).expect("read the agent's log");
    assert!(logged.contains("adopted replica web-production-1-1 of release 1"), "{logged}");
    let (outcome, why) = until("the deployment's outcome", || outcome(&dir));
    assert_eq!(outcome, "succeeded", "{why}");
    let second = until("release 1's container to be removed", || {
        let ids = containers(&dir);
        (ids.len() == 1 && ids[0] != first.0).then(|| ids[0].clone())
    });
    // Each archive was loaded once, by its digest.
    assert_eq!(std::fs::read_dir(dir.join("images")).expect("read_dir").count(), 2);

    // A container that dies under the agent (removed here) is replaced after its backoff.
    ferry_testkit::remove_labelled("ferry.agent", &dir.display().to_string(), "none");
    let third = until("a new container for the crashed replica", || {
        let ids = containers(&dir);
        (ids.len() == 1 && ids[0] != second).then(|| ids[0].clone())
    });
    assert_eq!(until("the proxy to answer again", || get_ok(port)), "release 2\n");

    // Nothing desired: the container is stopped and removed.
    std::fs::write(dir.join("desired.json"), json!({"generation": 3, "units": []}).to_string()).expect("write");
    let mut agent_2 = cleanup.agents.pop().expect("pop");
    agent_2.kill().expect("kill");
    agent_2.wait().expect("wait");
    assert!(containers(&dir).contains(&third));
    cleanup.agents.push(agent(&dir, &log, None));
    until("the last container to be removed", || containers(&dir).is_empty().then_some(()));
}

#[test]
fn an_image_deployment_fails_with_the_reason_without_an_engine_or_an_image() {
    let temp = tempfile::tempdir().expect("tempdir");
    let label = format!("agent-images-absent-{}", std::process::id());
    for (name, image, docker_host, reason) in [
        (
            "no-engine",
            "web:1",
            Some("unix:///nonexistent/docker.sock"),
            "no Docker Engine answers at unix:///nonexistent/docker.sock",
        ),
        (
            "no-image",
            "ferry-test/absent:never",
            None,
            "the image `ferry-test/absent:never` is not in the Docker Engine",
        ),
    ] {
        let dir = temp.path().join(name);
        std::fs::create_dir_all(dir.join("releases/shop/web/1")).expect("create_dir_all");
        let desired = desired(1, free_port(), None, Some(order(3, release(1, image, None))));
        std::fs::write(dir.join("desired.json"), desired.to_string()).expect("write");
        let mut cleanup = Cleanup { dir: &dir, label: label.clone(), agents: Vec::new() };
        cleanup.agents.push(agent(&dir, &temp.path().join(format!("{name}.log")), docker_host));
        let (outcome, why) = until("the deployment to fail", || outcome(&dir));
        assert_eq!(outcome, "failed", "{why}");
        assert!(why.contains(reason), "{name}: {why}");
    }
}

/// An `image:` service released through the server: the release's files hold the image as
/// `docker save` wrote it (as a pipeline's artifact would), `ferry deploy --wait` sends it to
/// a real agent, which loads the archive and serves the container behind its proxy.
#[test]
fn an_image_service_released_from_a_saved_archive_is_deployed_through_the_server() {
    let base = ferry_testkit::busybox_image();
    let scratch = tempfile::Builder::new().prefix("ferry-images-it-").tempdir().expect("temp dir");
    let label = format!("agent-images-server-{}", std::process::id());
    let folder = scratch.path().join("release");
    std::fs::create_dir_all(&folder).expect("create_dir_all");
    let dockerfile = format!(
        "FROM {base}\n\
         RUN mkdir /www && echo ok > /www/healthz && echo served by the server > /www/index.html\n\
         CMD [\"sh\", \"-c\", \"exec httpd -f -p 127.0.0.1:$PORT -h /www\"]\n"
    );
    ferry_testkit::saved_image(&format!("ferry-test/web:{label}"), &dockerfile, &label, &folder.join("web.tar"));
    let port = free_port();
    let deploy = format!(
        "environments:\n  staging: {{ verify: 1s }}\nservices:\n  web:\n    image: {{ archive: web.tar }}\n    \
         health: {{ http: /healthz, interval: 100ms, healthy-after: 1, start-timeout: 60s }}\n    \
         deploy:\n      staging: {{ port: {port}, replicas: 1 }}\n"
    );
    let (server, url, admin) = crate::runner::start_server(scratch.path());
    let agent_dir = scratch.path().join("agent");
    // Dropped last: the agent is killed first, then its containers and the images removed.
    let _images = Cleanup { dir: &agent_dir, label, agents: Vec::new() };
    let (_repo, _agent) = crate::delivery::project_with_agent(scratch.path(), &agent_dir, &url, &admin, &deploy);
    crate::delivery::release_folder(&url, &admin, &folder);

    let args = ["deploy", "web", "web", "--env", "staging", "--wait", "--json"];
    let out = crate::runner::output_within(crate::runner::client_command(&url, &admin, &args));
    let deployed: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        let agent_log = std::fs::read_to_string(scratch.path().join("agent.stderr")).unwrap_or_default();
        panic!("{}\n--- server\n{}\n--- agent\n{agent_log}", crate::runner::text(&out), server.stderr())
    });
    assert_eq!(
        (deployed["outcome"].as_str(), deployed["release"].as_i64()),
        (Some("succeeded"), Some(1)),
        "{deployed}"
    );
    assert_eq!(until("the proxy to answer", || get_ok(port)), "served by the server\n");
    assert_eq!(containers(&agent_dir).len(), 1, "one replica, one container");
    let status = crate::runner::get_json(&url, &admin, "/api/v1/projects/web/status?environment=staging");
    let service = &status["environments"][0]["services"][0];
    assert_eq!(
        (service["release"].as_i64(), service["replicas"][0]["healthy"].as_bool()),
        (Some(1), Some(true)),
        "{status}"
    );
}
