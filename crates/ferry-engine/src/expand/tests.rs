//! Deciding ready jobs: `if:`, status functions, matrices and names, from workflow text.

use ferry_workflow::Dialect;
use serde_json::json;

use super::*;

/// Decides job `job_id` of `yaml` with `status`, whether its needs succeeded and `needs`.
fn decided(yaml: &str, job_id: &str, status: JobStatus, needs_succeeded: bool, needs: Value) -> JobPlan {
    let (workflow, diagnostics) = ferry_workflow::parse_workflow(yaml, Dialect::GitHub);
    let workflow = workflow.unwrap_or_else(|| panic!("workflow does not parse: {diagnostics:?}"));
    let mut run = Map::new();
    run.insert("github".to_owned(), json!({"event_name": "push", "ref": "refs/heads/main"}));
    run.insert("inputs".to_owned(), json!({"os": ["linux", "mac"]}));
    let job_idx = workflow.jobs.get_index_of(job_id).expect("the job");
    let expand = ExpandJob {
        job_idx,
        job_id: job_id.to_owned(),
        key: job_id.to_owned(),
        request: ExpandRequest { job_idx, leg: None, status, needs_succeeded },
        needs: needs.as_object().cloned().unwrap_or_default(),
        after_cancel: false,
    };
    decide(&run, "ci.yml", &workflow.jobs[job_id], &expand).plan
}

fn names(plan: &JobPlan) -> Vec<&str> {
    match plan {
        JobPlan::Instances { instances } => instances.iter().map(|instance| instance.name.as_str()).collect(),
        other => panic!("want instances, got {other:?}"),
    }
}

#[test]
fn a_false_if_or_a_failed_need_skips_and_status_functions_decide_for_themselves() {
    let yaml = r#"
on: push
jobs:
  plain: { runs-on: x, steps: [{ run: "true" }] }
  never: { runs-on: x, if: "github.event_name == 'pull_request'", steps: [{ run: "true" }] }
  on-failure: { runs-on: x, if: "${{ failure() }}", steps: [{ run: "true" }] }
"#;
    let ok = (JobStatus::Success, true);
    let failed = (JobStatus::Failure, false);
    let cases = [
        ("plain", ok, false),
        ("plain", failed, true),
        ("never", ok, true),
        ("on-failure", ok, true),
        ("on-failure", failed, false),
    ];
    for (job, (status, needs_succeeded), skipped) in cases {
        let plan = decided(yaml, job, status, needs_succeeded, json!({}));
        assert_eq!(plan == JobPlan::Skip, skipped, "{job} with {status:?}: {plan:?}");
    }
}

#[test]
fn a_matrix_from_expressions_names_each_instance() {
    let yaml = r#"
on: push
jobs:
  m:
    runs-on: x
    strategy: { matrix: { os: "${{ inputs.os }}", v: [1], include: [{ os: bsd, v: 2 }] } }
    steps: [{ run: "true" }]
  named:
    runs-on: x
    name: "build on ${{ matrix.os }} after ${{ needs.m.result }}"
    strategy: { matrix: { os: [linux] } }
    steps: [{ run: "true" }]
"#;
    let plan = decided(yaml, "m", JobStatus::Success, true, json!({}));
    assert_eq!(names(&plan), ["m (linux, 1)", "m (mac, 1)", "m (bsd, 2)"]);
    let plan = decided(yaml, "named", JobStatus::Success, true, json!({"m": {"result": "success"}}));
    assert_eq!(names(&plan), ["build on linux after success"]);
}

#[test]
fn an_expression_that_does_not_evaluate_concludes_the_job_failure_with_the_reason() {
    let yaml = r#"
on: push
jobs:
  m: { runs-on: x, strategy: { matrix: "${{ fromJSON('[1]') }}" }, steps: [{ run: "true" }] }
"#;
    let plan = decided(yaml, "m", JobStatus::Success, true, json!({}));
    let JobPlan::Conclude { conclusion: Conclusion::Failure, error: Some(error), .. } = plan else {
        panic!("want a failure, got {plan:?}")
    };
    assert!(error.contains("job `m`"), "{error}");
}

#[test]
fn dispatch_inputs_refuse_an_unknown_choice_and_a_missing_required_input_by_name() {
    let yaml = "on:\n  workflow_dispatch:\n    inputs:\n      env:\n        type: choice\n        options: [dev, prod]\n        required: true\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n";
    let (workflow, diagnostics) = ferry_workflow::parse_workflow(yaml, Dialect::GitHub);
    let workflow = workflow.unwrap_or_else(|| panic!("workflow does not parse: {diagnostics:?}"));
    let given = [("env".to_owned(), "qa".to_owned())];
    let error = dispatch_inputs(&workflow, &given, true).expect_err("qa is no option");
    assert_eq!(
        error,
        DispatchInputError::NotAnOption {
            name: "env".to_owned(),
            value: "qa".to_owned(),
            options: vec!["dev".to_owned(), "prod".to_owned()]
        }
    );
    assert_eq!(error.to_string(), "--input env=qa: choose one of dev, prod");
    let error = dispatch_inputs(&workflow, &[], true).expect_err("env is required");
    assert_eq!(error.to_string(), "input `env` is required; pass it with --input env=<value>");
    assert!(dispatch_inputs(&workflow, &[], false).is_ok(), "unchecked, a missing input is no error");
}
