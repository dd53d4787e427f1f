//! `ferry run --event-path`: the payload's activity selects workflows by `on.<event>.types`,
//! with GitHub's defaults for pull requests, as a webhook does on the server.

use crate::harness::Repo;

#[test]
fn a_payloads_activity_selects_the_workflows_whose_types_hold_it() {
    let workflow = |on: &str, job: &str| {
        format!("on: {on}\njobs:\n  {job}:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo {job}\n")
    };
    let repo = Repo::new(&[
        (".github/workflows/default.yml", &workflow("pull_request", "default")),
        (".github/workflows/labels.yml", &workflow("{ pull_request: { types: [labeled] } }", "labels")),
    ]);
    let jobs_for = |action: &str| {
        let payload = repo.path().join(".git").join(format!("{action}.json"));
        std::fs::write(&payload, format!(r#"{{"action": "{action}", "number": 1}}"#)).expect("write");
        let payload = payload.display().to_string();
        let run = repo.run(&["--event", "pull_request", "--event-path", &payload]);
        assert_eq!(run.code, Some(0), "{action}: {}", run.context());
        run.report["jobs"].as_object().map(|jobs| jobs.keys().cloned().collect::<Vec<_>>()).unwrap_or_default()
    };
    assert_eq!(jobs_for("opened"), ["default"]);
    assert_eq!(jobs_for("labeled"), ["labels"]);
    let run = repo.run(&["--event", "pull_request"]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    assert_eq!(run.report["jobs"].as_object().map(serde_json::Map::len), Some(2), "no payload, no filter");
}
