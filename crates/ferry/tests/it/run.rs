//! `ferry run`: jobs, steps, contexts, runner files, shells, actions and the report.

use crate::harness::{Repo, ferry};

#[test]
fn outputs_flow_through_needs_into_a_matrix_and_the_report() {
    let repo = Repo::with_workflow(
        r#"
on: push
jobs:
  plan:
    runs-on: ubuntu-latest
    outputs:
      targets: ${{ steps.pick.outputs.list }}
    steps:
      - id: pick
        run: echo 'list=["arm", "x86"]' >> "$GITHUB_OUTPUT"
  build:
    needs: plan
    runs-on: ubuntu-latest
    strategy:
      matrix:
        target: ${{ fromJSON(needs.plan.outputs.targets) }}
        level: [1, 2]
        exclude:
          - { target: arm, level: 2 }
    outputs:
      last: ${{ steps.build.outputs.artifact }}
    steps:
      - id: build
        run: echo "artifact=out-${{ matrix.target }}-${{ matrix.level }}" >> "$GITHUB_OUTPUT"
  publish:
    needs: [plan, build]
    runs-on: ubuntu-latest
    steps:
      - id: show
        run: echo "published ${{ needs.build.outputs.last }} (${{ needs.build.result }})"
"#,
    );
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    assert_eq!(
        run.trace(),
        "run: success\nplan: success\n  pick: success\nbuild (arm, 1): success\n  build: success\n\
         build (x86, 1): success\n  build: success\nbuild (x86, 2): success\n  build: success\n\
         publish: success\n  show: success"
    );
    assert_eq!(run.report["jobs"]["build (x86, 1)"]["outputs"]["last"], "out-x86-1");
    assert!(
        run.lines_of("publish").iter().any(|line| line.starts_with("published out-") && line.ends_with("(success)"))
    );
}

#[test]
fn a_failure_skips_dependents_but_not_always_jobs_and_steps() {
    let repo = Repo::with_workflow(
        r#"
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - id: compile
        run: exit 3
      - id: after
        run: echo never
      - id: cleanup
        if: always()
        run: echo "status ${{ job.status }}"
      - id: on-failure
        if: failure()
        run: echo "${{ steps.compile.outcome }}"
  test:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - id: t
        run: echo never
  notify:
    needs: test
    if: always()
    runs-on: ubuntu-latest
    steps:
      - id: tell
        run: echo "build ${{ needs.test.result }}"
"#,
    );
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(1), "{}", run.context());
    assert_eq!(
        run.trace(),
        "run: failure\nbuild: failure\n  compile: failure\n  after: skipped\n  cleanup: success\n  on-failure: success\n\
         test: skipped\n  t: skipped\nnotify: success\n  tell: success"
    );
    assert!(run.lines_of("build").contains(&"Process completed with exit code 3."), "{}", run.context());
    assert!(run.lines_of("build").contains(&"status failure"));
    assert!(run.lines_of("notify").contains(&"build skipped"));
}

#[test]
fn continue_on_error_keeps_the_failed_outcome_but_succeeds() {
    let repo = Repo::with_workflow(
        r#"
on: push
jobs:
  j:
    runs-on: ubuntu-latest
    steps:
      - id: flaky
        continue-on-error: true
        run: exit 1
      - id: next
        run: echo "${{ steps.flaky.outcome }} ${{ steps.flaky.conclusion }}"
"#,
    );
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    assert_eq!(run.trace(), "run: success\nj: success\n  flaky: failure/success\n  next: success");
    assert!(run.lines_of("j").contains(&"failure success"));
}

#[test]
fn secrets_and_masked_values_never_appear_however_they_are_split() {
    let (repo, markers) = Repo::with_markers(
        r#"
on: push
jobs:
  leak:
    runs-on: ubuntu-latest
    outputs:
      token: ${{ secrets.TOKEN }}
    steps:
      - id: plain
        run: echo "token=${{ secrets.TOKEN }} env=$TOKEN"
        env:
          TOKEN: ${{ secrets.TOKEN }}
      - id: multiline
        run: |
          printf '%s\n' "$CERT"
          echo "${{ secrets.CERT }}" >&2
        env:
          CERT: ${{ secrets.CERT }}
      - id: dynamic
        run: |
          value="pw-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
          echo "$value" > @generated@
          echo "::add-mask::$value"
          echo "the value is $value"
      - id: fail
        name: Report ${{ secrets.TOKEN }}
        run: echo "::error title=${{ secrets.TOKEN }}::failed with ${{ secrets.TOKEN }}"
"#,
        &["generated"],
    );
    let token = "hunter2-super-secret";
    let cert = "-----BEGIN KEY-----\nline-one-secret-part\nline-two-secret-part\n-----END KEY-----";
    let run = repo.run(&["--secret", &format!("TOKEN={token}"), "--secret", &format!("CERT={cert}")]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    let generated = std::fs::read_to_string(&markers[0]).expect("the step wrote its value");
    let everything = format!("{}{}{}", run.stdout, run.stderr, run.report);
    for secret in [token, "line-one-secret-part", "line-two-secret-part", generated.trim()] {
        assert!(!everything.contains(secret), "`{secret}` leaked:\n{}", run.context());
    }
    let lines = run.lines_of("leak");
    for want in ["token=*** env=***", "the value is ***", "warning: skip output 'token' since it may contain secret."] {
        assert!(lines.contains(&want), "missing `{want}`:\n{}", run.context());
    }
    assert_eq!(run.report["jobs"]["leak"]["steps"][3]["name"], "Report ***");
}

#[test]
fn runner_files_and_variables_work_like_github() {
    let repo = Repo::with_workflow(
        r#"
on: push
env:
  LEVEL: workflow
jobs:
  files:
    runs-on: ubuntu-latest
    env:
      JOB_VAR: job-${{ github.event_name }}
    steps:
      - id: write
        run: |
          echo "GREETING=hello" >> "$GITHUB_ENV"
          { echo 'NOTE<<EOF'; echo 'first'; echo 'second'; echo 'EOF'; } >> "$GITHUB_ENV"
          mkdir -p "$RUNNER_TEMP/bin"
          printf '#!/bin/sh\necho tool-ran\n' > "$RUNNER_TEMP/bin/mytool"
          chmod +x "$RUNNER_TEMP/bin/mytool"
          echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
          echo "summary line" >> "$GITHUB_STEP_SUMMARY"
      - id: read
        run: |
          echo "$GREETING ${{ env.GREETING }} $LEVEL $JOB_VAR"
          echo "$NOTE" | tr '\n' ','; echo
          mytool
          echo "ci=$CI actions=$GITHUB_ACTIONS os=$RUNNER_OS ref=$GITHUB_REF sha-ok=$([ "$GITHUB_SHA" = "${{ github.sha }}" ] && echo yes)"
          test "$GITHUB_WORKSPACE" = "$PWD" && echo in-workspace
      - id: shell-from-added-path
        shell: mytool {0}
        run: ignored by mytool
"#,
    );
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    let lines = run.lines_of("files");
    assert_eq!(lines.iter().filter(|line| **line == "tool-ran").count(), 2, "{}", run.context());
    for want in [
        "hello hello workflow job-push",
        "first,second,",
        "tool-ran",
        "ci=true actions=true os=Linux ref=refs/heads/main sha-ok=yes",
        "in-workspace",
    ] {
        assert!(lines.contains(&want), "missing `{want}`:\n{}", run.context());
    }
}

/// GitHub's runner moves each directory a step adds to `$GITHUB_PATH` to the front of `PATH`,
/// in file order, once: the most recent addition is searched first.
#[test]
fn github_path_additions_come_most_recent_first() {
    let repo = Repo::with_workflow(
        r#"
on: push
jobs:
  path:
    runs-on: ubuntu-latest
    steps:
      - run: |
          printf '/added/one\n/added/two\r\n   \n' >> "$GITHUB_PATH"
      - run: |
          echo /added/three >> "$GITHUB_PATH"
          echo /added/one >> "$GITHUB_PATH"
      - run: echo "path=${PATH%%:/added/two:*}"
"#,
    );
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    let lines = run.lines_of("path");
    assert!(lines.contains(&"path=/added/one:/added/three"), "{}", run.context());
}

/// A line longer than the runner's 64 KiB pieces, with a secret across the cut, shows none of
/// the secret, on stdout and on stderr (there as a last line without a newline).
#[test]
fn a_secret_across_the_cut_of_a_long_line_is_masked() {
    let repo = Repo::with_workflow(
        r#"
on: push
jobs:
  long:
    runs-on: ubuntu-latest
    steps:
      - run: |
          printf '%65530s%s\n' '' "${{ secrets.TOKEN }}"
          printf '%131066s%s' '' "${{ secrets.TOKEN }}" >&2
"#,
    );
    let run = repo.run(&["--secret", "TOKEN=TOPSECRETVALUE123"]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    for part in ["TOPSEC", "RETVALUE123", "SECRET", "VALUE"] {
        assert!(!run.stdout.contains(part) && !run.stderr.contains(part), "`{part}` was shown");
    }
    assert_eq!(run.lines_of("long").iter().filter(|line| line.contains("***")).count(), 2, "{}", run.stderr);
}

#[test]
fn the_workspace_is_the_repository_at_head_and_github_names_it() {
    let repo = Repo::new(&[
        (
            ".github/workflows/ci.yml",
            "on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n      - run: ls; cat committed.txt; echo \"${{ github.sha }} ${{ github.ref }} ${{ github.ref_name }}\"\n",
        ),
        ("committed.txt", "from the commit\n"),
    ]);
    repo.write("uncommitted.txt", "not in HEAD");
    repo.write("committed.txt", "changed but not committed");
    let sha = repo.git(&["rev-parse", "HEAD"]);
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    let lines = run.lines_of("j");
    assert!(lines.contains(&"from the commit"), "{}", run.context());
    assert!(!lines.contains(&"uncommitted.txt"), "{}", run.context());
    assert!(lines.contains(&format!("{sha} refs/heads/main main").as_str()), "{}", run.context());
}

#[test]
fn shells_follow_githubs_rules() {
    let repo = Repo::with_workflow(
        r#"
on: push
jobs:
  shells:
    runs-on: ubuntu-latest
    steps:
      - id: default-has-no-pipefail
        run: false | true
      - id: bash-has-pipefail
        shell: bash
        continue-on-error: true
        run: false | true
      - id: sh
        shell: sh
        run: echo "sh says $0" | sed 's|/.*/||'
      - id: python
        shell: python
        run: print("python says", 6 * 7)
      - id: custom
        shell: perl {0}
        run: print "perl says hi\n";
      - id: working-directory
        working-directory: sub
        run: pwd | sed 's|.*/||'
"#,
    );
    repo.write("sub/.keep", "");
    repo.commit("sub");
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    assert_eq!(
        run.trace(),
        "run: success\nshells: success\n  default-has-no-pipefail: success\n  bash-has-pipefail: failure/success\n  \
         sh: success\n  python: success\n  custom: success\n  working-directory: success"
    );
    let lines = run.lines_of("shells");
    for want in ["python says 42", "perl says hi", "sub"] {
        assert!(lines.contains(&want), "missing `{want}`:\n{}", run.context());
    }
}

#[test]
fn local_composite_actions_get_inputs_and_give_outputs() {
    let repo = Repo::new(&[
        (
            ".github/workflows/ci.yml",
            r#"
on: push
jobs:
  j:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: hello
        uses: ./.github/actions/hello
        with:
          who: ferry
      - id: after
        run: echo "got '${{ steps.hello.outputs.greeting }}' and $FROM_ACTION"
"#,
        ),
        (
            ".github/actions/hello/action.yml",
            r#"
name: hello
inputs:
  who: { required: true }
  punctuation: { default: "!" }
outputs:
  greeting:
    value: ${{ steps.say.outputs.text }}
runs:
  using: composite
  steps:
    - id: say
      shell: bash
      run: |
        echo "text=hello ${{ inputs.who }}${{ inputs.punctuation }}" >> "$GITHUB_OUTPUT"
        echo "FROM_ACTION=set-in-action" >> "$GITHUB_ENV"
        test -f "$GITHUB_ACTION_PATH/action.yml" && echo "action path ok"
"#,
        ),
    ]);
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    let lines = run.lines_of("j");
    assert!(lines.contains(&"got 'hello ferry!' and set-in-action"), "{}", run.context());
    assert!(lines.contains(&"action path ok"), "{}", run.context());
}

#[test]
fn a_remote_action_the_actions_source_lacks_is_a_clear_error() {
    let repo = Repo::with_workflow(
        "on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n      - id: setup\n        uses: actions/setup-node@v4\n",
    );
    let empty = tempfile::tempdir().expect("temp dir");
    let run = repo.run(&["--actions-url", empty.path().to_str().expect("utf-8")]);
    assert_eq!(run.code, Some(1), "{}", run.context());
    assert!(
        run.lines_of("j")
            .iter()
            .any(|line| line.contains("repository `actions/setup-node` is not in the actions source")
                && line.contains("--actions-url")),
        "{}",
        run.context()
    );
}

#[test]
fn a_vendored_remote_action_runs_from_ferry_actions() {
    let repo = Repo::new(&[
        (
            ".github/workflows/ci.yml",
            "on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n      - uses: acme/greet@v1\n        with:\n          name: vendored\n",
        ),
        (
            ".ferry/actions/acme/greet/action.yml",
            "inputs:\n  name: {}\nruns:\n  using: composite\n  steps:\n    - shell: bash\n      run: echo \"hi ${{ inputs.name }}\"\n",
        ),
    ]);
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    assert!(run.lines_of("j").contains(&"hi vendored"), "{}", run.context());
}

#[test]
fn dispatch_inputs_are_typed_and_events_come_from_payload_files() {
    let repo = Repo::with_workflow(
        r#"
on:
  workflow_dispatch:
    inputs:
      dry-run: { type: boolean, default: false }
      count: { type: number, default: 1 }
      level: { type: choice, options: [info, debug], default: info }
jobs:
  j:
    runs-on: ubuntu-latest
    steps:
      - run: echo "dry=${{ inputs.dry-run == true }} count-is-41=${{ inputs.count == 41 }} level=${{ inputs.level }} sender=${{ github.event.sender.login }}"
"#,
    );
    let payload = repo.path().join(".git").join("event.json");
    std::fs::write(&payload, r#"{"sender": {"login": "octocat"}, "inputs": {}}"#).expect("write payload");
    let payload = payload.display().to_string();
    let run = repo.run(&[
        "--event",
        "workflow_dispatch",
        "--event-path",
        &payload,
        "--input",
        "dry-run=true",
        "--input",
        "count=41",
        "--input",
        "level=debug",
    ]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    assert!(run.lines_of("j").contains(&"dry=true count-is-41=true level=debug sender=octocat"), "{}", run.context());

    // Without a payload file the event is made as GitHub makes it: `github.event.inputs` holds
    // every input as a string, `inputs` keeps the declared types.
    let event = Repo::with_workflow(
        r#"
on:
  workflow_dispatch:
    inputs:
      dry-run: { type: boolean, default: false }
      count: { type: number, default: 1 }
jobs:
  j:
    runs-on: ubuntu-latest
    steps:
      - run: echo "event-dry=${{ github.event.inputs.dry-run == 'true' }} typed=${{ inputs.dry-run == true }}" 'event-count=${{ toJSON(github.event.inputs.count) }} count=${{ toJSON(inputs.count) }}'
"#,
    );
    let run = event.run(&["--event", "workflow_dispatch", "--input", "dry-run=true", "--input", "count=41"]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    assert!(run.lines_of("j").contains(&"event-dry=true typed=true event-count=\"41\" count=41"), "{}", run.context());

    let bad = repo.run(&["--event", "workflow_dispatch", "--input", "level=loud"]);
    assert_eq!(bad.code, Some(2), "{}", bad.context());
    assert!(bad.stderr.contains("--input level=loud: choose one of info, debug"), "{}", bad.context());
}

#[test]
fn job_selects_one_job_and_vars_reach_expressions() {
    let repo = Repo::with_workflow(
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo a\n  b:\n    needs: a\n    runs-on: x\n    steps:\n      - run: echo \"b sees ${{ vars.COLOR }}\"\n",
    );
    let run = repo.run(&["--job", "b", "--var", "COLOR=blue"]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    assert_eq!(run.report["jobs"].as_object().map(|jobs| jobs.len()), Some(1), "{}", run.context());
    assert!(run.lines_of("b").contains(&"b sees blue"), "{}", run.context());
    let unknown = repo.run(&["--job", "c"]);
    assert_eq!(unknown.code, Some(2));
    assert!(unknown.stderr.contains("has no job `c`; its jobs are: a, b"), "{}", unknown.context());
}

#[test]
fn only_workflows_the_event_triggers_run() {
    let repo = Repo::new(&[
        (
            ".github/workflows/push.yml",
            "on:\n  push:\n    branches: [main]\njobs:\n  on-push:\n    runs-on: x\n    steps:\n      - run: true\n",
        ),
        (
            ".github/workflows/other.yml",
            "on:\n  push:\n    branches: [release/**]\njobs:\n  on-release:\n    runs-on: x\n    steps:\n      - run: true\n",
        ),
        (
            ".github/workflows/pr.yml",
            "on: pull_request\njobs:\n  on-pr:\n    runs-on: x\n    steps:\n      - run: true\n",
        ),
    ]);
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    let jobs: Vec<&String> = run.report["jobs"].as_object().expect("jobs").keys().collect();
    assert_eq!(jobs, ["on-push"]);
    let run = repo.run(&["--event", "pull_request"]);
    let jobs: Vec<&String> = run.report["jobs"].as_object().expect("jobs").keys().collect();
    assert_eq!(jobs, ["on-pr"]);
    let run = repo.run(&["--event", "schedule"]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("no workflow in"), "{}", run.context());
    let run = repo.run(&["-W", ".github/workflows/other.yml"]);
    assert_eq!(run.code, Some(0), "{}", run.context());
}

#[test]
fn a_workflow_with_errors_does_not_start_and_says_where() {
    let repo = Repo::with_workflow(
        "on: push\njobs:\n  j:\n    runs-on: x\n    needs: nope\n    steps:\n      - run: echo ${{ foo( }}\n",
    );
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(2), "{}", run.context());
    assert!(run.stderr.contains(".github/workflows/ci.yml:5:12"), "{}", run.context());
    assert!(run.stderr.contains("fix them"), "{}", run.context());
    assert!(run.report.is_null());
}

#[test]
fn ferry_extensions_retry_and_allow_failure() {
    let repo = Repo::new(&[(
        ".ferry/workflows/x.yml",
        r#"
on: push
jobs:
  retried:
    runs-on: x
    steps:
      - id: third-time-lucky
        retry: { attempts: 3, on-exit-codes: [75] }
        run: |
          n=$(( $(cat "$RUNNER_TEMP/n" 2>/dev/null || echo 0) + 1 )); echo $n > "$RUNNER_TEMP/n"
          echo "attempt $n"; [ $n -ge 3 ] || exit 75
      - id: not-retried-code
        continue-on-error: true
        retry: { attempts: 3, on-exit-codes: [75] }
        run: echo once; exit 1
  experimental:
    runs-on: x
    allow-failure: true
    steps:
      - id: boom
        run: exit 1
  after:
    needs: experimental
    runs-on: x
    steps:
      - id: runs
        run: echo "experimental was ${{ needs.experimental.result }}"
"#,
    )]);
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    assert_eq!(
        run.trace(),
        "run: success\nretried: success\n  third-time-lucky: success\n  not-retried-code: failure/success\n\
         experimental: neutral\n  boom: failure\nafter: success\n  runs: success"
    );
    let lines = run.lines_of("retried");
    assert_eq!(lines.iter().filter(|line| line.starts_with("attempt ")).count(), 3, "{}", run.context());
    assert_eq!(lines.iter().filter(|line| **line == "once").count(), 1, "{}", run.context());
    assert!(run.lines_of("after").contains(&"experimental was neutral"));
}

#[test]
fn hash_files_hashes_the_workspace() {
    let repo = Repo::new(&[
        (
            ".github/workflows/ci.yml",
            "on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n      - run: echo \"key=${{ hashFiles('**/*.lock') }} none=[${{ hashFiles('*.nothing') }}]\"\n",
        ),
        ("a/Cargo.lock", "one"),
    ]);
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    let line = run.lines_of("j").into_iter().find(|line| line.starts_with("key=")).expect("the line");
    let (key, none) = line.split_once(' ').expect("two parts");
    assert_eq!(key.len(), "key=".len() + 64, "{line}");
    assert_eq!(none, "none=[]");
}

#[test]
fn json_prints_the_report_and_logs_go_to_stderr() {
    let repo =
        Repo::with_workflow("on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n      - id: s\n        run: echo hi\n");
    let out = ferry().arg("run").arg(repo.path()).arg("--json").output().expect("ferry runs");
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is the JSON report");
    assert_eq!(
        report,
        serde_json::json!({"conclusion": "success", "jobs": {"j": {"conclusion": "success", "outputs": {}, "steps": [
            {"id": "s", "name": "Run echo hi", "outcome": "success", "conclusion": "success"}]}}})
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("j | hi"));
}

#[test]
fn artifacts_pass_files_between_jobs() {
    let repo = Repo::with_workflow(
        r#"
on: push
jobs:
  build:
    runs-on: x
    steps:
      - run: mkdir -p out/bin && echo binary > out/bin/app && echo notes > out/NOTES && echo log > build.log
      - uses: actions/upload-artifact@v4
        with:
          name: dist
          path: out/
      - uses: actions/upload-artifact@v4
        with:
          name: logs
          path: |
            *.log
            !nothing.log
      - id: empty
        continue-on-error: true
        uses: actions/upload-artifact@v4
        with:
          name: none
          path: missing/
          if-no-files-found: error
  use:
    needs: build
    runs-on: x
    steps:
      - uses: actions/download-artifact@v4
        with:
          name: dist
          path: got
      - uses: actions/download-artifact@v4
      - run: cat got/bin/app got/NOTES logs/build.log
"#,
    );
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    assert_eq!(run.report["jobs"]["build"]["steps"][3]["outcome"], "failure", "{}", run.context());
    let lines = run.lines_of("use");
    for want in ["binary", "notes", "log"] {
        assert!(lines.contains(&want), "missing `{want}`:\n{}", run.context());
    }
}

#[test]
fn the_cache_restores_what_a_successful_job_saved() {
    let repo = Repo::with_workflow(
        r#"
on: push
jobs:
  j:
    runs-on: x
    steps:
      - id: cache
        uses: actions/cache@v4
        with:
          path: deps
          key: deps-${{ hashFiles('lock') }}
          restore-keys: deps-
      - run: echo "hit=${{ steps.cache.outputs.cache-hit }} matched=${{ steps.cache.outputs.cache-matched-key != '' }}"
      - if: steps.cache.outputs.cache-hit != 'true'
        run: mkdir -p deps && cat lock > deps/installed
      - run: cat deps/installed
"#,
    );
    repo.write("lock", "v1");
    repo.commit("lock v1");
    let first = repo.run(&[]);
    assert_eq!(first.code, Some(0), "{}", first.context());
    assert!(first.lines_of("j").contains(&"hit=false matched=false"), "{}", first.context());
    assert!(
        first.lines_of("j").iter().any(|line| line.starts_with("Cache saved with key: deps-")),
        "{}",
        first.context()
    );

    let second = repo.run(&[]);
    assert!(second.lines_of("j").contains(&"hit=true matched=true"), "{}", second.context());
    assert!(second.lines_of("j").contains(&"v1"), "{}", second.context());

    // A new key misses but restores the closest entry through `restore-keys`.
    repo.write("lock", "v2");
    repo.commit("lock v2");
    let third = repo.run(&[]);
    assert!(third.lines_of("j").contains(&"hit=false matched=true"), "{}", third.context());
    assert!(third.lines_of("j").contains(&"v2"), "{}", third.context());
}

#[test]
fn a_cache_whose_paths_do_not_exist_is_not_saved() {
    let repo = Repo::with_workflow(
        r#"
on: push
jobs:
  j:
    runs-on: x
    steps:
      - id: cache
        uses: actions/cache@v4
        with:
          path: never-made
          key: empty-${{ github.sha }}
      - run: echo "hit=${{ steps.cache.outputs.cache-hit }}"
"#,
    );
    let first = repo.run(&[]);
    assert_eq!(first.code, Some(0), "{}", first.context());
    let warning = "warning: Path Validation Error: Path(s) specified in the action for caching do(es) not exist, \
                   hence no cache is being saved.";
    assert!(first.lines_of("j").contains(&warning), "{}", first.context());
    let second = repo.run(&[]);
    assert!(second.lines_of("j").contains(&"hit=false"), "nothing was saved to hit: {}", second.context());
}

#[test]
fn stopped_workflow_commands_stay_stopped_across_steps() {
    let repo = Repo::with_workflow(
        r#"
on: push
jobs:
  j:
    runs-on: x
    steps:
      - run: echo "::stop-commands::pause-token"
      - run: echo "::error::shown as text"
      - run: |
          echo "::pause-token::"
          echo "::warning::a real warning"
"#,
    );
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    let lines = run.lines_of("j");
    assert!(lines.contains(&"::error::shown as text"), "{}", run.context());
    assert!(lines.contains(&"warning: a real warning"), "{}", run.context());
}
