//! Tests of what `parse_workflow` and `parse_action` return: the model built next to the
//! diagnostics, dialect differences, and the shapes the engine reads. Per-check diagnostics are
//! snapshotted from fixtures in `tests/it/fixtures.rs`.

use super::*;
use crate::model::{DispatchInputType, JobSecrets, Matrix, OrExpr, Runs, RunsOn, StepKind, TriggerKind};

fn codes(diagnostics: &[Diagnostic]) -> Vec<String> {
    diagnostics.iter().map(|d| format!("{}:{} {}", d.span.start.line, d.span.start.col, d.code)).collect()
}

fn workflow(src: &str, dialect: Dialect) -> Workflow {
    let (workflow, diagnostics) = parse_workflow(src, dialect);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    workflow.expect("a workflow")
}

#[test]
fn a_model_comes_back_with_the_errors_sorted_by_position() {
    let src = "jobs:\n  b:\n    needs: zz\n    runs-on: x\n    steps: [{run: x}]\n  a:\n    stepz: []\non: pushh\n";
    let (workflow, diagnostics) = parse_workflow(src, Dialect::GitHub);
    assert_eq!(codes(&diagnostics), ["3:12 unknown-need", "6:3 missing-key", "7:5 unknown-key", "8:5 unknown-event"]);
    let workflow = workflow.expect("a model despite the errors");
    assert_eq!(workflow.jobs.keys().collect::<Vec<_>>(), ["b", "a"]);
    assert!(workflow.on.is_empty());
}

#[test]
fn text_that_is_not_a_mapping_gives_no_model() {
    for src in ["", "just text", "[1, 2]", "a: [", "on: push\n---\non: push\n"] {
        let (workflow, diagnostics) = parse_workflow(src, Dialect::GitHub);
        assert!(diagnostics.iter().any(Diagnostic::is_error), "{src:?}");
        if src.starts_with("on") {
            assert!(workflow.is_some(), "the first document is still read");
        } else {
            assert!(workflow.is_none(), "{src:?}");
        }
    }
}

#[test]
fn on_is_a_name_a_list_or_a_mapping() {
    let tail = "jobs:\n  a:\n    runs-on: x\n    steps: [{run: x}]\n";
    let names = |on: &str| -> Vec<String> {
        workflow(&format!("on: {on}\n{tail}"), Dialect::GitHub).on.iter().map(|t| t.event.value.clone()).collect()
    };
    assert_eq!(names("push"), ["push"]);
    assert_eq!(names("[push, workflow_dispatch]"), ["push", "workflow_dispatch"]);
    assert_eq!(names("{ push: { branches: [main] }, release: { types: [published] } }"), ["push", "release"]);
    let flow = workflow(&format!("on:\n  release:\n    types: [published]\n{tail}"), Dialect::GitHub);
    assert_eq!(flow.on[0].kind, TriggerKind::Other(serde_json::json!({ "types": ["published"] })));
}

#[test]
fn ferry_extensions_are_read_in_the_ferry_dialect() {
    let src = "on: push\njobs:\n  a:\n    runs-on: x\n    allow-failure: true\n    steps:\n      - run: x\n        retry: { attempts: 4, delay-seconds: 2, backoff: 3, on-exit-codes: [75] }\n      - run: y\n        retry: 2\n";
    let workflow = workflow(src, Dialect::Ferry);
    let job = &workflow.jobs["a"];
    assert!(job.allow_failure);
    let retry = job.steps[0].retry.as_ref().expect("retry");
    assert_eq!((retry.attempts, retry.on_exit_codes.as_deref()), (4, Some(&[75][..])));
    assert_eq!([1, 2, 3, 4].map(|attempt| retry.delay_before(attempt)), [0.0, 2.0, 6.0, 18.0]);
    assert!(retry.retries_exit_code(75) && !retry.retries_exit_code(1));
    let simple = job.steps[1].retry.as_ref().expect("retry");
    assert_eq!((simple.attempts, simple.delay_seconds, simple.backoff), (2, 0.0, 1.0));
    assert!(simple.retries_exit_code(1) && !simple.retries_exit_code(0));

    let (_, diagnostics) = parse_workflow(src, Dialect::GitHub);
    assert_eq!(codes(&diagnostics), ["5:5 ferry-extension", "8:9 ferry-extension", "10:9 ferry-extension"]);
}

#[test]
fn jobs_keep_their_shapes() {
    let src = r#"on: workflow_dispatch
jobs:
  plan:
    runs-on: [self-hosted, linux]
    outputs:
      matrix: ${{ steps.plan.outputs.matrix }}
    steps:
      - id: plan
        run: echo "matrix={}" >> "$GITHUB_OUTPUT"
  build:
    needs: plan
    runs-on: { group: big, labels: [linux] }
    timeout-minutes: ${{ inputs.minutes }}
    continue-on-error: true
    strategy:
      matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}
    steps:
      - uses: actions/checkout@v4
        with: { fetch-depth: 0 }
      - parallel:
          - run: make a
          - run: make b
  call:
    needs: [plan, build]
    uses: ./.github/workflows/x.yml
    secrets: inherit
"#;
    let workflow = workflow(src, Dialect::GitHub);
    let plan = &workflow.jobs["plan"];
    assert!(matches!(&plan.runs_on, Some(RunsOn::Labels(labels)) if labels.len() == 2));
    let build = &workflow.jobs["build"];
    assert_eq!(build.needs[0].value, "plan");
    assert!(
        matches!(&build.runs_on, Some(RunsOn::Group { group: Some(group), labels }) if group.value == "big" && labels.len() == 1)
    );
    assert!(matches!(&build.timeout_minutes, Some(OrExpr::Expr(text)) if text.has_expression()));
    assert!(matches!(&build.continue_on_error, Some(OrExpr::Value(flag)) if flag.value));
    assert!(matches!(build.strategy.as_ref().and_then(|s| s.matrix.as_ref()), Some(Matrix::Expr(_))));
    let StepKind::Uses { uses, with } = &build.steps[0].kind else { panic!("a uses step") };
    assert_eq!((uses.value.as_str(), with["fetch-depth"].value.as_str()), ("actions/checkout@v4", "0"));
    assert!(matches!(&build.steps[1].kind, StepKind::Parallel(steps) if steps.len() == 2));
    let call = &workflow.jobs["call"];
    assert_eq!(call.secrets, Some(JobSecrets::Inherit));
    assert!(call.runs_on.is_none() && call.steps.is_empty());
}

#[test]
fn dispatch_inputs_are_typed() {
    let src = "on:\n  workflow_dispatch:\n    inputs:\n      level:\n        type: choice\n        options: [a, b]\n        default: b\n        required: true\n      dry:\n        type: boolean\n        default: false\njobs:\n  a:\n    runs-on: x\n    steps: [{run: x}]\n";
    let workflow = workflow(src, Dialect::GitHub);
    let Some(TriggerKind::Dispatch(inputs)) = workflow.trigger("workflow_dispatch").map(|t| &t.kind) else {
        panic!("a dispatch trigger")
    };
    assert!(matches!(&inputs["level"].kind, DispatchInputType::Choice { options } if options.len() == 2));
    assert!(inputs["level"].required);
    assert_eq!(inputs["dry"].kind, DispatchInputType::Boolean);
    assert_eq!(inputs["dry"].default.as_ref().map(|d| &d.value), Some(&serde_json::json!(false)));
}

#[test]
fn actions_are_read_by_kind() {
    let (action, diagnostics) = parse_action(
        "name: a\ndescription: b\ninputs:\n  x:\n    required: true\nruns:\n  using: docker\n  image: docker://alpine:3\n  args: [--flag, '${{ inputs.x }}']\n",
    );
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let action = action.expect("an action");
    assert_eq!(action.inputs["x"].required.as_ref().map(|r| r.value), Some(true));
    let Some(Runs::Docker { image, args, .. }) = &action.runs else { panic!("a docker action") };
    assert_eq!((image.value.as_str(), args.len()), ("docker://alpine:3", 2));

    let (action, diagnostics) =
        parse_action("name: a\ndescription: b\nruns:\n  using: composite\n  steps:\n    - run: x\n      shell: bash\n");
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    assert!(matches!(action.and_then(|a| a.runs), Some(Runs::Composite { steps }) if steps.len() == 1));
}

#[test]
fn the_dialect_follows_the_folder() {
    assert_eq!(Dialect::for_path(".ferry/workflows/ci.yml"), Dialect::Ferry);
    assert_eq!(Dialect::for_path("/repo/.ferry/workflows/ci.yml"), Dialect::Ferry);
    assert_eq!(Dialect::for_path("repo\\.ferry\\workflows\\ci.yml"), Dialect::Ferry);
    assert_eq!(Dialect::for_path(".github/workflows/ci.yml"), Dialect::GitHub);
    assert_eq!(Dialect::for_path("docs/.ferry/workflows.yml"), Dialect::GitHub);
}

#[test]
fn env_values_are_text_as_written() {
    let src = "on: push\nenv:\n  A: 1\n  B: true\n  C:\n  D: ~\n  E: '01'\njobs:\n  a:\n    runs-on: x\n    steps: [{run: x}]\n";
    let workflow = workflow(src, Dialect::GitHub);
    let values: Vec<&str> = workflow.env.values().map(|text| text.value.as_str()).collect();
    assert_eq!(values, ["1", "true", "", "", "01"]);
}
