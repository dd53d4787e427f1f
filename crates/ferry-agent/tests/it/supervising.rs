//! The supervisor driven tick by tick: replicas start and serve through the proxy, a killed
//! replica is restarted, drift is repaired, health failures take a replica out of the
//! rotation, output is shipped masked, deployments replace or roll back.

use ferry_proto::agent::{AgentEventKind, DeploymentOutcome, LogStream, ReplicaState};

use crate::harness::*;

fn healthy(statuses: &[ferry_proto::agent::UnitStatus], n: usize) -> bool {
    statuses.iter().flat_map(|unit| &unit.replicas).filter(|replica| replica.state == ReplicaState::Healthy).count()
        == n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_start_with_their_env_and_serve_through_the_proxy_by_turns() {
    let port = free_port();
    let mut driven = Driven::start(|dir| desired(1, vec![unit(port, 2, Some(release(dir, 1, SERVE)))]));
    driven.until("2 healthy replicas", |statuses, _| healthy(statuses, 2)).await;
    let first = driven.until_get(port, "/", |status, _| status == 200).await;
    assert!(first.starts_with("release 1 says hello from "), "{first}");
    // Both replicas take requests.
    let mut answers = std::collections::BTreeSet::new();
    for _ in 0..10 {
        answers.insert(get(port, "/").await.expect("an answer").1);
    }
    assert_eq!(answers.len(), 2, "{answers:?}");
    let statuses = driven.supervisor().statuses();
    assert_eq!(statuses[0].release, Some(1));
    assert_eq!(statuses[0].traffic[0].release, 1);
    assert!(statuses[0].traffic[0].requests >= 11);
    let ids: Vec<&str> = statuses[0].replicas.iter().map(|replica| replica.id.as_str()).collect();
    assert_eq!(ids, ["web-staging-1-1", "web-staging-1-2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_shipped_line_by_line_with_secrets_masked() {
    let port = free_port();
    let mut driven = Driven::start(|dir| desired(1, vec![unit(port, 1, Some(release(dir, 1, SERVE)))]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while driven.lines.len() < 2 {
        assert!(std::time::Instant::now() < deadline, "no output came: {:?}", driven.lines);
        driven.until("a tick", |_, _| true).await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let stdout = driven.lines.iter().find(|line| line.stream == LogStream::Stdout).expect("find");
    assert!(stdout.text.starts_with("listening on ") && stdout.text.ends_with(" with key ***"), "{}", stdout.text);
    assert_eq!(stdout.replica, "web-staging-1-1");
    assert_eq!(stdout.release, 1);
    let stderr = driven.lines.iter().find(|line| line.stream == LogStream::Stderr).expect("find");
    assert_eq!(stderr.text, "to stderr");
    assert!(driven.lines.iter().all(|line| !line.text.contains(SECRET)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_is_restarted_with_a_crashed_event() {
    let port = free_port();
    let mut driven = Driven::start(|dir| desired(1, vec![unit(port, 1, Some(release(dir, 1, SERVE)))]));
    driven.until("a healthy replica", |statuses, _| healthy(statuses, 1)).await;
    let pid = pids(&driven.supervisor().statuses())[0];
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid.cast_signed()).expect("from_raw"),
        rustix::process::Signal::KILL,
    )
    .expect("kill_process");
    driven
        .until("the replica restarted and healthy", |statuses, _| {
            healthy(statuses, 1) && statuses[0].replicas[0].restarts == 1
        })
        .await;
    assert_ne!(pids(&driven.supervisor().statuses())[0], pid);
    let crashed: Vec<&str> = driven
        .events
        .iter()
        .filter(|event| event.kind == AgentEventKind::Crashed)
        .map(|event| event.message.as_str())
        .collect();
    assert_eq!(crashed.len(), 1, "{crashed:?}");
    assert!(crashed[0].starts_with("replica web-staging-1-1 of release 1 exited with signal: 9"), "{}", crashed[0]);
    assert!(crashed[0].ends_with("restarting it in 1 s"), "{}", crashed[0]);
    driven.until_get(port, "/", |status, _| status == 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_health_check_marks_the_replica_unhealthy_and_takes_it_out_of_the_proxy() {
    let port = free_port();
    let mut driven = Driven::start(|dir| desired(1, vec![unit(port, 1, Some(release(dir, 1, SERVE)))]));
    driven.until_get(port, "/", |status, _| status == 200).await;
    std::fs::write(driven.path().join("releases/shop/web/1/unhealthy"), "").expect("write");
    driven.until("the replica unhealthy", |statuses, _| statuses[0].replicas[0].state == ReplicaState::Unhealthy).await;
    let (status, _) = get(port, "/").await.expect("an answer");
    assert_eq!(status, 503, "an unhealthy replica takes no traffic");
    let status = &driven.supervisor().statuses()[0].replicas[0];
    assert_eq!(status.message.as_deref(), Some("GET /healthz answered 500"));
    let health: Vec<&str> =
        driven.events.iter().filter(|event| event.kind == AgentEventKind::Health).map(|e| e.message.as_str()).collect();
    assert_eq!(health, ["replica web-staging-1-1 of release 1 is unhealthy: GET /healthz answered 500"]);
    std::fs::remove_file(driven.path().join("releases/shop/web/1/unhealthy")).expect("remove_file");
    driven.until_get(port, "/", |status, _| status == 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_of_a_release_not_wanted_is_replaced_as_drift() {
    let port = free_port();
    let mut driven = Driven::start(|dir| desired(1, vec![unit(port, 1, Some(release(dir, 1, SERVE)))]));
    driven.until_get(port, "/", |status, body| status == 200 && body.starts_with("release 1")).await;
    // The desired state changes under it without a deployment order.
    let release_2 = release(driven.path(), 2, SERVE);
    driven.supervisor().set_desired(desired(2, vec![unit(port, 1, Some(release_2))]));
    driven.until_get(port, "/", |status, body| status == 200 && body.starts_with("release 2")).await;
    let drift: Vec<&str> =
        driven.events.iter().filter(|event| event.kind == AgentEventKind::Drift).map(|e| e.message.as_str()).collect();
    assert_eq!(drift, ["replica web-staging-1-1 runs release 1, the desired state wants release 2: replacing it"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_died_while_the_agent_was_away_is_replaced_as_drift() {
    let port = free_port();
    let mut driven = Driven::start(|dir| {
        let state = serde_json::json!({
            "replicas": [{"id": "web-staging-1-1", "key": key(), "release": 1, "pid": 999_999_999u32,
                          "port": free_port(), "started_at": 0, "restarts": 0}],
            "units": [{"key": key(), "serving": 1, "next_replica": 2}],
        });
        std::fs::write(dir.join("state.json"), state.to_string()).expect("write");
        desired(1, vec![unit(port, 1, Some(release(dir, 1, SERVE)))])
    });
    driven.until_get(port, "/", |status, _| status == 200).await;
    let drift: Vec<&str> =
        driven.events.iter().filter(|event| event.kind == AgentEventKind::Drift).map(|e| e.message.as_str()).collect();
    assert_eq!(
        drift,
        ["replica web-staging-1-1 of release 1 (pid 999999999) died while the agent was away: replacing it"]
    );
    assert_eq!(driven.supervisor().statuses()[0].replicas[0].id, "web-staging-1-2", "ids are not reused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_replaces_the_release_without_a_gap_and_a_broken_one_rolls_back() {
    let port = free_port();
    let mut driven = Driven::start(|dir| desired(1, vec![unit(port, 1, Some(release(dir, 1, SERVE)))]));
    driven.until_get(port, "/", |status, body| status == 200 && body.starts_with("release 1")).await;

    let mut deploying = unit(port, 1, Some(release(driven.path(), 1, SERVE)));
    deploying.deployment = Some(order(10, release(driven.path(), 2, SERVE)));
    driven.supervisor().set_desired(desired(2, vec![deploying]));
    // Requests go on while the release changes; every one is answered.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = tokio::spawn({
        let stop = std::sync::Arc::clone(&stop);
        async move {
            let (mut sent, mut failed) = (0, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                sent += 1;
                match get(port, "/").await {
                    Some((200, _)) => {}
                    other => failed.push(other),
                }
            }
            (sent, failed)
        }
    });
    driven
        .until("deployment 10 over", |statuses, _| {
            statuses[0].deployment.as_ref().is_some_and(|progress| progress.outcome.is_some())
        })
        .await;
    // The old replica drains and stops after the switch; keep requesting until it is gone.
    driven
        .until("only release 2 runs", |statuses, _| statuses[0].replicas.iter().all(|replica| replica.release == 2))
        .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (sent, failed) = load.await.expect("an answer");
    assert!(sent > 0);
    assert_eq!(failed, [], "{} of {sent} requests failed during the deployment", failed.len());
    let progress = driven.supervisor().statuses()[0].deployment.clone().expect("clone");
    assert_eq!(progress.outcome, Some(DeploymentOutcome::Succeeded), "{progress:?}");
    assert_eq!(progress.reason.as_deref(), Some("release 2 serves all traffic on 1 healthy replica"));
    let (status, body) = get(port, "/").await.expect("an answer");
    assert_eq!((status, body.starts_with("release 2")), (200, true), "{body}");

    // The server records it: release 2 serves, the order is gone.
    let recorded = unit(port, 1, Some(release(driven.path(), 2, SERVE)));
    driven.supervisor().set_desired(desired(3, vec![recorded]));
    driven.until("the order let go", |statuses, _| statuses[0].deployment.is_none()).await;

    // Release 3 never becomes healthy: rolled back, release 2 serves on.
    let mut broken = unit(port, 1, Some(release(driven.path(), 2, SERVE)));
    let bad = release(driven.path(), 3, "echo starting; exit 3");
    broken.deployment = Some(order(11, bad));
    driven.supervisor().set_desired(desired(4, vec![broken]));
    driven
        .until("deployment 11 over", |statuses, _| {
            statuses[0].deployment.as_ref().is_some_and(|progress| progress.outcome.is_some())
        })
        .await;
    let progress = driven.supervisor().statuses()[0].deployment.clone().expect("clone");
    assert_eq!(progress.outcome, Some(DeploymentOutcome::RolledBack), "{progress:?}");
    let reason = progress.reason.expect("reason");
    assert!(reason.starts_with("replica web-staging-3-"), "{reason}");
    assert!(reason.contains("of release 3 exited: exit status: 3"), "{reason}");
    let (status, body) = get(port, "/").await.expect("an answer");
    assert_eq!((status, body.starts_with("release 2")), (200, true), "{body}");
    driven
        .until("only release 2 runs", |statuses, _| statuses[0].replicas.iter().all(|replica| replica.release == 2))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_taken_is_an_error_event_and_an_image_the_engine_lacks_is_refused_clearly() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("local_addr").port();
    let mut driven = Driven::start(|dir| desired(1, vec![unit(port, 1, Some(release(dir, 1, SERVE)))]));
    driven.until("an error event", |_, events| events.iter().any(|event| event.kind == AgentEventKind::Error)).await;
    let error = driven.events.iter().find(|event| event.kind == AgentEventKind::Error).expect("find");
    assert!(error.message.starts_with(&format!("the proxy cannot listen on 127.0.0.1:{port}: ")), "{}", error.message);

    let other = free_port();
    let mut image = release(driven.path(), 2, SERVE);
    image.process = ferry_proto::agent::ProcessSpec::Image { image: "ferry-test/absent:never".into(), archive: None };
    driven.supervisor().set_desired(desired(2, vec![unit(other, 1, Some(image))]));
    driven.until("the image refused", |_, events| events.iter().any(|event| event.message.contains("Docker"))).await;
    let refusal = driven.events.iter().rev().find(|event| event.kind == AgentEventKind::Error).expect("find");
    assert!(
        refusal.message.starts_with(
            "release 2: the image `ferry-test/absent:never` is not in the Docker Engine at unix:///var/run/docker.sock, \
             and the agent does not pull: load it on this host"
        ),
        "{}",
        refusal.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_step_weighs_both_releases_in_the_proxy_then_the_new_one_takes_all() {
    let port = free_port();
    let mut driven = Driven::start(|dir| desired(1, vec![unit(port, 2, Some(release(dir, 1, SERVE)))]));
    driven.until("2 healthy replicas", |statuses, _| healthy(statuses, 2)).await;

    let mut canary = unit(port, 2, Some(release(driven.path(), 1, SERVE)));
    let mut order = order(20, release(driven.path(), 2, SERVE));
    order.strategy = ferry_proto::agent::StrategySpec::Canary {
        steps: vec![ferry_proto::agent::CanaryStep { weight: 50, pause_ms: 60_000 }],
    };
    canary.deployment = Some(order.clone());
    driven.supervisor().set_desired(desired(2, vec![canary]));
    driven
        .until("the canary step weighted", |statuses, _| {
            statuses[0].deployment.as_ref().is_some_and(|progress| progress.steps.len() >= 2)
        })
        .await;
    // Half the requests to each release, alternating (the proxy's choice is deterministic).
    let mut releases = Vec::new();
    for _ in 0..10 {
        let (status, body) = get(port, "/").await.expect("an answer");
        assert_eq!(status, 200);
        releases.push(body.split_whitespace().nth(1).expect("a release").to_owned());
    }
    let n_new = releases.iter().filter(|release| *release == "2").count();
    assert_eq!(n_new, 5, "{releases:?}");
    let statuses = driven.supervisor().statuses();
    let steps: Vec<&str> =
        statuses[0].deployment.as_ref().expect("a deployment").steps.iter().map(|step| step.name.as_str()).collect();
    assert_eq!(steps.len(), 2, "{steps:?}");
    let n_replicas: Vec<i64> = statuses[0].replicas.iter().map(|replica| replica.release).collect();
    assert_eq!(n_replicas, [1, 1, 2], "the canary runs beside the whole old set");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_that_leaves_the_desired_state_stops_its_replicas_and_its_proxy() {
    let port = free_port();
    let mut driven = Driven::start(|dir| desired(1, vec![unit(port, 1, Some(release(dir, 1, SERVE)))]));
    driven.until_get(port, "/", |status, _| status == 200).await;
    let pid = pids(&driven.supervisor().statuses())[0];
    driven.supervisor().set_desired(desired(2, vec![]));
    driven.until("no unit left", |statuses, _| statuses.is_empty()).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while get(port, "/").await.is_some()
        || rustix::process::test_kill_process_group(rustix::process::Pid::from_raw(pid.cast_signed()).expect("a pid"))
            .is_ok()
    {
        assert!(std::time::Instant::now() < deadline, "the unit's proxy or replica outlived it");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_whose_errors_breach_the_analysis_is_rolled_back_with_the_figures_in_words() {
    let port = free_port();
    let mut driven = Driven::start(|dir| desired(1, vec![unit(port, 2, Some(release(dir, 1, SERVE)))]));
    driven.until("2 healthy replicas", |statuses, _| healthy(statuses, 2)).await;

    let mut canary = unit(port, 2, Some(release(driven.path(), 1, SERVE)));
    let mut failing = release(driven.path(), 2, SERVE);
    failing.env.insert("FAIL".to_owned(), "1".to_owned());
    let mut order = order(30, failing);
    order.strategy = ferry_proto::agent::StrategySpec::Canary {
        steps: vec![ferry_proto::agent::CanaryStep { weight: 50, pause_ms: 60_000 }],
    };
    order.analysis = Some(ferry_proto::agent::AnalysisSpec {
        max_error_rate: Some(0.1),
        max_p99_latency_ms: None,
        min_requests: 6,
        queries: Vec::new(),
    });
    canary.deployment = Some(order);
    driven.supervisor().set_desired(desired(2, vec![canary]));
    driven
        .until("the canary step weighted", |statuses, _| {
            statuses[0].deployment.as_ref().is_some_and(|progress| progress.steps.len() >= 2)
        })
        .await;
    for _ in 0..12 {
        get(port, "/").await.expect("an answer");
    }
    driven
        .until("the canary rolled back", |statuses, _| {
            statuses[0].deployment.as_ref().is_some_and(|progress| progress.outcome.is_some())
        })
        .await;
    let progress = driven.supervisor().statuses()[0].deployment.clone().expect("a deployment");
    assert_eq!(progress.outcome, Some(DeploymentOutcome::RolledBack), "{progress:?}");
    assert_eq!(progress.reason.as_deref(), Some("error rate 1.00 > 0.10 over 6 requests of release 2"));
    let body = driven.until_get(port, "/", |status, body| status == 200 && body.starts_with("release 1")).await;
    assert!(body.starts_with("release 1"));
}
