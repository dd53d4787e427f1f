//! Reusable workflows as replays: a calling workflow, the workflows it calls, and the results
//! the called jobs report; the trace is what a host would run, with the names, inputs and
//! `needs` each job sees. After every step a driver rebuilt from what a store would hold asks
//! for nothing already done.

use ferry_workflow::Dialect;
use serde_json::json;

use super::*;
use crate::InstanceId;
use crate::driver::{Action, Driver, Event, InstanceRecord, RunState};

fn parse(yaml: &str) -> Arc<Workflow> {
    let (workflow, diagnostics) = ferry_workflow::parse_workflow(yaml, Dialect::GitHub);
    let errors: Vec<_> = diagnostics.iter().filter(|diagnostic| diagnostic.is_error()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    Arc::new(workflow.expect("a workflow"))
}

fn callees(called: &[(&str, &str)]) -> HashMap<String, Callee> {
    called
        .iter()
        .map(|(uses, yaml)| {
            let file = uses.trim_start_matches("./").to_owned();
            ((*uses).to_owned(), Callee { file, workflow: parse(yaml) })
        })
        .collect()
}

fn flat_of(root: &str, called: &[(&str, &str)]) -> Result<Flat, CallError> {
    flatten("ci.yml", parse(root), &callees(called))
}

/// What a host keeps, as a store would.
struct Host {
    flat: Flat,
    specs: Vec<JobSpec>,
    run: Map<String, Value>,
    state: RunState,
    running: Vec<(InstanceId, String)>,
    trace: Vec<String>,
    /// The `needs` context each started instance saw, by its name.
    seen: Vec<(String, Value)>,
}

impl Host {
    fn new(root: &str, called: &[(&str, &str)]) -> (Host, Driver) {
        let flat = flat_of(root, called).expect("the calls flatten");
        let mut run = Map::new();
        run.insert("github".to_owned(), json!({"event_name": "push", "workflow": "CI"}));
        run.insert("inputs".to_owned(), json!({}));
        run.insert("vars".to_owned(), json!({"REGION": "eu"}));
        run.insert("secrets".to_owned(), json!({"GITHUB_TOKEN": "t0k", "DEPLOY_KEY": "k3y", "OTHER": "0th"}));
        let specs = flat.job_specs(&run);
        let mut host = Host {
            flat,
            specs: specs.clone(),
            run,
            state: RunState::default(),
            running: Vec::new(),
            trace: Vec::new(),
            seen: Vec::new(),
        };
        let mut driver = Driver::new(specs, usize::MAX);
        host.execute(&mut driver);
        (host, driver)
    }

    fn execute(&mut self, driver: &mut Driver) {
        loop {
            let actions = driver.next_actions();
            if actions.is_empty() {
                break;
            }
            for action in actions {
                match action {
                    Action::Expand(expand) => {
                        let record = decide_flat(&self.run, &self.flat, &expand);
                        match &record.plan {
                            JobPlan::Skip => self.trace.push(format!("skip {}", expand.key)),
                            JobPlan::Conclude { conclusion, error, outputs } => {
                                let error = error.as_deref().map(|error| format!(": {error}")).unwrap_or_default();
                                let outputs = if outputs.is_empty() {
                                    String::new()
                                } else {
                                    format!(" {}", Value::Object(outputs.clone()))
                                };
                                self.trace.push(format!("{} {conclusion}{outputs}{error}", expand.key));
                            }
                            JobPlan::Call { legs } => {
                                for leg in legs {
                                    self.trace.push(format!("call {} {}", leg.name, Value::Object(leg.inputs.clone())));
                                }
                            }
                            JobPlan::Instances { .. } => {}
                        }
                        self.state.expansions.insert(expand.key.clone(), record.clone());
                        driver.apply(Event::Expanded { job_idx: expand.job_idx, record }).expect("asked for");
                    }
                    Action::Start(start) => {
                        let needs = job_needs(&self.flat, start.job_idx, &start.needs);
                        self.seen.push((start.name.clone(), Value::Object(needs.clone())));
                        let needs: Vec<String> = needs
                            .iter()
                            .map(|(id, need)| format!("{id}={}", need["result"].as_str().unwrap_or("?")))
                            .collect();
                        let flat_job = &self.flat.jobs[start.job_idx];
                        let inputs = start.inputs.clone().map(|inputs| Value::Object(*inputs)).unwrap_or(Value::Null);
                        self.trace.push(format!(
                            "start {} [{}:{}] inputs={inputs} needs=[{}]",
                            start.name,
                            flat_job.file,
                            flat_job.own_id,
                            needs.join(", ")
                        ));
                        self.state.instances.insert((start.job_id, start.instance_idx), InstanceRecord::Unfinished);
                        self.running.push((start.instance, start.name));
                    }
                    Action::Cancel(target) => self.trace.push(format!("cancel {}", target.job_id)),
                    Action::Complete(conclusion) => self.trace.push(format!("run: {conclusion}")),
                }
            }
        }
        let mut restored = Driver::restore(self.specs.clone(), usize::MAX, &self.state);
        // A fail-fast cancel of an instance still running is asked for again: cancelling is
        // safe to repeat, and the store does not record it.
        let redone: Vec<Action> = restored
            .next_actions()
            .into_iter()
            .filter(|action| !matches!(action, Action::Complete(_) | Action::Cancel(_)))
            .collect();
        assert_eq!(redone, Vec::new(), "a restore redoes work after:\n{}", self.trace.join("\n"));
    }

    fn finish(&mut self, driver: &mut Driver, name: &str, conclusion: Conclusion, outputs: Value) {
        let position = self.running.iter().position(|(_, running)| running == name);
        let (instance, _) = self.running.remove(position.unwrap_or_else(|| panic!("{name} is not running")));
        let outputs = outputs.as_object().cloned().unwrap_or_default();
        let (_, _, job_idx) = driver.scheduler().instance(instance);
        let job_id = self.specs[job_idx].id.clone();
        let instance_idx = driver.instance_idx(instance);
        self.state
            .instances
            .insert((job_id, instance_idx), InstanceRecord::Finished { conclusion, outputs: outputs.clone() });
        driver.apply(Event::Finished { instance, conclusion, outputs }).expect("running");
        self.execute(driver);
    }
}

const BUILD_YML: &str = r#"
on:
  workflow_call:
    inputs:
      target: { type: string, required: true }
      release: { type: boolean, default: false }
      jobs: { type: number, default: 2 }
    outputs:
      artifact: { value: "${{ jobs.test.outputs.file }}" }
    secrets:
      DEPLOY_KEY: { required: true }
env: { FROM: callee }
jobs:
  compile:
    runs-on: ubuntu-latest
    steps: [{ run: make }]
  test:
    name: Test
    needs: compile
    runs-on: ubuntu-latest
    outputs: { file: "${{ steps.t.outputs.file }}" }
    steps: [{ id: t, run: make test }]
"#;

const CALLER_YML: &str = r#"
on: push
jobs:
  lint:
    runs-on: ubuntu-latest
    steps: [{ run: lint }]
  build:
    needs: lint
    uses: ./.github/workflows/build.yml
    with: { target: "${{ vars.REGION }}-x", release: true }
    secrets: { DEPLOY_KEY: "${{ secrets.DEPLOY_KEY }}" }
  deploy:
    needs: build
    runs-on: ubuntu-latest
    steps: [{ run: "echo ${{ needs.build.outputs.artifact }}" }]
"#;

#[test]
fn a_call_becomes_its_entry_the_called_jobs_and_its_exit() {
    let flat = flat_of(CALLER_YML, &[("./.github/workflows/build.yml", BUILD_YML)]).expect("flattens");
    let jobs: Vec<String> = flat.jobs.iter().map(|job| format!("{} <- [{}]", job.id, job.needs.join(", "))).collect();
    assert_eq!(
        jobs,
        [
            "lint <- []",
            "build@call <- [lint]",
            "build/compile <- [build@call]",
            "build/test <- [build/compile, build@call]",
            "build <- [build/compile, build/test, build@call]",
            "deploy <- [build]",
        ]
    );
    assert_eq!(
        flat.job("build/test").map(|job| (job.file.as_str(), job.own_id.as_str())),
        Some((".github/workflows/build.yml", "test"))
    );
}

#[test]
fn called_jobs_run_with_their_inputs_and_the_caller_gets_their_outputs() {
    let (mut host, mut driver) = Host::new(CALLER_YML, &[("./.github/workflows/build.yml", BUILD_YML)]);
    host.finish(&mut driver, "lint", Conclusion::Success, json!({}));
    host.finish(&mut driver, "build / compile", Conclusion::Success, json!({}));
    host.finish(&mut driver, "build / Test", Conclusion::Success, json!({"file": "app.tar"}));
    host.finish(&mut driver, "deploy", Conclusion::Success, json!({}));
    assert_eq!(
        host.trace,
        [
            "start lint [ci.yml:lint] inputs=null needs=[]",
            r#"call build {"target":"eu-x","release":true,"jobs":2}"#,
            r#"start build / compile [.github/workflows/build.yml:compile] inputs={"target":"eu-x","release":true,"jobs":2} needs=[]"#,
            r#"start build / Test [.github/workflows/build.yml:test] inputs={"target":"eu-x","release":true,"jobs":2} needs=[compile=success]"#,
            r#"build success {"artifact":"app.tar"}"#,
            "start deploy [ci.yml:deploy] inputs=null needs=[build=success]",
            "run: success",
        ]
    );
}

#[test]
fn a_failed_called_job_fails_the_caller_and_skips_what_needs_it() {
    let (mut host, mut driver) = Host::new(CALLER_YML, &[("./.github/workflows/build.yml", BUILD_YML)]);
    host.finish(&mut driver, "lint", Conclusion::Success, json!({}));
    host.finish(&mut driver, "build / compile", Conclusion::Failure, json!({}));
    assert_eq!(
        host.trace[2..],
        [
            r#"start build / compile [.github/workflows/build.yml:compile] inputs={"target":"eu-x","release":true,"jobs":2} needs=[]"#,
            // Decided in its call's only leg.
            "skip build/test#0",
            r#"build failure {"artifact":""}"#,
            "skip deploy",
            "run: failure",
        ]
    );
}

#[test]
fn a_skipped_caller_skips_every_called_job_even_those_that_always_run() {
    let callee = r#"
on: workflow_call
jobs:
  a: { runs-on: x, steps: [{ run: a }] }
  b: { if: "${{ always() }}", needs: a, runs-on: x, steps: [{ run: b }] }
"#;
    let root = r#"
on: push
jobs:
  c: { if: "${{ github.event_name == 'release' }}", uses: ./lib.yml }
  after: { needs: c, if: "${{ always() }}", runs-on: x, steps: [{ run: "true" }] }
"#;
    let (host, _) = Host::new(root, &[("./lib.yml", callee)]);
    assert_eq!(
        host.trace,
        ["skip c@call", "skip c/a", "skip c/b", "skip c", "start after [ci.yml:after] inputs=null needs=[c=skipped]",]
    );
}

#[test]
fn a_matrix_caller_calls_the_workflow_once_per_leg_named_as_github_names_them() {
    let callee = r#"
on:
  workflow_call:
    inputs: { os: { type: string, required: true } }
jobs:
  test:
    runs-on: "${{ inputs.os }}"
    strategy: { matrix: { shard: [1, 2] } }
    steps: [{ run: "true" }]
"#;
    let root = r#"
on: push
jobs:
  ci:
    name: CI
    strategy: { matrix: { os: [linux, mac] } }
    uses: ./tests.yml
    with: { os: "${{ matrix.os }}" }
"#;
    let (mut host, mut driver) = Host::new(root, &[("./tests.yml", callee)]);
    let started: Vec<&str> = host.trace.iter().map(String::as_str).collect();
    assert_eq!(
        started,
        [
            r#"call CI (linux) {"os":"linux"}"#,
            r#"call CI (mac) {"os":"mac"}"#,
            r#"start CI (linux) / test (1) [tests.yml:test] inputs={"os":"linux"} needs=[]"#,
            r#"start CI (linux) / test (2) [tests.yml:test] inputs={"os":"linux"} needs=[]"#,
            r#"start CI (mac) / test (1) [tests.yml:test] inputs={"os":"mac"} needs=[]"#,
            r#"start CI (mac) / test (2) [tests.yml:test] inputs={"os":"mac"} needs=[]"#,
        ]
    );
    for name in ["CI (linux) / test (1)", "CI (linux) / test (2)", "CI (mac) / test (1)", "CI (mac) / test (2)"] {
        host.finish(&mut driver, name, Conclusion::Success, json!({}));
    }
    assert_eq!(host.trace[6..], ["ci success", "run: success"]);
}

#[test]
fn inputs_are_checked_against_the_called_workflows_declarations() {
    let callee = r#"
on:
  workflow_call:
    inputs:
      n: { type: number, required: true }
      flag: { type: boolean, default: "${{ github.event_name == 'push' }}" }
      name: { type: string }
    secrets:
      KEY: { required: true }
jobs:
  a: { runs-on: x, steps: [{ run: "true" }] }
"#;
    let cases: &[(&str, &str)] = &[
        (r#"with: { n: 3 }"#, r#"call c {"n":3,"flag":true,"name":""}"#),
        (r#"with: { n: "1.5", name: 7 }"#, r#"call c {"n":1.5,"name":"7","flag":true}"#),
        (r#"with: { n: "${{ fromJSON('2') }}", flag: false }"#, r#"call c {"n":2,"flag":false,"name":""}"#),
        ("with: {}", "c@call failure: job `c` does not pass input `n`, which lib.yml requires; add it under `with:`"),
        (
            "with: { n: 1, nope: x }",
            "c@call failure: job `c` passes input `nope`, which lib.yml does not declare under `on.workflow_call.inputs`",
        ),
        (
            "with: { n: many }",
            "c@call failure: job `c`: input `n` of lib.yml must be a number (like 3 or 1.5); `with: n:` gives `many`",
        ),
        (
            "with: { n: 1, flag: yes }",
            "c@call failure: job `c`: input `flag` of lib.yml must be a boolean (true or false); `with: flag:` gives `yes`",
        ),
    ];
    for (with, expected) in cases {
        let root = format!("on: push\njobs:\n  c:\n    uses: ./lib.yml\n    secrets: inherit\n    {with}\n");
        let (host, _) = Host::new(&root, &[("./lib.yml", callee)]);
        assert_eq!(host.trace[0], *expected, "{with}");
    }
    let root = "on: push\njobs:\n  c:\n    uses: ./lib.yml\n    with: { n: 1 }\n    secrets: { OTHER: x }\n";
    let (host, _) = Host::new(root, &[("./lib.yml", callee)]);
    assert_eq!(
        host.trace[0],
        "c@call failure: job `c` does not pass secret `KEY`, which lib.yml requires; add it under `secrets:` or use `secrets: inherit`"
    );
}

#[test]
fn called_jobs_see_the_secrets_their_caller_passes() {
    let callee = "on: workflow_call\njobs:\n  a: { runs-on: x, steps: [{ run: \"true\" }] }\n";
    let secrets_of = |secrets: &str| {
        let root = format!("on: push\njobs:\n  c:\n    uses: ./lib.yml\n{secrets}");
        let (host, _) = Host::new(&root, &[("./lib.yml", callee)]);
        let job_idx = host.flat.jobs.iter().position(|job| job.id == "c/a").expect("c/a");
        let values = job_values(&host.run, &host.flat, job_idx, None).expect("evaluates");
        values["secrets"].clone()
    };
    assert_eq!(secrets_of(""), json!({"GITHUB_TOKEN": "t0k"}));
    assert_eq!(
        secrets_of("    secrets: inherit\n"),
        json!({"GITHUB_TOKEN": "t0k", "DEPLOY_KEY": "k3y", "OTHER": "0th"})
    );
    assert_eq!(
        secrets_of("    secrets: { KEY: \"${{ secrets.DEPLOY_KEY }}\" }\n"),
        json!({"GITHUB_TOKEN": "t0k", "KEY": "k3y"})
    );
}

#[test]
fn calls_nest_and_their_jobs_are_named_through_every_level() {
    let inner = r#"
on:
  workflow_call:
    inputs: { level: { type: string, required: true } }
    outputs: { said: { value: "${{ jobs.leaf.outputs.said }}" } }
jobs:
  leaf: { runs-on: x, outputs: { said: "${{ steps.s.outputs.said }}" }, steps: [{ id: s, run: "true" }] }
"#;
    let middle = r#"
on:
  workflow_call:
    inputs: { who: { type: string, required: true } }
    outputs: { said: { value: "${{ jobs.inner.outputs.said }}" } }
jobs:
  inner:
    uses: ./inner.yml
    with: { level: "${{ inputs.who }}-2" }
"#;
    let root = "on: push\njobs:\n  outer:\n    uses: ./middle.yml\n    with: { who: me }\n  last:\n    needs: outer\n    runs-on: x\n    steps: [{ run: \"true\" }]\n";
    let (mut host, mut driver) = Host::new(root, &[("./middle.yml", middle), ("./inner.yml", inner)]);
    host.finish(&mut driver, "outer / inner / leaf", Conclusion::Success, json!({"said": "hi"}));
    assert_eq!(
        host.trace,
        [
            r#"call outer {"who":"me"}"#,
            r#"call outer / inner {"level":"me-2"}"#,
            r#"start outer / inner / leaf [inner.yml:leaf] inputs={"level":"me-2"} needs=[]"#,
            r#"outer/inner success {"said":"hi"}"#,
            r#"outer success {"said":"hi"}"#,
            "start last [ci.yml:last] inputs=null needs=[outer=success]",
        ]
    );
}

#[test]
fn nesting_beyond_githubs_limit_and_cycles_are_refused_with_the_chain() {
    let level = |n: usize| format!("on: workflow_call\njobs:\n  next:\n    uses: ./l{}.yml\n", n + 1);
    let leaf = "on: workflow_call\njobs:\n  a: { runs-on: x, steps: [{ run: \"true\" }] }\n";
    let mut called: Vec<(String, String)> = (1..=9).map(|n| (format!("./l{n}.yml"), level(n))).collect();
    called.push(("./l10.yml".to_owned(), leaf.to_owned()));
    let called_refs: Vec<(&str, &str)> = called.iter().map(|(uses, yaml)| (uses.as_str(), yaml.as_str())).collect();
    let root = "on: push\njobs:\n  c:\n    uses: ./l1.yml\n";
    let error = flat_of(root, &called_refs).expect_err("eleven levels");
    assert_eq!(
        error.to_string(),
        "job `c/next/next/next/next/next/next/next/next/next` nests reusable workflows too deep \
         (ci.yml → l1.yml → l2.yml → l3.yml → l4.yml → l5.yml → l6.yml → l7.yml → l8.yml → l9.yml → l10.yml): \
         at most 10 levels of workflows are allowed"
    );
    // Ten levels (the caller and nine called workflows) are allowed.
    called[8].1 = leaf.to_owned();
    let called_refs: Vec<(&str, &str)> = called.iter().map(|(uses, yaml)| (uses.as_str(), yaml.as_str())).collect();
    assert!(flat_of(root, &called_refs).is_ok());

    let cycle = "on: workflow_call\njobs:\n  again:\n    uses: ./a.yml\n";
    let error = flat_of("on: push\njobs:\n  c:\n    uses: ./a.yml\n", &[("./a.yml", cycle)]).expect_err("a cycle");
    assert_eq!(
        error.to_string(),
        "job `c/again` calls a.yml, which is already calling it (ci.yml → a.yml → a.yml): \
         a reusable workflow cannot call itself"
    );
    let not_callable = "on: push\njobs:\n  a: { runs-on: x, steps: [{ run: \"true\" }] }\n";
    let error =
        flat_of("on: push\njobs:\n  c:\n    uses: ./a.yml\n", &[("./a.yml", not_callable)]).expect_err("no call");
    assert!(error.to_string().contains("has no `on: workflow_call`"), "{error}");
}

#[test]
fn the_host_is_told_which_called_workflows_to_read_level_by_level() {
    let root = parse("on: push\njobs:\n  c:\n    uses: ./a.yml\n  d:\n    uses: ./a.yml\n");
    let mut found = HashMap::new();
    assert_eq!(missing_calls(&root, &found), ["./a.yml"]);
    found.extend(callees(&[(
        "./a.yml",
        "on: workflow_call\njobs:\n  x:\n    uses: octo/lib/.github/workflows/b.yml@v1\n",
    )]));
    assert_eq!(missing_calls(&root, &found), ["octo/lib/.github/workflows/b.yml@v1"]);
    found.extend(callees(&[(
        "octo/lib/.github/workflows/b.yml@v1",
        "on: workflow_call\njobs:\n  y: { runs-on: x, steps: [{ run: \"true\" }] }\n",
    )]));
    assert_eq!(missing_calls(&root, &found), Vec::<String>::new());
    // A cycle ends too.
    let cyclic = callees(&[("./a.yml", "on: workflow_call\njobs:\n  x:\n    uses: ./a.yml\n")]);
    assert_eq!(missing_calls(&root, &cyclic), Vec::<String>::new());
}

#[test]
fn jobs_are_named_after_their_callers() {
    let root = "on: push\njobs:\n  outer:\n    name: Outer\n    uses: ./middle.yml\n";
    let middle = "on: workflow_call\njobs:\n  inner:\n    uses: ./inner.yml\n";
    let inner = "on: workflow_call\njobs:\n  leaf: { name: Leaf, runs-on: x, steps: [{ run: \"true\" }] }\n";
    let flat = flat_of(root, &[("./middle.yml", middle), ("./inner.yml", inner)]).expect("flattens");
    let names: Vec<String> = (0..flat.jobs.len()).map(|job_idx| flat.display_name(job_idx)).collect();
    assert_eq!(names, ["Outer", "Outer / inner", "Outer / inner / Leaf", "Outer / inner", "Outer"]);
}

const LEGS_CALLEE: &str = r#"
on:
  workflow_call:
    inputs: { os: { type: string, required: true } }
    outputs:
      file: { value: "${{ jobs.test.outputs.file }}" }
      only-mac: { value: "${{ jobs.test.outputs.mac }}" }
      os: { value: "${{ inputs.os }}" }
jobs:
  compile:
    runs-on: "${{ inputs.os }}"
    outputs: { bin: "${{ steps.c.outputs.bin }}" }
    steps: [{ id: c, run: make }]
  test:
    needs: compile
    runs-on: "${{ inputs.os }}"
    outputs: { file: "${{ steps.t.outputs.file }}", mac: "${{ steps.t.outputs.mac }}" }
    steps: [{ id: t, run: "make test" }]
"#;

const LEGS_CALLER: &str = r#"
on: push
jobs:
  ci:
    strategy: { matrix: { os: [linux, mac] } }
    uses: ./tests.yml
    with: { os: "${{ matrix.os }}" }
  deploy:
    needs: ci
    if: "${{ always() }}"
    runs-on: x
    steps: [{ run: "echo ${{ needs.ci.outputs.file }}" }]
"#;

#[test]
fn a_job_that_needs_a_matrix_caller_waits_for_every_leg_and_gets_the_last_successful_legs_outputs() {
    let (mut host, mut driver) = Host::new(LEGS_CALLER, &[("./tests.yml", LEGS_CALLEE)]);
    host.finish(&mut driver, "ci (linux) / compile", Conclusion::Success, json!({"bin": "linux-bin"}));
    host.finish(&mut driver, "ci (mac) / compile", Conclusion::Success, json!({"bin": "mac-bin"}));
    host.finish(&mut driver, "ci (mac) / test", Conclusion::Success, json!({"file": "mac.tar", "mac": "yes"}));
    // The mac leg is done; deploy still waits for the linux leg.
    assert!(!host.trace.iter().any(|line| line.starts_with("start deploy")), "{:#?}", host.trace);
    host.finish(&mut driver, "ci (linux) / test", Conclusion::Success, json!({"file": "linux.tar", "mac": ""}));
    assert_eq!(
        host.trace[6..],
        [
            r#"ci success {"file":"linux.tar","only-mac":"yes","os":"linux"}"#,
            "start deploy [ci.yml:deploy] inputs=null needs=[ci=success]",
        ]
    );
    // Each leg's test saw its own leg's compile.
    let seen: Vec<(&str, &Value)> = host
        .seen
        .iter()
        .filter(|(name, _)| name.ends_with("/ test"))
        .map(|(name, needs)| (name.as_str(), &needs["compile"]))
        .collect();
    assert_eq!(
        seen,
        [
            ("ci (linux) / test", &json!({"result": "success", "outputs": {"bin": "linux-bin"}})),
            ("ci (mac) / test", &json!({"result": "success", "outputs": {"bin": "mac-bin"}})),
        ]
    );
}

#[test]
fn a_leg_that_fails_fails_the_caller_and_gives_no_outputs() {
    let (mut host, mut driver) = Host::new(LEGS_CALLER, &[("./tests.yml", LEGS_CALLEE)]);
    host.finish(&mut driver, "ci (linux) / compile", Conclusion::Success, json!({}));
    host.finish(&mut driver, "ci (mac) / compile", Conclusion::Success, json!({}));
    host.finish(&mut driver, "ci (mac) / test", Conclusion::Success, json!({"file": "mac.tar"}));
    host.finish(&mut driver, "ci (linux) / test", Conclusion::Failure, json!({"file": "linux.tar"}));
    assert_eq!(
        host.trace[6..],
        [
            r#"ci failure {"file":"mac.tar","only-mac":"","os":"mac"}"#,
            "start deploy [ci.yml:deploy] inputs=null needs=[ci=failure]",
        ]
    );
    let deploy = host.seen.iter().find(|(name, _)| name == "deploy").map(|(_, needs)| needs);
    assert_eq!(
        deploy,
        Some(&json!({"ci": {"result": "failure", "outputs": {"file": "mac.tar", "only-mac": "", "os": "mac"}}}))
    );
}

#[test]
fn a_called_job_skipped_in_one_leg_is_skipped_in_that_legs_needs() {
    let callee = r#"
on:
  workflow_call:
    inputs: { os: { type: string, required: true } }
    outputs:
      got: { value: "${{ jobs.use.outputs.got }}" }
jobs:
  only-linux:
    if: "${{ inputs.os == 'linux' }}"
    runs-on: x
    outputs: { v: "${{ steps.s.outputs.v }}" }
    steps: [{ id: s, run: "true" }]
  use:
    needs: only-linux
    if: "${{ always() }}"
    runs-on: x
    outputs: { got: "${{ steps.s.outputs.got }}" }
    steps: [{ id: s, run: "true" }]
"#;
    let root = r#"
on: push
jobs:
  ci:
    strategy: { matrix: { os: [linux, mac] } }
    uses: ./tests.yml
    with: { os: "${{ matrix.os }}" }
"#;
    let (mut host, mut driver) = Host::new(root, &[("./tests.yml", callee)]);
    // The mac leg's `use` does not wait for the linux leg's `only-linux`.
    assert!(host.trace.contains(&"skip ci/only-linux#1".to_owned()), "{:#?}", host.trace);
    host.finish(&mut driver, "ci (linux) / only-linux", Conclusion::Success, json!({"v": "1"}));
    let seen: Vec<(&str, &Value)> = host.seen.iter().map(|(name, needs)| (name.as_str(), needs)).collect();
    assert_eq!(
        seen,
        [
            ("ci (linux) / only-linux", &json!({})),
            ("ci (mac) / use", &json!({"only-linux": {"result": "skipped", "outputs": {}}})),
            ("ci (linux) / use", &json!({"only-linux": {"result": "success", "outputs": {"v": "1"}}})),
        ]
    );
    // The leg that finishes last sets the output only when it has a value.
    host.finish(&mut driver, "ci (linux) / use", Conclusion::Success, json!({"got": "linux"}));
    host.finish(&mut driver, "ci (mac) / use", Conclusion::Success, json!({}));
    assert_eq!(host.trace.last().map(String::as_str), Some("run: success"));
    assert!(host.trace.contains(&r#"ci success {"got":"linux"}"#.to_owned()), "{:#?}", host.trace);
}

#[test]
fn a_failing_leg_cancels_the_other_legs_unless_the_caller_says_fail_fast_false() {
    for (fail_fast, cancels) in [("true", true), ("false", false)] {
        let root = LEGS_CALLER.replace("strategy: {", &format!("strategy: {{ fail-fast: {fail_fast},"));
        let (mut host, mut driver) = Host::new(&root, &[("./tests.yml", LEGS_CALLEE)]);
        host.finish(&mut driver, "ci (linux) / compile", Conclusion::Failure, json!({}));
        let cancelled = host.trace.iter().any(|line| line == "cancel ci/compile");
        assert_eq!(cancelled, cancels, "fail-fast: {fail_fast}\n{:#?}", host.trace);
    }
}

#[test]
fn issue_14_a_called_job_of_a_matrix_caller_waits_only_for_its_own_leg() {
    let (mut host, mut driver) = Host::new(LEGS_CALLER, &[("./tests.yml", LEGS_CALLEE)]);
    host.finish(&mut driver, "ci (mac) / compile", Conclusion::Success, json!({"bin": "mac-bin"}));
    // The linux leg still compiles; the mac leg's test starts with its own leg's compile.
    assert_eq!(
        host.running.iter().map(|(_, name)| name.as_str()).collect::<Vec<_>>(),
        ["ci (linux) / compile", "ci (mac) / test"]
    );
    assert_eq!(
        host.trace.last().map(String::as_str),
        Some(r#"start ci (mac) / test [tests.yml:test] inputs={"os":"mac"} needs=[compile=success]"#)
    );
    host.finish(&mut driver, "ci (mac) / test", Conclusion::Success, json!({"file": "mac.tar", "mac": "yes"}));
    assert!(!host.trace.iter().any(|line| line.starts_with("start deploy")), "{:#?}", host.trace);
    host.finish(&mut driver, "ci (linux) / compile", Conclusion::Success, json!({"bin": "linux-bin"}));
    host.finish(&mut driver, "ci (linux) / test", Conclusion::Success, json!({"file": "linux.tar", "mac": ""}));
    // Each leg's test is its own matrix, and took its place when its leg was decided.
    let places: Vec<(String, i64)> = host
        .state
        .instances
        .keys()
        .filter(|(job_id, _)| job_id == "ci/test")
        .map(|(job_id, idx)| (job_id.clone(), *idx))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(places, [("ci/test".to_owned(), 0), ("ci/test".to_owned(), 1)]);
    assert_eq!(
        host.trace[host.trace.len() - 2..],
        [
            r#"ci success {"file":"linux.tar","only-mac":"yes","os":"linux"}"#,
            "start deploy [ci.yml:deploy] inputs=null needs=[ci=success]",
        ]
    );
}

#[test]
fn issue_14_a_failure_in_one_leg_skips_what_needs_it_in_that_leg_only() {
    let root = LEGS_CALLER.replace("strategy: {", "strategy: { fail-fast: false,");
    let (mut host, mut driver) = Host::new(&root, &[("./tests.yml", LEGS_CALLEE)]);
    host.finish(&mut driver, "ci (linux) / compile", Conclusion::Failure, json!({}));
    assert!(host.trace.contains(&"skip ci/test#0".to_owned()), "{:#?}", host.trace);
    host.finish(&mut driver, "ci (mac) / compile", Conclusion::Success, json!({}));
    host.finish(&mut driver, "ci (mac) / test", Conclusion::Success, json!({"file": "mac.tar", "mac": "yes"}));
    assert!(host.trace.contains(&r#"ci failure {"file":"mac.tar","only-mac":"yes","os":"mac"}"#.to_owned()));
    host.finish(&mut driver, "deploy", Conclusion::Success, json!({}));
    assert_eq!(host.trace.last().map(String::as_str), Some("run: failure"), "{:#?}", host.trace);
}
