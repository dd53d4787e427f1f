//! Reusable workflows on the server: a run's calls are read at its commit and flattened, the
//! called jobs are queued under GitHub's names with their inputs, a runner claiming one gets
//! the called workflow's text and only the secrets its caller passes, and the callee's
//! outputs reach the caller's dependents.

use std::time::Duration;

use serde_json::json;

use crate::{ProtocolRunner, TestRepo, TestServer};

const CALLER: &str = r#"
name: CI
on: workflow_dispatch
jobs:
  build:
    strategy:
      matrix:
        os: [linux, mac]
    uses: $/.github/workflows/build.yml
    with:
      target: ${{ matrix.os }}
    secrets:
      KEY: ${{ secrets.DEPLOY_KEY }}
  ship:
    needs: build
    runs-on: linux
    steps:
      - run: echo "${{ needs.build.outputs.artifact }}"
"#;

const CALLEE: &str = r#"
on:
  workflow_call:
    inputs:
      target: { type: string, required: true }
      level: { type: number, default: 3 }
    outputs:
      artifact: { value: "${{ jobs.compile.outputs.file }}" }
    secrets:
      KEY: { required: true }
jobs:
  compile:
    runs-on: linux
    outputs: { file: "${{ steps.c.outputs.file }}" }
    steps:
      - id: c
        run: echo "file=app-${{ inputs.target }}" >> "$GITHUB_OUTPUT"
"#;

#[test]
fn a_called_workflow_runs_on_runners_with_its_inputs_secrets_and_outputs() {
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", CALLER), (".github/workflows/build.yml", CALLEE)]);
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    for (name, value) in [("DEPLOY_KEY", "k3y"), ("OTHER", "not-passed")] {
        let res = server.call(
            "PUT",
            &format!("/api/v1/projects/web/secrets/{name}"),
            Some(&server.admin),
            Some(&json!({"value": value})),
        );
        assert!(matches!(res.status, 200 | 201 | 204), "{}", res.body);
    }
    let res =
        server.call("POST", "/api/v1/projects/web/trigger", Some(&server.admin), Some(&json!({"workflow": "ci.yml"})));
    assert_eq!(res.status, 201, "{}", res.body);
    let id = res.json()["runs"][0]["id"].as_i64().expect("a run id");

    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    let mut claimed = Vec::new();
    for _ in 0..2 {
        let job = runner.claim(1000).expect("a called job");
        claimed.push((
            job["name"].as_str().unwrap_or_default().to_owned(),
            job["job_key"].clone(),
            job["workflow_file"].clone(),
            job["contexts"]["inputs"].clone(),
            job["contexts"]["github"]["workflow"].clone(),
            job["secrets"].clone(),
        ));
        assert!(job["workflow_src"].as_str().unwrap_or_default().contains("workflow_call"), "{job:#}");
        let target = job["contexts"]["inputs"]["target"].as_str().unwrap_or_default().to_owned();
        runner.finish(&job, &["compiled"], "success", json!({"file": format!("app-{target}")}));
    }
    let called = |os: &str| {
        (
            format!("build ({os}) / compile"),
            json!("compile"),
            json!(".github/workflows/build.yml"),
            json!({"target": os, "level": 3}),
            json!("CI"),
            json!({"KEY": "k3y"}),
        )
    };
    assert_eq!(claimed, [called("linux"), called("mac")]);

    let ship = runner.claim(1000).expect("ship, once the whole call is done");
    assert_eq!((ship["name"].as_str(), ship["job_key"].as_str()), (Some("ship"), Some("ship")));
    assert_eq!(ship["contexts"]["needs"]["build"]["result"], "success", "{ship:#}");
    assert_eq!(ship["contexts"]["needs"]["build"]["outputs"]["artifact"], "app-mac", "{ship:#}");
    assert_eq!(ship["secrets"]["OTHER"], "not-passed", "the caller's own jobs keep every secret");
    runner.finish(&ship, &["shipped"], "success", json!({}));

    let detail = crate::pipeline::completed(&server, id, Duration::from_secs(10));
    assert_eq!(detail["run"]["conclusion"], "success");
    let names: Vec<&str> =
        detail["jobs"].as_array().into_iter().flatten().filter_map(|job| job["name"].as_str()).collect();
    assert_eq!(names, ["build (linux) / compile", "build (mac) / compile", "ship"]);
    assert_eq!(detail["planned"], json!([]));
}

#[test]
fn a_call_that_cannot_be_read_at_the_commit_fails_the_run_saying_why() {
    let caller = "on: workflow_dispatch\njobs:\n  c:\n    uses: ./.github/workflows/gone.yml\n";
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", caller)]);
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    let res =
        server.call("POST", "/api/v1/projects/web/trigger", Some(&server.admin), Some(&json!({"workflow": "ci.yml"})));
    assert_eq!(res.status, 201, "{}", res.body);
    let run = &res.json()["runs"][0];
    assert_eq!(run["conclusion"], "failure", "{run:#}");
    let error = run["error"].as_str().unwrap_or_default();
    assert!(error.contains("there is no workflow file .github/workflows/gone.yml at this commit"), "{error}");
}

#[test]
fn issue_14_each_leg_of_a_matrix_caller_runs_its_called_jobs_as_their_needs_finish_in_that_leg() {
    let caller = r#"
on: workflow_dispatch
jobs:
  build:
    strategy: { fail-fast: false, matrix: { os: [linux, mac] } }
    uses: ./.github/workflows/build.yml
    with: { target: "${{ matrix.os }}" }
"#;
    let callee = r#"
on:
  workflow_call:
    inputs: { target: { type: string, required: true } }
jobs:
  compile:
    runs-on: linux
    outputs: { file: "${{ steps.c.outputs.file }}" }
    steps: [{ id: c, run: make }]
  test:
    needs: compile
    runs-on: linux
    steps: [{ run: "echo ${{ needs.compile.outputs.file }}" }]
"#;
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", caller), (".github/workflows/build.yml", callee)]);
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    let res =
        server.call("POST", "/api/v1/projects/web/trigger", Some(&server.admin), Some(&json!({"workflow": "ci.yml"})));
    assert_eq!(res.status, 201, "{}", res.body);
    let id = res.json()["runs"][0]["id"].as_i64().expect("a run id");
    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    let linux = runner.claim(1000).expect("linux's compile");
    let mac = runner.claim(1000).expect("mac's compile");
    assert_eq!(
        (linux["name"].as_str(), mac["name"].as_str()),
        (Some("build (linux) / compile"), Some("build (mac) / compile"))
    );
    // The mac leg goes on while the linux leg still compiles.
    runner.finish(&mac, &["compiled"], "success", json!({"file": "app-mac"}));
    let mac_test = runner.claim(1000).expect("mac's test, while linux still compiles");
    assert_eq!(mac_test["name"], "build (mac) / test", "{mac_test:#}");
    assert_eq!(mac_test["contexts"]["needs"]["compile"]["outputs"]["file"], "app-mac", "{mac_test:#}");
    assert_eq!(mac_test["contexts"]["strategy"]["job-total"], 1, "{mac_test:#}");
    // A failure in the linux leg skips the linux leg's test only.
    runner.finish(&linux, &["broken"], "failure", json!({}));
    runner.finish(&mac_test, &["tested"], "success", json!({}));
    let detail = crate::pipeline::completed(&server, id, Duration::from_secs(10));
    assert_eq!(detail["run"]["conclusion"], "failure");
    let jobs: Vec<(&str, &str)> = detail["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|job| Some((job["name"].as_str()?, job["conclusion"].as_str()?)))
        .collect();
    assert_eq!(
        jobs,
        [
            ("build (linux) / compile", "failure"),
            ("build (mac) / compile", "success"),
            ("build (mac) / test", "success")
        ]
    );
    // A re-run of what failed keeps the mac leg's jobs and runs the linux leg again.
    let res = server.call(
        "POST",
        &format!("/api/v1/runs/{id}/rerun"),
        Some(&server.admin),
        Some(&json!({"failed_only": true})),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    let again = runner.claim(1000).expect("linux's compile again");
    assert_eq!(again["name"], "build (linux) / compile", "{again:#}");
    runner.finish(&again, &["compiled"], "success", json!({"file": "app-linux"}));
    let linux_test = runner.claim(1000).expect("linux's test");
    assert_eq!(linux_test["name"], "build (linux) / test", "{linux_test:#}");
    assert_eq!(linux_test["contexts"]["needs"]["compile"]["outputs"]["file"], "app-linux", "{linux_test:#}");
    runner.finish(&linux_test, &["tested"], "success", json!({}));
    assert_eq!(runner.claim(0), None, "the mac leg is not run again");
}
