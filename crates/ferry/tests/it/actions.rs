//! Actions fetched from their repositories by `ferry run --actions-url`: real git repositories
//! (tags, branches, full commit ids) holding JavaScript actions (run on the host's Node.js with
//! their `pre` and `post` scripts) and composite actions that use other remote actions.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{Repo, git_in as git};

/// A folder of `owner/repo` git repositories, as an actions source.
struct Source {
    dir: tempfile::TempDir,
}

impl Source {
    fn new() -> Source {
        Source { dir: tempfile::Builder::new().prefix("ferry-actions-").tempdir().expect("temp dir") }
    }

    fn url(&self) -> String {
        format!("file://{}", self.dir.path().display())
    }

    /// Makes `owner/repo` with `files` committed on `main`, tagged `v1`; the commit.
    fn repo(&self, name: &str, files: &[(&str, &str)]) -> String {
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        git(&dir, &["init", "--quiet", "--initial-branch=main"]);
        for (path, text) in files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        git(&dir, &["add", "--all"]);
        git(&dir, &["commit", "--quiet", "-m", "action"]);
        git(&dir, &["tag", "-a", "v1", "-m", "v1"]);
        git(&dir, &["rev-parse", "HEAD"])
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// `ferry run` with the actions source and a user cache folder of the test's own.
fn run(repo: &Repo, source: &Source, cache: &Path, env: &[(&str, &str)]) -> crate::harness::Run {
    let report = repo.path().join(".git").join("ferry-report.json");
    let mut command = crate::harness::ferry();
    command
        .arg("run")
        .arg(repo.path())
        .arg("--report")
        .arg(&report)
        .arg("--actions-url")
        .arg(source.url())
        .env("XDG_CACHE_HOME", cache)
        .env_remove("FERRY_NODE")
        .envs(env.iter().copied());
    crate::harness::Run::from_output(command.output().expect("ferry runs"), &report)
}

/// A JavaScript action with `pre`, `main` and `post` using only Node.js built-ins: it reads
/// its inputs, saves state, sets an output, masks a value, and fails when `who` is `fail`.
const JS_ACTION: &[(&str, &str)] = &[
    (
        "action.yml",
        "name: greet\ninputs:\n  who:\n    default: world\n  extra thing:\n    required: false\noutputs:\n  greeting:\n    description: the greeting\n\
         runs:\n  using: node20\n  pre: pre.js\n  main: main.js\n  post: post.js\n",
    ),
    (
        "pre.js",
        "require('fs').appendFileSync(process.env.GITHUB_STATE, 'from_pre=P-' + process.env.INPUT_WHO + '\\n');\nconsole.log('pre ' + process.env.INPUT_WHO);\n",
    ),
    (
        "main.js",
        "const fs = require('fs');\nconst env = process.env;\n\
         console.log(`main who=${env.INPUT_WHO} extra=${env.INPUT_EXTRA_THING} state=${env.STATE_from_pre} action=${env.GITHUB_ACTION_REPOSITORY}@${env.GITHUB_ACTION_REF}`);\n\
         console.log('::add-mask::hush-' + env.INPUT_WHO);\nconsole.log('said hush-' + env.INPUT_WHO);\n\
         fs.appendFileSync(env.GITHUB_OUTPUT, `greeting=hello ${env.INPUT_WHO}\\n`);\n\
         console.log('::save-state name=from_main::M-' + env.INPUT_WHO);\n\
         if (env.INPUT_WHO === 'fail') { console.log('::error::asked to fail'); process.exit(1); }\n",
    ),
    ("post.js", "console.log(`post pre=${process.env.STATE_from_pre} main=${process.env.STATE_from_main}`);\n"),
    (
        "strict/action.yml",
        "name: strict\nruns:\n  using: node16\n  pre: pre.js\n  pre-if: runner.os == 'Windows'\n  main: main.js\n  post: post.js\n  post-if: success()\n",
    ),
    ("strict/pre.js", "console.log('strict pre');\n"),
    ("strict/main.js", "console.log('strict main');\n"),
    ("strict/post.js", "console.log('strict post');\n"),
];

#[test]
fn javascript_actions_run_pre_main_and_post_with_inputs_state_outputs_and_post_if() {
    let source = Source::new();
    let sha = source.repo("octo/greet", JS_ACTION);
    let cache = tempfile::tempdir().expect("temp dir");
    let workflow = format!(
        "on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n\
         \x20     - id: hi\n        uses: octo/greet@v1\n        with:\n          who: ferry\n          extra thing: more\n\
         \x20     - run: echo \"got ${{{{ steps.hi.outputs.greeting }}}}\"\n\
         \x20     - uses: octo/greet/strict@main\n\
         \x20     - uses: octo/greet@{sha}\n        with:\n          who: fail\n\
         \x20     - run: echo never\n"
    );
    let repo = Repo::with_workflow(&workflow);
    let run = run(&repo, &source, cache.path(), &[]);
    assert_eq!(run.code, Some(1), "{}", run.context());
    let lines: Vec<&str> = run
        .lines_of("j")
        .into_iter()
        .filter(|line| !["▸", "✓", "✗", "-", "job "].iter().any(|mark| line.starts_with(mark)))
        .collect();
    assert_eq!(
        lines[..6],
        [
            "pre ferry",
            "pre fail",
            &format!("Download action repository 'octo/greet@v1' (SHA:{sha})"),
            "main who=ferry extra=more state=P-ferry action=octo/greet@v1",
            "said ***",
            "got hello ferry",
        ],
        "{}",
        run.context()
    );
    let text = run.lines_of("j").join("\n");
    for expected in [
        "asks for node16, which GitHub no longer runs",
        "strict main",
        &format!("main who=fail extra= state=P-fail action=octo/greet@{sha}"),
        "said ***",
        "error: asked to fail",
        "post pre=P-fail main=M-fail",
        "post pre=P-ferry main=M-ferry",
    ] {
        assert!(text.contains(expected), "{expected:?} missing\n{}", run.context());
    }
    for absent in ["strict pre", "strict post", "hush-"] {
        assert!(!text.contains(absent), "{absent:?} shown\n{}", run.context());
    }
    assert!(!lines.contains(&"never"), "{}", run.context());
    // Post steps run in reverse order, after the job's steps; `post-if: success()` skips one
    // after the failure.
    let second_post = text.find("post pre=P-fail").expect("the failed step's post");
    let first_post = text.find("post pre=P-ferry").expect("the first step's post");
    assert!(text.find("error: asked to fail").expect("the failure") < second_post && second_post < first_post);
    assert_eq!(
        run.trace(),
        "run: failure\nj: failure\n  hi: success\n  Run echo \"got ${{ steps.hi.outputs.greeting }}\": success\n  \
         Run octo/greet/strict@main: success\n  Run octo/greet@"
            .to_owned()
            + &sha
            + ": failure\n  Run echo never: skipped\n  Pre Run octo/greet@v1: success\n  Pre Run octo/greet/strict@main: skipped\n  \
               Pre Run octo/greet@"
            + &sha
            + ": success\n  Post Run octo/greet@"
            + &sha
            + ": success\n  Post Run octo/greet/strict@main: skipped\n  Post Run octo/greet@v1: success",
        "{}",
        run.context()
    );
}

#[test]
fn a_fetched_action_is_reused_by_later_jobs_and_runs_without_the_source_and_refetched_when_modified() {
    let source = Source::new();
    let sha = source.repo("octo/greet", JS_ACTION);
    let cache = tempfile::tempdir().expect("temp dir");
    // The first job removes the source: the second resolves `v1` as the first did and uses
    // the kept checkout.
    let workflow = format!(
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: octo/greet@v1\n      - uses: octo/greet@v1\n      - run: rm -rf '{}'\n\
         \x20 b:\n    needs: a\n    runs-on: x\n    steps:\n      - uses: octo/greet@v1\n        with:\n          who: b\n",
        source.path("octo").display()
    );
    let repo = Repo::with_workflow(&workflow);
    let kept = tempfile::tempdir().expect("temp dir");
    let copy = |from: &Path, to: &Path| {
        let status = Command::new("cp").arg("-a").arg(from).arg(to).status().expect("cp runs");
        assert!(status.success());
    };
    copy(&source.path("octo"), kept.path());
    let first = run(&repo, &source, cache.path(), &[]);
    assert_eq!(first.code, Some(0), "{}", first.context());
    assert!(first.lines_of("b").contains(&"main who=b extra= state=P-b action=octo/greet@v1"), "{}", first.context());
    // Shown once per job, as GitHub shows it while it sets the job up.
    let downloads = |job: &str| {
        first.lines_of(job).iter().filter(|line| line.starts_with("Download action repository 'octo/greet@v1'")).count()
    };
    assert_eq!((downloads("a"), downloads("b")), (1, 1), "{}", first.context());
    assert!(!source.path("octo").exists());

    // A later run names the commit: the kept checkout serves it, verified unchanged.
    let checkout = cache.path().join("ferry/actions/octo/greet").join(&sha);
    let main_js = checkout.join("main.js");
    repo.write(
        ".github/workflows/ci.yml",
        &format!("on: push\njobs:\n  c:\n    runs-on: x\n    steps:\n      - uses: octo/greet@{sha}\n"),
    );
    repo.commit("by sha");
    let second = run(&repo, &source, cache.path(), &[]);
    assert_eq!(second.code, Some(0), "{}", second.context());

    // A modified checkout is not used: it is fetched again (here the source is gone, so the
    // step fails rather than run the modified file).
    std::fs::write(&main_js, "console.log('tampered');\n").expect("tamper");
    let third = run(&repo, &source, cache.path(), &[]);
    assert_eq!(third.code, Some(1), "{}", third.context());
    assert!(!third.stdout.contains("tampered"), "{}", third.context());
    assert!(
        third.lines_of("c").iter().any(|line| line.contains("repository `octo/greet` is not in the actions source")),
        "{}",
        third.context()
    );
    copy(&kept.path().join("octo"), source.dir.path());
    let fourth = run(&repo, &source, cache.path(), &[]);
    assert_eq!(fourth.code, Some(0), "{}", fourth.context());
    assert!(fourth.stdout.contains("main who=world"), "{}", fourth.context());
}

#[test]
fn composite_actions_from_repositories_nest_remote_actions_up_to_githubs_limit_and_docker_ones_build() {
    let source = Source::new();
    source.repo("octo/greet", JS_ACTION);
    source.repo(
        "octo/outer",
        &[(
            "action.yml",
            "name: outer\ninputs:\n  who: {}\noutputs:\n  said:\n    value: ${{ steps.inner.outputs.greeting }}\nruns:\n  using: composite\n  steps:\n\
             \x20   - id: inner\n      uses: octo/greet@main\n      with:\n        who: ${{ inputs.who }}\n\
             \x20   - shell: bash\n      run: |\n        echo \"in ${{ github.action_repository }}@${{ github.action_ref }}\"\n        echo \"env $GITHUB_ACTION_REPOSITORY@$GITHUB_ACTION_REF\"\n        test -f \"$GITHUB_ACTION_PATH/action.yml\" && echo \"path ok\"\n",
        )],
    );
    source.repo(
        "octo/loop",
        &[("action.yml", "name: loop\nruns:\n  using: composite\n  steps:\n    - uses: octo/loop@v1\n")],
    );
    // A Docker action from its repository: its Dockerfile is built on this host's engine.
    let dockerfile = format!(
        "FROM {}\nENTRYPOINT [\"sh\", \"-c\", \"echo boxed $INPUT_WHO in $GITHUB_WORKSPACE\"]\n",
        ferry_testkit::busybox_image()
    );
    source.repo(
        "octo/boxed",
        &[
            (
                "action.yml",
                "name: boxed\ninputs:\n  who: { default: docker }\nruns:\n  using: docker\n  image: Dockerfile\n",
            ),
            ("Dockerfile", &dockerfile),
        ],
    );
    let cache = tempfile::tempdir().expect("temp dir");
    let repo = Repo::with_workflow(
        "on: push\njobs:\n  ok:\n    runs-on: x\n    steps:\n      - id: outer\n        uses: octo/outer@v1\n        with:\n          who: nested\n\
         \x20     - run: echo \"outer said ${{ steps.outer.outputs.said }}\"\n\
         \x20 deep:\n    runs-on: x\n    steps:\n      - uses: octo/loop@v1\n\
         \x20 boxed:\n    runs-on: x\n    steps:\n      - uses: octo/boxed@v1\n",
    );
    let run = run(&repo, &source, cache.path(), &[]);
    assert_eq!(run.code, Some(1), "{}", run.context());
    let ok = run.lines_of("ok");
    // As GitHub's runner, the `pre` script of an action nested in a composite one from a
    // repository runs before the job's steps, and its `main` and `post` see what it saved.
    assert!(ok.contains(&"pre nested"), "{}", run.context());
    for expected in [
        "main who=nested extra= state=P-nested action=octo/greet@main",
        "in octo/outer@v1",
        "env octo/outer@v1",
        "path ok",
        "outer said hello nested",
        "post pre=P-nested main=M-nested",
    ] {
        assert!(ok.contains(&expected), "{expected:?} missing\n{}", run.context());
    }
    assert_eq!(run.report["jobs"]["ok"]["conclusion"], "success", "{}", run.context());
    assert!(
        run.lines_of("deep").iter().any(|line| line.contains("is nested more than 10 deep, GitHub's limit")),
        "{}",
        run.context()
    );
    assert!(run.lines_of("boxed").contains(&"boxed docker in /github/workspace"), "{}", run.context());
    assert_eq!(run.report["jobs"]["boxed"]["conclusion"], "success", "{}", run.context());
}

/// A Docker action from a repository with `pre-entrypoint`, `entrypoint` and
/// `post-entrypoint` (shell scripts in its image that save state and fail on `who: fail`),
/// `runs:` ending with `extra`.
fn staged_docker_action(extra: &str) -> Vec<(String, String)> {
    let dockerfile =
        format!("FROM {}\nCOPY *.sh /\nRUN chmod +x /pre.sh /main.sh /post.sh\n", ferry_testkit::busybox_image());
    vec![
        (
            "action.yml".to_owned(),
            format!(
                "name: staged\ninputs:\n  who: {{ default: docker }}\nruns:\n  using: docker\n  image: Dockerfile\n  \
                 args: ['${{{{ inputs.who }}}}']\n  pre-entrypoint: /pre.sh\n  entrypoint: /main.sh\n  post-entrypoint: /post.sh\n{extra}"
            ),
        ),
        ("Dockerfile".to_owned(), dockerfile),
        ("pre.sh".to_owned(), "#!/bin/sh\necho \"pre $1\"\necho \"from_pre=P-$1\" >> \"$GITHUB_STATE\"\n".to_owned()),
        (
            "main.sh".to_owned(),
            "#!/bin/sh\necho \"main $1 state=$STATE_from_pre\"\necho \"from_main=M-$1\" >> \"$GITHUB_STATE\"\n\
             if [ \"$1\" = fail ]; then exit 3; fi\n"
                .to_owned(),
        ),
        ("post.sh".to_owned(), "#!/bin/sh\necho \"post $1 pre=$STATE_from_pre main=$STATE_from_main\"\n".to_owned()),
    ]
}

#[test]
fn docker_actions_run_pre_and_post_entrypoints_with_state_and_their_conditions() {
    let source = Source::new();
    let mut files = staged_docker_action("");
    for (path, text) in staged_docker_action("  pre-if: runner.os == 'Windows'\n  post-if: success()\n") {
        files.push((format!("strict/{path}"), text));
    }
    let files: Vec<(&str, &str)> = files.iter().map(|(path, text)| (path.as_str(), text.as_str())).collect();
    source.repo("octo/staged", &files);
    let cache = tempfile::tempdir().expect("temp dir");
    let repo = Repo::with_workflow(
        "on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n\
         \x20     - uses: octo/staged@v1\n        with:\n          who: first\n\
         \x20     - uses: octo/staged/strict@v1\n        with:\n          who: strict\n\
         \x20     - uses: octo/staged@v1\n        with:\n          who: fail\n\
         \x20     - run: echo never\n",
    );
    let run = run(&repo, &source, cache.path(), &[]);
    assert_eq!(run.code, Some(1), "{}", run.context());
    let said: Vec<&str> = run
        .lines_of("j")
        .into_iter()
        .filter(|line| ["pre ", "main ", "post "].iter().any(|start| line.starts_with(start)))
        .collect();
    assert_eq!(
        said,
        [
            "pre first",
            "pre fail",
            "main first state=P-first",
            "main strict state=",
            "main fail state=P-fail",
            "post fail pre=P-fail main=M-fail",
            "post first pre=P-first main=M-first",
        ],
        "{}",
        run.context()
    );
    assert_eq!(
        run.trace(),
        "run: failure\nj: failure\n  Run octo/staged@v1: success\n  Run octo/staged/strict@v1: success\n  \
         Run octo/staged@v1: failure\n  Run echo never: skipped\n  Pre Run octo/staged@v1: success\n  \
         Pre Run octo/staged/strict@v1: skipped\n  Pre Run octo/staged@v1: success\n  Post Run octo/staged@v1: success\n  \
         Post Run octo/staged/strict@v1: skipped\n  Post Run octo/staged@v1: success",
        "{}",
        run.context()
    );
}

#[test]
fn a_missing_or_old_node_is_a_clear_error() {
    let source = Source::new();
    source.repo("octo/greet", JS_ACTION);
    let cache = tempfile::tempdir().expect("temp dir");
    let repo = Repo::with_workflow("on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n      - uses: octo/greet@v1\n");
    let run_missing = run(&repo, &source, cache.path(), &[("FERRY_NODE", "/nonexistent/node")]);
    assert_eq!(run_missing.code, Some(1), "{}", run_missing.context());
    assert!(
        run_missing.lines_of("j").iter().any(|line| line.contains("JavaScript actions need Node.js")
            && line.contains("install Node.js 20 or later")
            && line.contains("FERRY_NODE")),
        "{}",
        run_missing.context()
    );
    let old = cache.path().join("old-node");
    std::fs::write(&old, "#!/bin/sh\necho v16.20.0\n").expect("write");
    let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&old, executable).expect("chmod");
    let run_old = run(&repo, &source, cache.path(), &[("FERRY_NODE", old.to_str().expect("utf-8"))]);
    assert_eq!(run_old.code, Some(1), "{}", run_old.context());
    assert!(
        run_old.lines_of("j").iter().any(|line| line.contains("need Node.js 20 or later") && line.contains("v16.20.0")),
        "{}",
        run_old.context()
    );
}

#[test]
fn the_tool_cache_is_kept_between_runs() {
    let source = Source::new();
    let cache = tempfile::tempdir().expect("temp dir");
    let repo = Repo::with_workflow(
        "on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n      - run: |\n          test \"$AGENT_TOOLSDIRECTORY\" = \"$RUNNER_TOOL_CACHE\"\n          test \"${{ runner.tool_cache }}\" = \"$RUNNER_TOOL_CACHE\"\n          if [ -e \"$RUNNER_TOOL_CACHE/tool/1.0/x64/bin\" ]; then echo cached; else mkdir -p \"$RUNNER_TOOL_CACHE/tool/1.0/x64/bin\"; echo downloaded; fi\n",
    );
    let first = run(&repo, &source, cache.path(), &[]);
    let second = run(&repo, &source, cache.path(), &[]);
    assert!(first.lines_of("j").contains(&"downloaded"), "{}", first.context());
    assert!(second.lines_of("j").contains(&"cached"), "{}", second.context());
    assert!(cache.path().join("ferry/tool-cache/tool/1.0").is_dir());
}

/// The host's `node` on PATH and the libraries it links (`ldd`), for an image it runs in.
pub(crate) fn host_node_and_libraries() -> (String, Vec<PathBuf>) {
    let node = std::env::split_paths(&std::env::var_os("PATH").expect("PATH is set"))
        .map(|dir| dir.join("node"))
        .find(|candidate| candidate.is_file())
        .expect("node on PATH (scripts/test installs it)");
    let ldd = Command::new("ldd").arg(&node).output().expect("ldd runs");
    let libraries = String::from_utf8_lossy(&ldd.stdout)
        .split_whitespace()
        .filter(|word| word.starts_with('/'))
        .map(PathBuf::from)
        .collect();
    (node.display().to_string(), libraries)
}

#[test]
fn javascript_actions_run_in_a_container_job_on_the_hosts_node_or_say_why_not() {
    let source = Source::new();
    source.repo("octo/greet", JS_ACTION);
    let (node, libraries) = host_node_and_libraries();
    let libraries: Vec<&Path> = libraries.iter().map(PathBuf::as_path).collect();
    let glibc = ferry_testkit::busybox_image_with("ferry-test/busybox-glibc:1", &libraries);
    let workflow = format!(
        "on: push\njobs:\n  glibc:\n    runs-on: x\n    container: {glibc}\n    steps:\n\
         \x20     - uses: octo/greet@v1\n        with:\n          who: boxed\n\
         \x20     - run: echo \"image has node, $(command -v node || echo none)\"\n\
         \x20 plain:\n    runs-on: x\n    container: {}\n    steps:\n      - uses: octo/greet@v1\n",
        ferry_testkit::busybox_image()
    );
    let repo = Repo::with_workflow(&workflow);
    let cache = tempfile::tempdir().expect("temp dir");
    let run = run(&repo, &source, cache.path(), &[("FERRY_NODE", &node)]);
    assert_eq!(run.report["jobs"]["glibc"]["conclusion"], "success", "{}", run.context());
    let lines = run.lines_of("glibc");
    for want in [
        "pre boxed",
        "main who=boxed extra= state=P-boxed action=octo/greet@v1",
        "post pre=P-boxed main=M-boxed",
        "image has node, none",
    ] {
        assert!(lines.contains(&want), "{want:?} missing\n{}", run.context());
    }
    assert_eq!(run.report["jobs"]["plain"]["conclusion"], "failure", "{}", run.context());
    assert!(
        run.lines_of("plain").iter().any(|line| line.contains("does not start in this job's image")),
        "{}",
        run.context()
    );
}
