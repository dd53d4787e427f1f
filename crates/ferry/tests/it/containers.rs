//! `container:` jobs and `services:` with the real container engine, in `ferry run`: steps in
//! the job container (its filesystem, the mounted workspace, runner files), services reached by
//! host name from a container job and through `job.services.<id>.ports` from the host, health
//! checks, the services' logs, and nothing left behind after the job, a failure or a cancel.
//! Images are built locally from busybox (`ferry_testkit::busybox_image`).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

use crate::harness::{Repo, Run, ferry, marker};

/// The containers and networks `ferry run` with process id `pid` made and has not removed
/// (it labels them `ferry.pid=<pid>`).
fn labelled_by_runner(pid: u32) -> (Vec<String>, Vec<String>) {
    ferry_testkit::labelled("ferry.pid", &pid.to_string())
}

/// `workflow` with `@image@` replaced by the busybox test image.
fn with_image(workflow: &str) -> String {
    workflow.replace("@image@", ferry_testkit::busybox_image())
}

/// `ferry run` in `repo`, with the process id it ran as.
fn run_with_pid(repo: &Repo, envs: &[(&str, &str)]) -> (Run, u32) {
    let report = marker(repo, "report.json");
    let mut command = ferry();
    command.arg("run").arg(repo.path()).arg("--report").arg(&report).envs(envs.iter().copied());
    let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("ferry starts");
    let pid = child.id();
    let output = child.wait_with_output().expect("ferry runs");
    (Run::from_output(output, &report), pid)
}

fn assert_nothing_left(pid: u32, run: &Run) {
    let (containers, networks) = labelled_by_runner(pid);
    assert!(containers.is_empty() && networks.is_empty(), "left {containers:?} and {networks:?}\n{}", run.context());
}

#[test]
fn a_container_job_runs_its_steps_in_the_container_with_the_workspace_and_runner_files() {
    let repo = Repo::new(&[
        ("README", "the demo repository"),
        (
            ".github/actions/where/action.yml",
            r#"
name: where
runs:
  using: composite
  steps:
    - shell: sh
      run: |
        echo "composite step in the container: $(test -e /etc/debian_version && echo no || echo yes) at $GITHUB_ACTION_PATH"
"#,
        ),
        (
            ".github/workflows/ci.yml",
            &with_image(
                r#"
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    container:
      image: "@image@"
      env:
        FROM_DEFINITION: from-the-definition
    env:
      FROM_JOB: from-the-job
    steps:
      - uses: actions/checkout@v4
      - id: probe
        run: |
          test ! -e /etc/debian_version && echo "not the host's filesystem"
          echo "workspace=$GITHUB_WORKSPACE pwd=$(pwd) home=$HOME"
          echo "readme=$(cat README)"
          echo "env=$FROM_DEFINITION $FROM_JOB"
          echo "answer=42" >> "$GITHUB_OUTPUT"
          echo "LATER=from-github-env" >> "$GITHUB_ENV"
          mkdir -p "$RUNNER_TEMP/made" && echo kept > "$RUNNER_TEMP/made/file"
          echo "::notice::from the container"
      - run: |
          echo "later=$LATER answer=${{ steps.probe.outputs.answer }} shell=$0"
          cat "$RUNNER_TEMP/made/file"
          echo "container id set: ${{ job.container.id != '' }} network set: ${{ job.container.network != '' }}"
      - uses: ./.github/actions/where
      - id: fails
        continue-on-error: true
        run: exit 3
"#,
            ),
        ),
    ]);
    let (run, pid) = run_with_pid(&repo, &[]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    let lines = run.lines_of("build");
    // The workspace is mounted as GitHub's runner mounts it: /__w/<repository>/<repository>.
    let name = repo.path().file_name().expect("a folder name").to_string_lossy().into_owned();
    let workspace = format!("/__w/{name}/{name}");
    for want in [
        "not the host's filesystem",
        &format!("workspace={workspace} pwd={workspace} home=/github/home"),
        "readme=the demo repository",
        "env=from-the-definition from-the-job",
        "kept",
        "container id set: true network set: true",
        &format!("composite step in the container: yes at {workspace}/.github/actions/where"),
    ] {
        assert!(lines.iter().any(|line| line.ends_with(want)), "missing `{want}`\n{}", run.context());
    }
    assert!(
        lines.iter().any(|line| line.contains("later=from-github-env answer=42 shell=/__w/_temp/_runner_file_commands/step.sh")),
        "{}",
        run.context()
    );
    assert!(lines.iter().any(|line| line.contains("Process completed with exit code 3.")), "{}", run.context());
    assert!(run.stdout.contains("from the container"), "{}", run.context());
    assert_nothing_left(pid, &run);
}

#[test]
fn services_are_reached_by_name_from_a_container_job_and_by_port_from_the_host_once_healthy() {
    let services = r#"
    services:
      web:
        image: "@image@"
        command: sh -c "mkdir -p /www && echo hello-from-web > /www/index.html && echo web-starting && exec httpd -f -p 80 -h /www"
        ports: ["80"]
      slow:
        image: "@image@"
        command: sh -c "echo slow-starting && sleep 3 && mkdir -p /www && echo slow-is-ready > /www/index.html && touch /tmp/ready && exec httpd -f -p 8000 -h /www"
        options: --health-cmd "test -f /tmp/ready" --health-interval 1s --health-retries 30
"#;
    let workflow = format!(
        r#"
on: push
jobs:
  inside:
    runs-on: ubuntu-latest
    container: "@image@"
{services}
    steps:
      - run: |
          wget -qO- http://web/
          wget -qO- http://slow:8000/
      - uses: docker://@image@
        with:
          args: sh -c "echo action sees $(wget -qO- http://web/)"
  outside:
    runs-on: ubuntu-latest
{services}
    steps:
      - run: |
          /bin/busybox wget -qO- "http://127.0.0.1:${{{{ job.services.web.ports['80'] }}}}/"
          echo "web id set: ${{{{ job.services.web.id != '' }}}}"
"#
    );
    let repo = Repo::with_workflow(&with_image(&workflow));
    let (run, pid) = run_with_pid(&repo, &[]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    let inside = run.lines_of("inside");
    assert!(inside.iter().any(|line| line.ends_with("hello-from-web")), "{}", run.context());
    assert!(inside.iter().any(|line| line.ends_with("slow-is-ready")), "{}", run.context());
    assert!(inside.iter().any(|line| line.ends_with("action sees hello-from-web")), "{}", run.context());
    assert!(inside.iter().any(|line| line.contains("Waiting for service `slow` to be healthy")), "{}", run.context());
    // The services' logs are in the job's log once it ends.
    assert!(inside.iter().any(|line| line.ends_with("slow-starting")), "{}", run.context());
    let outside = run.lines_of("outside");
    assert!(outside.iter().any(|line| line.ends_with("hello-from-web")), "{}", run.context());
    assert!(outside.iter().any(|line| line.ends_with("web id set: true")), "{}", run.context());
    assert_nothing_left(pid, &run);
}

#[test]
fn an_unhealthy_service_fails_the_job_with_its_logs_and_is_removed() {
    let repo = Repo::with_workflow(&with_image(
        r#"
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    services:
      db:
        image: "@image@"
        command: sh -c "echo db-could-not-start && exec sleep 600"
        options: --health-cmd false --health-interval 1s --health-retries 2
    steps:
      - run: echo never runs
"#,
    ));
    let (run, pid) = run_with_pid(&repo, &[]);
    assert_eq!(run.code, Some(1), "{}", run.context());
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("service container `db` is unhealthy"), "{}", run.context());
    assert!(all.contains("db-could-not-start"), "{}", run.context());
    assert!(!all.contains("never runs\n"), "{}", run.context());
    assert_nothing_left(pid, &run);
}

#[test]
fn a_container_job_and_its_service_pull_their_images_from_a_private_registry_with_credentials() {
    const PASSWORD: &str = "pr1vate-registry-pass";
    let registry = ferry_testkit::Registry::start("ferry-ci", PASSWORD);
    let job_image = registry.push(ferry_testkit::busybox_image(), "private/job:1");
    let service_image = registry.push(ferry_testkit::busybox_image(), "private/service:1");
    let denied = registry.push(ferry_testkit::busybox_image(), "private/denied:1");
    let workflow = format!(
        r#"
on: push
jobs:
  inside:
    runs-on: ubuntu-latest
    container:
      image: {job_image}
      credentials:
        username: ferry-ci
        password: ${{{{ secrets.REGISTRY_PASSWORD }}}}
    services:
      web:
        image: {service_image}
        credentials: {{ username: ferry-ci, password: {PASSWORD} }}
        command: sh -c "mkdir -p /www && echo hello-from-private > /www/index.html && exec httpd -f -p 80 -h /www"
    steps:
      - run: |
          echo "in the private image: $(wget -qO- http://web/)"
          echo "the password is {PASSWORD}"
  without-credentials:
    runs-on: ubuntu-latest
    container: {denied}
    steps:
      - run: echo never runs
"#
    );
    let repo = Repo::with_workflow(&workflow);
    let report = marker(&repo, "report.json");
    let child = ferry()
        .arg("run")
        .arg(repo.path())
        .arg("--report")
        .arg(&report)
        .args(["--secret", &format!("REGISTRY_PASSWORD={PASSWORD}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ferry starts");
    let pid = child.id();
    let run = Run::from_output(child.wait_with_output().expect("ferry runs"), &report);
    assert_eq!(run.code, Some(1), "{}", run.context());
    assert_eq!(run.report["jobs"]["inside"]["conclusion"], "success", "{}", run.context());
    let inside = run.lines_of("inside");
    assert!(inside.iter().any(|line| line.ends_with("in the private image: hello-from-private")), "{}", run.context());
    // The registry password is masked even where it was written as plain text.
    assert!(inside.iter().any(|line| line.ends_with("the password is ***")), "{}", run.context());
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(!all.contains(PASSWORD), "{}", run.context());
    // Without credentials the registry refuses the pull, and the job says so.
    assert_eq!(run.report["jobs"]["without-credentials"]["conclusion"], "failure", "{}", run.context());
    assert!(all.contains(&format!("image `{denied}` is not on this host and pulling it failed")), "{}", run.context());
    assert!(!all.contains("never runs\n"), "{}", run.context());
    assert_nothing_left(pid, &run);
}

#[test]
fn without_an_engine_ferry_run_says_what_it_tried_and_how_to_fix_it() {
    let repo = Repo::with_workflow(
        r#"
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    container: debian:12
    steps:
      - run: echo never runs
"#,
    );
    let (run, _) = run_with_pid(&repo, &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")]);
    assert_eq!(run.code, Some(1), "{}", run.context());
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("no container engine reachable at unix:///nonexistent/docker.sock"), "{}", run.context());
    assert!(all.contains("DOCKER_HOST"), "{}", run.context());
}

/// Waits until `path` exists, failing after a minute.
fn wait_for_file(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_cancelled_container_job_removes_its_containers_and_network() {
    let markers = tempfile::Builder::new().prefix("ferry-markers-").tempdir().expect("temp dir");
    let workflow = with_image(&format!(
        r#"
on: push
jobs:
  slow:
    runs-on: ubuntu-latest
    container:
      image: "@image@"
      volumes: ["{markers}:/markers"]
    services:
      web:
        image: "@image@"
        command: sh -c "exec sleep 600"
    steps:
      - run: |
          touch /markers/started
          sleep 600
"#,
        markers = markers.path().display()
    ));
    let repo = Repo::with_workflow(&workflow);
    let report = marker(&repo, "report.json");
    let child = ferry()
        .arg("run")
        .arg(repo.path())
        .arg("--report")
        .arg(&report)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ferry starts");
    let pid = child.id();
    wait_for_file(&markers.path().join("started"));
    let (containers, networks) = labelled_by_runner(pid);
    assert_eq!((containers.len(), networks.len()), (2, 1), "the job container, the service and the network");
    kill_process(Pid::from_raw(i32::try_from(pid).expect("pid fits")).expect("positive pid"), Signal::INT)
        .expect("send SIGINT");
    let run = Run::from_output(child.wait_with_output().expect("ferry ends"), &report);
    assert_eq!(run.report["conclusion"], "cancelled", "{}", run.context());
    assert_nothing_left(pid, &run);
}

#[test]
fn what_a_killed_ferry_run_left_is_removed_when_the_next_ferry_run_starts_even_without_containers() {
    let markers = tempfile::Builder::new().prefix("ferry-markers-").tempdir().expect("temp dir");
    let cache = tempfile::Builder::new().prefix("ferry-cache-").tempdir().expect("temp dir");
    let workflow = with_image(&format!(
        r#"
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    services:
      web:
        image: "@image@"
        command: sh -c "exec sleep 600"
    steps:
      - run: |
          touch {markers}/started
          sleep 600
"#,
        markers = markers.path().display()
    ));
    let repo = Repo::with_workflow(&workflow);
    let report = marker(&repo, "report.json");
    // Both runs keep their work folders in the same place.
    let mut child = ferry()
        .arg("run")
        .arg(repo.path())
        .arg("--report")
        .arg(&report)
        .env("XDG_CACHE_HOME", cache.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ferry starts");
    let pid = child.id();
    wait_for_file(&markers.path().join("started"));
    let (containers, networks) = labelled_by_runner(pid);
    assert_eq!((containers.len(), networks.len()), (1, 1), "the service and the network");
    child.kill().expect("SIGKILL ferry run");
    child.wait().expect("ferry run is gone");
    assert_eq!(labelled_by_runner(pid).0.len(), 1, "a killed run cannot remove its service");

    // The next run is of another repository, and uses no container.
    let other = Repo::with_workflow(
        r#"
on: push
jobs:
  plain:
    runs-on: ubuntu-latest
    steps:
      - run: echo on the host
"#,
    );
    let (run, second) = run_with_pid(&other, &[("XDG_CACHE_HOME", &cache.path().display().to_string())]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    assert!(run.lines_of("plain").iter().any(|line| line.ends_with("on the host")), "{}", run.context());
    let (containers, networks) = labelled_by_runner(pid);
    assert!(containers.is_empty() && networks.is_empty(), "the killed run's {containers:?} {networks:?} are left");
    assert_nothing_left(second, &run);
}

#[test]
fn a_ferry_run_leaves_the_containers_of_a_run_still_going_in_the_same_work_folder() {
    let markers = tempfile::Builder::new().prefix("ferry-markers-").tempdir().expect("temp dir");
    let cache = tempfile::Builder::new().prefix("ferry-cache-").tempdir().expect("temp dir");
    let workflow = with_image(&format!(
        r#"
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    services:
      web:
        image: "@image@"
        command: sh -c "exec sleep 600"
    steps:
      - run: |
          touch {markers}/started
          while [ ! -e {markers}/go ]; do sleep 0.1; done
"#,
        markers = markers.path().display()
    ));
    let repo = Repo::with_workflow(&workflow);
    let report = marker(&repo, "report.json");
    let child = ferry()
        .arg("run")
        .arg(repo.path())
        .arg("--report")
        .arg(&report)
        .env("XDG_CACHE_HOME", cache.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ferry starts");
    let pid = child.id();
    wait_for_file(&markers.path().join("started"));
    let other = Repo::with_workflow(
        "on: push\njobs:\n  plain:\n    runs-on: ubuntu-latest\n    steps:\n      - run: \"true\"\n",
    );
    let (run, _) = run_with_pid(&other, &[("XDG_CACHE_HOME", &cache.path().display().to_string())]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    // The first run still holds its work folder: its service is still there.
    assert_eq!(labelled_by_runner(pid).0.len(), 1, "{}", run.context());
    std::fs::write(markers.path().join("go"), "").expect("write the marker");
    let first = Run::from_output(child.wait_with_output().expect("ferry runs"), &report);
    assert_eq!(first.code, Some(0), "{}", first.context());
    assert_nothing_left(pid, &first);
}

/// Starts `ferry runner` called `name` with the extra label `boxed`, on the server at `url`.
fn start_runner(scratch: &Path, url: &str, admin: &str, name: &str) -> crate::runner::Process {
    let stderr = scratch.join(format!("{name}.stderr"));
    let mut command = crate::runner::client_command(url, admin, &["runner", "--labels", "boxed", "--name", name]);
    command.arg("--work-dir").arg(scratch.join(name)).args(["--slots", "1"]);
    let child = command
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).expect("a stderr file"))
        .spawn()
        .expect("ferry runner starts");
    crate::runner::Process { child, stderr }
}

#[test]
fn a_runner_killed_mid_job_removes_what_it_left_when_it_starts_again() {
    use crate::runner::{client_command, output_within, start_server, text};

    let scratch = tempfile::Builder::new().prefix("ferry-containers-it-").tempdir().expect("temp dir");
    let markers = tempfile::Builder::new().prefix("ferry-markers-").tempdir().expect("temp dir");
    let workflow = with_image(&format!(
        r#"
on: workflow_dispatch
jobs:
  slow:
    runs-on: [self-hosted, boxed]
    container:
      image: "@image@"
      volumes: ["{markers}:/markers"]
    steps:
      - run: |
          touch /markers/started
          sleep 600
"#,
        markers = markers.path().display()
    ));
    let repo = Repo::new(&[(".ferry/workflows/slow.yml", &workflow)]);
    let (server, url, admin) = start_server(scratch.path());
    let repo_path = repo.path().display().to_string();
    let added = output_within(client_command(&url, &admin, &["project", "add", "demo", "--repo", &repo_path]));
    assert!(added.status.success(), "{}\n--- server\n{}", text(&added), server.stderr());

    let name = format!("crashy-{}", std::process::id());
    let mut runner = start_runner(scratch.path(), &url, &admin, &name);
    let triggered = output_within(client_command(&url, &admin, &["trigger", "demo"]));
    assert!(triggered.status.success(), "{}", text(&triggered));
    wait_for_file(&markers.path().join("started"));
    let (containers, networks) = ferry_testkit::labelled("ferry.runner", &name);
    assert_eq!((containers.len(), networks.len()), (1, 1), "{}", runner.stderr());

    runner.child.kill().expect("SIGKILL the runner");
    runner.child.wait().expect("the runner is gone");
    let (containers, _) = ferry_testkit::labelled("ferry.runner", &name);
    assert_eq!(containers.len(), 1, "a killed runner cannot remove its job's container");

    let again = start_runner(scratch.path(), &url, &admin, &name);
    let start = Instant::now();
    loop {
        let (containers, networks) = ferry_testkit::labelled("ferry.runner", &name);
        if containers.is_empty() && networks.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "still there: {containers:?} {networks:?}\n{}",
            again.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_local_dockerfile_action_and_a_docker_url_step_run_with_inputs_args_and_runner_files() {
    let dockerfile = format!(
        "FROM {}\nCOPY entrypoint.sh /entrypoint.sh\nENTRYPOINT [\"sh\", \"/entrypoint.sh\"]\n",
        ferry_testkit::busybox_image()
    );
    let repo = Repo::new(&[
        ("README", "the demo repository"),
        (
            ".github/actions/hello/action.yml",
            r#"
name: hello
inputs:
  who:
    description: whom to greet
    default: world
  tone:
    description: how
    default: warm
runs:
  using: docker
  image: Dockerfile
  args: ["${{ inputs.who }}", "second arg"]
"#,
        ),
        (".github/actions/hello/Dockerfile", &dockerfile),
        (
            ".github/actions/hello/entrypoint.sh",
            r#"echo "hello $1 ($2) from $(pwd) who=$INPUT_WHO tone=$INPUT_TONE home=$HOME"
echo "readme: $(cat README)"
echo "greeting=hello $1" >> "$GITHUB_OUTPUT"
echo "FROM_ACTION=set-by-the-action" >> "$GITHUB_ENV"
echo "::notice::from a docker action"
"#,
        ),
        (
            ".github/workflows/ci.yml",
            &with_image(
                r#"
on: push
jobs:
  act:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: greet
        uses: ./.github/actions/hello
        with:
          who: ferry
      - run: echo "output=${{ steps.greet.outputs.greeting }} env=$FROM_ACTION"
      - uses: docker://@image@
        with:
          entrypoint: sh
          args: -c "echo from an image step in $GITHUB_WORKSPACE reading $(cat README)"
      - id: fails
        continue-on-error: true
        uses: docker://@image@
        with:
          args: sh -c "exit 7"
"#,
            ),
        ),
    ]);
    let (run, pid) = run_with_pid(&repo, &[]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    let lines = run.lines_of("act");
    for want in [
        "hello ferry (second arg) from /github/workspace who=ferry tone=warm home=/github/home",
        "readme: the demo repository",
        "output=hello ferry env=set-by-the-action",
        "from an image step in /github/workspace reading the demo repository",
    ] {
        assert!(lines.iter().any(|line| line.ends_with(want)), "missing `{want}`\n{}", run.context());
    }
    assert!(run.stdout.contains("from a docker action"), "{}", run.context());
    assert!(lines.iter().any(|line| line.contains("Process completed with exit code 7.")), "{}", run.context());
    assert_nothing_left(pid, &run);
}

#[test]
fn the_servers_own_runner_runs_a_container_job_with_services() {
    use crate::runner::{client_command, output_within, start_server, text};

    let scratch = tempfile::Builder::new().prefix("ferry-containers-it-").tempdir().expect("temp dir");
    let workflow = with_image(
        r#"
on: workflow_dispatch
jobs:
  test:
    runs-on: self-hosted
    container: "@image@"
    services:
      web:
        image: "@image@"
        command: sh -c "mkdir -p /www && echo served-on-the-server > /www/index.html && exec httpd -f -p 80 -h /www"
        options: --health-cmd "wget -qO- http://127.0.0.1/" --health-interval 1s --health-retries 30
    steps:
      - run: echo "got $(wget -qO- http://web/) in $GITHUB_WORKSPACE"
"#,
    );
    let repo = Repo::new(&[(".github/workflows/ci.yml", &workflow)]);
    let (server, url, admin) = start_server(scratch.path());
    let repo_path = repo.path().display().to_string();
    let added = output_within(client_command(&url, &admin, &["project", "add", "demo", "--repo", &repo_path]));
    assert!(added.status.success(), "{}\n--- server\n{}", text(&added), server.stderr());
    let triggered = output_within(client_command(&url, &admin, &["trigger", "demo", "--wait", "--json"]));
    let context = || format!("{}\n--- server\n{}", text(&triggered), server.stderr());
    assert!(triggered.status.success(), "{}", context());
    let report: serde_json::Value =
        serde_json::from_slice(&triggered.stdout).unwrap_or_else(|_| panic!("{}", context()));
    let run_id = report["runs"][0]["id"].as_i64().expect("a run id");
    assert_eq!(report["runs"][0]["conclusion"], "success", "{}", context());
    let logs = output_within(client_command(&url, &admin, &["logs", &run_id.to_string(), "--no-prefix"]));
    let logs = String::from_utf8_lossy(&logs.stdout).into_owned();
    assert!(logs.lines().any(|line| line.starts_with("got served-on-the-server in /__w/")), "{logs}");
    assert!(logs.contains("Waiting for service `web` to be healthy"), "{logs}");
    let data_dir = std::path::absolute(scratch.path().join("data")).expect("an absolute path");
    let label = format!("server:{}", data_dir.join("runner").display());
    let (containers, networks) = ferry_testkit::labelled("ferry.runner", &label);
    assert!(containers.is_empty() && networks.is_empty(), "left {containers:?} {networks:?}");
}
