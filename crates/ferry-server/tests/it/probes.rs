//! `/healthz`, `/readyz` and `/metrics` answer without a token.

use ferry_store::{Conclusion, NewJob, NewProject, NewRun};

use crate::TestServer;

#[test]
fn healthz_and_readyz_answer_200() {
    let server = TestServer::start();
    for path in ["/healthz", "/readyz"] {
        let res = server.call("GET", path, None, None);
        assert_eq!(res.status, 200, "{path}: {}", res.body);
    }
    assert_eq!(server.call("GET", "/readyz", None, None).json()["status"], "ready");
}

#[test]
fn metrics_report_queue_depth_runs_and_runners_from_the_store() {
    let server = TestServer::start();
    server.with_store(async |store| {
        let project = NewProject { name: "web", repo: "/srv/web.git", branch: "main", webhook_secret: "" };
        let project = store.projects().create(&project, 0).await.expect("project");
        let new_run = NewRun {
            project_id: project.id,
            workflow_file: "ci.yml",
            workflow_name: "ci.yml",
            event: "push",
            git_ref: "refs/heads/main",
            sha: "abc",
            trigger_actor: "test",
            trigger_info: "{}",
            workflow_src: "",
            title: "",
            author: "",
            rerun_of: None,
        };
        let run = store.runs().create(&new_run, 0).await.expect("run");
        let runs_on = vec!["linux".to_owned()];
        for name in ["build", "test"] {
            let job = NewJob {
                run_id: run.id,
                name,
                runs_on: &runs_on,
                requires: &[],
                needs: "[]",
                matrix: "{}",
                job_key: "",
                instance_idx: 0,
                contexts: "{}",
            };
            store.jobs().enqueue(&job, 0).await.expect("job");
        }
        let done = store.runs().create(&new_run, 0).await.expect("run");
        store.runs().start(done.id, 1_000).await.expect("start");
        store.runs().complete(done.id, Conclusion::Success, 3_000).await.expect("complete");
        let slow = store.runs().create(&new_run, 0).await.expect("run");
        store.runs().start(slow.id, 0).await.expect("start");
        store.runs().complete(slow.id, Conclusion::Failure, 120_000).await.expect("complete");
    });
    let res = server.call("GET", "/metrics", None, None);
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.header("content-type").is_some_and(|value| value.contains("text")), "{:?}", res.headers);
    let samples: Vec<&str> = res.body.lines().filter(|line| !line.starts_with('#')).collect();
    let expected = [
        "ferry_queue_depth 2",
        "ferry_runs_total{conclusion=\"success\"} 1",
        "ferry_runners_connected 0",
        // Two runs: 2 s and 120 s; the buckets count cumulatively.
        "ferry_run_duration_seconds_bucket{le=\"1.0\"} 0",
        "ferry_run_duration_seconds_bucket{le=\"5.0\"} 1",
        "ferry_run_duration_seconds_bucket{le=\"60.0\"} 1",
        "ferry_run_duration_seconds_bucket{le=\"300.0\"} 2",
        "ferry_run_duration_seconds_sum 122.0",
        "ferry_run_duration_seconds_count 2",
        "ferry_step_duration_seconds_count 0",
    ];
    for sample in expected {
        assert!(samples.contains(&sample), "{sample} in\n{}", res.body);
    }
    assert!(res.body.contains("# TYPE ferry_queue_depth gauge"), "{}", res.body);
}
