//! The driver as replays: each test is a workflow and the results its instances report, and
//! its trace is what a host would do. After every step the harness also rebuilds a driver from
//! what a store would hold by then (`Driver::restore`) and checks that it asks for nothing
//! already done, the way the server continues a run after a restart.

use ferry_workflow::Dialect;

use super::*;
use crate::{decide, job_specs};

/// What a host keeps, as a store would.
struct Host {
    workflow: ferry_workflow::model::Workflow,
    specs: Vec<JobSpec>,
    max_parallel: usize,
    run: Map<String, Value>,
    state: RunState,
    /// Started and not finished, in start order, with whether a cancel was sent.
    running: Vec<(InstanceId, String, bool)>,
    trace: Vec<String>,
    completed: bool,
}

impl Host {
    fn new(yaml: &str, max_parallel: usize) -> Host {
        let (workflow, diagnostics) = ferry_workflow::parse_workflow(yaml, Dialect::GitHub);
        let workflow = workflow.unwrap_or_else(|| panic!("workflow does not parse: {diagnostics:?}"));
        let mut run = Map::new();
        run.insert("github".to_owned(), json!({"event_name": "push", "ref": "refs/heads/main"}));
        run.insert("inputs".to_owned(), json!({}));
        run.insert("vars".to_owned(), json!({}));
        let specs = job_specs(&run, "ci.yml", &workflow);
        Host {
            workflow,
            specs,
            max_parallel,
            run,
            state: RunState::default(),
            running: Vec::new(),
            trace: Vec::new(),
            completed: false,
        }
    }

    /// Executes the driver's actions until it has none left.
    fn execute(&mut self, driver: &mut Driver) {
        loop {
            let actions = driver.next_actions();
            if actions.is_empty() {
                break;
            }
            for action in actions {
                match action {
                    Action::Expand(expand) => {
                        let job = &self.workflow.jobs[&expand.job_id];
                        let record = decide(&self.run, "ci.yml", job, &expand);
                        match &record.plan {
                            JobPlan::Skip => self.trace.push(format!("skip {}", expand.job_id)),
                            JobPlan::Conclude { conclusion, error, .. } => self.trace.push(format!(
                                "{} {conclusion}: {}",
                                expand.job_id,
                                error.as_deref().unwrap_or("")
                            )),
                            // The instances' starts say it.
                            JobPlan::Instances { .. } | JobPlan::Call { .. } => {}
                        }
                        self.state.expansions.insert(expand.job_id.clone(), record.clone());
                        driver.apply(Event::Expanded { job_idx: expand.job_idx, record }).expect("asked for");
                    }
                    Action::Start(start) => {
                        let needs = if start.needs.is_empty() {
                            String::new()
                        } else {
                            let needs: Vec<String> = start
                                .needs
                                .iter()
                                .map(|(id, value)| format!("{id}={}", value["result"].as_str().unwrap_or("?")))
                                .collect();
                            format!(" (needs {})", needs.join(", "))
                        };
                        self.trace.push(format!("start {}{needs}", start.name));
                        self.state.instances.insert((start.job_id, start.instance_idx), InstanceRecord::Unfinished);
                        self.running.push((start.instance, start.name, false));
                    }
                    Action::Cancel(target) => {
                        let entry = self.running.iter_mut().find(|(id, ..)| *id == target.instance).expect("running");
                        self.trace.push(format!("cancel {}", entry.1));
                        entry.2 = true;
                    }
                    Action::Complete(conclusion) => {
                        assert!(!self.completed, "completed twice");
                        self.completed = true;
                        self.trace.push(format!("run: {conclusion}"));
                    }
                }
            }
        }
        self.check_restore(driver);
    }

    /// A driver rebuilt from the store asks for nothing the store has; it only repeats the
    /// cancels of instances still running (a cancel is idempotent).
    fn check_restore(&self, live: &Driver) {
        let mut restored = Driver::restore(self.specs.clone(), self.max_parallel, &self.state);
        let actions: Vec<Action> = restored
            .next_actions()
            .into_iter()
            .filter(|action| match action {
                Action::Complete(_) => false,
                Action::Cancel(target) => {
                    self.running.iter().all(|(id, _, cancel_sent)| *id != target.instance || !cancel_sent)
                }
                _ => true,
            })
            .collect();
        assert_eq!(actions, Vec::new(), "a restore redoes work after:\n{}", self.trace.join("\n"));
        assert_eq!(restored.conclusion(), live.conclusion());
    }

    fn finish(&mut self, driver: &mut Driver, name: &str, conclusion: Conclusion, outputs: Value) {
        let at = self.running.iter().position(|(_, running, _)| running == name);
        let (instance, name, _) = self.running.remove(at.unwrap_or_else(|| panic!("{name} is not running")));
        self.trace.push(format!("end {name}: {conclusion}"));
        let outputs = outputs.as_object().cloned().unwrap_or_default();
        let (_, _, job_idx) = driver.scheduler().instance(instance);
        let job_id = driver.scheduler().jobs()[job_idx].id.clone();
        let position = driver.scheduler().instances_of(job_idx).position(|id| id == instance).expect("its job's");
        let record = InstanceRecord::Finished { conclusion, outputs: outputs.clone() };
        self.state.instances.insert((job_id, i64::try_from(position).expect("small")), record);
        driver.apply(Event::Finished { instance, conclusion, outputs }).expect("running");
        self.execute(driver);
    }
}

/// Runs `yaml` with at most `max_parallel` instances at once. `script` is what happens, in
/// order: `"<instance>: <conclusion>"` ends a running instance, `"cancel"` cancels the run.
/// Afterwards, running instances end in start order, cancelled when a cancel was sent, else
/// successfully. Returns the trace.
fn replay(yaml: &str, max_parallel: usize, script: &[&str]) -> String {
    let mut host = Host::new(yaml, max_parallel);
    let mut driver = Driver::new(host.specs.clone(), max_parallel);
    host.execute(&mut driver);
    for line in script {
        if *line == "cancel" {
            host.trace.push("cancel run".to_owned());
            host.state.cancel_requested = true;
            driver.apply(Event::CancelRequested).expect("always applies");
            host.execute(&mut driver);
            continue;
        }
        let (name, rest) = line.rsplit_once(": ").expect("`name: conclusion`");
        let (conclusion, outputs) = rest.split_once(' ').unwrap_or((rest, "{}"));
        let conclusion: Conclusion = serde_json::from_value(json!(conclusion)).expect("a conclusion");
        let outputs: Value = serde_json::from_str(outputs).expect("outputs as JSON");
        host.finish(&mut driver, name, conclusion, outputs);
    }
    while let Some((_, name, cancel_sent)) = host.running.first().cloned() {
        let conclusion = if cancel_sent { Conclusion::Cancelled } else { Conclusion::Success };
        host.finish(&mut driver, &name, conclusion, json!({}));
    }
    assert!(host.completed, "the run did not complete:\n{}", host.trace.join("\n"));
    host.trace.join("\n")
}

#[test]
fn jobs_run_in_needs_order_and_see_what_their_needs_produced() {
    let yaml = r#"
on: push
jobs:
  build: { runs-on: x, outputs: { v: "${{ steps.a.outputs.v }}" }, steps: [{ run: "true" }] }
  test:
    runs-on: x
    needs: build
    name: test ${{ needs.build.outputs.v }}
    steps: [{ run: "true" }]
"#;
    let trace = replay(yaml, 4, &[r#"build: success {"v":"7"}"#]);
    assert_eq!(
        trace,
        "start build\nend build: success\nstart test 7 (needs build=success)\nend test 7: success\nrun: success"
    );
}

#[test]
fn a_matrix_fails_fast_cancelling_its_running_and_queued_siblings() {
    let yaml = r#"
on: push
jobs:
  m: { runs-on: x, strategy: { matrix: { n: [1, 2, 3, 4] } }, steps: [{ run: "true" }] }
"#;
    let trace = replay(yaml, 2, &["m (1): failure"]);
    assert_eq!(trace, "start m (1)\nstart m (2)\nend m (1): failure\ncancel m (2)\nend m (2): cancelled\nrun: failure");
}

#[test]
fn max_parallel_bounds_one_matrix_and_fail_fast_false_lets_siblings_finish() {
    let yaml = r#"
on: push
jobs:
  m:
    runs-on: x
    strategy: { fail-fast: false, max-parallel: 1, matrix: { n: [1, 2, 3] } }
    steps: [{ run: "true" }]
"#;
    let trace = replay(yaml, 8, &["m (1): failure"]);
    assert_eq!(
        trace,
        "start m (1)\nend m (1): failure\nstart m (2)\nend m (2): success\nstart m (3)\nend m (3): success\nrun: failure"
    );
}

#[test]
fn a_failed_need_skips_its_dependents_unless_their_if_asks_for_always() {
    let yaml = r#"
on: push
jobs:
  build: { runs-on: x, steps: [{ run: "false" }] }
  deploy: { runs-on: x, needs: build, steps: [{ run: "true" }] }
  report: { runs-on: x, needs: [build, deploy], if: "${{ always() }}", steps: [{ run: "true" }] }
"#;
    let trace = replay(yaml, 4, &["build: failure"]);
    assert_eq!(
        trace,
        "start build\nend build: failure\nskip deploy\nstart report (needs build=failure, deploy=skipped)\nend report: success\nrun: failure"
    );
}

#[test]
fn cancelling_the_run_cancels_what_runs_and_runs_only_always_and_cancelled_jobs_after() {
    let yaml = r#"
on: push
jobs:
  build: { runs-on: x, steps: [{ run: "true" }] }
  deploy: { runs-on: x, needs: build, steps: [{ run: "true" }] }
  cleanup: { runs-on: x, needs: build, if: "${{ cancelled() }}", steps: [{ run: "true" }] }
  notify: { runs-on: x, needs: build, if: "${{ success() }}", steps: [{ run: "true" }] }
"#;
    let trace = replay(yaml, 4, &["cancel", "build: cancelled"]);
    assert_eq!(
        trace,
        "start build\ncancel run\ncancel build\nend build: cancelled\nskip deploy\nskip notify\nstart cleanup (needs build=cancelled)\nend cleanup: success\nrun: cancelled"
    );
}

#[test]
fn a_matrix_queued_before_a_cancel_never_starts() {
    let yaml = r#"
on: push
jobs:
  m: { runs-on: x, strategy: { matrix: { n: [1, 2, 3] } }, steps: [{ run: "true" }] }
"#;
    let trace = replay(yaml, 1, &["cancel"]);
    assert_eq!(trace, "start m (1)\ncancel run\ncancel m (1)\nend m (1): cancelled\nrun: cancelled");
}

#[test]
fn a_neutral_job_allowed_to_fail_or_continuing_on_error_neither_fails_the_run_nor_skips_dependents() {
    let yaml = r#"
on: push
jobs:
  flaky: { runs-on: x, continue-on-error: true, steps: [{ run: "false" }] }
  after: { runs-on: x, needs: flaky, steps: [{ run: "true" }] }
"#;
    // The runner applies `continue-on-error` and allow-failure: the job reports success or
    // neutral, never failure.
    let trace = replay(yaml, 4, &["flaky: neutral"]);
    assert_eq!(
        trace,
        "start flaky\nend flaky: neutral\nstart after (needs flaky=neutral)\nend after: success\nrun: success"
    );
}

#[test]
fn a_matrix_that_does_not_evaluate_fails_its_job_with_the_reason_and_the_run() {
    let yaml = r#"
on: push
jobs:
  m: { runs-on: x, strategy: { matrix: "${{ fromJSON('[1]') }}" }, steps: [{ run: "true" }] }
  other: { runs-on: x, steps: [{ run: "true" }] }
"#;
    let trace = replay(yaml, 4, &[]);
    assert_eq!(
        trace,
        "m failure: job `m`: the matrix must be a mapping of dimensions to lists\nstart other\nend other: success\nrun: failure"
    );
}

#[test]
fn a_restored_run_that_was_cancelled_drops_instances_planned_before_and_keeps_stored_results() {
    let specs = vec![
        JobSpec { id: "m".to_owned(), needs: Vec::new(), fail_fast: true, max_parallel: Some(1), legs_of: None },
        JobSpec {
            id: "after".to_owned(),
            needs: vec!["m".to_owned()],
            fail_fast: true,
            max_parallel: None,
            legs_of: None,
        },
    ];
    let instances = (0..3)
        .map(|n| PlannedInstance { name: format!("m ({n})"), matrix: Map::new(), inputs: None, leg: None })
        .collect();
    let mut state = RunState { cancel_requested: true, ..RunState::default() };
    state.expansions.insert(
        "m".to_owned(),
        ExpansionRecord { plan: JobPlan::Instances { instances }, after_cancel: false, leg: None },
    );
    state.instances.insert(
        ("m".to_owned(), 0),
        InstanceRecord::Finished { conclusion: Conclusion::Cancelled, outputs: Map::new() },
    );
    let mut driver = Driver::restore(specs, usize::MAX, &state);
    let actions = driver.next_actions();
    let [Action::Expand(expand)] = &actions[..] else { panic!("want one expansion: {actions:?}") };
    assert_eq!(
        (expand.job_id.as_str(), expand.request.status, expand.after_cancel),
        ("after", JobStatus::Cancelled, true)
    );
    assert_eq!(expand.needs["m"]["result"], "cancelled");
    let record = ExpansionRecord { plan: JobPlan::Skip, after_cancel: true, leg: None };
    driver.apply(Event::Expanded { job_idx: 1, record }).expect("asked for");
    assert_eq!(driver.next_actions(), vec![Action::Complete(Conclusion::Cancelled)]);
}

#[test]
fn events_that_do_not_fit_the_run_are_refused_and_change_nothing() {
    let specs =
        vec![JobSpec { id: "a".to_owned(), needs: Vec::new(), fail_fast: true, max_parallel: None, legs_of: None }];
    let mut driver = Driver::new(specs, 2);
    let finished = Event::Finished { instance: InstanceId(0), conclusion: Conclusion::Success, outputs: Map::new() };
    assert_eq!(driver.apply(finished), Err(DriverError::NotRunning(0)));
    let record = ExpansionRecord { plan: JobPlan::Skip, after_cancel: false, leg: None };
    assert_eq!(driver.apply(Event::Expanded { job_idx: 3, record }), Err(DriverError::NotExpanding(3)));
    assert!(matches!(driver.next_actions()[..], [Action::Expand(_)]));
    assert!(driver.running_instance("a", 0).is_err());
}

#[test]
fn expansion_records_read_what_the_server_stored_before_they_were_typed() {
    let cases = [
        (r#"{"kind":"skip","after_cancel":false}"#, JobPlan::Skip, false),
        (
            r#"{"kind":"conclude","conclusion":"failure","error":"bad","after_cancel":true}"#,
            JobPlan::Conclude { conclusion: Conclusion::Failure, error: Some("bad".to_owned()), outputs: Map::new() },
            true,
        ),
        (
            r#"{"kind":"instances","instances":[{"name":"m (1)","matrix":{"n":1}}],"after_cancel":false}"#,
            JobPlan::Instances {
                instances: vec![PlannedInstance {
                    name: "m (1)".to_owned(),
                    matrix: json!({"n": 1}).as_object().cloned().expect("an object"),
                    inputs: None,
                    leg: None,
                }],
            },
            false,
        ),
    ];
    for (text, plan, after_cancel) in cases {
        let record: ExpansionRecord = serde_json::from_str(text).expect(text);
        assert_eq!(record, ExpansionRecord { plan, after_cancel, leg: None }, "{text}");
        let again: ExpansionRecord =
            serde_json::from_str(&serde_json::to_string(&record).expect("serializable")).expect("round trip");
        assert_eq!(again, record);
    }
    // What used to be read silently as a failure is now an error the host reports.
    assert!(serde_json::from_str::<ExpansionRecord>(r#"{"kind":"later"}"#).is_err());
    assert!(serde_json::from_str::<ExpansionRecord>(r#"{"kind":"conclude","conclusion":"meh"}"#).is_err());
}

#[test]
fn a_run_of_5000_instances_starts_them_all_and_completes_once() {
    let specs =
        vec![JobSpec { id: "m".to_owned(), needs: Vec::new(), fail_fast: true, max_parallel: None, legs_of: None }];
    let mut driver = Driver::new(specs, usize::MAX);
    let [Action::Expand(expand)] = &driver.next_actions()[..] else { panic!("one expansion") };
    let instances = (0..5000)
        .map(|n| PlannedInstance { name: format!("m ({n})"), matrix: Map::new(), inputs: None, leg: None })
        .collect();
    let record = ExpansionRecord { plan: JobPlan::Instances { instances }, after_cancel: false, leg: None };
    driver.apply(Event::Expanded { job_idx: expand.job_idx, record }).expect("asked for");
    let starts: Vec<InstanceId> = driver
        .next_actions()
        .into_iter()
        .filter_map(|action| match action {
            Action::Start(start) => Some(start.instance),
            _ => None,
        })
        .collect();
    assert_eq!(starts.len(), 5000);
    for instance in starts {
        driver
            .apply(Event::Finished { instance, conclusion: Conclusion::Success, outputs: Map::new() })
            .expect("running");
    }
    assert_eq!(driver.next_actions(), vec![Action::Complete(Conclusion::Success)]);
}
