//! Delivery end to end: `ferry server`, a real `ferry agent` process and a Python HTTP
//! service. A release whose health check passes is deployed (`ferry deploy --wait --json`:
//! succeeded, the service answers through the agent's proxy); a release whose health check
//! fails ends `rolled_back`, and the first release goes on answering.

use std::path::Path;
use std::process::{Child, Stdio};

use serde_json::Value;

use crate::harness::{Repo, ferry, free_port, get_ok, http_get_at};
use crate::runner::{client_command, output_within, start_server, text, wait_for};

/// Answers `GET /` with its greeting and `/healthz` with `HEALTH`.
pub(crate) const SERVER_PY: &str = r#"
import http.server, os
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status = int(os.environ.get("HEALTH", "200")) if self.path == "/healthz" else 200
        body = os.environ.get("GREETING", "hello").encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, format, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"#;

/// Kills the agent and the replicas its state file lists when the test ends.
pub(crate) struct Cleanup<'a>(&'a Path, Option<Child>);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if let Some(child) = &mut self.1 {
            let _ = child.kill();
            let _ = child.wait();
        }
        let Ok(text) = std::fs::read_to_string(self.0.join("state.json")) else { return };
        let Ok(state) = serde_json::from_str::<ferry_agent::dir::RuntimeState>(&text) else { return };
        for replica in state.replicas {
            if let Some(pid) = rustix::process::Pid::from_raw(replica.pid.cast_signed()) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
        }
    }
}

#[test]
fn a_healthy_release_is_deployed_and_one_failing_its_health_check_is_rolled_back() {
    let scratch = tempfile::Builder::new().prefix("ferry-delivery-it-").tempdir().expect("temp dir");
    let port = free_port();
    let deploy = format!(
        "environments:\n  staging: {{ verify: 1s }}\nservices:\n  web:\n    run: exec python3 server.py\n    \
         env: {{ GREETING: hello }}\n    \
         health: {{ http: /healthz, interval: 100ms, timeout: 1s, healthy-after: 1, unhealthy-after: 2, start-timeout: 20s }}\n    \
         deploy:\n      staging: {{ port: {port}, replicas: 1, strategy: rolling }}\n"
    );
    let (server, url, admin) = start_server(scratch.path());
    let agent_dir = scratch.path().join("agent");
    let (_repo, _cleanup) = project_with_agent(scratch.path(), &agent_dir, &url, &admin, &deploy);
    let release = |health: &str| {
        let server_py = SERVER_PY.replace("\"200\"", &format!("\"{health}\""));
        make_release(scratch.path(), &url, &admin, &format!("release-{health}"), &server_py);
    };
    let deploy = |release: &str| -> Value {
        let args = ["deploy", "web", "web", "--env", "staging", "--release", release, "--wait", "--json"];
        let out = output_within(client_command(&url, &admin, &args));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            let agent_log = std::fs::read_to_string(scratch.path().join("agent.stderr")).unwrap_or_default();
            panic!("{}\n--- server\n{}\n--- agent\n{agent_log}", text(&out), server.stderr())
        })
    };

    release("200");
    let first = deploy("1");
    assert_eq!((first["outcome"].as_str(), first["release"].as_i64()), (Some("succeeded"), Some(1)), "{first}");
    assert_eq!(wait_for("the service through the proxy", || get_ok(port)), "hello");

    release("500");
    let second = deploy("2");
    assert_eq!(second["outcome"], "rolled_back", "{second}");
    assert!(second["reason"].as_str().is_some_and(|reason| !reason.is_empty()), "{second}");
    assert_eq!(get_ok(port).as_deref(), Some("hello"), "release 1 goes on answering");
    let status = crate::runner::get_json(&url, &admin, "/api/v1/projects/web/status?environment=staging");
    assert_eq!(status["environments"][0]["services"][0]["release"], 1, "{status}");
}

/// A project `web` whose repository holds `deploy_yml`, and a real agent `local` on
/// `agent_dir` (its log in `scratch/agent.stderr`), killed with its replicas when the guard drops.
pub(crate) fn project_with_agent<'a>(
    scratch: &Path,
    agent_dir: &'a Path,
    url: &str,
    admin: &str,
    deploy_yml: &str,
) -> (Repo, Cleanup<'a>) {
    let repo = Repo::new(&[(".ferry/deploy.yml", deploy_yml)]);
    let repo_path = repo.path().display().to_string();
    let added = output_within(client_command(url, admin, &["project", "add", "web", "--repo", &repo_path]));
    assert!(added.status.success(), "{}", text(&added));
    let agent = ferry()
        .args(["agent", "--server", url, "--token", admin, "--name", "local", "--dir"])
        .arg(agent_dir)
        .env("FERRY_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(scratch.join("agent.stderr")).expect("a stderr file"))
        .spawn()
        .expect("ferry agent starts");
    (repo, Cleanup(agent_dir, Some(agent)))
}

/// Makes the next release of service `web` from a folder `scratch/name` holding `server_py`.
pub(crate) fn make_release(scratch: &Path, url: &str, admin: &str, name: &str, server_py: &str) {
    let folder = scratch.join(name);
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(folder.join("server.py"), server_py).expect("write");
    release_folder(url, admin, &folder);
}

/// Makes the next release of service `web` from the files of `folder`.
pub(crate) fn release_folder(url: &str, admin: &str, folder: &Path) {
    let args = ["release", "create", "web", "web", "--dir", folder.to_str().expect("UTF-8")];
    let made = output_within(client_command(url, admin, &args));
    assert!(made.status.success(), "{}", text(&made));
}

#[test]
fn a_deployment_cancelled_in_progress_puts_back_the_release_that_served() {
    let scratch = tempfile::Builder::new().prefix("ferry-delivery-it-").tempdir().expect("temp dir");
    let port = free_port();
    // The canary's pause outlasts the test: only the cancel ends this deployment.
    let deploy = format!(
        "environments:\n  staging: {{ verify: 1s }}\nservices:\n  web:\n    run: exec python3 server.py\n    \
         health: {{ http: /healthz, interval: 100ms, healthy-after: 1 }}\n    \
         deploy:\n      staging: {{ port: {port}, replicas: 2, strategy: canary, canary: {{ steps: [ {{ weight: 50, pause: 10m }} ] }} }}\n"
    );
    let (server, url, admin) = start_server(scratch.path());
    let agent_dir = scratch.path().join("agent");
    let (_repo, _cleanup) = project_with_agent(scratch.path(), &agent_dir, &url, &admin, &deploy);
    make_release(scratch.path(), &url, &admin, "one", SERVER_PY);
    make_release(scratch.path(), &url, &admin, "two", &SERVER_PY.replace("\"hello\"", "\"hello two\""));
    let deploy = |release: &str, wait: bool| -> Value {
        let mut args = vec!["deploy", "web", "web", "--env", "staging", "--release", release, "--json"];
        args.extend(wait.then_some("--wait"));
        let out = output_within(client_command(&url, &admin, &args));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}\n--- server\n{}", text(&out), server.stderr()))
    };
    // A first deployment has nothing to fall back to; release 1 succeeds first.
    assert_eq!(deploy("1", true)["outcome"], "succeeded");
    let second = deploy("2", false);
    let id = second["id"].as_i64().expect("an id").to_string();
    wait_for("the canary of release 2 to take traffic", || (get_ok(port)? == "hello two").then_some(()));

    let cancelled = output_within(client_command(&url, &admin, &["cancel", "--deployment", &id]));
    assert!(
        text(&cancelled).contains("cancelling: its agent puts back the release that served before"),
        "{}",
        text(&cancelled)
    );
    let deployment = wait_for("the deployment to end", || {
        let deployment = crate::runner::get_json(&url, &admin, &format!("/api/v1/deployments/{id}"));
        (deployment["outcome"] != "in_progress").then_some(deployment)
    });
    assert_eq!(deployment["outcome"], "cancelled", "{deployment}");
    assert_eq!(deployment["reason"], "cancelled by admin", "{deployment}");
    let status = crate::runner::get_json(&url, &admin, "/api/v1/projects/web/status?environment=staging");
    assert_eq!(status["environments"][0]["services"][0]["release"], 1, "{status}");
    // Only release 1 answers once the canary's replica left the proxy.
    wait_for("release 2 to leave the proxy", || {
        let answers: Vec<String> = (0..10).filter_map(|_| get_ok(port)).collect();
        (answers.len() == 10 && answers.iter().all(|answer| answer == "hello")).then_some(())
    });
    let over = output_within(client_command(&url, &admin, &["cancel", "--deployment", &id]));
    assert!(!over.status.success());
    assert!(text(&over).contains("is over (cancelled): there is nothing to cancel"), "{}", text(&over));
}

/// `ferry server` on `port` with its data in `data_dir`; killed on drop.
fn server_on(port: u16, data_dir: &Path, stderr: &Path) -> crate::runner::Process {
    let child = ferry()
        .args(["server", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data_dir)
        .env_remove("FERRY_CONFIG")
        .env_remove("FERRY_DATABASE")
        .env("FERRY_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::OpenOptions::new().create(true).append(true).open(stderr).expect("a stderr file"))
        .spawn()
        .expect("ferry server starts");
    wait_for("the server to listen", || std::net::TcpStream::connect(("127.0.0.1", port)).ok());
    crate::runner::Process { child, stderr: stderr.to_path_buf() }
}

#[test]
fn a_server_killed_during_a_deployment_records_its_true_outcome_after_it_restarts() {
    let scratch = tempfile::Builder::new().prefix("ferry-delivery-it-").tempdir().expect("temp dir");
    let port = free_port();
    let deploy = format!(
        "environments:\n  staging: {{ verify: 1s }}\nservices:\n  web:\n    run: exec python3 server.py\n    \
         health: {{ http: /healthz, interval: 100ms, healthy-after: 1 }}\n    \
         deploy:\n      staging: {{ port: {port}, replicas: 2, strategy: canary, canary: {{ steps: [ {{ weight: 50, pause: 3s }} ] }} }}\n"
    );
    let repo = Repo::new(&[(".ferry/deploy.yml", deploy.as_str())]);
    let server_port = free_port();
    let url = format!("http://127.0.0.1:{server_port}");
    let data_dir = scratch.path().join("data");
    let server_log = scratch.path().join("server.stderr");
    let server = server_on(server_port, &data_dir, &server_log);
    let admin = std::fs::read_to_string(data_dir.join("admin.token")).expect("the admin token").trim().to_owned();
    let repo_path = repo.path().display().to_string();
    let added = output_within(client_command(&url, &admin, &["project", "add", "web", "--repo", &repo_path]));
    assert!(added.status.success(), "{}", text(&added));
    let agent_dir = scratch.path().join("agent");
    let agent = ferry()
        .args(["agent", "--server", &url, "--token", &admin, "--name", "local", "--dir"])
        .arg(&agent_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ferry agent starts");
    let _cleanup = Cleanup(&agent_dir, Some(agent));
    let folder = scratch.path().join("release");
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(folder.join("server.py"), SERVER_PY).expect("write");
    let args = ["release", "create", "web", "web", "--dir", folder.to_str().expect("UTF-8")];
    assert!(output_within(client_command(&url, &admin, &args)).status.success());
    let args = ["deploy", "web", "web", "--env", "staging", "--json"];
    let started: Value =
        serde_json::from_slice(&output_within(client_command(&url, &admin, &args)).stdout).expect("JSON");
    let id = started["id"].as_i64().expect("an id");
    assert_eq!(started["outcome"], "in_progress", "{started}");

    // Killed while the canary pauses; the agent carries on by itself.
    wait_for("the canary to serve", || get_ok(port));
    // SIGKILL, as `Process` does when dropped.
    drop(server);
    let server = server_on(server_port, &data_dir, &server_log);
    let deployment = wait_for("the deployment to end", || {
        let deployment = crate::runner::get_json(&url, &admin, &format!("/api/v1/deployments/{id}"));
        (deployment["outcome"] != "in_progress").then_some(deployment)
    });
    assert_eq!(deployment["outcome"], "succeeded", "{deployment}\n--- server\n{}", server.stderr());
    assert_eq!(get_ok(port).as_deref(), Some("hello"));
}

/// Starts `ferry agent --name NAME --labels web` on `scratch/NAME` with `args` (its log in
/// `scratch/NAME.stderr`), registering with the admin token; killed with its replicas when the
/// guard drops.
fn spawn_agent<'a>(
    scratch: &Path,
    agent_dir: &'a Path,
    url: &str,
    admin: &str,
    name: &str,
    args: &[&str],
) -> Cleanup<'a> {
    let agent = ferry()
        .args(["agent", "--server", url, "--token", admin, "--name", name, "--labels", "web", "--dir"])
        .arg(agent_dir)
        .args(args)
        .env("FERRY_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(scratch.join(format!("{name}.stderr"))).expect("a stderr file"))
        .spawn()
        .expect("ferry agent starts");
    Cleanup(agent_dir, Some(agent))
}

#[test]
fn an_environment_on_two_hosts_runs_on_both_and_a_failure_on_one_rolls_both_back() {
    let scratch = tempfile::Builder::new().prefix("ferry-delivery-it-").tempdir().expect("temp dir");
    let port = free_port();
    let deploy = format!(
        "environments:\n  production: {{ hosts: [web], verify: 2s }}\nservices:\n  web:\n    run: exec python3 server.py\n    \
         health: {{ http: /healthz, interval: 100ms, timeout: 1s, healthy-after: 1, unhealthy-after: 2, start-timeout: 30s }}\n    \
         deploy:\n      production: {{ port: {port}, replicas: 1, strategy: rolling }}\n"
    );
    let (server, url, admin) = start_server(scratch.path());
    let repo = Repo::new(&[(".ferry/deploy.yml", deploy.as_str())]);
    let repo_path = repo.path().display().to_string();
    let added = output_within(client_command(&url, &admin, &["project", "add", "web", "--repo", &repo_path]));
    assert!(added.status.success(), "{}", text(&added));
    // Two agents on one machine: distinct directories, the second one's proxies on 127.0.0.2.
    let (one_dir, two_dir) = (scratch.path().join("one"), scratch.path().join("two"));
    let _one = spawn_agent(scratch.path(), &one_dir, &url, &admin, "one", &[]);
    let _two = spawn_agent(scratch.path(), &two_dir, &url, &admin, "two", &["--bind", "127.0.0.2"]);
    wait_for("both agents to say hello", || {
        let agents = crate::runner::get_json(&url, &admin, "/api/v1/agents");
        let seen = agents.as_array()?.iter().filter(|agent| !agent["last_seen_at"].is_null()).count();
        (seen == 2).then_some(())
    });
    let answer = |ip: &str| http_get_at(ip, port, "/").and_then(|(status, body)| (status == 200).then_some(body));
    let deploy = |release: &str| -> Value {
        let args = ["deploy", "web", "web", "--env", "production", "--release", release, "--wait", "--json"];
        let out = output_within(client_command(&url, &admin, &args));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            let log = |name: &str| std::fs::read_to_string(scratch.path().join(name)).unwrap_or_default();
            panic!(
                "{}\n--- server\n{}\n--- one\n{}\n--- two\n{}",
                text(&out),
                server.stderr(),
                log("one.stderr"),
                log("two.stderr")
            )
        })
    };
    let hosts = |id: &Value| -> Vec<(String, String)> {
        let deployment = crate::runner::get_json(&url, &admin, &format!("/api/v1/deployments/{id}"));
        let hosts = deployment["hosts"].as_array().cloned().unwrap_or_default();
        // By agent id: the two agents registered in either order.
        let mut hosts: Vec<(String, String)> = hosts
            .iter()
            .map(|host| {
                (host["agent"].as_str().unwrap_or("").to_owned(), host["outcome"].as_str().unwrap_or("").to_owned())
            })
            .collect();
        hosts.sort();
        hosts
    };

    make_release(scratch.path(), &url, &admin, "release-1", SERVER_PY);
    let first = deploy("1");
    assert_eq!(first["outcome"], "succeeded", "{first}");
    assert_eq!(
        hosts(&first["id"]),
        [("one".to_owned(), "succeeded".to_owned()), ("two".to_owned(), "succeeded".to_owned())]
    );
    assert_eq!(wait_for("host one to serve", || answer("127.0.0.1")), "hello");
    assert_eq!(wait_for("host two to serve", || answer("127.0.0.2")), "hello");

    // Release 2 is broken on host two only (a file in its agent's directory, four levels above
    // the release's folder), and only after host one has had time to succeed with it.
    let broken = SERVER_PY
        .replace("\"hello\"", "\"hello two\"")
        .replace(
            "class Handler",
            "import time\nBROKEN = os.path.exists(\"../../../../broken\")\nif BROKEN: time.sleep(8)\nclass Handler",
        )
        .replace(
            "if self.path == \"/healthz\" else 200",
            "if self.path == \"/healthz\" and not BROKEN else (500 if self.path == \"/healthz\" else 200)",
        );
    std::fs::write(two_dir.join("broken"), "").expect("mark host two");
    make_release(scratch.path(), &url, &admin, "release-2", &broken);
    let second = deploy("2");
    assert_eq!(second["outcome"], "rolled_back", "{second}");
    let reason = second["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("on agent two: replica web-production-2-"), "{second}");
    // Host one had succeeded with release 2: it was reverted, not just stopped mid-way.
    assert_eq!(
        hosts(&second["id"]),
        [("one".to_owned(), "cancelled".to_owned()), ("two".to_owned(), "rolled_back".to_owned())]
    );
    let deployment = crate::runner::get_json(&url, &admin, &format!("/api/v1/deployments/{}", second["id"]));
    let steps: Vec<&str> =
        deployment["steps"].as_array().expect("steps").iter().filter_map(|step| step["name"].as_str()).collect();
    assert!(steps.contains(&"one: revert: release 1 serves again"), "{steps:?}");
    assert!(steps.contains(&"two: roll back to release 1"), "{steps:?}");
    for ip in ["127.0.0.1", "127.0.0.2"] {
        wait_for("release 1 to serve alone on both hosts", || {
            let answers: Vec<String> = (0..5).filter_map(|_| answer(ip)).collect();
            (answers.len() == 5 && answers.iter().all(|answer| answer == "hello")).then_some(())
        });
    }
    let status = crate::runner::get_json(&url, &admin, "/api/v1/projects/web/status?environment=production");
    let service = &status["environments"][0]["services"][0];
    let mut agents: Vec<&str> = service["agent"].as_str().unwrap_or_default().split(", ").collect();
    agents.sort_unstable();
    assert_eq!((service["release"].as_i64(), agents), (Some(1), vec!["one", "two"]), "{status}");
}
