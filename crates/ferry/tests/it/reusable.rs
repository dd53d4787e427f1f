//! `ferry run` with reusable workflows (`jobs.<id>.uses: ./.github/workflows/x.yml`): the
//! called jobs run with their inputs, secrets and contexts, their outputs reach the caller's
//! dependents, matrix callers and nested calls are named as GitHub names them, and calls that
//! cannot run say why.

use crate::harness::{Repo, git_in as git, marker};

const BUILD: &str = r#"
name: Build (reusable)
on:
  workflow_call:
    inputs:
      target: { type: string, required: true }
      optimize: { type: boolean, default: false }
      level: { type: number, default: 2 }
    outputs:
      artifact:
        value: ${{ jobs.package.outputs.file }}
    secrets:
      KEY: { required: true }
env:
  FROM_CALLEE: callee-env
jobs:
  compile:
    runs-on: ubuntu-latest
    steps:
      - id: show
        run: |
          echo "target=${{ inputs.target }} optimize=${{ inputs.optimize }} level=${{ inputs.level }}"
          echo "types=${{ inputs.optimize == true }},${{ inputs.level == 2 }}"
          echo "workflow=${{ github.workflow }} event=${{ github.event_name }} job=${{ github.job }} env=$FROM_CALLEE"
          echo "key=${{ secrets.KEY }} other=[${{ secrets.OTHER }}]"
  package:
    needs: compile
    runs-on: ubuntu-latest
    outputs:
      file: ${{ steps.pack.outputs.file }}
    steps:
      - id: pack
        run: echo "file=app-${{ inputs.target }}.tar" >> "$GITHUB_OUTPUT"
"#;

#[test]
fn a_local_reusable_workflow_runs_with_typed_inputs_secrets_and_hands_its_outputs_back() {
    let caller = r#"
name: CI
on: push
jobs:
  build:
    uses: ./.github/workflows/build.yml
    with:
      target: linux
      optimize: true
    secrets:
      KEY: ${{ secrets.DEPLOY_KEY }}
  ship:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - id: show
        run: echo "shipping ${{ needs.build.outputs.artifact }} after ${{ needs.build.result }}"
"#;
    let repo = Repo::new(&[(".github/workflows/ci.yml", caller), (".github/workflows/build.yml", BUILD)]);
    let run = repo.run(&["--secret", "DEPLOY_KEY=s3cr3t-value", "--secret", "OTHER=not-passed"]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    assert_eq!(
        run.trace(),
        "run: success\nbuild / compile: success\n  show: success\nbuild / package: success\n  pack: success\n\
         ship: success\n  show: success"
    );
    let compile = run.lines_of("build / compile");
    for want in [
        "target=linux optimize=true level=2",
        "types=true,true",
        "workflow=CI event=push job=compile env=callee-env",
        "key=*** other=[]",
    ] {
        assert!(compile.contains(&want), "{want:?} in {compile:?}\n{}", run.context());
    }
    assert!(!run.stdout.contains("s3cr3t-value"), "{}", run.context());
    assert!(run.lines_of("ship").contains(&"shipping app-linux.tar after success"), "{}", run.context());
    assert_eq!(run.report["jobs"]["build / package"]["outputs"]["file"], "app-linux.tar");
}

#[test]
fn a_matrix_caller_and_a_nested_call_run_every_leg_under_githubs_names() {
    let caller = r#"
on: push
jobs:
  each:
    name: Each
    strategy:
      matrix:
        target: [arm, x86]
    uses: ./.github/workflows/middle.yml
    with:
      target: ${{ matrix.target }}
    secrets: inherit
"#;
    let middle = r#"
on:
  workflow_call:
    inputs:
      target: { type: string, required: true }
jobs:
  inner:
    uses: ./.github/workflows/build.yml
    with:
      target: ${{ inputs.target }}-v2
    secrets: inherit
"#;
    let repo = Repo::new(&[
        (".github/workflows/ci.yml", caller),
        (".github/workflows/middle.yml", middle),
        (".github/workflows/build.yml", BUILD),
    ]);
    let run = repo.run(&["--secret", "KEY=inherited-key"]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    // Each leg's `package` starts when that leg's `compile` ends, so the legs' jobs may
    // finish in either order; the names are what is checked.
    let mut jobs: Vec<&String> = run.report["jobs"].as_object().expect("jobs").keys().collect();
    jobs.sort();
    assert_eq!(
        jobs,
        [
            "Each (arm) / inner / compile",
            "Each (arm) / inner / package",
            "Each (x86) / inner / compile",
            "Each (x86) / inner / package"
        ]
    );
    assert!(run.lines_of("Each (x86) / inner / compile").contains(&"target=x86-v2 optimize=false level=2"));
    assert!(run.lines_of("Each (arm) / inner / compile").contains(&"key=*** other=[]"), "{}", run.context());
}

#[test]
fn a_job_that_needs_a_matrix_caller_waits_for_every_leg_and_sees_the_successful_legs_outputs() {
    let callee = r#"
on:
  workflow_call:
    inputs:
      target: { type: string, required: true }
    outputs:
      artifact: { value: "${{ jobs.package.outputs.file }}" }
jobs:
  compile:
    runs-on: ubuntu-latest
    outputs: { bin: "${{ steps.c.outputs.bin }}" }
    steps:
      - id: c
        run: echo "bin=bin-${{ inputs.target }}" >> "$GITHUB_OUTPUT"
  package:
    needs: compile
    runs-on: ubuntu-latest
    outputs: { file: "${{ steps.p.outputs.file }}" }
    steps:
      - id: p
        run: |
          echo "packaging ${{ needs.compile.outputs.bin }}"
          echo "file=app-${{ inputs.target }}.tar" >> "$GITHUB_OUTPUT"
          test "${{ inputs.target }}" != broken
"#;
    let caller = r#"
on: push
jobs:
  each:
    strategy:
      fail-fast: false
      matrix:
        target: [arm, broken]
    uses: ./.github/workflows/legs.yml
    with:
      target: ${{ matrix.target }}
  ship:
    needs: each
    if: always()
    runs-on: ubuntu-latest
    steps:
      - id: show
        run: echo "artifact=${{ needs.each.outputs.artifact }} result=${{ needs.each.result }}"
"#;
    let repo = Repo::new(&[(".github/workflows/ci.yml", caller), (".github/workflows/legs.yml", callee)]);
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(1), "{}", run.context());
    // Each leg's package saw its own leg's compile.
    assert!(run.lines_of("each (arm) / package").contains(&"packaging bin-arm"), "{}", run.context());
    assert!(run.lines_of("each (broken) / package").contains(&"packaging bin-broken"), "{}", run.context());
    assert_eq!(run.report["jobs"]["each (broken) / package"]["conclusion"], "failure", "{}", run.context());
    // ship ran once both legs were done, and sees the outputs of the leg that succeeded only.
    assert!(run.lines_of("ship").contains(&"artifact=app-arm.tar result=failure"), "{}", run.context());
}

#[test]
fn a_failing_called_job_fails_the_caller_and_skips_its_dependents() {
    let callee = "on: workflow_call\njobs:\n  broken:\n    runs-on: ubuntu-latest\n    steps:\n      - id: fail\n        run: exit 4\n";
    let caller = r#"
on: push
jobs:
  call:
    # `$/` names a file of the same repository, as `./` does.
    uses: $/.github/workflows/lib.yml
  after:
    needs: call
    runs-on: ubuntu-latest
    steps: [{ id: never, run: echo never }]
  report:
    needs: call
    if: always()
    runs-on: ubuntu-latest
    steps: [{ id: result, run: "echo caller=${{ needs.call.result }}" }]
"#;
    let repo = Repo::new(&[(".github/workflows/ci.yml", caller), (".github/workflows/lib.yml", callee)]);
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(1), "{}", run.context());
    assert_eq!(
        run.trace(),
        "run: failure\ncall / broken: failure\n  fail: failure\nafter: skipped\n  never: skipped\n\
         report: success\n  result: success"
    );
    assert!(run.lines_of("report").contains(&"caller=failure"), "{}", run.context());
}

#[test]
fn calls_that_cannot_run_say_why_before_anything_starts() {
    let call = |uses: &str| format!("on: push\njobs:\n  c:\n    uses: {uses}\n");
    let cycle = "on: workflow_call\njobs:\n  again:\n    uses: ./.github/workflows/loop.yml\n";
    let cases: &[(&str, &str, &str, &str)] = &[
        ("./.github/workflows/missing.yml", "", "", "reading the workflow `uses: ./.github/workflows/missing.yml`"),
        (
            "./.github/workflows/loop.yml",
            ".github/workflows/loop.yml",
            cycle,
            "job `c/again` calls .github/workflows/loop.yml, which is already calling it",
        ),
        (
            "./.github/workflows/plain.yml",
            ".github/workflows/plain.yml",
            "on: push\njobs:\n  a: { runs-on: x, steps: [{ run: 'true' }] }\n",
            "has no `on: workflow_call`",
        ),
        ("./.github/workflows/nested/deeper.yml", "", "", "a reusable workflow must be a file in .github/workflows"),
    ];
    for (uses, path, callee, want) in cases {
        let mut files = vec![(".github/workflows/ci.yml", call(uses))];
        if !path.is_empty() {
            files.push((path, (*callee).to_owned()));
        }
        let files: Vec<(&str, &str)> = files.iter().map(|(path, text)| (*path, text.as_str())).collect();
        let repo = Repo::new(&files);
        let run = repo.run(&["-W", ".github/workflows/ci.yml"]);
        assert_eq!(run.code, Some(2), "{uses}: {}", run.context());
        assert!(run.stderr.contains(want), "{uses}: want {want:?}\n{}", run.context());
    }
    // An input the callee does not declare fails the calling job, saying which.
    let callee = "on:\n  workflow_call:\n    inputs:\n      n: { type: number, required: true }\njobs:\n  a: { runs-on: x, steps: [{ run: 'true' }] }\n";
    let caller = "on: push\njobs:\n  c:\n    uses: ./.github/workflows/lib.yml\n    with: { n: many }\n";
    let repo = Repo::new(&[(".github/workflows/ci.yml", caller), (".github/workflows/lib.yml", callee)]);
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(1), "{}", run.context());
    assert_eq!(run.report["jobs"]["c"]["conclusion"], "failure", "{}", run.context());
    let shown = format!("{}{}", run.stdout, run.stderr);
    assert!(shown.contains("input `n` of .github/workflows/lib.yml must be a number"), "{}", run.context());
}

#[test]
fn a_reusable_workflow_of_another_repository_is_fetched_from_the_actions_source() {
    // An actions source: a folder of owner/repo git repositories, `octo/lib` tagged v1.
    let source = tempfile::Builder::new().prefix("ferry-source-").tempdir().expect("temp dir");
    let lib = source.path().join("octo").join("lib");
    std::fs::create_dir_all(lib.join(".github/workflows")).expect("mkdir");
    std::fs::write(lib.join(".github/workflows/build.yml"), BUILD).expect("write");
    git(&lib, &["init", "--quiet", "--initial-branch=main"]);
    git(&lib, &["add", "--all"]);
    git(&lib, &["commit", "--quiet", "-m", "reusable"]);
    git(&lib, &["tag", "-a", "v1", "-m", "v1"]);
    let sha = git(&lib, &["rev-parse", "HEAD"]);
    let caller = format!(
        r#"
on: push
jobs:
  tagged:
    uses: octo/lib/.github/workflows/build.yml@v1
    with: {{ target: tag }}
    secrets: inherit
  pinned:
    uses: octo/lib/.github/workflows/build.yml@{sha}
    with: {{ target: sha }}
    secrets: inherit
  ship:
    needs: [tagged, pinned]
    runs-on: ubuntu-latest
    steps:
      - id: show
        run: echo "got ${{{{ needs.tagged.outputs.artifact }}}} and ${{{{ needs.pinned.outputs.artifact }}}}"
"#
    );
    let repo = Repo::new(&[(".github/workflows/ci.yml", &caller)]);
    let report = repo.path().join(".git").join("ferry-report.json");
    let output = crate::harness::ferry()
        .arg("run")
        .arg(repo.path())
        .arg("--report")
        .arg(&report)
        .arg("--actions-url")
        .arg(format!("file://{}", source.path().display()))
        .arg("--secret")
        .arg("KEY=k")
        .env("XDG_CACHE_HOME", repo.path().join(".git").join("cache"))
        .output()
        .expect("ferry runs");
    let run = crate::harness::Run::from_output(output, &report);
    assert_eq!(run.code, Some(0), "{}", run.context());
    let jobs: Vec<&String> = run.report["jobs"].as_object().expect("jobs").keys().collect();
    assert_eq!(
        jobs,
        ["tagged / compile", "tagged / package", "pinned / compile", "pinned / package", "ship"],
        "{}",
        run.context()
    );
    assert!(run.lines_of("ship").contains(&"got app-tag.tar and app-sha.tar"), "{}", run.context());

    // A ref the source does not have stops the run before it starts, saying which.
    let caller = "on: push\njobs:\n  c:\n    uses: octo/lib/.github/workflows/build.yml@v9\n    with: { target: x }\n";
    let repo = Repo::new(&[(".github/workflows/ci.yml", caller)]);
    let output = crate::harness::ferry()
        .arg("run")
        .arg(repo.path())
        .arg("--actions-url")
        .arg(format!("file://{}", source.path().display()))
        .env("XDG_CACHE_HOME", repo.path().join(".git").join("cache"))
        .output()
        .expect("ferry runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no tag or branch `v9`"), "{stderr}");
}

#[test]
fn the_servers_embedded_runner_runs_a_called_workflow_with_the_secrets_its_caller_passes() {
    use crate::runner::{client_command, get_json, output_within, start_server, text};

    let caller = r#"
name: CI
on: workflow_dispatch
jobs:
  build:
    uses: ./.github/workflows/build.yml
    with: { target: server }
    secrets: { KEY: "${{ secrets.DEPLOY_KEY }}" }
  ship:
    needs: build
    runs-on: self-hosted
    steps:
      - id: show
        run: echo "shipping ${{ needs.build.outputs.artifact }}"
"#;
    let build = BUILD.replace("ubuntu-latest", "self-hosted");
    let repo = Repo::new(&[(".github/workflows/ci.yml", caller), (".github/workflows/build.yml", &build)]);
    let scratch = tempfile::Builder::new().prefix("ferry-reusable-it-").tempdir().expect("temp dir");
    let (server, url, admin) = start_server(scratch.path());
    let ferry = |args: &[&str]| {
        let output = output_within(client_command(&url, &admin, args));
        assert!(output.status.success(), "{}\n--- server\n{}", text(&output), server.stderr());
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    ferry(&["project", "add", "demo", "--repo", &repo.path().display().to_string()]);
    ferry(&["secret", "set", "demo", "DEPLOY_KEY", "s3cr3t-value"]);
    ferry(&["secret", "set", "demo", "OTHER", "other-value"]);
    let report: serde_json::Value =
        serde_json::from_str(&ferry(&["trigger", "demo", "--wait", "--json"])).expect("JSON");
    assert_eq!(report["runs"][0]["conclusion"], "success", "{report}\n--- server\n{}", server.stderr());
    let id = report["runs"][0]["id"].to_string();
    let detail = get_json(&url, &admin, &format!("/api/v1/runs/{id}"));
    let names: Vec<&str> =
        detail["jobs"].as_array().into_iter().flatten().filter_map(|job| job["name"].as_str()).collect();
    assert_eq!(names, ["build / compile", "build / package", "ship"], "{detail:#}");
    let logs = ferry(&["logs", &id, "--no-prefix"]);
    for want in [
        "target=server optimize=false level=2",
        "workflow=CI event=workflow_dispatch job=compile env=callee-env",
        "key=*** other=[]",
        "shipping app-server.tar",
    ] {
        assert!(logs.lines().any(|line| line == want), "{want:?} in:\n{logs}");
    }
    assert!(!logs.contains("s3cr3t-value"), "{logs}");
}

#[test]
fn the_server_runs_a_reusable_workflow_of_another_repository_from_its_actions_source() {
    use crate::runner::{client_command, output_within, start_server_with, text};

    let source = tempfile::Builder::new().prefix("ferry-source-").tempdir().expect("temp dir");
    let lib = source.path().join("octo").join("lib");
    std::fs::create_dir_all(lib.join(".github/workflows")).expect("mkdir");
    std::fs::write(lib.join(".github/workflows/build.yml"), BUILD.replace("ubuntu-latest", "self-hosted"))
        .expect("write");
    git(&lib, &["init", "--quiet", "--initial-branch=main"]);
    git(&lib, &["add", "--all"]);
    git(&lib, &["commit", "--quiet", "-m", "reusable"]);
    git(&lib, &["tag", "-a", "v1", "-m", "v1"]);
    let caller = r#"
name: CI
on: workflow_dispatch
jobs:
  build:
    uses: octo/lib/.github/workflows/build.yml@v1
    with: { target: remote }
    secrets: inherit
  ship:
    needs: build
    runs-on: self-hosted
    steps:
      - run: echo "shipping ${{ needs.build.outputs.artifact }}"
"#;
    let repo = Repo::new(&[(".github/workflows/ci.yml", caller)]);
    let scratch = tempfile::Builder::new().prefix("ferry-reusable-it-").tempdir().expect("temp dir");
    let source_url = format!("file://{}", source.path().display());
    let (server, url, admin) = start_server_with(scratch.path(), |command| {
        command.env("FERRY_ACTIONS_URL", &source_url);
    });
    let ferry = |args: &[&str]| output_within(client_command(&url, &admin, args));
    let added = ferry(&["project", "add", "demo", "--repo", &repo.path().display().to_string()]);
    assert!(added.status.success(), "{}\n--- server\n{}", text(&added), server.stderr());
    let set = ferry(&["secret", "set", "demo", "KEY", "k3y-value"]);
    assert!(set.status.success(), "{}", text(&set));
    let triggered = ferry(&["trigger", "demo", "--wait", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&triggered.stdout)
        .unwrap_or_else(|_| panic!("{}\n--- server\n{}", text(&triggered), server.stderr()));
    assert_eq!(report["runs"][0]["conclusion"], "success", "{report}\n--- server\n{}", server.stderr());
    let id = report["runs"][0]["id"].to_string();
    let logs = String::from_utf8_lossy(&ferry(&["logs", &id, "--no-prefix"]).stdout).into_owned();
    for want in ["target=remote optimize=false level=2", "key=*** other=[]", "shipping app-remote.tar"] {
        assert!(logs.lines().any(|line| line == want), "{want:?} in:\n{logs}");
    }

    // A ref the source lacks fails the run before any job, saying which.
    repo.write(".github/workflows/ci.yml", &caller.replace("build.yml@v1", "build.yml@v9"));
    repo.commit("a missing ref");
    let triggered = ferry(&["trigger", "demo", "--wait", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&triggered.stdout)
        .unwrap_or_else(|_| panic!("{}\n--- server\n{}", text(&triggered), server.stderr()));
    assert_eq!(report["runs"][0]["conclusion"], "failure", "{report}");
    let detail = crate::runner::get_json(&url, &admin, &format!("/api/v1/runs/{}", report["runs"][0]["id"]));
    assert!(detail.to_string().contains("no tag or branch `v9`"), "{detail:#}");
}

#[test]
fn issue_14_in_each_leg_of_a_matrix_caller_a_called_job_waits_only_for_its_own_legs_needs() {
    let repo = Repo::new(&[]);
    let dir = marker(&repo, "legs");
    // The slow leg's `a` finishes only once the fast leg's `b` has run: were `b` to wait for
    // `a` of every leg, it would give up (its loop is bounded) and say so.
    let called = r#"
on:
  workflow_call:
    inputs: { leg: { type: string, required: true } }
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: |
          mkdir -p "@dir@"
          if [ "${{ inputs.leg }}" = slow ]; then
            for i in $(seq 1 1200); do [ -e "@dir@/b-fast" ] && break; sleep 0.05; done
            if [ -e "@dir@/b-fast" ]; then echo "slow a saw fast b"; else echo "slow a gave up"; fi
          fi
          touch "@dir@/a-${{ inputs.leg }}"
  b:
    needs: a
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "b of ${{ inputs.leg }} sees: $(ls "@dir@" | tr '\n' ,)"
          touch "@dir@/b-${{ inputs.leg }}"
"#
    .replace("@dir@", &dir.display().to_string());
    let caller = r#"
on: push
jobs:
  legs:
    strategy: { matrix: { leg: [slow, fast] } }
    uses: ./.github/workflows/called.yml
    with: { leg: "${{ matrix.leg }}" }
"#;
    repo.write(".github/workflows/ci.yml", caller);
    repo.write(".github/workflows/called.yml", &called);
    repo.commit("legs");
    let run = repo.run(&["--parallel", "4"]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    let slow_a = run.lines_of("legs (slow) / a");
    assert!(slow_a.contains(&"slow a saw fast b"), "{slow_a:?}\n{}", run.context());
    let fast_b = run.lines_of("legs (fast) / b");
    assert!(fast_b.contains(&"b of fast sees: a-fast,"), "{fast_b:?}\n{}", run.context());
    let slow_b = run.lines_of("legs (slow) / b");
    assert!(slow_b.contains(&"b of slow sees: a-fast,a-slow,b-fast,"), "{slow_b:?}\n{}", run.context());
}
