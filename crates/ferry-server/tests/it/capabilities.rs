//! Capabilities in claims: a job with `container:`, `services:` or a `docker://` step (also
//! within `parallel:`) goes only to a runner that
//! claims with the `docker` capability (it reached a container engine when it started), whatever
//! labels other runners have.

use serde_json::json;

use crate::{ProtocolRunner, TestRepo, TestServer};

const WORKFLOW: &str = "\
on: workflow_dispatch
jobs:
  plain:
    runs-on: linux
    steps:
      - run: echo plain
  boxed:
    runs-on: linux
    container: debian:12
    steps:
      - run: echo boxed
  served:
    runs-on: linux
    services:
      db:
        image: postgres:16
    steps:
      - run: echo served
  imaged:
    runs-on: linux
    steps:
      - parallel:
          - run: echo beside
          - uses: docker://alpine:3
";

#[test]
fn container_service_and_docker_step_jobs_go_only_to_runners_claiming_with_the_docker_capability() {
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", WORKFLOW)]);
    let server = TestServer::start();
    let body = json!({"name": "demo", "repo": repo.path().display().to_string()});
    assert_eq!(server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&body)).status, 201);
    let res =
        server.call("POST", "/api/v1/projects/demo/trigger", Some(&server.admin), Some(&json!({"workflow": "ci.yml"})));
    assert_eq!(res.status, 201, "{}", res.body);

    let plain = ProtocolRunner::register(&server, "plain-1", &["linux"]);
    let job = plain.claim(5_000).expect("the job without containers");
    assert_eq!(job["job_key"], "plain", "{job}");
    assert_eq!(plain.claim(0), None, "the other jobs need a container engine");
    // A label is not a capability: an administrator cannot give a runner an engine.
    let labelled = ProtocolRunner::register(&server, "labelled-1", &["linux", "docker"]);
    assert_eq!(labelled.claim(0), None);

    let docker = ProtocolRunner::register(&server, "docker-1", &["linux"]);
    let mut keys = Vec::new();
    for _ in 0..3 {
        let res = docker.call("/api/v1/runner/claim", &json!({"wait_ms": 5_000, "capabilities": ["docker"]}));
        assert_eq!(res.status, 200, "{}", res.body);
        keys.push(res.json()["job_key"].as_str().expect("a job key").to_owned());
    }
    keys.sort();
    assert_eq!(keys, ["boxed", "imaged", "served"]);

    let res = docker.call("/api/v1/runner/claim", &json!({"wait_ms": 0, "capabilities": ["gpu"]}));
    assert_eq!(res.status, 400, "an unknown capability is refused: {}", res.body);
}
